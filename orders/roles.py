"""Staff roles (SPEC §7) as Django groups, and what each may do.

The groups are made by a data migration (orders 0003) and topped up by `create_demo_staff`; both call
`ensure_roles`, which only adds: a permission an operator gave a group by hand is left alone.
"""

from django.apps import apps as global_apps

KITCHEN = "Kitchen"
FRONT_OF_HOUSE = "Front of house"
MANAGER = "Manager"

# "app_label.codename", or "app_label.*" for every permission on that app's models.
ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    # The kitchen display's bump button, and 86ing items during service: of the back office, the menu
    # items list and its two actions only (restaurant/admin_site.py `admit`, menu/admin.py).
    KITCHEN: ("orders.complete_order", "menu.view_menuitem", "menu.set_availability"),
    FRONT_OF_HOUSE: (
        "orders.view_order",
        "orders.add_order",
        "orders.cancel_order",
        "orders.complete_order",
        "orders.view_orderitem",
        "orders.view_orderstatuslog",
        "kitchen.view_worker",
        # The menu to answer the phone with; and they 86 what the pass tells them is out (the kitchen
        # is busy cooking), but prices and the catalog stay the Manager's.
        "menu.view_station",
        "menu.view_category",
        "menu.view_menuitem",
        "menu.view_modifiergroup",
        "menu.view_modifieroption",
        "menu.set_availability",
    ),
    MANAGER: ("orders.*", "kitchen.*", "restaurant.*", "menu.*"),
}


def _create_permissions(apps) -> None:
    """Content types and model permissions normally appear after `migrate` (post_migrate); a data
    migration that grants them needs them now."""
    from django.contrib.auth.management import create_permissions
    from django.contrib.contenttypes.management import create_contenttypes

    for app_config in apps.get_app_configs():
        # Historical app configs have no models module, and both functions skip such apps.
        models_module = getattr(app_config, "models_module", None)
        app_config.models_module = models_module or True
        try:
            create_contenttypes(app_config, verbosity=0, apps=apps)
            create_permissions(app_config, verbosity=0, apps=apps)
        finally:
            app_config.models_module = models_module


def ensure_roles(apps=global_apps) -> None:
    """Create the role groups if missing and give each its permissions (adding, never removing)."""
    _create_permissions(apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, names in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        wanted = []
        for name in names:
            app_label, codename = name.split(".")
            found = Permission.objects.filter(content_type__app_label=app_label)
            if codename != "*":
                found = found.filter(codename=codename)
                # In a migration (historical `apps`), a permission whose model comes in a later
                # migration does not exist yet: that migration calls ensure_roles again.
                if not found.exists() and apps is global_apps:
                    raise LookupError(f"role {role}: no permission {name}")
            wanted.extend(found)
        group.permissions.add(*wanted)

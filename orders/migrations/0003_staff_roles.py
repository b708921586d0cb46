from django.contrib.auth.management import create_permissions
from django.contrib.contenttypes.management import create_contenttypes
from django.db import migrations

# The staff roles and what each was given when this migration was written (a migration is history:
# later grants are later migrations; the roles of today are restaurant/roles.py's).
# "app_label.codename", or "app_label.*" for every permission on that app's models.
ROLE_PERMISSIONS = {
    "Kitchen": ("orders.complete_order",),
    "Front of house": (
        "orders.view_order",
        "orders.add_order",
        "orders.cancel_order",
        "orders.complete_order",
        "orders.view_orderitem",
        "orders.view_orderstatuslog",
        "kitchen.view_worker",
    ),
    "Manager": ("orders.*", "kitchen.*", "restaurant.*"),
}


def create_model_permissions(apps):
    """Content types and model permissions normally appear after `migrate` (post_migrate); a data
    migration that grants them needs them now."""
    for app_config in apps.get_app_configs():
        # Historical app configs have no models module, and both functions skip such apps.
        models_module = getattr(app_config, "models_module", None)
        app_config.models_module = models_module or True
        try:
            create_contenttypes(app_config, verbosity=0, apps=apps)
            create_permissions(app_config, verbosity=0, apps=apps)
        finally:
            app_config.models_module = models_module


def create_roles(apps, schema_editor):
    """Each role's group, given its permissions (only adding). A permission whose model comes in a
    later migration does not exist yet, and is left to the migration that grants it."""
    create_model_permissions(apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, names in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        for name in names:
            app_label, codename = name.split(".")
            found = Permission.objects.filter(content_type__app_label=app_label)
            group.permissions.add(*(found if codename == "*" else found.filter(codename=codename)))


def delete_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=list(ROLE_PERMISSIONS)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("orders", "0002_order_staff_permissions"),
        ("kitchen", "0002_worker_dead_letter_permission"),
        ("restaurant", "0002_outbox_notify_trigger"),
    ]

    operations = [migrations.RunPython(create_roles, delete_roles)]

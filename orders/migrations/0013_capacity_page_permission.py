from django.contrib.auth.management import create_permissions
from django.contrib.contenttypes.management import create_contenttypes
from django.db import migrations

# The kitchen's capacity page's permission, as the roles were given it when this migration was written
# (the roles of today are restaurant/roles.py's): the Manager, and Front of house, who answer the phone
# and need to see which slots still have room. The Kitchen has no back office (as for the speed report).
GRANTS = {"Manager": ("view_capacity",), "Front of house": ("view_capacity",)}


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        # Historical app configs have no models module, and both functions skip such apps.
        models_module = getattr(app_config, "models_module", None)
        app_config.models_module = models_module or True
        try:
            create_contenttypes(app_config, verbosity=0, apps=apps)
            create_permissions(app_config, verbosity=0, apps=apps)
        finally:
            app_config.models_module = models_module
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in GRANTS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(*Permission.objects.filter(content_type__app_label="orders", codename__in=codenames))


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0012_held_orders"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="order",
            options={
                "permissions": [
                    ("cancel_order", "Can cancel an order"),
                    ("complete_order", "Can mark a ready order completed"),
                    ("view_speed_of_service", "Can see the speed-of-service report"),
                    ("view_capacity", "Can see the kitchen's capacity page"),
                ]
            },
        ),
        migrations.RunPython(grant, migrations.RunPython.noop),
    ]

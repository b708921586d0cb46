"""The ASAP pause ("kitchen busy", issue 19): the kitchen's row says until when new ASAP orders are
paused and who paused them, and the Manager role may pause them (menu.pause_asap)."""

from django.contrib.auth.management import create_permissions
from django.contrib.contenttypes.management import create_contenttypes
from django.db import migrations, models

# What this migration grants, literally (a migration is history: the roles of today are
# restaurant/roles.py's, whose Manager holds menu.*). Only adding.
GRANTS = {"Manager": ("menu.pause_asap",)}


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


def grant(apps, schema_editor):
    create_model_permissions(apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, names in GRANTS.items():
        group, _ = Group.objects.get_or_create(name=role)
        for name in names:
            app_label, codename = name.split(".")
            group.permissions.add(*Permission.objects.filter(content_type__app_label=app_label, codename=codename))


class Migration(migrations.Migration):
    dependencies = [
        ("menu", "0007_kitchen_capacity"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="kitchen",
            options={"permissions": [("pause_asap", "Can pause new ASAP orders (kitchen busy)")]},
        ),
        migrations.AddField(
            model_name="kitchen",
            name="paused_by",
            field=models.CharField(blank=True, default="", max_length=150),
        ),
        migrations.AddField(
            model_name="kitchen",
            name="paused_until",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(grant, migrations.RunPython.noop),
    ]

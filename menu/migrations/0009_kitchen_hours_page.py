"""The back office's kitchen page (Menu › Kitchen hours and slots): the kitchen's row gets its name there,
Managers may change it and Front of house see it; a station's capacity per slot and an item's load get
the bounds load_menu holds them to (validators only: no change to the tables)."""

import django.core.validators
from django.contrib.auth.management import create_permissions
from django.contrib.contenttypes.management import create_contenttypes
from django.db import migrations, models

# What this migration grants, literally (a migration is history: the roles of today are
# restaurant/roles.py's, whose Manager holds menu.*). Only adding.
GRANTS = {
    "Manager": ("menu.view_kitchen", "menu.change_kitchen"),
    "Front of house": ("menu.view_kitchen",),  # the hours to answer the phone with, as the menu
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
        ("menu", "0008_kitchen_asap_pause"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="kitchen",
            options={
                "permissions": [("pause_asap", "Can pause new ASAP orders (kitchen busy)")],
                "verbose_name": "kitchen hours and slots",
                "verbose_name_plural": "kitchen hours and slots",
            },
        ),
        migrations.AlterField(
            model_name="menuitem",
            name="load",
            field=models.PositiveSmallIntegerField(
                default=1,
                help_text="The units one of it puts on its station's capacity per slot; 0: takes no station time",
                validators=[
                    django.core.validators.MinValueValidator(0),
                    django.core.validators.MaxValueValidator(1000),
                ],
            ),
        ),
        migrations.AlterField(
            model_name="station",
            name="capacity_per_slot",
            field=models.PositiveIntegerField(
                blank=True,
                help_text="The load units it can cook in one slot (each item puts its load × quantity). Empty: no limit",
                null=True,
                validators=[
                    django.core.validators.MinValueValidator(1),
                    django.core.validators.MaxValueValidator(100000),
                ],
            ),
        ),
        migrations.RunPython(grant, migrations.RunPython.noop),
    ]

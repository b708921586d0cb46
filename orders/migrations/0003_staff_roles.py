from django.db import migrations

from orders.roles import FRONT_OF_HOUSE, KITCHEN, MANAGER, ensure_roles


def create_roles(apps, schema_editor):
    ensure_roles(apps)


def delete_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=[KITCHEN, FRONT_OF_HOUSE, MANAGER]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("orders", "0002_order_staff_permissions"),
        ("kitchen", "0002_worker_dead_letter_permission"),
        ("restaurant", "0002_outbox_notify_trigger"),
    ]

    operations = [migrations.RunPython(create_roles, delete_roles)]

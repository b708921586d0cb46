from django.db import migrations

from orders.roles import ensure_roles


def grant_menu_permissions(apps, schema_editor):
    ensure_roles(apps)  # only adds: the roles' menu permissions (orders/roles.py)


class Migration(migrations.Migration):
    # Not after orders 0003 (which makes the groups, as ensure_roles does): on a new database that
    # migration runs after this one, and its ensure_roles needs menu.set_availability to exist already.
    # It needs every permission the roles name: those of orders 0002 and kitchen 0002.
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("orders", "0002_order_staff_permissions"),
        ("kitchen", "0002_worker_dead_letter_permission"),
        ("restaurant", "0002_outbox_notify_trigger"),
        ("menu", "0003_menuitem_set_availability_permission"),
    ]

    operations = [migrations.RunPython(grant_menu_permissions, migrations.RunPython.noop)]

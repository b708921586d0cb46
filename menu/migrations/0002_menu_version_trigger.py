"""Any change of a menu table bumps menu_version (the ETag of GET /menu) and NOTIFYs `menu`, in the
changing transaction: a change made by the admin, load_menu or plain SQL is seen the same way."""

from django.db import migrations

TABLES = ["menu_stations", "menu_categories", "menu_items", "menu_modifier_groups", "menu_modifier_options"]

FUNCTION = """
CREATE FUNCTION menu_changed() RETURNS trigger AS $$
DECLARE
    new_version bigint;
BEGIN
    -- An upsert: a test's flush may have emptied menu_version.
    INSERT INTO menu_version (id, version) VALUES (1, 1)
        ON CONFLICT (id) DO UPDATE SET version = menu_version.version + 1
        RETURNING version INTO new_version;
    PERFORM pg_notify('menu', new_version::text);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""

TRIGGER = (
    "CREATE TRIGGER {table}_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
    "FOR EACH STATEMENT EXECUTE FUNCTION menu_changed();"
)


class Migration(migrations.Migration):
    dependencies = [("menu", "0001_initial")]

    operations = [
        migrations.RunSQL(
            "INSERT INTO menu_version (id, version) VALUES (1, 1) ON CONFLICT DO NOTHING;",
            reverse_sql="DELETE FROM menu_version;",
        ),
        migrations.RunSQL(FUNCTION, reverse_sql="DROP FUNCTION menu_changed();"),
        *[
            migrations.RunSQL(TRIGGER.format(table=table), reverse_sql=f"DROP TRIGGER {table}_changed ON {table};")
            for table in TABLES
        ],
    ]

"""menu_version takes its numbers from a sequence: a sequence never hands a number out twice, not even
after a rolled-back transaction, a flushed table or a restore, so a version (the ETag of GET /menu,
the key of each process's cached document) always means one content of the menu."""

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION menu_changed() RETURNS trigger AS $$
DECLARE
    new_version bigint := nextval('menu_version_seq');
BEGIN
    INSERT INTO menu_version (id, version) VALUES (1, new_version)
        ON CONFLICT (id) DO UPDATE SET version = new_version;
    PERFORM pg_notify('menu', new_version::text);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""

OLD_FUNCTION = """
CREATE OR REPLACE FUNCTION menu_changed() RETURNS trigger AS $$
DECLARE
    new_version bigint;
BEGIN
    INSERT INTO menu_version (id, version) VALUES (1, 1)
        ON CONFLICT (id) DO UPDATE SET version = menu_version.version + 1
        RETURNING version INTO new_version;
    PERFORM pg_notify('menu', new_version::text);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""


class Migration(migrations.Migration):
    dependencies = [("menu", "0004_menu_roles")]

    operations = [
        migrations.RunSQL(
            "CREATE SEQUENCE menu_version_seq;"
            "SELECT setval('menu_version_seq', COALESCE((SELECT max(version) FROM menu_version), 1));",
            reverse_sql="DROP SEQUENCE menu_version_seq;",
        ),
        migrations.RunSQL(FUNCTION, reverse_sql=OLD_FUNCTION),
    ]

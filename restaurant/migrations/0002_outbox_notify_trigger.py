from django.db import migrations

# Every insert into the outbox wakes the relay at commit (NOTIFY is delivered on commit and
# folded to one per transaction, so a busy intake does not flood the channel).
CREATE = """
CREATE FUNCTION outbox_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('outbox', '');
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
"""

DROP = """
DROP TRIGGER IF EXISTS outbox_notify ON outbox;
DROP FUNCTION IF EXISTS outbox_notify();
"""


class Migration(migrations.Migration):
    dependencies = [("restaurant", "0001_initial")]

    operations = [migrations.RunSQL(CREATE, DROP)]

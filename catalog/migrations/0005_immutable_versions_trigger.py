"""On PostgreSQL, make catalog versions immutable at the database level: an UPDATE may only
flip ``is_current`` (how a version stops or starts being current), and DELETE is refused, for
metric versions, threshold overrides and weight-profile versions. The ORM refuses the same
(``ImmutableRowMixin``); the trigger covers raw SQL, admin shells and other clients."""

from django.db import migrations

TABLES = ("catalog_metricversion", "catalog_thresholdoverride", "catalog_weightprofileversion")

FUNCTION = """
CREATE OR REPLACE FUNCTION catalog_immutable_version() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION '% rows are immutable: DELETE refused', TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF (to_jsonb(NEW) - 'is_current') IS DISTINCT FROM (to_jsonb(OLD) - 'is_current') THEN
        RAISE EXCEPTION '% rows are immutable: only is_current may change (UPDATE refused)', TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""
TRIGGER = """
CREATE TRIGGER {table}_immutable
    BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION catalog_immutable_version();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTION, params=None)
    for table in TABLES:
        schema_editor.execute(TRIGGER.format(table=table), params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_immutable ON {table};", params=None)
    schema_editor.execute("DROP FUNCTION IF EXISTS catalog_immutable_version();", params=None)


class Migration(migrations.Migration):
    dependencies = [("catalog", "0004_default_catalog")]
    operations = [migrations.RunPython(forwards, backwards)]

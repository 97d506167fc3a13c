"""On PostgreSQL, refuse UPDATE and DELETE of audit records at the database level, so the
trail stays append-only even for code (or people) that bypass the ORM."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION healthboard_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'healthboard_auditrecord is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER healthboard_auditrecord_append_only
    BEFORE UPDATE OR DELETE ON healthboard_auditrecord
    FOR EACH ROW EXECUTE FUNCTION healthboard_audit_append_only();
"""
DROP = """
DROP TRIGGER IF EXISTS healthboard_auditrecord_append_only ON healthboard_auditrecord;
DROP FUNCTION IF EXISTS healthboard_audit_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("healthboard", "0003_audit_actor_no_constraint")]
    operations = [migrations.RunPython(forwards, backwards)]

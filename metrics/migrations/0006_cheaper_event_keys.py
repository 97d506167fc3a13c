"""Cheaper dedup-key inserts on PostgreSQL (measured in the README's ingest section).

* ``metrics_eventkey_ts_idx`` becomes a BRIN index: it serves only the retention delete, keys
  arrive roughly in ``ts`` order, and a BRIN index costs next to nothing per insert where a
  btree cost about 2 µs per key.
* The event id sequence caches 1,000 values per session, so ``nextval`` for a batch no longer
  locks and WAL-logs the sequence for every 32 rows. Ids stay unique; they are no longer in
  global insertion order across sessions, and nothing relies on that.

SQLite keeps the btree index and has no sequences: nothing changes there.
"""

from django.db import migrations


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS metrics_eventkey_ts_idx")
    schema_editor.execute("CREATE INDEX metrics_eventkey_ts_idx ON metrics_eventkey USING brin (ts)")
    schema_editor.execute("ALTER SEQUENCE metrics_predictionevent_id_seq CACHE 1000")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS metrics_eventkey_ts_idx")
    schema_editor.execute("CREATE INDEX metrics_eventkey_ts_idx ON metrics_eventkey (ts)")
    schema_editor.execute("ALTER SEQUENCE metrics_predictionevent_id_seq CACHE 1")


class Migration(migrations.Migration):
    dependencies = [("metrics", "0005_window_profiles")]

    operations = [migrations.RunPython(forwards, backwards)]

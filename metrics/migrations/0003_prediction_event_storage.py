"""PredictionEvent storage, per database.

PostgreSQL: a table partitioned by day on ``ts`` (primary key ``(id, ts)``, since a
partitioned table's unique keys must contain the partition key; BRIN index on ``ts``), with
partitions for yesterday … a week ahead. ``metrics.tasks.ingest_maintain_partitions`` creates
later ones ahead and drops those past ``RAW_EVENT_RETENTION_DAYS``; ingestion also creates the
partition of an in-retention day that is missing. Uniqueness of ``(system, event_id)`` lives
in ``metrics_eventkey``. The SQL is frozen here on purpose (migrations never import app code).

SQLite: a plain table from the same model, with indexes on ``(deployment_id, ts)`` and ``ts``.
"""

import datetime as dt

import django.db.models.deletion
import django.utils.timezone
import metrics.models.fields
from django.db import migrations, models

TABLE = "metrics_predictionevent"

PG_CREATE = f"""
CREATE SEQUENCE {TABLE}_id_seq;
CREATE TABLE {TABLE} (
    id bigint NOT NULL DEFAULT nextval('{TABLE}_id_seq'),
    ts timestamptz NOT NULL,
    received_at timestamptz NOT NULL,
    system_id bigint NOT NULL,
    layout_id bigint NOT NULL,
    deployment_id bigint NOT NULL,
    latency_ms double precision NULL,
    prediction double precision NULL,
    score double precision NULL,
    label double precision NULL,
    label_ts timestamptz NULL,
    error boolean NOT NULL DEFAULT false,
    event_id varchar(128) NOT NULL,
    "numeric" double precision[] NOT NULL,
    categorical text[] NOT NULL,
    cohort text[] NOT NULL,
    CONSTRAINT {TABLE}_pkey PRIMARY KEY (id, ts)
) PARTITION BY RANGE (ts);
ALTER SEQUENCE {TABLE}_id_seq OWNED BY {TABLE}.id;
CREATE INDEX {TABLE}_ts_brin ON {TABLE} USING brin (ts);
"""


def create_storage(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        schema_editor.execute(PG_CREATE)
        today = dt.datetime.now(dt.UTC).date()
        for offset in range(-1, 8):
            day = today + dt.timedelta(days=offset)
            schema_editor.execute(
                f"CREATE TABLE IF NOT EXISTS {TABLE}_p{day:%Y%m%d} PARTITION OF {TABLE} "
                f"FOR VALUES FROM ('{day.isoformat()} 00:00:00+00') "
                f"TO ('{(day + dt.timedelta(days=1)).isoformat()} 00:00:00+00')"
            )
    else:
        model = apps.get_model("metrics", "PredictionEvent")
        schema_editor.create_model(model)
        schema_editor.execute(f"CREATE INDEX {TABLE}_deployment_ts ON {TABLE} (deployment_id, ts)")
        schema_editor.execute(f"CREATE INDEX {TABLE}_ts ON {TABLE} (ts)")


def drop_storage(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP TABLE IF EXISTS {TABLE} CASCADE")
    else:
        schema_editor.delete_model(apps.get_model("metrics", "PredictionEvent"))


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0001_initial"),
        ("metrics", "0002_ingestion"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="PredictionEvent",
                    fields=[
                        ("id", models.BigAutoField(primary_key=True, serialize=False)),
                        ("event_id", models.CharField(max_length=128)),
                        (
                            "ts",
                            models.DateTimeField(
                                help_text="When the prediction was made (the client's timestamp, UTC)."
                            ),
                        ),
                        ("received_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("latency_ms", models.FloatField(blank=True, null=True)),
                        ("error", models.BooleanField(default=False)),
                        ("prediction", models.FloatField(blank=True, null=True)),
                        ("score", models.FloatField(blank=True, null=True)),
                        ("label", models.FloatField(blank=True, null=True)),
                        ("label_ts", models.DateTimeField(blank=True, null=True)),
                        (
                            "numeric",
                            metrics.models.fields.FloatArrayField(
                                default=list, help_text="Numeric features in declared order."
                            ),
                        ),
                        (
                            "categorical",
                            metrics.models.fields.TextArrayField(
                                default=list, help_text="Categorical features in declared order."
                            ),
                        ),
                        (
                            "cohort",
                            metrics.models.fields.TextArrayField(
                                default=list, help_text="Cohort values in cohort-attribute order."
                            ),
                        ),
                        (
                            "deployment",
                            models.ForeignKey(
                                db_constraint=False,
                                db_index=False,
                                on_delete=django.db.models.deletion.DO_NOTHING,
                                related_name="+",
                                to="catalog.deployment",
                            ),
                        ),
                        (
                            "layout",
                            models.ForeignKey(
                                db_constraint=False,
                                db_index=False,
                                on_delete=django.db.models.deletion.DO_NOTHING,
                                related_name="+",
                                to="metrics.featurelayout",
                            ),
                        ),
                        (
                            "system",
                            models.ForeignKey(
                                db_constraint=False,
                                db_index=False,
                                on_delete=django.db.models.deletion.DO_NOTHING,
                                related_name="+",
                                to="catalog.system",
                            ),
                        ),
                    ],
                    options={
                        "ordering": ["ts"],
                    },
                ),
            ],
            database_operations=[],
        ),
        # After the state operation, so that ``apps`` knows the model (SQLite's create_model).
        migrations.RunPython(create_storage, drop_storage),
    ]

"""``manage.py backfill_metric KEY [--version N] [--start ISO] [--end ISO] [--deployment ID]``

Recomputes the history of metric ``KEY`` under catalog version ``N`` (default: the current
version) and stores it *beside* the older versions' series — nothing is overwritten. Default
range: from each deployment's first stored profile to its watermark. Runs synchronously with a
progress bar (the same code as the ``backfill_metric`` task), or ``--enqueue`` it for a worker.
Audited (``metric.backfill``).
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from catalog.models import Deployment, MetricVersion
from healthboard.models import AuditRecord
from metrics.engine import backfill
from metrics.engine.cli import ProgressBar, parse_time


class Command(BaseCommand):
    help = "Recompute a metric's history under a catalog version, beside the old series."

    def create_parser(self, prog_name, subcommand, **kwargs):
        # --version is the catalog version here, not Django's "show the program version".
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("key", help="metric key, e.g. feature_drift_psi")
        parser.add_argument("--version", type=int, help="version number (default: the current one)")
        parser.add_argument("--start", help="ISO date or date-time (UTC if no offset)")
        parser.add_argument("--end", help="ISO date or date-time")
        parser.add_argument("--deployment", type=int, action="append", help="deployment id (repeatable)")
        parser.add_argument("--reason", default="", help="reason for the audit trail")
        parser.add_argument(
            "--enqueue", action="store_true", help="send it to a worker instead of running here"
        )

    def handle(self, *args, **options):
        try:
            run = backfill.request(
                options["key"],
                version=options["version"],
                start=parse_time(options["start"], "start"),
                end=parse_time(options["end"], "end"),
                deployment_ids=options["deployment"],
                source=AuditRecord.Source.SYSTEM,
                actor="manage.py backfill_metric",
                reason=options["reason"],
            )
        except (MetricVersion.DoesNotExist, Deployment.DoesNotExist, ValueError) as exc:
            raise CommandError(str(exc)) from None
        info = run.input_rows
        if options["enqueue"]:
            from metrics.tasks_compute import backfill_metric

            backfill_metric.delay(run.pk)
            self.stdout.write(f"backfill run {run.pk} of {info['metric']} v{info['version']} enqueued")
            return
        bar = None
        began = time.monotonic()

        def progress(done, total, summary):
            nonlocal bar
            if bar is None:
                bar = ProgressBar(total, "backfill_metric", stream=self.stderr._out)
            bar.update(done, f"windows, {summary.values} values")

        summary = backfill.run(run.pk, task_id="command:backfill_metric", progress=progress)
        if bar is not None:
            bar.close()
        self.stdout.write(
            f"backfill run {run.pk}: {info['metric']} v{info['version']}: windows {summary.windows}, "
            f"values {summary.values}, seconds {time.monotonic() - began:.1f}"
        )

"""``manage.py compute_metrics [--deployment ID] [--start ISO] [--end ISO]``

Computes every closed window in the range synchronously, with the same code the workers run
(``metrics.engine.runner.compute_range``): each 5-minute bucket in ``[start, end)`` is rolled up
from raw events, and every 5-minute, hourly and daily window *ending* in ``(start, end]`` is
computed, its values upserted (a rerun replaces, never duplicates), with a ``ComputationRun``
per window and the alert / trust hooks after each window end.

Defaults: every active deployment; ``--end`` = now rounded down to the last closed window;
``--start`` = midnight UTC of the day before ``--end`` (so yesterday's daily window is included).
``--end`` never goes past the closed windows. A deployment's watermark moves to ``--end`` when
it was absent or inside the range, so beat continues from there. The command holds each
deployment's lease while it computes it (waiting for a worker that holds it), so it never
computes a deployment at the same time as a worker.
"""

from __future__ import annotations

import os
import time
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from catalog.models import Deployment
from metrics.engine import runner, scheduling, windows
from metrics.engine.cli import ProgressBar, parse_time


class Command(BaseCommand):
    help = "Compute every closed metric window in a range, synchronously (same code as the workers)."

    def add_arguments(self, parser):
        parser.add_argument("--deployment", type=int, action="append", help="deployment id (repeatable)")
        parser.add_argument(
            "--start", help="ISO date or date-time (UTC if no offset); default: yesterday 00:00"
        )
        parser.add_argument("--end", help="ISO date or date-time; default: the last closed window")
        parser.add_argument("--no-hooks", action="store_true", help="do not run alert evaluation / trust")

    def handle(self, *args, **options):
        now = timezone.now()
        closed = windows.closed_until(now)
        end = parse_time(options["end"], "end") or closed
        if end > closed:
            self.stderr.write(f"--end is after the last closed window; computing up to {closed.isoformat()}")
            end = closed
        end = windows.floor(end)
        start = parse_time(options["start"], "start") or windows.floor(end, timedelta(days=1)) - timedelta(
            days=1
        )
        start = windows.floor(start)
        if start >= end:
            raise CommandError("--start must be before --end (and before the last closed window).")
        if options["deployment"]:
            ids = sorted(set(options["deployment"]))
            found = set(Deployment.objects.filter(pk__in=ids).values_list("pk", flat=True))
            if found != set(ids):
                raise CommandError(f"No deployment {', '.join(map(str, sorted(set(ids) - found)))}.")
        else:
            ids = list(
                Deployment.objects.exclude(status=Deployment.Status.RETIRED)
                .order_by("pk")
                .values_list("pk", flat=True)
            )
        chunks = len(runner.chunks(start, end))
        bar = ProgressBar(chunks * len(ids), "compute_metrics", stream=self.stderr._out)
        began = time.monotonic()
        total = runner.Summary()
        done = 0
        owner = f"command:compute_metrics:{os.getpid()}"
        for deployment_id in ids:

            def progress(i, n, summary, base=done, deployment_id=deployment_id):
                scheduling.renew(deployment_id, owner)
                bar.update(
                    base + i,
                    f"chunks, {total.windows + summary.windows} windows, {total.values + summary.values} values",
                )

            self._lease(deployment_id, owner)
            try:
                summary = runner.compute_range(
                    deployment_id,
                    start,
                    end,
                    task_id="command:compute_metrics",
                    advance_watermark=True,
                    progress=progress,
                    call_hooks=not options["no_hooks"],
                )
            finally:
                scheduling.release(deployment_id, owner)
            done += chunks
            total.add(summary)
            bar.update(done, f"chunks, {total.windows} windows, {total.values} values")
        bar.close()
        seconds = time.monotonic() - began
        for error in total.hook_errors[:5]:
            self.stderr.write(f"warning: {error}")
        self.stdout.write(
            f"computed {start.isoformat()} → {end.isoformat()} for {len(ids)} deployment(s): "
            f"windows {total.windows}, values {total.values}, buckets {total.buckets}, "
            f"events {total.events}, seconds {seconds:.1f}"
        )

    def _lease(self, deployment_id: int, owner: str, timeout: float = 900) -> None:
        deadline = time.monotonic() + timeout
        waited = False
        while not scheduling.acquire(deployment_id, owner):
            if not waited:
                self.stderr.write(
                    f"deployment #{deployment_id} is being computed by a worker; waiting for it"
                )
                waited = True
            if time.monotonic() > deadline:
                raise CommandError(f"deployment #{deployment_id} stayed leased for {timeout:.0f} s")
            time.sleep(2)

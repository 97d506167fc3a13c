"""``manage.py compute_trust [--deployment ID] [--start ISO] [--end ISO]`` — score windows now.

Scores every hourly window in ``[start, end)`` for each deployment (default: every deployment
with metric values; default range: the last closed hour), oldest first so the jump detector
sees the series in order. The same ``compute_trust`` the computation engine calls after each
window; useful to backfill, or after a demo seeds metric values.
"""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from catalog.models import Deployment
from metrics.models import MetricValue
from metrics.trust import service


def _time(value: str | None, name: str) -> dt.datetime | None:
    if not value:
        return None
    parsed = parse_datetime(value)
    if parsed is None:
        raise CommandError(f"--{name}: not an ISO 8601 date-time: {value!r}")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


class Command(BaseCommand):
    help = "Compute trust scores for hourly windows (default: the last closed hour, every deployment)."

    def add_arguments(self, parser):
        parser.add_argument("--deployment", type=int, action="append", help="deployment id (repeatable)")
        parser.add_argument("--start", help="ISO date-time, rounded down to the hour")
        parser.add_argument("--end", help="ISO date-time, rounded down to the hour (default: now)")

    def handle(self, *args, **options):
        hour = service.DEFAULT_WINDOW
        end = (_time(options["end"], "end") or timezone.now()).replace(minute=0, second=0, microsecond=0)
        start = (_time(options["start"], "start") or end - hour).replace(minute=0, second=0, microsecond=0)
        if start >= end:
            raise CommandError("--start must be before --end.")
        if options["deployment"]:
            ids = list(Deployment.objects.filter(pk__in=options["deployment"]).values_list("pk", flat=True))
            missing = set(options["deployment"]) - set(ids)
            if missing:
                raise CommandError(f"No deployment {', '.join(map(str, sorted(missing)))}.")
        else:
            ids = sorted(
                set(MetricValue.objects.order_by().values_list("deployment_id", flat=True).distinct())
            )
        count = 0
        for deployment_id in ids:
            window = start
            while window < end:
                score = service.compute_trust(deployment_id, window, window + hour)
                count += 1
                window += hour
            self.stdout.write(
                f"deployment #{deployment_id}: latest {score.readiness}"
                + (f", score {score.score:.1f}" if score.score is not None else ", no score")
            )
        self.stdout.write(f"{count} trust scores computed for {len(ids)} deployments.")

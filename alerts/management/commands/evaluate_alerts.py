"""Evaluate stored metric values as alerts, and optionally run one escalation + notification
tick — the same code the workers run, synchronously (backfills, the demo, debugging).

    manage.py evaluate_alerts [--deployment ID] [--start ISO] [--end ISO] [--tick]
    manage.py evaluate_alerts --tick-only
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from alerts.delivery import deliver_due
from alerts.evaluate import EvaluationReport, evaluate_window
from alerts.lifecycle import advance_escalations
from alerts.notify import plan_notifications
from metrics.models import MetricValue


def _when(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    parsed = parse_datetime(value)
    if parsed is None:
        raise CommandError(f"--{name} {value!r} is not an ISO 8601 date-time.")
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, UTC)


class Command(BaseCommand):
    help = "Evaluate metric values as alerts (idempotent) and optionally run one notification tick."

    def add_arguments(self, parser):
        parser.add_argument("--deployment", type=int, help="only this deployment id")
        parser.add_argument("--start", help="windows ending after this time (ISO 8601)")
        parser.add_argument("--end", help="windows ending at or before this time (ISO 8601); default now")
        parser.add_argument(
            "--tick", action="store_true", help="then advance escalations and send notifications"
        )
        parser.add_argument("--tick-only", action="store_true", help="only advance escalations and send")

    def handle(self, *args, **options):
        now = timezone.now()
        if not options["tick_only"]:
            start = _when(options["start"], "start") or datetime(1970, 1, 1, tzinfo=UTC)
            end = _when(options["end"], "end") or now
            values = MetricValue.objects.filter(window_end__gt=start, window_end__lte=end)
            if options["deployment"]:
                values = values.filter(deployment_id=options["deployment"])
            total = EvaluationReport()
            for deployment_id in sorted(set(values.values_list("deployment_id", flat=True).distinct())):
                total.merge(evaluate_window(deployment_id, start, end, now=now))
            self.stdout.write(
                f"evaluated {total.evaluated} values ({total.applied} applied, {total.reevaluated} re-evaluated, "
                f"{total.out_of_order} out of order, {total.skipped_no_rule} without a rule); "
                f"{len(total.transitions)} transitions"
            )
        if options["tick"] or options["tick_only"]:
            reached = advance_escalations(now)
            queued = plan_notifications(now)
            sent = deliver_due(now)
            self.stdout.write(
                f"escalation steps reached {reached}; notifications queued {len(queued)}; sent {sent}"
            )

"""Replay quarantined records after the configuration is fixed (e.g. a missing feature added)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from metrics.ingest.replay import describe, replay
from metrics.models import QuarantinedRecord


class Command(BaseCommand):
    help = "Replay pending quarantined records through the ingestion pipeline; prints the counts."

    def add_arguments(self, parser):
        parser.add_argument("--system", help="system slug")
        parser.add_argument("--kind", choices=[k for k, _ in QuarantinedRecord.Kind.choices])
        parser.add_argument("--reason", help="error code, e.g. unknown_feature")
        parser.add_argument("--id", type=int, action="append", dest="ids", help="a record id (repeatable)")
        parser.add_argument("--limit", type=int, default=None, help="at most this many records")

    def handle(self, *args, **options):
        qs = QuarantinedRecord.objects.filter(replayed_at__isnull=True)
        if options["system"]:
            qs = qs.filter(system__slug=options["system"])
            if (
                not qs.exists()
                and not QuarantinedRecord.objects.filter(system__slug=options["system"]).exists()
            ):
                raise CommandError(f"No quarantined records for system {options['system']!r}.")
        if options["kind"]:
            qs = qs.filter(kind=options["kind"])
        if options["reason"]:
            qs = qs.filter(reason=options["reason"])
        if options["ids"]:
            qs = qs.filter(id__in=options["ids"])
        if options["limit"]:
            qs = QuarantinedRecord.objects.filter(
                id__in=list(qs.order_by("id").values_list("id", flat=True)[: options["limit"]])
            )
        result = replay(qs, actor="replay_quarantine")
        self.stdout.write(describe(result))

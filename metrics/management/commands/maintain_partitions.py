"""Create raw-event partitions ahead and apply the retention now (what beat does hourly)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from metrics.ingest import partitions


class Command(BaseCommand):
    help = "Create raw-event day partitions ahead and drop those past RAW_EVENT_RETENTION_DAYS."

    def handle(self, *args, **options):
        result = partitions.maintain()
        result["cutoff"] = result["cutoff"].isoformat()
        self.stdout.write(json.dumps(result))

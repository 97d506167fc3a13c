"""``manage.py simulate_traffic``: stream the demo systems' live traffic through the HTTP API."""

from __future__ import annotations

import time
import urllib.error
import urllib.request

from django.core.management.base import BaseCommand, CommandError

from catalog.models import System
from dashboards.demo.simulator import TrafficSimulator
from dashboards.demo.telemetry import SPECS
from healthboard.client import HealthboardClient
from healthboard.models import ApiToken, AuditRecord
from healthboard.tokens import issue_token, revoke_token

TOKEN_NAME = "demo-simulator"


def _wait_until_up(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=5):
                return
        except urllib.error.HTTPError:
            return  # it answers (503 = a dependency is down, ingestion still works)
        except OSError:
            if time.monotonic() > deadline:
                raise CommandError(f"{url} did not answer within {timeout:.0f} s") from None
            time.sleep(1)


class Command(BaseCommand):
    help = "Send the demo systems' live events (and late labels) to a running Healthboard over HTTP."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="base URL of the web process")
        parser.add_argument("--interval", type=float, default=10.0, help="seconds between sends (default 10)")
        parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
        parser.add_argument("--wait", type=float, default=120.0, help="seconds to wait for the web process")

    def handle(self, *args, url, interval, duration, wait, **options):
        url = url.rstrip("/")
        systems = {s.slug: s for s in System.objects.filter(slug__in=[spec.system for spec in SPECS])}
        if not systems:
            raise CommandError("No demo systems: run `manage.py seed_demo --telemetry` first.")
        clients = {}
        for slug, system in systems.items():
            # Tokens are shown once, so each run issues fresh ones and revokes the previous run's.
            for old in ApiToken.objects.filter(system=system, name=TOKEN_NAME, revoked_at__isnull=True):
                revoke_token(old, reason="replaced by a new simulator run", source=AuditRecord.Source.SYSTEM)
            _, raw = issue_token(
                kind=ApiToken.Kind.INGEST, system=system, name=TOKEN_NAME, source=AuditRecord.Source.SYSTEM
            )
            clients[slug] = HealthboardClient(url, token=raw)
        _wait_until_up(url, wait)
        self.stdout.write(
            f"Streaming live traffic for {', '.join(sorted(clients))} to {url} every {interval:g} s"
        )
        TrafficSimulator(clients).run(interval=interval, duration=duration, log=self.stdout.write)

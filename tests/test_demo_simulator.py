"""The demo simulator streams events and late labels through the real HTTP ingest API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.management import call_command

from catalog.models import System
from dashboards.demo.simulator import TrafficSimulator
from healthboard.client import HealthboardClient
from healthboard.models import ApiToken
from healthboard.tokens import issue_token
from metrics.models import PredictionEvent

DEMO_CONFIG = Path(__file__).resolve().parent.parent / "dashboards" / "demo" / "demo_config.yaml"


class Clock:
    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("restore_migration_rows")
def test_simulator_sends_events_then_late_labels_over_http(live_server):
    call_command("apply_config", str(DEMO_CONFIG), stdout=open("/dev/null", "w"))  # noqa: SIM115
    system = System.objects.get(slug="clinical-triage")
    _, raw = issue_token(kind=ApiToken.Kind.INGEST, system=system)
    clock = Clock(datetime.now(UTC) - timedelta(minutes=30))
    simulator = TrafficSimulator(
        {"clinical-triage": HealthboardClient(live_server.url, token=raw)},
        label_delay=timedelta(minutes=2),
        clock=clock,
    )
    clock.now += timedelta(minutes=10)
    stats = simulator.tick()
    stored = PredictionEvent.objects.filter(system=system)
    assert stats.accepted == stored.count() > 0 and stats.rejected == 0
    # Labels arrive through /labels two minutes after their event, never with it.
    assert stored.filter(label__isnull=False).count() == stats.labels > 0
    assert not stored.filter(ts__gt=clock.now - timedelta(minutes=2), label__isnull=False).exists()
    clock.now += timedelta(minutes=5)
    before = stats.labels
    stats = simulator.tick()
    assert stats.labels > before
    assert stored.filter(label__isnull=False).count() == stats.labels
    # A restarted simulator resends nothing new: the deterministic ids are duplicates.
    again = TrafficSimulator(
        {"clinical-triage": HealthboardClient(live_server.url, token=raw)},
        clock=Clock(clock.now - timedelta(minutes=15)),
    )
    again.clock = clock
    assert again.tick().accepted == 0

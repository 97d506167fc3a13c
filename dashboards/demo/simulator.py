"""Live demo traffic: the demo systems' events streamed through the public HTTP API.

Events are the same deterministic hourly streams as the seeded history
(``dashboards.demo.telemetry.hour_events``), sent when their timestamp has passed, so the
views keep moving and the ingestion API is exercised end to end (tokens, validation,
duplicates, rate limits via the client's retries). Labels arrive late, through
``/api/v1/ingest/labels``, ``label_delay`` after their event.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from dashboards.demo.telemetry import RATES, SPECS, Spec, hour_events
from healthboard.client import HealthboardClient

# Live traffic skips the demo's stale pipeline, so it stays visibly stale.
STALE_STREAMS = {("payments-fraud", "edge")}


@dataclass
class Stream:
    spec: Spec
    env: str
    sent_until: datetime
    hour: datetime | None = None
    events: list[dict] = field(default_factory=list)


@dataclass
class SimulatorStats:
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    labels: int = 0


def _events_of_hour(spec: Spec, env: str, hour: datetime) -> list[dict]:
    # "now" three hours after the hour gives every event its label; the simulator holds the
    # labels back and sends them late. Incidents are those of the most recent seeded hours.
    events = hour_events(spec, env, hour, hour + timedelta(hours=3), hour - timedelta(days=1), RATES[env])
    return sorted(events, key=lambda e: e["timestamp"])


def _ts(event: dict) -> datetime:
    return datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))


class TrafficSimulator:
    def __init__(
        self,
        clients: dict[str, HealthboardClient],
        *,
        label_delay: timedelta = timedelta(minutes=2),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.clients = clients
        self.label_delay = label_delay
        self.clock = clock
        start = clock()
        self.streams = [
            Stream(spec, env, sent_until=start)
            for spec in SPECS
            if spec.system in clients
            for env in RATES
            if (spec.system, env) not in STALE_STREAMS
        ]
        self.pending_labels: dict[str, list[tuple[datetime, dict]]] = {system: [] for system in clients}
        self.stats = SimulatorStats()

    def tick(self) -> SimulatorStats:
        """Send every event whose time has come since the last tick, and the labels now due."""
        now = self.clock()
        by_system: dict[str, list[dict]] = {}
        for stream in self.streams:
            due = self._due_events(stream, now)
            for event in due:
                label = event.pop("label", None)
                if label is not None:
                    self.pending_labels[stream.spec.system].append(
                        (_ts(event) + self.label_delay, {"event_id": event["event_id"], "label": label})
                    )
            by_system.setdefault(stream.spec.system, []).extend(due)
        for system, events in by_system.items():
            if events:
                result = self.clients[system].send_events(events)
                self.stats.accepted += result.get("accepted", 0)
                self.stats.duplicates += result.get("duplicates", 0)
                self.stats.rejected += len(result.get("rejected", []))
        for system, pending in self.pending_labels.items():
            ready = [label for due_at, label in pending if due_at <= now]
            if ready:
                self.pending_labels[system] = [(d, label) for d, label in pending if d > now]
                self.clients[system].send_labels(ready)
                self.stats.labels += len(ready)
        return self.stats

    @staticmethod
    def _due_events(stream: Stream, now: datetime) -> list[dict]:
        due: list[dict] = []
        while stream.sent_until < now:
            hour = stream.sent_until.replace(minute=0, second=0, microsecond=0)
            if stream.hour != hour:
                stream.hour, stream.events = hour, _events_of_hour(stream.spec, stream.env, hour)
            upto = min(now, hour + timedelta(hours=1))
            due += [e for e in stream.events if stream.sent_until <= _ts(e) < upto]
            stream.sent_until = upto
        return due

    def run(self, *, interval: float, duration: float | None, log: Callable[[str], None]) -> SimulatorStats:
        started = time.monotonic()
        while duration is None or time.monotonic() - started < duration:
            stats = self.tick()
            log(
                f"sent: {stats.accepted} accepted, {stats.duplicates} duplicates, "
                f"{stats.rejected} rejected, {stats.labels} labels"
            )
            time.sleep(interval)
        return self.stats

"""Two tenants against gunicorn + PostgreSQL: one at 10x its rate limit, one at a normal rate.

    .venv/bin/python tests/load/two_tenants.py --seconds 60        # what `make load` runs

Builds its own stack with ``tests/integration/processes.py`` (a private PostgreSQL cluster,
migrated and seeded; a private redis-server for the rate limiter; gunicorn with 3 sync
workers), then drives it open-loop: each tenant's requests are scheduled at a fixed rate and
sent by a thread pool, and a request's latency counts from its scheduled time, so a server
that falls behind shows up as latency instead of as fewer requests (no coordinated omission).

* noisy tenant: ``factor`` x the per-token limit, batches of ``batch`` events, each batch with 2
  invalid events (an unknown model) and 3 event ids repeated from the batch before;
* normal tenant: ``normal_share`` of the limit, valid fresh events.

Accounting, per tenant, from the client's side: events sent = accepted + duplicates + rejected
(from the 200 bodies) + events of rate-limited requests (429); anything else (5xx, connection
errors) is counted as ``errors`` and must be zero. The server's side must agree: the ingestion
counters (``metrics_ingestionstat``, ``metrics_ingestionrejection``) and the stored rows.
The in-suite short run is ``tests/integration/test_load.py``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.integration.processes import http_post

EVENTS_PATH = "/api/v1/ingest/events"


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank percentile (NaN for no values)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


@dataclass
class Sample:
    scheduled: float  # wall clock time the request was due
    sent: float  # wall clock time it was sent (the server counts it in this minute's window)
    done: float
    status: int

    @property
    def latency_ms(self) -> float:  # from the due time: waiting for a free sender counts too
        return (self.done - self.scheduled) * 1000


@dataclass
class TenantReport:
    name: str
    events: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    rate_limited_events: int = 0
    error_events: int = 0
    samples: list[Sample] = field(default_factory=list)
    retry_after_ok: bool = True

    def add(self, sample: Sample, headers: dict, body: dict, events: int) -> None:
        self.samples.append(sample)
        self.events += events
        if sample.status == 200:
            self.accepted += body["accepted"]
            self.duplicates += body["duplicates"]
            self.rejected += len(body["rejected"])
        elif sample.status == 429:
            self.rate_limited_events += events
            retry_after = headers.get("Retry-After")
            self.retry_after_ok &= bool(retry_after) and 1 <= int(retry_after) <= 60
        else:
            self.error_events += events

    def count(self, status: int) -> int:
        return sum(1 for s in self.samples if s.status == status)

    @property
    def requests(self) -> int:
        return len(self.samples)

    @property
    def accepted_requests(self) -> int:
        return self.count(200)

    @property
    def rate_limited_requests(self) -> int:
        return self.count(429)

    @property
    def error_requests(self) -> int:
        return self.requests - self.accepted_requests - self.rate_limited_requests

    @property
    def minutes(self) -> set[int]:
        """The rate limiter's one-minute windows the requests fell in."""
        return {int(s.sent // 60) for s in self.samples}

    @property
    def accounted(self) -> int:
        return self.accepted + self.duplicates + self.rejected + self.rate_limited_events + self.error_events

    def percentile(self, q: float) -> float:
        return percentile([s.latency_ms for s in self.samples], q)

    def summary(self) -> dict:
        statuses: dict[int, int] = {}
        for s in self.samples:
            statuses[s.status] = statuses.get(s.status, 0) + 1
        return {
            "requests": self.requests,
            "events_sent": self.events,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "rate_limited_events": self.rate_limited_events,
            "rate_limited_requests": self.rate_limited_requests,
            "errors": self.error_requests,
            "statuses": dict(sorted(statuses.items())),
            "p50_ms": round(self.percentile(50), 1),
            "p95_ms": round(self.percentile(95), 1),
            "p99_ms": round(self.percentile(99), 1),
            "max_ms": round(self.percentile(100), 1),
        }


def by_noisy_phase(normal: TenantReport, noisy: TenantReport) -> dict[str, list[float]]:
    """The normal tenant's latencies (ms) split by what the noisy tenant was doing: ``burst``
    while it was still getting requests accepted in the current one-minute window (a fixed
    window lets a tenant at 10x spend its whole minute in the first 6 seconds), ``throttled``
    after its last accepted request of the window had been served (only 429s from then on)."""
    burst_end: dict[int, float] = {}
    for s in noisy.samples:
        if s.status == 200:
            window = int(s.sent // 60)
            burst_end[window] = max(burst_end.get(window, 0.0), s.done)
    phases: dict[str, list[float]] = {"burst": [], "throttled": []}
    for s in normal.samples:
        window = int(s.sent // 60)
        throttled = window in burst_end and s.scheduled >= burst_end[window]
        phases["throttled" if throttled else "burst"].append(s.latency_ms)
    return phases


def _event(event_id: str, model: str = "scorer") -> dict:
    return {
        "event_id": event_id,
        "model": model,
        "model_version": "1.0.0",
        "environment": "prod",
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "latency_ms": 21.5,
        "error": False,
        "features": {"income": 48000.0, "age": 37, "tenure": 4.5, "region": "eu", "channel": "web"},
        "prediction": 1,
        "score": 0.71,
        "label": None,
        "cohort": {"sex": "f", "age_band": "30-49"},
    }


class Batches:
    """Event batches of one tenant; ``noisy`` ones carry 2 invalid events and 3 repeated ids."""

    def __init__(self, size: int, noisy: bool):
        self.size, self.noisy = size, noisy
        self.run = uuid.uuid4().hex[:8]
        self.number = 0
        self.previous: list[str] = []
        self.lock = threading.Lock()

    def next(self) -> list[dict]:
        with self.lock:
            self.number += 1
            number, previous = self.number, self.previous
            fresh = self.size - (5 if self.noisy and previous else 0)
            ids = [f"{self.run}-{number}-{i}" for i in range(fresh)]
            self.previous = ids
        events = [_event(i) for i in ids]
        if self.noisy and previous:
            events += [_event(i) for i in previous[:3]]
            events += [_event(f"{self.run}-{number}-bad-{i}", model="no-such-model") for i in range(2)]
        return events


def drive(
    base_url: str,
    token: str,
    batches: Batches,
    report: TenantReport,
    *,
    per_second: float,
    seconds: float,
    threads: int,
) -> None:
    """Send ``per_second`` requests for ``seconds`` (open loop: fixed schedule, pooled sends)."""
    url = base_url + EVENTS_PATH
    lock = threading.Lock()

    def one(scheduled: float) -> None:
        events = batches.next()
        sent = time.time()
        status, headers, body = http_post(url, token, json.dumps({"events": events}).encode(), timeout=120)
        sample = Sample(scheduled=scheduled, sent=sent, done=time.time(), status=status)
        with lock:
            report.add(sample, headers, body, len(events))

    start = time.time()
    total = int(per_second * seconds)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for n in range(total):
            scheduled = start + n / per_second
            delay = scheduled - time.time()
            if delay > 0:
                time.sleep(delay)
            pool.submit(one, scheduled)


@dataclass
class Scenario:
    limit_per_minute: int
    seconds: float
    factor: float = 10.0
    normal_share: float = 0.5
    batch: int = 100
    baseline_seconds: float = 0.0  # the normal tenant alone first, for comparison


def warm_up(base_url: str, token: str, *, requests: int = 24, threads: int = 4) -> TenantReport:
    """Requests that only make every web worker import and connect what it imports lazily (the
    first requests of a fresh gunicorn worker take seconds): not part of any measurement."""
    report = TenantReport("warm-up")
    drive(base_url, token, Batches(20, noisy=False), report, per_second=requests, seconds=1, threads=threads)
    return report


def run(base_url: str, noisy_token: str, normal_token: str, scenario: Scenario) -> dict[str, TenantReport]:
    """The normal tenant alone (``baseline_seconds``), then both tenants at once."""
    per_minute = scenario.limit_per_minute
    normal_rate = scenario.normal_share * per_minute / 60
    noisy_rate = scenario.factor * per_minute / 60
    reports = {
        "baseline": TenantReport("normal, alone"),
        "normal": TenantReport("normal"),
        "noisy": TenantReport("noisy"),
    }
    normal_batches = Batches(scenario.batch, noisy=False)
    if scenario.baseline_seconds:
        drive(
            base_url,
            normal_token,
            normal_batches,
            reports["baseline"],
            per_second=normal_rate,
            seconds=scenario.baseline_seconds,
            threads=4,
        )
    noisy = threading.Thread(
        target=drive,
        args=(base_url, noisy_token, Batches(scenario.batch, noisy=True), reports["noisy"]),
        kwargs={"per_second": noisy_rate, "seconds": scenario.seconds, "threads": 16},
    )
    noisy.start()
    drive(
        base_url,
        normal_token,
        normal_batches,
        reports["normal"],
        per_second=normal_rate,
        seconds=scenario.seconds,
        threads=4,
    )
    noisy.join()
    return reports


def server_counts(sql: Callable[[str, list], list[tuple]], system_id: int) -> dict:
    """What the server recorded for a system's event ingestion: counters and stored rows."""
    requests, accepted, duplicates, rejected = sql(
        "SELECT coalesce(sum(requests), 0), coalesce(sum(accepted), 0), coalesce(sum(duplicates), 0), "
        "coalesce(sum(rejected), 0) FROM metrics_ingestionstat WHERE system_id = %s AND kind = 'event'",
        [system_id],
    )[0]
    rate_limited = sql(
        "SELECT coalesce(sum(requests), 0) FROM metrics_ingestionrejection "
        "WHERE system_id = %s AND kind = 'event' AND reason = 'rate_limited'",
        [system_id],
    )[0][0]
    stored = sql("SELECT count(*) FROM metrics_predictionevent WHERE system_id = %s", [system_id])[0][0]
    return {
        "requests": int(requests),
        "accepted": int(accepted),
        "duplicates": int(duplicates),
        "rejected": int(rejected),
        "rate_limited_requests": int(rate_limited),
        "stored": int(stored),
    }


def client_counts(*reports: TenantReport) -> dict:
    """The same figures as :func:`server_counts`, from the answers the client got."""
    return {
        "requests": sum(r.requests for r in reports),
        "accepted": sum(r.accepted for r in reports),
        "duplicates": sum(r.duplicates for r in reports),
        "rejected": sum(r.rejected for r in reports),
        "rate_limited_requests": sum(r.rate_limited_requests for r in reports),
        "stored": sum(r.accepted for r in reports),
    }


def verdict(
    reports: dict[str, TenantReport],
    scenario: Scenario,
    server: dict[str, dict],
    *,
    p95_budget_ms: float,
    min_samples: int = 5,
) -> dict[str, bool]:
    """Named checks of a run; ``server`` holds :func:`server_counts` of ``noisy`` and ``normal``."""
    noisy, normal, alone = reports["noisy"], reports["normal"], reports["baseline"]
    allowed = scenario.limit_per_minute * len(noisy.minutes)
    throttled = by_noisy_phase(normal, noisy)["throttled"]
    throttled_p95 = percentile(throttled, 95)
    outcomes = (noisy.accepted, noisy.duplicates, noisy.rejected, noisy.rate_limited_events)
    return {
        "noisy: sent = accepted + duplicates + rejected + rate limited, no 5xx or connection error": (
            noisy.accounted == noisy.events and noisy.error_requests == 0
        ),
        "noisy: each of the four outcomes occurred": all(outcomes),
        "noisy: every 429 carries Retry-After": noisy.retry_after_ok,
        f"noisy: {noisy.accepted_requests} requests accepted <= limit x windows = {allowed}": (
            0 < noisy.accepted_requests <= allowed
        ),
        "noisy: the server's counters and stored rows equal the client's counts": (
            server["noisy"] == client_counts(noisy)
        ),
        "normal: every request 200, the server's counters and rows equal the client's": (
            normal.accepted_requests == normal.requests
            and alone.accepted_requests == alone.requests
            and server["normal"] == client_counts(normal, alone)
        ),
        f"normal: p95 while the noisy tenant is throttled {throttled_p95:.0f} ms <= {p95_budget_ms:g} ms "
        f"({len(throttled)} requests)": len(throttled) >= min_samples and throttled_p95 <= p95_budget_ms,
    }


def describe(reports: dict[str, TenantReport]) -> str:
    noisy, normal, alone = reports["noisy"], reports["normal"], reports["baseline"]
    phases = by_noisy_phase(normal, noisy)
    lines = [f"{name}: {json.dumps(report.summary())}" for name, report in reports.items()]
    lines.append(
        f"normal tenant p50 / p95: alone {alone.percentile(50):.0f} / {alone.percentile(95):.0f} ms; "
        f"during the noisy burst {percentile(phases['burst'], 50):.0f} / {percentile(phases['burst'], 95):.0f} ms "
        f"({len(phases['burst'])} requests); while the noisy tenant is throttled "
        f"{percentile(phases['throttled'], 50):.0f} / {percentile(phases['throttled'], 95):.0f} ms "
        f"({len(phases['throttled'])} requests)"
    )
    return "\n".join(lines)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of these processes (from /proc; clock ticks of 1/100 s)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--baseline-seconds", type=float, default=20)
    parser.add_argument("--limit", type=int, default=120, help="INGEST_RATE_LIMIT_PER_MINUTE of the server")
    parser.add_argument("--factor", type=float, default=10)
    parser.add_argument("--normal-share", type=float, default=0.9)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn sync workers")
    parser.add_argument("--p95-budget-ms", type=float, default=500)
    args = parser.parse_args()

    from tests.integration.processes import (
        Gunicorn,
        PrivatePostgres,
        PrivateRedis,
        app_env,
        children_of,
        django_call,
        migrate,
        stop_all,
    )

    pg = PrivatePostgres().start()
    redis = PrivateRedis().start()
    web = None
    try:
        pg.create_database("hb_load")
        env = app_env(pg.url("hb_load"), redis_url=redis.url(1), INGEST_RATE_LIMIT_PER_MINUTE=str(args.limit))
        print("migrating a fresh database in a private PostgreSQL cluster ...", flush=True)
        migrate(env)
        tenants = django_call(env, "tenants", "3")["tenants"]
        web = Gunicorn(env, workers=args.workers).wait_ready()
        warm_up(web.url, tenants[2]["token"], requests=8 * args.workers)
        scenario = Scenario(
            limit_per_minute=args.limit,
            seconds=args.seconds,
            factor=args.factor,
            normal_share=args.normal_share,
            batch=args.batch,
            baseline_seconds=args.baseline_seconds,
        )
        print(
            f"normal tenant alone {args.baseline_seconds:g} s, then both {args.seconds:g} s: limit {args.limit}/min "
            f"per token, noisy at {args.factor:g}x, normal at {args.normal_share:g}x, {args.batch} events/request",
            flush=True,
        )

        def server_pids() -> list[int]:
            return [web.proc.pid, *children_of(web.proc.pid), pg.proc.pid, *children_of(pg.proc.pid)]

        def sql(query, params):
            return pg.execute("hb_load", query, params)

        cpu_before, load_before = cpu_seconds(server_pids()), os.getloadavg()
        started = time.monotonic()
        reports = run(web.url, tenants[0]["token"], tenants[1]["token"], scenario)
        wall = time.monotonic() - started
        cpu = cpu_seconds(server_pids()) - cpu_before
        server = {
            "noisy": server_counts(sql, tenants[0]["system"]),
            "normal": server_counts(sql, tenants[1]["system"]),
        }
        checks = verdict(reports, scenario, server, p95_budget_ms=args.p95_budget_ms)
        print(describe(reports))
        for name, ok in checks.items():
            print(f"{'ok  ' if ok else 'FAIL'} {name}")
        sent = sum(r.requests for r in reports.values())
        print(
            f"{sent} requests in {wall:.0f} s; server CPU (gunicorn + PostgreSQL) {cpu:.1f} s = "
            f"{cpu / sent * 1000:.1f} ms per request; load average {load_before[0]:.2f} before, "
            f"{os.getloadavg()[0]:.2f} after (2 cores)"
        )
        sys.exit(0 if all(checks.values()) else 1)
    finally:
        if web is not None:
            stop_all(web)
        redis.close()
        pg.close()


if __name__ == "__main__":
    main()

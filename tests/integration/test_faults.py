"""Fault injection with real processes (DESIGN.md §12; checklist T1, T11, T14).

One stack per module, all of it private to this pytest process: a PostgreSQL cluster (a copy
of the seeded template database), a redis-server (broker DB 0, cache and rate limits DB 1),
gunicorn with two sync workers, and a Celery worker with two pool processes on the
``compute`` and ``notify`` queues. Each test injects one fault into that stack and removes it
again, then checks what the design promises:

* Redis killed while events arrive through gunicorn: every request is still answered 200 and
  stored (the rate limiter counts in PostgreSQL instead); beat's tick is lost while the broker
  is away; once Redis is back the next tick computes everything from the watermark, the
  events that arrived during the outage included.
* PostgreSQL SIGKILLed (postmaster and backends) under ingest load from the Python client:
  every event of a batch that got a 200 is in the table after crash recovery.
* A webhook receiver that refuses connections, then comes up slow while two dispatchers
  claim the outbox concurrently: exactly one delivery per notification id.

(The worker SIGKILLed mid-computation is ``test_engine_celery.py``.)
"""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from healthboard.client import HealthboardClient
from metrics.engine import synthetic, windows
from tests.integration.conftest import clone_template, require
from tests.integration.processes import (
    CeleryWorker,
    Gunicorn,
    PrivatePostgres,
    PrivateRedis,
    app_env,
    django_call,
    free_port,
    http_post,
    send_task,
    stop_all,
    wait_for,
)
from tests.webhook_receiver import Receiver

# one stack per module: under `--dist loadgroup` its tests stay on one xdist worker
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("faults")]
EVENTS_PATH = "/api/v1/ingest/events"
HOUR = timedelta(hours=1)


@dataclass
class Stack:
    pg: PrivatePostgres
    database: str
    redis: PrivateRedis
    web: Gunicorn
    worker: CeleryWorker
    tenants: list[dict]
    env: dict

    def sql(self, query: str, params=None) -> list[tuple]:
        return self.pg.execute(self.database, query, params)

    def scalar(self, query: str, params=None):
        return self.sql(query, params)[0][0]

    def log(self) -> str:
        return f"--- web\n{self.web.log(30)}\n--- worker\n{self.worker.log(40)}"


@pytest.fixture(scope="module")
def stack(private_postgres, app_template):
    database = clone_template(private_postgres, app_template)
    redis = require(PrivateRedis).start()
    env = app_env(
        private_postgres.url(database),
        redis_url=redis.url(1),
        broker_url=redis.url(0),
        INGEST_RATE_LIMIT_PER_MINUTE="100000",
        ALERTS_WEBHOOK_ALLOWED_NETWORKS="127.0.0.1/32",
        ALERTS_GROUP_WAIT_S="0",
    )
    web = Gunicorn(env, workers=2)
    worker = CeleryWorker(env, queues="compute,notify", concurrency=2, name="faults")
    built = Stack(private_postgres, database, redis, web, worker, app_template.tenants, env)
    try:
        web.wait_ready()
        worker.wait_ready()
        # every deployment computed up to now: a beat tick has no other work than the test's
        closed = windows.closed_until(datetime.now(UTC))
        for tenant in built.tenants:
            built.sql(
                "INSERT INTO metrics_computewatermark (deployment_id, computed_through, lease_owner, updated_at) "
                "VALUES (%s, %s, '', now())",
                [tenant["deployment"], closed],
            )
        yield built
    finally:
        stop_all(web, worker)
        redis.close()


@pytest.fixture(autouse=True)
def _fault_removed(stack):
    """What a test broke runs again for the next one, even when the test failed midway."""
    yield
    stack.redis.thaw()
    if not stack.redis.alive:
        stack.redis.start()
    if not stack.pg.alive:
        stack.pg.start()


def _events(tenant: dict, start: datetime, end: datetime, n: int, seed: int) -> list[dict]:
    records = synthetic.make_records(n=n, start=start, end=end, seed=seed, id_prefix=tenant["slug"])
    for record in records:
        record.pop("_label")
    return records


def _stored(stack: Stack, tenant: dict) -> set[str]:
    rows = stack.sql("SELECT event_id FROM metrics_predictionevent WHERE system_id = %s", [tenant["system"]])
    return {r[0] for r in rows}


# --- Redis --------------------------------------------------------------------------------


def test_redis_down_ingestion_keeps_accepting_and_computation_catches_up(stack):
    tenant = stack.tenants[0]
    deployment = tenant["deployment"]
    t0 = windows.floor(windows.closed_until(datetime.now(UTC)), HOUR) - HOUR
    stack.sql(
        "UPDATE metrics_computewatermark SET computed_through = %s WHERE deployment_id = %s", [t0, deployment]
    )
    events = _events(tenant, t0, t0 + HOUR, n=1200, seed=5)
    before, hung, down = events[0::3], events[1::3], events[2::3]  # each third covers the hour
    url = stack.web.url + EVENTS_PATH

    def send(records: list[dict]) -> list[tuple[int, dict, float]]:
        answers = []
        for i in range(0, len(records), 50):
            started = time.monotonic()
            status, _, body = http_post(url, tenant["token"], {"events": records[i : i + 50]})
            answers.append((status, body, time.monotonic() - started))
        assert [a[0] for a in answers] == [200] * len(answers), [a[1] for a in answers if a[0] != 200][:2]
        assert sum(a[1]["accepted"] for a in answers) == len(records)
        return answers

    send(before)
    stack.redis.freeze()  # hung: the limiter waits out its socket timeout once per web worker
    try:
        while_hung = send(hung)
    finally:
        stack.redis.thaw()
    stack.redis.kill()  # gone: connections refused
    while_down = send(down)
    assert _stored(stack, tenant) == {e["event_id"] for e in events}
    # the rate limit was counted in PostgreSQL meanwhile (never "no limit")
    counted = stack.scalar("SELECT coalesce(sum(count), 0) FROM metrics_ratelimitcounter")
    assert counted >= len(while_hung) + len(while_down)
    # the health check says what is degraded
    code, health = stack.web.healthz()
    assert code == 503 and health["database"] == "ok" and health["broker"] != "ok", health
    # beat cannot publish its tick while the broker is down: that tick is lost, nothing is leased
    with pytest.raises(Exception) as lost:
        send_task(stack.redis.url(0), "metrics.tasks_compute.schedule", "compute")
    assert "refused" in str(lost.value).lower() or "connect" in str(lost.value).lower(), lost.value
    assert stack.sql(
        "SELECT computed_through, lease_owner FROM metrics_computewatermark WHERE deployment_id = %s",
        [deployment],
    ) == [(t0, "")]

    stack.redis.start()
    send_task(stack.redis.url(0), "metrics.tasks_compute.schedule", "compute")

    def progress():
        return stack.sql(
            "SELECT computed_through, lease_owner FROM metrics_computewatermark WHERE deployment_id = %s",
            [deployment],
        ), len(stack.worker.lines)

    wait_for(
        lambda: stack.scalar(
            "SELECT computed_through >= %s AND lease_owner = '' FROM metrics_computewatermark "
            "WHERE deployment_id = %s",
            [t0 + HOUR, deployment],
        ),
        "the worker to compute the hour after Redis came back",
        progress=progress,
        stall=120,
        log=stack.log,
    )
    # every 5-minute window of the hour counts the events of both halves
    throughput = dict(
        stack.sql(
            "SELECT v.window_start, v.value FROM metrics_metricvalue v "
            "JOIN catalog_metricversion mv ON mv.id = v.metric_version_id "
            "JOIN catalog_metricdefinition d ON d.id = mv.definition_id "
            "WHERE d.key = 'throughput_per_min' AND v.deployment_id = %s AND v.segment = '' "
            "AND v.window_start >= %s AND v.window_start < %s",
            [deployment, t0, t0 + HOUR],
        )
    )
    assert sorted(throughput) == [t0 + i * windows.BUCKET for i in range(12)]
    for start, value in throughput.items():
        in_bucket = [e for e in events if start <= _ts(e) < start + windows.BUCKET]
        assert value == pytest.approx(len(in_bucket) / 5.0)
    for phase, answers in (("hung", while_hung), ("down", while_down)):
        ms = [round(a[2] * 1000) for a in answers]
        print(
            f"\nredis {phase}: {len(ms)} requests of 50 events, all 200, median {statistics.median(ms)} ms: {ms}"
        )


def _ts(event: dict) -> datetime:
    return datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))


# --- PostgreSQL ---------------------------------------------------------------------------


class Sender(threading.Thread):
    """Sends batches of fresh events with the Python client (retries on 5xx and connection
    errors) until stopped; remembers which batches came back 200."""

    def __init__(self, base_url: str, tenant: dict, number: int, stop: threading.Event):
        super().__init__(daemon=True)
        self.client = HealthboardClient(
            base_url,
            tenant["token"],
            batch_size=200,
            max_retries=40,
            backoff_base=0.1,
            backoff_max=1.0,
            timeout=30,
        )
        self.tenant, self.number, self.halt = tenant, number, stop
        self.sent: list[str] = []
        self.acknowledged: list[str] = []
        self.duplicates = 0
        self.acknowledged_at: list[float] = []
        self.error: Exception | None = None

    def run(self) -> None:
        batch = 0
        while not self.halt.is_set():
            now = datetime.now(UTC)
            events = _events(
                self.tenant, now - timedelta(seconds=30), now, n=200, seed=1000 * self.number + batch
            )
            for e in events:
                e["event_id"] = f"s{self.number}-b{batch}-{e['event_id']}"
            self.sent += [e["event_id"] for e in events]
            try:
                result = self.client.send_events(events)
            except Exception as exc:  # retries exhausted: not acknowledged, reported below
                self.error = exc
                return
            if result["accepted"] + result["duplicates"] != len(events):
                self.error = AssertionError(f"a batch of fresh valid events came back {result}")
                return
            self.acknowledged += [e["event_id"] for e in events]
            self.duplicates += result["duplicates"]
            self.acknowledged_at.append(time.monotonic())
            batch += 1


def test_postgres_crash_under_ingest_load_loses_no_acknowledged_event(stack):
    tenant = stack.tenants[1]
    halt = threading.Event()
    senders = [Sender(stack.web.url, tenant, n, halt) for n in range(3)]
    for sender in senders:
        sender.start()

    def acked() -> int:
        return sum(len(s.acknowledged_at) for s in senders)

    try:
        wait_for(lambda: acked() >= 6, "batches before the crash", progress=acked, stall=60, log=stack.log)
        stack.pg.crash()
        crashed_at, acked_at_crash = time.monotonic(), acked()
        time.sleep(1.0)  # requests meanwhile fail; the client keeps retrying
        stack.pg.start()  # crash recovery replays the WAL
        recovered_after = time.monotonic() - crashed_at
        wait_for(
            lambda: acked() >= acked_at_crash + 6,
            "batches after the restart",
            progress=acked,
            stall=90,
            log=stack.log,
        )
    finally:
        halt.set()
        for sender in senders:
            sender.join(timeout=120)
    assert not [s.error for s in senders if s.error], [s.error for s in senders]

    acknowledged = {i for s in senders for i in s.acknowledged}
    sent = {i for s in senders for i in s.sent}
    stored = _stored(stack, tenant)
    assert acknowledged - stored == set(), f"{len(acknowledged - stored)} acknowledged events lost"
    assert stored == acknowledged == sent  # every batch was acknowledged in the end, nothing else stored
    retries = sum(s.client.retries for s in senders)
    assert retries > 0, "no request failed: the crash did not hit the load"
    print(
        f"\npostgres crash: {len(acknowledged)} events acknowledged (200), all {len(acknowledged)} stored, "
        f"0 lost; {retries} client retries; {sum(s.duplicates for s in senders)} events came back as "
        f"duplicates (a retried batch that had committed); back {recovered_after:.1f} s after the SIGKILL"
    )


# --- webhook receiver ---------------------------------------------------------------------


def test_webhook_receiver_down_then_up_gets_each_notification_exactly_once(stack):
    from alerts import signing

    tenant = stack.tenants[2]
    port = free_port("http")  # nothing listens there yet: the receiver is down
    url = f"http://127.0.0.1:{port}/hook"
    notification_ids = django_call(stack.env, "webhook_outbox", tenant["slug"], url, "3")["notifications"]
    assert len(notification_ids) == 3

    def attempts() -> dict[str, list[str]]:
        rows = stack.sql(
            "SELECT n.notification_id::text, a.outcome FROM alerts_deliveryattempt a "
            "JOIN alerts_notification n ON n.id = a.notification_id WHERE n.notification_id::text = ANY(%s) "
            "ORDER BY a.id",
            [notification_ids],
        )
        found: dict[str, list[str]] = {}
        for notification_id, outcome in rows:
            found.setdefault(notification_id, []).append(outcome)
        return found

    # beat's dispatch tick, twice at a time: both pool processes claim from the outbox at once
    halt = threading.Event()

    def beat():
        while not halt.is_set():
            for _ in range(2):
                send_task(stack.redis.url(0), "alerts.tasks.dispatch_notifications", "notify")
            halt.wait(0.5)

    ticker = threading.Thread(target=beat, daemon=True)
    ticker.start()
    receiver = None
    try:
        wait_for(
            lambda: len(attempts()) == 3 and all(a[0] == "retry" for a in attempts().values()),
            "a failed first attempt of each notification",
            progress=lambda: len(stack.worker.lines),
            stall=60,
            log=stack.log,
        )
        receiver = Receiver(port, delay=0.5)  # up, and slow: a delivery stays in flight a while

        def delivered():
            rows = stack.sql(
                "SELECT count(*) FROM alerts_notification WHERE notification_id::text = ANY(%s) "
                "AND status = 'delivered'",
                [notification_ids],
            )
            return rows[0][0] == 3

        wait_for(
            delivered,
            "every notification delivered",
            progress=lambda: (attempts(), len(receiver.requests)),
            stall=60,
            log=stack.log,
        )
        time.sleep(3)  # more ticks: nothing may be sent again
    finally:
        halt.set()
        ticker.join(timeout=10)
        if receiver:
            receiver.stop()

    received = [r["headers"][signing.ID_HEADER] for r in receiver.accepted]
    assert sorted(received) == sorted(notification_ids), received
    assert len(receiver.requests) == 3
    per_id = attempts()
    for notification_id in notification_ids:
        assert per_id[notification_id][-1] == "delivered" and per_id[notification_id].count("delivered") == 1
    print(
        f"\nwebhook down then up: 3 notifications, {sum(len(a) for a in per_id.values())} attempts, "
        f"{len(receiver.accepted)} deliveries, 0 duplicates"
    )

"""End to end with a real Celery worker against Redis, on PostgreSQL (marker ``integration``).

A worker (``celery -A healthboard worker -Q compute,ingest,notify``) runs as a subprocess on the
test database (``test_<name>``) with ``CELERY_BROKER_URL=redis://…/10`` (DB 10 + the xdist worker
number); the tests
commit their rows (``transaction=True``) so the worker sees them. Telemetry goes in through the
ingest API, a beat-equivalent call (``metrics.tasks_compute.schedule`` in its own process, as
beat would send it) enqueues the work, the worker computes, values come out of the read API and
are compared with NumPy / SciPy on the same events. Then a worker's pool process is SIGKILLed in
the middle of a task: the message is redelivered (acks_late + reject_on_worker_lost), the same
task takes its lease back and continues from the committed watermark, and the values end up
complete and not duplicated.

Skipped only when Redis is unreachable and ``CI`` is not set (in CI they must run).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from django.db import connection
from scipy import stats

from metrics.engine import runs, synthetic, windows
from metrics.models import ComputationRun, ComputeWatermark, MetricValue, WindowProfile
from tests.integration.engine_support import (
    api_values,
    close,
    column,
    in_window,
    index,
    ingest_token,
    make_traffic,
    psi_numpy,
    send_events,
    send_reference,
    viewer,
)

ROOT = Path(__file__).resolve().parents[2]


def _redis_url() -> str:
    """Redis DB 10 to 15 (ours), one per pytest-xdist worker so parallel runs never share a queue."""
    if os.environ.get("ENGINE_TEST_REDIS_URL"):
        return os.environ["ENGINE_TEST_REDIS_URL"]
    from urllib.parse import urlsplit

    base = urlsplit(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker[2:]) if worker[2:].isdigit() else 0
    return f"redis://{base.hostname or '127.0.0.1'}:{base.port or 6379}/{10 + index % 6}"


REDIS_URL = _redis_url()
HOUR = timedelta(hours=1)
pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _redis_client():
    import redis

    return redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=5)


def _requirements():
    try:
        _redis_client().ping()
    except Exception as exc:  # any failure to reach Redis
        if os.environ.get("CI"):
            pytest.fail(f"Redis unreachable at {REDIS_URL} in CI: {exc}")
        pytest.skip(f"Redis unreachable at {REDIS_URL}: {exc}")
    if connection.vendor != "postgresql":
        message = "needs PostgreSQL (the worker process must see the test database): set DATABASE_URL"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def _database_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] or ""
    if s.get("PASSWORD"):
        auth += f":{s['PASSWORD']}"
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def _env() -> dict:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=_database_url(),
        CELERY_BROKER_URL=REDIS_URL,
        CELERY_RESULT_BACKEND="",
        CELERY_TASK_ALWAYS_EAGER="false",
        PYTHONUNBUFFERED="1",
    )
    return env


class Worker:
    """A Celery worker subprocess (one pool process), its log, and its pool's pid."""

    def __init__(self):
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("celery")),
                "-A",
                "healthboard",
                "worker",
                "-Q",
                "compute,ingest,notify",
                "--concurrency",
                "1",
                "--pool",
                "prefork",
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "--hostname",
                f"engine-test-{os.getpid()}@%h",
            ],
            cwd=ROOT,
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())

    def log(self) -> str:
        return "\n".join(self.lines[-80:])

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(" ready." in line for line in self.lines):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"worker not ready:\n{self.log()}")

    def pool_pids(self) -> list[int]:
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.proc.pid:
                pids.append(int(entry.name))
        return pids

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


@pytest.fixture
def worker(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        _requirements()
    _redis_client().flushdb()
    w = Worker()
    try:
        w.wait_ready()
        yield w
    finally:
        w.stop()
        _redis_client().flushdb()


@pytest.fixture(autouse=True)
def _seeded(restore_migration_rows):
    """The data migrations' rows a transactional flush removed are back (tests/conftest.py)."""
    from catalog.models import MetricVersion

    assert MetricVersion.objects.filter(is_current=True).count() >= 30


@pytest.fixture(autouse=True)
def _fresh_partition_cache():
    from metrics.ingest import partitions

    partitions.forget_known_days()
    yield
    partitions.forget_known_days()


def beat_tick() -> str:
    """What beat does every minute, in its own process: send ``metrics.tasks_compute.schedule``'s
    work to the broker (the task body runs here instead of on a worker, like beat's own send)."""
    out = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from metrics.tasks_compute import schedule; print(schedule())",
        ],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def wait_for(predicate, timeout: float, what: str, worker: Worker, step: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what}\n{worker.log()}")


def _caught_up(deployment_id: int):
    mark = ComputeWatermark.objects.filter(deployment_id=deployment_id).first()
    if mark is None or mark.lease_owner:
        return False
    return mark.computed_through >= windows.closed_until(mark.updated_at) - windows.BUCKET and mark


def test_beat_and_a_worker_compute_what_the_api_received(worker, client, system_a, alice):
    deployment = synthetic.ensure_model(system_a)
    token = ingest_token(system_a)
    t0 = windows.floor(windows.closed_until(time_now()), HOUR) - 2 * HOUR
    events, _, reference = make_traffic(deployment, t0, t0 + HOUR, n=1500, seed=41, drift=0.2)
    for e in events:
        e.pop("_label", None)
    send_reference(client, token, deployment, reference)
    assert send_events(client, token, events) == len(events)
    ComputeWatermark.objects.create(deployment=deployment, computed_through=t0)

    beat_tick()
    wait_for(lambda: _caught_up(deployment.pk), 300, "the worker to catch up", worker)

    client.force_login(viewer(alice, system_a))
    values = index(api_values(client, deployment=deployment.pk, segment=""))
    psi = values[("feature_drift_psi", "", "income", "", t0, t0 + HOUR)]
    assert close(psi["value"], psi_numpy(column(reference, "income"), column(events, "income")))
    ks = values[("feature_drift_ks", "", "age", "", t0, t0 + HOUR)]
    assert close(ks["value"], stats.ks_2samp(column(reference, "age"), column(events, "age")).statistic)
    bucket = t0 + timedelta(minutes=35)
    cur = in_window(events, bucket, bucket + windows.BUCKET)
    p95 = values[("latency_p95_ms", "", "", "", bucket, bucket + windows.BUCKET)]
    assert close(p95["value"], np.percentile([e["latency_ms"] for e in cur], 95))
    err = values[("error_rate", "", "", "", bucket, bucket + windows.BUCKET)]
    assert close(err["value"], np.mean([e["error"] for e in cur]))
    run = ComputationRun.objects.get(pk=psi["run"])
    assert run.status == "succeeded" and run.task_id and not run.task_id.startswith("command")
    assert "ready." in worker.log() and "compute_deployment" in worker.log()


def time_now():
    from django.utils import timezone

    return timezone.now()


def test_a_worker_killed_mid_task_reruns_it_and_values_are_complete_and_not_duplicated(
    worker, client, system_a
):
    deployment = synthetic.ensure_model(system_a)
    token = ingest_token(system_a)
    t0 = windows.floor(windows.closed_until(time_now()), HOUR) - 4 * HOUR
    events, _, reference = make_traffic(deployment, t0, t0 + 3 * HOUR, n=9000, seed=43)
    for e in events:
        e.pop("_label", None)
    send_reference(client, token, deployment, reference)
    assert send_events(client, token, events) == len(events)
    ComputeWatermark.objects.create(deployment=deployment, computed_through=t0)

    beat_tick()
    task_id = ComputeWatermark.objects.get(deployment=deployment).lease_owner
    assert task_id

    # wait until the task is in the middle of a unit: some progress committed, a unit running
    def mid_task():
        mark = ComputeWatermark.objects.get(deployment=deployment)
        running = ComputationRun.objects.filter(task_id=task_id, status="running").exists()
        return running and mark.computed_through > t0 and mark.computed_through < t0 + 3 * HOUR

    wait_for(mid_task, 300, "the task to be mid-way", worker, step=0.1)
    pool = worker.pool_pids()
    assert pool, "no pool process"
    progress_at_kill = ComputeWatermark.objects.get(deployment=deployment).computed_through
    for pid in pool:
        os.kill(pid, signal.SIGKILL)

    wait_for(lambda: _caught_up(deployment.pk), 600, "the redelivered task to finish", worker)
    log = worker.log()
    assert "SIGKILL" in log or "WorkerLostError" in log or "exited with" in log, log

    # the killed unit left runs stuck in "running" and no values; the rerun has the same task id
    attempts = ComputationRun.objects.filter(task_id=task_id)
    stuck = attempts.filter(status="running")
    assert stuck.exists()
    assert stuck.first().window_end > progress_at_kill
    assert runs.reap_stuck(time_now() + timedelta(days=2)) >= stuck.count()
    for killed in attempts.filter(status="failed"):
        assert not MetricValue.objects.filter(run=killed).exists()
        assert not WindowProfile.objects.filter(run=killed).exists()

    # complete: every 5-minute window of the traffic once, every hour once; nothing twice
    values = MetricValue.objects.filter(deployment=deployment)
    keys = list(values.values_list("metric_version_id", "segment", "attribute", "feature", "window_start"))
    assert len(keys) == len(set(keys))
    five = values.filter(metric_version__definition__key="throughput_per_min", segment="")
    starts = set(five.filter(window_start__lt=t0 + 3 * HOUR).values_list("window_start", flat=True))
    assert starts == {t0 + i * windows.BUCKET for i in range(36)}
    for i in (0, 17, 35):
        start = t0 + i * windows.BUCKET
        item = five.get(window_start=start)
        assert close(item.value, len(in_window(events, start, start + windows.BUCKET)) / 5.0)
        assert item.run.status == "succeeded"
    hours = values.filter(metric_version__definition__key="feature_drift_psi", segment="", feature="income")
    assert sorted(hours.values_list("window_start", flat=True))[:3] == [t0, t0 + HOUR, t0 + 2 * HOUR]
    for h in range(3):
        start = t0 + h * HOUR
        cur = in_window(events, start, start + HOUR)
        assert close(
            hours.get(window_start=start).value, psi_numpy(column(reference, "income"), column(cur, "income"))
        )

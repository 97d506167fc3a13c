"""End to end with a real Celery worker against Redis, on PostgreSQL (marker ``integration``).

A worker (``celery -A healthboard worker -Q compute,ingest,notify``, fixture ``worker`` in
``conftest.py``) runs as a subprocess on the test database (``test_<name>``) with a private
redis-server as its broker; the tests commit their rows (``transaction=True``) so the worker
sees them. Telemetry goes in through the ingest API, a beat tick (the
``metrics.tasks_compute.schedule`` message beat publishes every minute) enqueues the work, the
worker computes, values come out of the read API and are compared with NumPy / SciPy on the
same events. Then a worker's pool process is SIGKILLed in the middle of a task: the message is
redelivered (acks_late + reject_on_worker_lost), the same task takes its lease back and
continues from the committed watermark, and the values end up complete and not duplicated.

Waits are progress-based (``processes.wait_for``): a slow machine only makes them longer, a
stuck engine fails them. Skipped when redis-server is missing or the test database is not
PostgreSQL, except under ``CI``.
"""

from __future__ import annotations

import os
import signal
from datetime import timedelta

import numpy as np
import pytest
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
from tests.integration.processes import send_task, wait_for

HOUR = timedelta(hours=1)
pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _seeded(restore_migration_rows):
    """The data migrations' rows a transactional flush removed are back (tests/conftest.py)."""
    from catalog.models import MetricVersion

    assert MetricVersion.objects.filter(is_current=True).count() >= 30


def beat_tick(worker) -> None:
    """What beat does every minute: publish ``metrics.tasks_compute.schedule``; the worker runs
    it, which leases the deployments with work and enqueues their ``compute_deployment``."""
    send_task(worker.broker_url, "metrics.tasks_compute.schedule", "compute")


def _progress(deployment_id: int):
    """What moves while the engine works: the watermark, its lease, the runs and their states."""
    mark = ComputeWatermark.objects.filter(deployment_id=deployment_id).values_list(
        "computed_through", "lease_owner"
    )
    runs_by_state = ComputationRun.objects.filter(deployment_id=deployment_id).values_list("status")
    return list(mark), sorted(r[0] for r in runs_by_state)


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

    beat_tick(worker)
    wait_for(
        lambda: _caught_up(deployment.pk),
        "the worker to catch up",
        progress=lambda: _progress(deployment.pk),
        stall=180,
        log=worker.log,
    )

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

    beat_tick(worker)
    task_id = wait_for(
        lambda: ComputeWatermark.objects.get(deployment=deployment).lease_owner,
        "the beat tick to lease the deployment",
        progress=lambda: len(worker.lines),
        stall=120,
        log=worker.log,
    )

    # wait until the task is in the middle of a unit: some progress committed, a unit running
    def mid_task():
        mark = ComputeWatermark.objects.get(deployment=deployment)
        running = ComputationRun.objects.filter(task_id=task_id, status="running").exists()
        return running and mark.computed_through > t0 and mark.computed_through < t0 + 3 * HOUR

    wait_for(
        mid_task,
        "the task to be mid-way",
        progress=lambda: _progress(deployment.pk),
        stall=180,
        step=0.1,
        log=worker.log,
    )
    pool = worker.pool_pids()
    assert pool, "no pool process"
    progress_at_kill = ComputeWatermark.objects.get(deployment=deployment).computed_through
    for pid in pool:
        os.kill(pid, signal.SIGKILL)

    wait_for(
        lambda: _caught_up(deployment.pk),
        "the redelivered task to finish",
        progress=lambda: _progress(deployment.pk),
        stall=180,
        log=worker.log,
    )
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

"""Scheduling (watermarks, leases, bounded catch-up), the reaper, and backfills under a new
catalog version — on the test database (SQLite, or PostgreSQL with DATABASE_URL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import OperationalError
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from catalog.services import create_metric_version
from healthboard.models import AuditRecord
from metrics.engine import runs, scheduling, synthetic, windows
from metrics.engine.read import ConcurrentChange
from metrics.models import ComputationRun, ComputeWatermark, MetricValue
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.celery_fixtures"]
HOUR = timedelta(hours=1)
BUCKET = windows.BUCKET


@pytest.fixture
def recent(system_a):
    """Two hours of live-replayed traffic ending 10 minutes ago; a fixed 'now' just after."""
    real = datetime.now(UTC)
    t0 = windows.floor(real, HOUR) - 3 * HOUR
    deployment = synthetic.ensure_model(system_a)
    synthetic.ingest(
        deployment,
        start=t0,
        end=t0 + 2 * HOUR,
        events_per_hour=240,
        seed=3,
        reference_rows=500,
        label_share=0.5,
    )
    return {"deployment": deployment, "t0": t0, "now": t0 + 2 * HOUR + timedelta(minutes=3)}


def test_beat_catches_up_from_the_watermark_in_bounded_steps(recent, settings):
    deployment, t0, now = recent["deployment"], recent["t0"], recent["now"]
    ComputeWatermark.objects.create(deployment=deployment, computed_through=t0)
    settings.COMPUTE_MAX_BUCKETS_PER_TASK = 6
    closed = windows.closed_until(now)
    assert closed == t0 + 2 * HOUR
    ticks = 0
    sent: list[tuple[int, str]] = []
    while True:
        planned = scheduling.enqueue(lambda dep, task_id: sent.append((dep, task_id)), now=now)
        if not planned:
            break
        ticks += 1
        dep, task_id = sent[-1]
        summary = scheduling.run_deployment(dep, owner=task_id, now=now)
        through = ComputeWatermark.objects.get(deployment=deployment).computed_through
        assert through == min(closed, t0 + ticks * 6 * BUCKET)  # bounded per task, in order
        assert summary.windows >= 6
        assert ticks < 10
    assert ticks == 4  # 24 buckets, 6 per task
    values = MetricValue.objects.filter(deployment=deployment)
    five = values.filter(metric_version__definition__key="throughput_per_min", segment="")
    assert five.count() == 24  # every 5-minute window once
    hours = values.filter(metric_version__definition__key="availability", segment="")
    assert sorted(hours.values_list("window_start", flat=True)) == [t0, t0 + HOUR]
    keys = values.values_list("metric_version", "segment", "attribute", "feature", "window_start")
    assert len(set(keys)) == values.count()
    # nothing left to do: the lease was released and nothing is planned
    assert ComputeWatermark.objects.get(deployment=deployment).lease_owner == ""
    assert scheduling.plan_tick(now) == []


def test_a_new_deployment_starts_from_the_initial_lookback(recent, settings):
    deployment, now = recent["deployment"], recent["now"]
    settings.COMPUTE_INITIAL_LOOKBACK_HOURS = 1
    assert deployment.pk in scheduling.plan_tick(now)
    watermark = ComputeWatermark.objects.get(deployment=deployment)
    assert watermark.computed_through == windows.closed_until(now) - HOUR


def test_leases_keep_tasks_apart_but_a_redelivered_task_takes_its_own_back(recent):
    deployment = recent["deployment"]
    now = timezone.now()
    assert scheduling.acquire(deployment.pk, "task-a", now)
    assert not scheduling.acquire(deployment.pk, "task-b", now)
    assert scheduling.acquire(deployment.pk, "task-a", now)  # same id: a redelivery after a kill
    assert scheduling.run_deployment(deployment.pk, owner="task-b", now=now) is None
    later = now + timedelta(hours=1)  # an expired lease (its worker died) is free again
    assert scheduling.acquire(deployment.pk, "task-b", later)
    scheduling.release(deployment.pk, "task-b")
    assert scheduling.acquire(deployment.pk, "task-c", now)


def test_the_queue_does_not_pile_up_and_an_unsent_task_frees_its_deployment(recent):
    deployment, now = recent["deployment"], recent["now"]
    sent = []
    assert scheduling.enqueue(lambda dep, task_id: sent.append(task_id), now=now) == [deployment.pk]
    assert scheduling.enqueue(lambda dep, task_id: sent.append(task_id), now=now) == []  # leased: not again
    assert len(sent) == 1
    # the queued task never started: after COMPUTE_QUEUE_SECONDS its lease expires
    later = now + timedelta(minutes=6)
    assert scheduling.enqueue(lambda dep, task_id: sent.append(task_id), now=later) == [deployment.pk]
    scheduling.release(deployment.pk, sent[-1])

    def broker_down(dep, task_id):
        raise BrokerError("connection refused")

    with pytest.raises(BrokerError):
        scheduling.enqueue(broker_down, now=now)
    assert ComputeWatermark.objects.get(deployment=deployment).lease_owner == ""  # not stuck


@pytest.mark.parametrize(
    ("error", "calls", "state"),
    [
        (OperationalError("server closed the connection unexpectedly"), 3, "SUCCESS"),
        (BrokerError("broker connection lost"), 3, "SUCCESS"),
        (ConcurrentChange("rows changed between the two reads"), 3, "SUCCESS"),
        (ValueError("a bug, not a transient error"), 1, "FAILURE"),
    ],
)
def test_tasks_retry_only_for_named_transient_errors(monkeypatch, error, calls, state):
    """The real task and Celery's retry machinery (eager: the retries run at once); only the
    engine call under it fails twice, then works."""
    from metrics import tasks_compute

    owners: list[str] = []

    def fails_twice(deployment_id: int, *, owner: str, now=None):
        owners.append(owner)
        if len(owners) < 3:
            raise error
        return None  # "leased by another task": nothing to do

    monkeypatch.setattr(tasks_compute.scheduling, "run_deployment", fails_twice)
    result = tasks_compute.compute_deployment.apply(args=(7,), task_id="task-7")
    assert (len(owners), result.state) == (calls, state)
    assert set(owners) == {"task-7"}  # a retry keeps its task id, so it takes its own lease back
    assert tasks_compute.compute_deployment.max_retries == 8


def test_the_reaper_fails_runs_stuck_in_running(deployment_a):
    old = ComputationRun.objects.create(
        deployment=deployment_a, status="running", started_at=timezone.now() - timedelta(hours=2)
    )
    fresh = ComputationRun.objects.create(deployment=deployment_a, status="running")
    done = ComputationRun.objects.create(
        deployment=deployment_a, status="succeeded", started_at=timezone.now() - timedelta(hours=2)
    )
    assert runs.reap_stuck() == 1
    old.refresh_from_db()
    assert old.status == "failed" and "reaped" in old.error and old.finished_at is not None
    fresh.refresh_from_db()
    done.refresh_from_db()
    assert fresh.status == "running" and done.status == "succeeded"


def test_a_deployment_silent_before_the_range_still_gets_its_windows(system_a):
    """Computed for the first time after its traffic stopped: the hour that holds its events
    is computed, and the silent 5-minute windows after them show the growing staleness."""
    from metrics.models import PredictionEvent

    t0 = windows.floor(datetime.now(UTC), HOUR) - 3 * HOUR
    deployment = synthetic.ensure_model(system_a)
    synthetic.ingest(deployment, start=t0, end=t0 + HOUR / 2, events_per_hour=480, seed=5, reference_rows=500)
    newest = PredictionEvent.objects.filter(deployment=deployment).latest("ts").ts
    start, end = t0 + HOUR - 3 * BUCKET, t0 + HOUR + 2 * BUCKET  # no events in (start, end]
    assert newest < start
    call_command("compute_metrics", deployment=[deployment.pk], start=start.isoformat(), end=end.isoformat())
    fresh = MetricValue.objects.filter(
        deployment=deployment, metric_version__definition__key="data_freshness_s", segment=""
    )
    ages = dict(fresh.values_list("window_end", "value"))
    assert set(ages) == {start + i * BUCKET for i in range(1, 6)}  # the 5-minute windows; the hour's too
    assert ages[end] == (end - newest).total_seconds() > ages[end - BUCKET] > 0
    hour = MetricValue.objects.filter(
        deployment=deployment, window_start=t0, window_end=t0 + HOUR, segment=""
    )
    drift = hour.filter(metric_version__definition__key="feature_drift_psi")  # an hourly metric
    assert drift.exists() and all(0 < v.details["current_size"] <= 240 for v in drift)  # its events


# --- backfill -------------------------------------------------------------------------------------


@pytest.fixture
def computed(recent):
    deployment, t0 = recent["deployment"], recent["t0"]
    call_command(
        "compute_metrics", deployment=[deployment.pk], start=t0.isoformat(), end=(t0 + HOUR).isoformat()
    )
    return recent


def test_after_each_window_alerts_are_evaluated_and_trust_is_scored(computed):
    from alerts.models import AlertEvaluation
    from metrics.models import TrustScore

    deployment, t0 = computed["deployment"], computed["t0"]
    evaluated = AlertEvaluation.objects.filter(deployment=deployment)
    # every computed value of a metric with thresholds was evaluated once, at its window end
    with_rules = MetricValue.objects.filter(deployment=deployment).exclude(
        metric_version__warn_threshold=None, metric_version__critical_threshold=None
    )
    assert evaluated.count() == with_rules.count() > 0
    assert set(evaluated.values_list("window_end", flat=True)) == {t0 + i * BUCKET for i in range(1, 13)}
    score = TrustScore.objects.get(deployment=deployment, window_start=t0, window_end=t0 + HOUR)
    assert score.inputs  # the hour's values were scored


def _new_psi_version(catalog_admin):
    return create_metric_version(
        "feature_drift_psi",
        {"warn_threshold": 0.0, "critical_threshold": 1e-9},
        reason="stricter thresholds for the backfill test",
        actor=catalog_admin,
    ).version


def test_backfill_stores_the_new_version_beside_the_old_series(computed, catalog_admin):
    deployment, t0 = computed["deployment"], computed["t0"]
    psi = MetricValue.objects.filter(
        deployment=deployment, metric_version__definition__key="feature_drift_psi"
    )
    old = {
        (v.segment, v.feature, v.window_start): (v.value, v.status, v.pk)
        for v in psi.filter(metric_version__number=1)
    }
    assert old
    v2 = _new_psi_version(catalog_admin)
    call_command("backfill_metric", "feature_drift_psi", start=t0.isoformat(), end=(t0 + HOUR).isoformat())
    new = {(v.segment, v.feature, v.window_start): v for v in psi.filter(metric_version=v2)}
    assert set(new) == set(old)  # every window, segment and feature again, under v2
    for key, (value, _status, pk) in old.items():
        assert new[key].value == value  # same data, same number
        assert new[key].pk != pk
        if value is not None and new[key].status != "insufficient_data":
            assert new[key].status == "critical"  # v2's thresholds
    # the old series is untouched
    assert {
        (v.segment, v.feature, v.window_start): (v.value, v.status, v.pk)
        for v in psi.filter(metric_version__number=1)
    } == old
    umbrella = ComputationRun.objects.filter(kind="backfill").get()
    assert umbrella.status == "succeeded" and umbrella.input_rows["values"] == len(new)
    assert umbrella.catalog_versions == {"feature_drift_psi": v2.number}
    window_runs = ComputationRun.objects.filter(kind="backfill_window")
    assert window_runs.count() == 1 and window_runs.get().catalog_versions == {"feature_drift_psi": v2.number}
    assert AuditRecord.objects.filter(action="metric.backfill", object_id=str(v2.pk)).exists()
    # a second backfill replaces its own values, never duplicates them
    call_command("backfill_metric", "feature_drift_psi", start=t0.isoformat(), end=(t0 + HOUR).isoformat())
    assert psi.filter(metric_version=v2).count() == len(new)


def test_backfill_endpoint_is_for_catalog_admins_and_audited(
    computed, catalog_admin, client, django_capture_on_commit_callbacks
):
    from metrics.engine import backfill

    deployment, t0 = computed["deployment"], computed["t0"]
    v2 = _new_psi_version(catalog_admin)
    outsider = UserFactory(username="dana", roles=["data_scientist"])
    client.force_login(outsider)
    assert (
        client.post(
            "/api/v1/backfills/", {"metric": "feature_drift_psi"}, content_type="application/json"
        ).status_code
        == 403
    )
    client.force_login(catalog_admin)
    response = client.post("/api/v1/backfills/", {"metric": "nope"}, content_type="application/json")
    assert response.status_code == 400 and "metric" in response.json()["errors"]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(
            "/api/v1/backfills/",
            {
                "metric": "feature_drift_psi",
                "start": t0.isoformat(),
                "end": (t0 + HOUR).isoformat(),
                "deployments": [deployment.pk],
                "reason": "thresholds tightened",
            },
            content_type="application/json",
        )
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["kind"] == "backfill" and body["status"] == "pending"
    assert body["catalog_versions"] == {"feature_drift_psi": v2.number}
    assert len(callbacks) == 1  # the task is sent once the request commits
    record = AuditRecord.objects.get(action="metric.backfill")
    assert record.reason == "thresholds tightened" and record.actor == catalog_admin
    assert client.get(f"/api/v1/backfills/{body['id']}/").json()["status"] == "pending"
    summary = backfill.run(body["id"], task_id="test")  # what the worker does
    assert summary.values > 0
    assert client.get(f"/api/v1/backfills/{body['id']}/").json()["status"] == "succeeded"
    # the catalog page's button: a form post that comes back with a message
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(
            "/api/v1/backfills/", {"metric": "feature_drift_psi", "version": "2", "next": "/catalog/"}
        )
    assert response.status_code == 302 and response["Location"] == "/catalog/"


def _form_fields(html: str, marker: str) -> tuple[str, dict[str, str]]:
    """``(action, {name: value})`` of the form with ``marker`` in its opening tag."""
    import re

    form = re.search(rf"<form[^>]*{marker}[^>]*>(.*?)</form>", html, re.S)
    assert form, f"no form with {marker}"
    action = re.search(r'action="([^"]+)"', form.group(0)).group(1)
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form.group(1)))
    return action, fields


def test_the_catalog_page_button_backfills_beside_the_old_series(
    computed, catalog_admin, django_capture_on_commit_callbacks, celery_eager
):
    from django.test import Client

    deployment = computed["deployment"]
    page = "/catalog/metrics/feature_drift_psi/"
    psi = MetricValue.objects.filter(
        deployment=deployment, metric_version__definition__key="feature_drift_psi"
    )
    old = {(v.segment, v.feature, v.window_start): (v.value, v.status, v.pk) for v in psi}
    assert old and {v.metric_version.number for v in psi} == {1}
    v2 = _new_psi_version(catalog_admin)

    reader = Client(enforce_csrf_checks=True)
    reader.force_login(UserFactory(username="dana", roles=["data_scientist"]))
    assert "backfill-form" not in reader.get(page).content.decode()  # the button is for catalog admins

    admin = Client(enforce_csrf_checks=True)
    admin.force_login(catalog_admin)
    html = admin.get(page).content.decode()
    action, fields = _form_fields(html, 'class="inline-form backfill-form"')
    assert action.rstrip("/") == "/api/v1/backfills" and fields["metric"] == "feature_drift_psi"
    assert fields["version"] == str(v2.number) and fields["next"] == page
    assert "Recompute history under v2" in html
    without_token = {k: v for k, v in fields.items() if k != "csrfmiddlewaretoken"}
    assert admin.post(action, without_token).status_code == 403  # session auth needs the CSRF token
    assert not ComputationRun.objects.filter(kind="backfill").exists()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = admin.post(action, {**fields, "reason": "stricter PSI thresholds"})
    assert response.status_code == 302 and response["Location"] == page
    assert len(callbacks) == 1  # the task is sent once the request commits; eager: it ran
    umbrella = ComputationRun.objects.get(kind="backfill")
    assert umbrella.status == "succeeded" and umbrella.catalog_versions == {"feature_drift_psi": v2.number}
    record = AuditRecord.objects.get(action="metric.backfill")
    assert record.actor == catalog_admin and record.reason == "stricter PSI thresholds"
    assert record.object_id == str(v2.pk) and record.after["run"] == umbrella.pk

    # The new version's series stands beside the old one, which is untouched.
    new = {(v.segment, v.feature, v.window_start): v for v in psi.filter(metric_version=v2)}
    assert set(old) <= set(new)
    for key, (value, _status, pk) in old.items():
        assert new[key].value == value and new[key].pk != pk
    assert {
        (v.segment, v.feature, v.window_start): (v.value, v.status, v.pk)
        for v in psi.filter(metric_version__number=1)
    } == old
    assert umbrella.input_rows["values"] == len(new)

    # Back on the page: the message, the run and the audit record.
    html = admin.get(page).content.decode()
    assert f"Backfill #{umbrella.pk} of feature_drift_psi v2 queued" in html
    assert f'data-backfill-run="{umbrella.pk}"' in html and "succeeded" in html
    assert "metric.backfill" in html and "stricter PSI thresholds" in html

"""The computation engine end to end on the test database (SQLite, or PostgreSQL with
DATABASE_URL): telemetry in through the ingest API with an ingest token, ``manage.py
compute_metrics``, values out through /api/v1/metric-values/, compared with NumPy / SciPy /
scikit-learn / fairlearn computed on the very records that were sent (tolerance 1e-9)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from django.core.management import call_command
from scipy import stats

from metrics.compute import profiles as P
from metrics.engine import context, read, synthetic
from metrics.engine.windows import BUCKET
from metrics.models import ComputationRun, MetricValue, WindowProfile
from tests.integration.engine_support import (
    api_values,
    availability_numpy,
    close,
    column,
    day_start,
    ece_numpy,
    in_window,
    index,
    ingest_token,
    js_numpy,
    make_traffic,
    psi_numpy,
    send_events,
    send_labels,
    send_reference,
    ts_of,
    viewer,
)

pytestmark = pytest.mark.django_db
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def build_world(client, system, user, *, n: int = 2600, hours: int = 2, daily: bool = True):
    """``hours`` of binary-classification traffic (drifting in the 2nd hour), labels for 60% of
    the events and a 2,000-row reference, all sent over HTTP; then compute_metrics."""
    deployment = synthetic.ensure_model(system)
    token = ingest_token(system)
    day = day_start(2)
    start = day + timedelta(hours=10)
    end = start + hours * HOUR
    events, labels, reference = make_traffic(deployment, start, end, n=n, seed=11, drift=0.25)
    send_reference(client, token, deployment, reference)
    assert send_events(client, token, events) == len(events)
    assert send_labels(client, token, labels) == len(labels)
    call_command("compute_metrics", deployment=[deployment.pk], start=start.isoformat(), end=end.isoformat())
    if daily:
        call_command(
            "compute_metrics",
            deployment=[deployment.pk],
            start=(day + DAY - BUCKET).isoformat(),
            end=(day + DAY).isoformat(),
        )
    user = viewer(user, system)
    client.force_login(user)
    label_of = {item["event_id"]: float(item["label"]) for item in labels}
    return {
        "deployment": deployment,
        "day": day,
        "start": start,
        "events": events,
        "labels": label_of,
        "reference": reference,
        "values": index(api_values(client, deployment=deployment.pk)),
        "token": token,
    }


@pytest.fixture
def small_world(client, system_a, alice):
    return build_world(client, system_a, alice, n=700, hours=1, daily=False)


def _value(world, metric, start, end, segment="", feature="", attribute=""):
    return world["values"][(metric, segment, feature, attribute, start, end)]


def _check(world, metric, start, end, expected, **kw):
    item = _value(world, metric, start, end, **kw)
    assert close(item["value"], expected), (metric, kw, item["value"], expected)
    return item


def _hourly_drift_matches_numpy_and_scipy(world):
    start, end = world["start"], world["start"] + HOUR
    cur = in_window(world["events"], start, end)
    ref = world["reference"]
    for feature in synthetic.NUMERIC:
        r, c = column(ref, feature), column(cur, feature)
        _check(world, "feature_drift_psi", start, end, psi_numpy(r, c), feature=feature)
        _check(world, "feature_drift_js", start, end, js_numpy(r, c), feature=feature)
        r_ok, c_ok = r[~np.isnan(r)], c[~np.isnan(c)]
        w = stats.wasserstein_distance(r_ok, c_ok) / max(np.std(r_ok), 0.001)
        item = _check(world, "feature_drift_wasserstein", start, end, w, feature=feature)
        assert item["details"]["reference_size"] == r_ok.size and item["details"]["current_size"] == c_ok.size
        ks = stats.ks_2samp(r_ok, c_ok)
        item = _check(world, "feature_drift_ks", start, end, ks.statistic, feature=feature)
        assert close(item["details"]["pvalue"], ks.pvalue, 1e-6)
        nulls = np.isnan(c).sum() / c.size
        _check(world, "null_rate", start, end, nulls, feature=feature)
    for feature in synthetic.CATEGORICAL:
        rv = [x["features"][feature] for x in ref]
        cv = [x["features"][feature] for x in cur]
        cats = sorted(set(rv) | set(cv))
        rc = np.array([rv.count(k) for k in cats], dtype=float)
        cc = np.array([cv.count(k) for k in cats], dtype=float)
        r, c = rc / rc.sum(), cc / cc.sum()
        rz, cz = np.where(r == 0, 1e-4, r), np.where(c == 0, 1e-4, c)
        _check(
            world,
            "feature_drift_psi",
            start,
            end,
            float(np.sum((cz - rz) * np.log(cz / rz))),
            feature=feature,
        )
        from scipy.spatial.distance import jensenshannon

        _check(world, "feature_drift_js", start, end, float(jensenshannon(r, c)), feature=feature)
        _check(
            world,
            "feature_drift_chi2_p",
            start,
            end,
            stats.chi2_contingency(np.vstack([rc, cc])).pvalue,
            feature=feature,
        )
    score_ref = np.array([x["score"] for x in ref], dtype=float)
    score_cur = np.array([x["score"] for x in cur], dtype=float)
    _check(world, "prediction_drift_psi", start, end, psi_numpy(score_ref, score_cur))
    _check(world, "availability", start, end, availability_numpy(cur))
    # drift is visible in the second (drifted) hour
    later = _value(world, "feature_drift_psi", end, end + HOUR, feature="income")
    assert later["value"] > _value(world, "feature_drift_psi", start, end, feature="income")["value"]
    assert later["status"] in ("warn", "critical")


def _segment_drift_uses_the_segments_reference_rows(world):
    start, end = world["start"], world["start"] + HOUR
    whole = column(world["reference"], "income")
    ref = [x for x in world["reference"] if x["cohort"]["sex"] == "f"]
    cur = in_window(world["events"], start, end, "sex=f")
    assert len(ref) >= 100
    # the segment's reference shares over the reference's decile bins (which keep profiles mergeable)
    expected = psi_numpy(column(ref, "income"), column(cur, "income"), edges_from=whole)
    item = _check(world, "feature_drift_psi", start, end, expected, segment="sex=f", feature="income")
    assert "reference_note" not in item["details"]
    r, c = column(ref, "age"), column(cur, "age")
    _check(
        world,
        "feature_drift_wasserstein",
        start,
        end,
        stats.wasserstein_distance(r, c) / np.std(r),
        segment="sex=f",
        feature="age",
    )


def _five_minute_service_metrics_match_numpy(world):
    start = world["start"] + 25 * timedelta(minutes=1)
    end = start + BUCKET
    cur = in_window(world["events"], start, end)
    latency = np.array([x["latency_ms"] for x in cur])
    for key, q in (("latency_p50_ms", 50), ("latency_p95_ms", 95), ("latency_p99_ms", 99)):
        item = _check(world, key, start, end, np.percentile(latency, q, method="linear"))
        assert item["details"]["method"] == "exact" and item["sample_size"] == len(cur)
    _check(world, "error_rate", start, end, np.mean([x["error"] for x in cur]))
    _check(world, "throughput_per_min", start, end, len(cur) / 5.0)
    newest = max(ts_of(x) for x in cur)
    _check(world, "data_freshness_s", start, end, (end - newest).total_seconds())


def _daily_quality_and_fairness_match_sklearn_and_fairlearn(world):
    from fairlearn import metrics as fm
    from sklearn import metrics as sk

    day = world["day"]
    start, end = day, day + DAY
    cur = in_window(world["events"], start, end)
    labelled = [x for x in cur if x["event_id"] in world["labels"]]
    y = np.array([world["labels"][x["event_id"]] for x in labelled])
    p = np.array([x["prediction"] for x in labelled], dtype=float)
    s = np.array([x["score"] for x in labelled])
    _check(world, "accuracy", start, end, sk.accuracy_score(y, p))
    _check(world, "precision", start, end, sk.precision_score(y, p))
    _check(world, "recall", start, end, sk.recall_score(y, p))
    _check(world, "f1", start, end, sk.f1_score(y, p))
    _check(world, "roc_auc", start, end, sk.roc_auc_score(y, s))
    _check(world, "calibration_error", start, end, ece_numpy(y, s))
    ref = world["reference"]
    ref_acc = sk.accuracy_score([x["label"] for x in ref], [x["prediction"] for x in ref])
    _check(world, "accuracy_delta_vs_baseline", start, end, sk.accuracy_score(y, p) - ref_acc)

    sex = np.array([x["cohort"]["sex"] for x in labelled])
    _check(
        world,
        "equalized_odds_difference",
        start,
        end,
        fm.equalized_odds_difference(y, p, sensitive_features=sex),
        attribute="sex",
    )
    _check(
        world,
        "equal_opportunity_difference",
        start,
        end,
        fm.equal_opportunity_difference(y, p, sensitive_features=sex),
        attribute="sex",
    )
    frame = fm.MetricFrame(metrics=sk.accuracy_score, y_true=y, y_pred=p, sensitive_features=sex)
    _check(world, "group_accuracy_gap", start, end, frame.difference(), attribute="sex")
    # selection rates over every predicted event (labelled or not)
    p_all = np.array([x["prediction"] for x in cur], dtype=float)
    sex_all = np.array([x["cohort"]["sex"] for x in cur])
    dummy = np.zeros_like(p_all)
    _check(
        world,
        "demographic_parity_difference",
        start,
        end,
        fm.demographic_parity_difference(dummy, p_all, sensitive_features=sex_all),
        attribute="sex",
    )
    item = _check(
        world,
        "disparate_impact_ratio",
        start,
        end,
        fm.demographic_parity_ratio(dummy, p_all, sensitive_features=sex_all),
        attribute="sex",
    )
    assert {g["group"] for g in item["details"]["groups"]} == {"f", "m"}
    # age_band is not protected: no fairness values for it
    assert not [k for k in world["values"] if k[0] == "demographic_parity_difference" and k[3] == "age_band"]


def _twelve_five_minute_profiles_merge_into_the_hour(world):
    deployment, start = world["deployment"], world["start"]
    ctx = context.load(deployment.pk)
    rows = WindowProfile.objects.filter(
        deployment=deployment, segment="", bucket_start__gte=start, bucket_start__lt=start + HOUR
    )
    parts = [P.WindowProfile.from_dict(r.profile) for r in rows.order_by("bucket_start")]
    assert len(parts) == 12
    merged = P.merge(parts)
    cols = read.read_events(
        deployment.pk,
        start,
        start + HOUR,
        layouts=ctx.layouts,
        numeric=ctx.numeric,
        categorical=ctx.categorical,
        cohorts=ctx.cohorts,
    )
    direct = P.build_profiles(
        ctx.spec,
        timestamps=cols.ts,
        latency_ms=cols.latency_ms,
        error=cols.error,
        numeric=cols.numeric,
        categorical=cols.categorical,
        prediction=cols.prediction,
        score=cols.score,
        label=cols.label,
        cohorts=cols.cohorts,
        bucket_seconds=3600,
    )
    hour = next(p for p in direct if p.segment == "")
    assert merged.count == hour.count == len(in_window(world["events"], start, start + HOUR))
    ref = ctx.reference_data().whole
    from metrics.compute import drift

    for name in ctx.numeric:
        assert np.array_equal(merged.numeric[name].counts, hour.numeric[name].counts)
        assert (
            drift.psi(ref.numeric[name].counts, merged.numeric[name].counts).value
            == drift.psi(ref.numeric[name].counts, hour.numeric[name].counts).value
        )
        assert (
            drift.js(ref.numeric[name].counts, merged.numeric[name].counts).value
            == drift.js(ref.numeric[name].counts, hour.numeric[name].counts).value
        )
    for name in ctx.categorical:
        assert dict(merged.categorical[name].counts) == dict(hour.categorical[name].counts)
    assert merged.outcomes.confusion == hour.outcomes.confusion
    assert merged.error_count == hour.error_count
    # and the stored hourly value is the merged profile's
    item = _value(world, "feature_drift_psi", start, start + HOUR, feature="income")
    assert item["value"] == drift.psi(ref.numeric["income"].counts, hour.numeric["income"].counts).value


def test_values_match_the_reference_implementations(client, system_a, alice):
    """One world (it takes a while to build), every read-only check on it."""
    world = build_world(client, system_a, alice)
    _hourly_drift_matches_numpy_and_scipy(world)
    _segment_drift_uses_the_segments_reference_rows(world)
    _five_minute_service_metrics_match_numpy(world)
    _daily_quality_and_fairness_match_sklearn_and_fairlearn(world)
    _twelve_five_minute_profiles_merge_into_the_hour(world)
    _lineage_of_a_value(world, client)
    _recompute_replaces_and_never_duplicates(world)


def _recompute_replaces_and_never_duplicates(world):
    deployment, start = world["deployment"], world["start"]
    before = MetricValue.objects.filter(deployment=deployment).count()
    snapshot = dict(MetricValue.objects.filter(deployment=deployment).values_list("id", "value"))
    runs_before = ComputationRun.objects.filter(deployment=deployment).count()
    call_command(
        "compute_metrics",
        deployment=[deployment.pk],
        start=start.isoformat(),
        end=(start + 2 * HOUR).isoformat(),
    )
    assert MetricValue.objects.filter(deployment=deployment).count() == before
    after = dict(MetricValue.objects.filter(deployment=deployment).values_list("id", "value"))
    assert after.keys() == snapshot.keys()  # updated in place: same rows
    assert all(close(after[k], snapshot[k]) for k in after if snapshot[k] is not None)
    assert ComputationRun.objects.filter(deployment=deployment).count() == runs_before + 2 * 12 + 2
    hourly = MetricValue.objects.filter(
        deployment=deployment, window_start=start, window_end=start + HOUR
    ).first()
    assert (
        hourly.run.started_at
        > ComputationRun.objects.filter(deployment=deployment).order_by("started_at").first().started_at
    )


def _lineage_of_a_value(world, client):
    start = world["start"]
    item = _value(world, "feature_drift_psi", start, start + HOUR, feature="income")
    run = client.get(f"/api/v1/runs/{item['run']}/").json()
    deployment = world["deployment"]
    assert run["status"] == "succeeded" and run["kind"] == "window"
    assert run["task_id"] == "command:compute_metrics"
    assert run["code_version"] and run["code_version"] != "unknown"
    assert run["catalog_versions"]["feature_drift_psi"] == item["metric_version"]
    assert set(run["catalog_versions"]) >= {
        "feature_drift_js",
        "feature_drift_ks",
        "availability",
        "null_rate",
    }
    from metrics.models import ReferenceDataset

    assert (
        run["reference_id"]
        == ReferenceDataset.objects.get(model_version=deployment.model_version, is_current=True).pk
    )
    assert run["input_rows"]["events"] == len(in_window(world["events"], start, start + HOUR))
    assert run["input_rows"]["buckets"] == 12 and run["input_rows"]["window"] == "1h"
    assert (
        run["window_start"].startswith(start.strftime("%Y-%m-%dT%H:%M"))
        and run["finished_at"] >= run["started_at"]
    )
    assert run["error"] == ""


def test_late_event_marks_its_window_dirty_and_it_is_recomputed(small_world, client, settings):
    world = small_world
    from metrics.engine import scheduling
    from metrics.models import ComputeWatermark, DirtyWindow

    deployment, start = world["deployment"], world["start"]
    bucket = start + 25 * timedelta(minutes=1)
    old_p99 = _value(world, "latency_p99_ms", bucket, bucket + BUCKET)
    old_rate = _value(world, "throughput_per_min", bucket, bucket + BUCKET)
    late = dict(
        world["events"][0],
        event_id="late-1",
        timestamp=(bucket + timedelta(seconds=30)).isoformat(),
        latency_ms=99999.0,
    )
    late.pop("_label", None)
    assert send_events(client, world["token"], [late]) == 1
    assert DirtyWindow.objects.filter(deployment=deployment, window_start=bucket).exists()
    # the watermark already passed it (compute_metrics moved it); one bucket forward at most
    settings.COMPUTE_MAX_BUCKETS_PER_TASK = 1
    wm = ComputeWatermark.objects.get(deployment=deployment)
    assert wm.computed_through >= bucket + BUCKET
    summary = scheduling.run_deployment(deployment.pk, owner="test-task")
    # (the labels sent just before compute_metrics marked their buckets too: within the safety
    # margin they count as not yet covered, so they are recomputed as well)
    assert summary.dirty_recomputed >= 1
    assert not DirtyWindow.objects.filter(
        deployment=deployment, window_start__lte=wm.computed_through
    ).exists()
    values = index(
        api_values(client, deployment=deployment.pk, start=start.isoformat(), end=(start + HOUR).isoformat())
    )
    new_p99 = values[("latency_p99_ms", "", "", "", bucket, bucket + BUCKET)]
    assert new_p99["value"] > old_p99["value"]
    cur = in_window(world["events"], bucket, bucket + BUCKET)
    latency = np.array([x["latency_ms"] for x in cur] + [99999.0])
    assert close(new_p99["value"], np.percentile(latency, 99))
    assert close(
        values[("throughput_per_min", "", "", "", bucket, bucket + BUCKET)]["value"], old_rate["value"] + 0.2
    )
    # the hour containing the bucket was recomputed by the same task, with the late event
    hourly_run = (
        MetricValue.objects.filter(deployment=deployment, window_start=start, window_end=start + HOUR)
        .first()
        .run
    )
    assert hourly_run.task_id == "test-task"
    assert hourly_run.input_rows["events"] == len(in_window(world["events"], start, start + HOUR)) + 1


def test_small_samples_are_insufficient_data_never_ok(small_world, client):
    world = small_world
    # 5-minute windows hold ~108 events here; a 40-event window is below min_samples (100)
    deployment = world["deployment"]
    start = world["day"] + timedelta(hours=15)
    events, _, _ = make_traffic(deployment, start, start + BUCKET, n=40, seed=23)
    for e in events:
        e.pop("_label", None)
    send_events(client, world["token"], events)
    call_command(
        "compute_metrics",
        deployment=[deployment.pk],
        start=start.isoformat(),
        end=(start + BUCKET).isoformat(),
    )
    values = index(
        api_values(
            client, deployment=deployment.pk, start=start.isoformat(), end=(start + BUCKET).isoformat()
        )
    )
    item = values[("error_rate", "", "", "", start, start + BUCKET)]
    assert item["status"] == "insufficient_data" and item["sample_size"] == 40 and item["value"] is not None
    assert values[("latency_p95_ms", "", "", "", start, start + BUCKET)]["status"] == "insufficient_data"
    # throughput has min_samples 0: a value with a status
    assert values[("throughput_per_min", "", "", "", start, start + BUCKET)]["status"] == "ok"
    # whatever the metric: below its min_samples a value is insufficient_data, never ok
    stored = MetricValue.objects.filter(deployment=deployment, window_start=start, window_end=start + BUCKET)
    assert stored.count() == len(values)
    for mv in stored.select_related("metric_version"):
        if mv.sample_size < mv.metric_version.min_samples:
            assert mv.status == "insufficient_data", (mv.metric_version, mv.segment, mv.sample_size)


def test_without_a_reference_drift_is_insufficient_with_a_reason(client, system_a, alice):
    deployment = synthetic.ensure_model(system_a, slug="noref")
    token = ingest_token(system_a)
    start = day_start(2) + timedelta(hours=8)
    events, _, _ = make_traffic(deployment, start, start + HOUR, n=300, seed=5)
    for e in events:
        e.pop("_label", None)
    send_events(client, token, events)
    call_command(
        "compute_metrics", deployment=[deployment.pk], start=start.isoformat(), end=(start + HOUR).isoformat()
    )
    client.force_login(viewer(alice, system_a))
    values = index(api_values(client, deployment=deployment.pk))
    psi = values[("feature_drift_psi", "", "income", "", start, start + HOUR)]
    assert psi["status"] == "insufficient_data" and psi["value"] is None
    assert "no reference" in psi["details"]["reason"]
    assert values[("null_rate", "", "income", "", start, start + HOUR)]["status"] == "ok"
    assert values[("availability", "", "", "", start, start + HOUR)]["value"] is not None


def test_a_high_cardinality_attribute_gets_values_for_its_most_frequent_cohorts_only(small_world, settings):
    deployment, start = small_world["deployment"], small_world["start"]
    settings.COMPUTE_MAX_SEGMENTS_PER_ATTRIBUTE = 1
    call_command(
        "compute_metrics", deployment=[deployment.pk], start=start.isoformat(), end=(start + HOUR).isoformat()
    )
    hourly = MetricValue.objects.filter(deployment=deployment, window_start=start, window_end=start + HOUR)
    run = hourly.order_by("-run__started_at").first().run
    segments = set(hourly.filter(run=run).values_list("segment", flat=True))
    cur = in_window(small_world["events"], start, start + HOUR)
    top = {}
    for attribute in ("sex", "age_band"):
        counts = {}
        for e in cur:
            counts[e["cohort"][attribute]] = counts.get(e["cohort"][attribute], 0) + 1
        top[attribute] = max(counts, key=counts.get)
    assert segments == {"", f"sex={top['sex']}", f"age_band={top['age_band']}"}
    assert run.input_rows["segments_without_values"] == 1 + 2  # one sex, two age bands left out

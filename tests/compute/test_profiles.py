"""Window profiles (DESIGN.md §2.1): roll-up = raw rows; twelve 5-minute profiles = the hour."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from metrics.compute import drift, fairness, quality, service
from metrics.compute import profiles as P
from metrics.compute.sketch import LatencySketch

from .helpers import close, integer_feature, with_nulls

HOUR = pd.Timestamp("2026-11-20T10:00:00Z")


def events(seed: int, n: int = 6000, start: pd.Timestamp = HOUR, seconds: int = 3600):
    rng = np.random.default_rng(seed)
    offsets = np.sort(rng.integers(0, seconds * 10**9, n))
    ts = (start + pd.to_timedelta(offsets, unit="ns")).to_numpy()
    score = rng.random(n)
    label = (rng.random(n) < score).astype(float)
    label[rng.random(n) < 0.4] = np.nan
    region = rng.choice(["eu", "us", "apac"], n).astype(object)
    region[rng.random(n) < 0.03] = None
    return {
        "timestamps": ts,
        "latency_ms": rng.lognormal(3, 0.7, n),
        "error": rng.random(n) < 0.02,
        "numeric": {
            "income": with_nulls(rng, rng.normal(50_000, 15_000, n)),
            "age": integer_feature(rng, n, 7),  # integer: many values on the decile edges
        },
        "categorical": {"channel": np.where(rng.random(n) < 0.1, None, rng.choice(["web", "app", "api"], n))},
        "prediction": (score > 0.5).astype(float),
        "score": score,
        "label": label,
        "cohorts": {"region": region, "sex": rng.choice(["f", "m"], n).astype(object)},
    }


def reference(seed: int = 100, n: int = 4000):
    rng = np.random.default_rng(seed)
    score = rng.random(n)
    return {
        "numeric": {"income": rng.normal(48_000, 15_000, n), "age": integer_feature(rng, n, 6)},
        "categorical": {"channel": rng.choice(["web", "app"], n)},
        "score": score,
        "prediction": (score > 0.5).astype(float),
        "label": (rng.random(n) < score).astype(float),
    }


def spec_for(ref) -> P.ProfileSpec:
    return P.ProfileSpec.from_reference(
        numeric=ref["numeric"], categorical=["channel"], score=ref["score"], prediction=ref["prediction"]
    )


def by_segment(profiles):
    out: dict[str, list[P.WindowProfile]] = {}
    for p in profiles:
        out.setdefault(p.segment, []).append(p)
    return out


@pytest.fixture(scope="module")
def hour():
    ref = reference()
    spec = spec_for(ref)
    ev = events(1)
    five = P.build_profiles(spec, **ev)
    direct = P.build_profiles(spec, bucket_seconds=3600, **ev)
    ref_profiles = P.build_profiles(
        spec, numeric=ref["numeric"], categorical=ref["categorical"], score=ref["score"],
        prediction=ref["prediction"], label=ref["label"],
    )  # fmt: skip
    return spec, ev, ref, five, direct, ref_profiles


def assert_profiles_equal(a: P.WindowProfile, b: P.WindowProfile):
    """Counts exactly; float sums to 1e-9 (addition order differs)."""
    da, db = a.to_dict(), b.to_dict()
    for key in (
        "segment",
        "window_start",
        "window_end",
        "count",
        "error_count",
        "minutes",
        "latency",
        "categorical",
    ):
        assert da[key] == db[key], key
    for kind in ("numeric", "outputs"):
        assert da[kind].keys() == db[kind].keys()
        for name in da[kind]:
            x, y = da[kind][name], db[kind][name]
            assert (x["edges"], x["counts"], x["nulls"], x["min"], x["max"]) == (
                y["edges"], y["counts"], y["nulls"], y["min"], y["max"],
            )  # fmt: skip
            assert close(x["sum"], y["sum"]) and close(x["sum_sq"], y["sum_sq"])
    oa, ob = da["outcomes"], db["outcomes"]
    for key in ("predicted", "predicted_positive", "labelled", "label_positive", "tp", "fp", "fn", "tn"):
        assert oa[key] == ob[key], key
    assert oa["calibration"]["count"] == ob["calibration"]["count"]
    assert oa["calibration"]["positives"] == ob["calibration"]["positives"]
    for x, y in zip(oa["calibration"]["score_sum"], ob["calibration"]["score_sum"], strict=True):
        assert close(x, y)


def test_twelve_five_minute_profiles_merge_into_the_hour(hour):
    _, _, _, five, direct, _ = hour
    five_by, direct_by = by_segment(five), by_segment(direct)
    assert five_by.keys() == direct_by.keys()
    assert len(five_by[""]) == 12
    for segment, parts in five_by.items():
        assert len(direct_by[segment]) == 1
        merged = P.merge(parts)
        assert merged.window_start == datetime(2026, 11, 20, 10, tzinfo=UTC)
        assert merged.window_end == datetime(2026, 11, 20, 11, tzinfo=UTC)
        assert_profiles_equal(merged, direct_by[segment][0])


def test_metrics_from_the_merged_hour_equal_metrics_on_the_raw_rows(hour):
    _spec, ev, ref, five, _, ref_profiles = hour
    merged = P.merge(by_segment(five)[""])
    reference_profile = by_segment(ref_profiles)[""][0]
    for name in ("income", "age"):
        raw_psi = drift.psi_numeric(ref["numeric"][name], ev["numeric"][name])
        raw_js = drift.js_numeric(ref["numeric"][name], ev["numeric"][name])
        prof_psi = drift.psi(reference_profile.numeric[name].counts, merged.numeric[name].counts)
        prof_js = drift.js(reference_profile.numeric[name].counts, merged.numeric[name].counts)
        assert prof_psi.value == raw_psi.value  # exactly
        assert prof_js.value == raw_js.value
        assert prof_psi.details == raw_psi.details
        x = ev["numeric"][name]
        nulls = int(np.isnan(x).sum())
        assert service.null_rate_from_counts(merged.numeric[name].nulls, merged.count).value == nulls / x.size
        assert close(merged.numeric[name].sum, np.nansum(x))
        assert close(merged.numeric[name].sum_sq, np.nansum(x * x))
        assert merged.numeric[name].min == np.nanmin(x) and merged.numeric[name].max == np.nanmax(x)
    channel = merged.categorical["channel"]
    raw_channel = ev["categorical"]["channel"]
    assert (
        drift.psi_categorical(ref["categorical"]["channel"], raw_channel).value
        == drift.psi_categorical(reference_profile.categorical["channel"].counts, channel.counts).value
    )
    assert (
        drift.chi2_p_categorical(ref["categorical"]["channel"], raw_channel).value
        == drift.chi2_p(reference_profile.categorical["channel"].counts, channel.counts).value
    )
    assert channel.nulls == sum(v is None for v in raw_channel)
    # prediction drift on the score histograms
    raw_pd = drift.prediction_drift_psi(reference_score=ref["score"], current_score=ev["score"])
    assert (
        drift.psi(reference_profile.outputs["score"].counts, merged.outputs["score"].counts).value
        == raw_pd.value
    )
    # service counts
    assert merged.count == ev["error"].size
    assert merged.error_count == int(ev["error"].sum())
    assert (
        service.error_rate_from_counts(merged.error_count, merged.count).value
        == service.error_rate(ev["error"]).value
    )
    raw_avail = service.availability(ev["timestamps"], ev["error"])
    assert (
        service.availability_from_minutes(merged.minutes.count, merged.minutes.errors).value
        == raw_avail.value
    )
    assert merged.latency == LatencySketch.from_values(ev["latency_ms"])
    # quality from confusion counts equals scikit-learn on the raw rows
    keep = ~np.isnan(ev["label"])
    y, p = ev["label"][keep], ev["prediction"][keep]
    cc = merged.outcomes.confusion
    assert quality.accuracy(cc).value == skm.accuracy_score(y, p)
    assert close(quality.f1(cc).value, skm.f1_score(y, p))
    assert merged.outcomes.labelled == keep.sum()
    assert merged.outcomes.predicted == ev["prediction"].size
    cal_raw = quality.calibration_error(quality.CalibrationBins.from_arrays(ev["label"], ev["score"]))
    assert close(quality.calibration_error(merged.outcomes.calibration).value, cal_raw.value)


def test_fairness_from_cohort_profiles_equals_fairness_on_raw_rows(hour):
    _, ev, _, five, _, _ = hour
    segments = by_segment(five)
    region = {s.split("=", 1)[1]: P.merge(ps) for s, ps in segments.items() if s.startswith("region=")}
    assert set(region) == {"eu", "us", "apac"}
    from_profiles = P.group_counts_from_profiles(region)
    from_raw = fairness.group_counts(ev["prediction"], ev["label"], ev["cohorts"]["region"])
    assert sorted(from_profiles, key=lambda g: g.group) == sorted(from_raw, key=lambda g: g.group)
    for metric in (
        fairness.demographic_parity_difference,
        fairness.disparate_impact_ratio,
        fairness.equal_opportunity_difference,
        fairness.equalized_odds_difference,
        fairness.group_accuracy_gap,
    ):
        assert metric(from_profiles).value == metric(from_raw).value


@pytest.mark.parametrize("seed", range(3))
def test_every_bucket_and_segment_profile_equals_its_raw_rows(seed):
    ref = reference(seed + 50)
    spec = spec_for(ref)
    ev = events(seed, n=3000, seconds=1800)
    profiles = P.build_profiles(spec, **ev)
    ts = pd.DatetimeIndex(ev["timestamps"], tz="UTC")
    bucket = ts.floor("5min")
    seen = 0
    for profile in profiles:
        rows = np.asarray(bucket == pd.Timestamp(profile.window_start))
        if profile.segment:
            attr, value = profile.segment.split("=", 1)
            rows &= np.asarray(pd.Series(ev["cohorts"][attr]).astype(str) == value) & pd.notna(
                ev["cohorts"][attr]
            )
        assert profile.count == rows.sum()
        for name, x in ev["numeric"].items():
            summary = profile.numeric[name]
            assert summary.counts.tolist() == drift.bin_counts(x[rows], spec.numeric_edges[name]).tolist()
            assert summary.nulls == int(np.isnan(x[rows]).sum())
        assert profile.categorical["channel"].counts == drift.value_counts(ev["categorical"]["channel"][rows])
        assert profile.outcomes.confusion == quality.ConfusionCounts.from_arrays(
            ev["label"][rows], ev["prediction"][rows]
        )
        assert profile.latency == LatencySketch.from_values(ev["latency_ms"][rows])
        minutes, counts, errors = service.minute_buckets(ev["timestamps"][rows], ev["error"][rows])
        assert profile.minutes.minute.tolist() == minutes.tolist()
        assert profile.minutes.count.tolist() == counts.tolist()
        assert profile.minutes.errors.tolist() == errors.tolist()
        seen += 1
    segments = {p.segment for p in profiles}
    assert segments == {"", "region=eu", "region=us", "region=apac", "sex=f", "sex=m"}
    assert seen == len(profiles)


def test_regression_profiles_carry_error_sums():
    rng = np.random.default_rng(4)
    n = 500
    y = rng.normal(10, 3, n)
    p = y + rng.normal(0, 1, n)
    y[:50] = np.nan
    spec = P.ProfileSpec.from_reference(
        prediction=rng.normal(10, 3, 300), task="regression", positive_label=None
    )
    ts = (HOUR + pd.to_timedelta(rng.integers(0, 3600, n), unit="s")).to_numpy()
    five = P.build_profiles(spec, timestamps=ts, prediction=p, label=y)
    merged = P.merge(five)
    keep = ~np.isnan(y)
    assert merged.outcomes.regression.n == keep.sum()
    assert merged.outcomes.confusion.n == 0  # no confusion counts for a regression task
    assert merged.outcomes.labelled == keep.sum() and merged.outcomes.predicted == n
    assert close(
        quality.rmse(merged.outcomes.regression).value, skm.root_mean_squared_error(y[keep], p[keep])
    )
    assert close(quality.mae(merged.outcomes.regression).value, skm.mean_absolute_error(y[keep], p[keep]))


def test_json_round_trip_and_format_version(hour):
    _, _, _, five, _, ref_profiles = hour
    for profile in [five[0], five[-1], ref_profiles[0], P.merge(by_segment(five)[""])]:
        data = json.loads(json.dumps(profile.to_dict()))
        assert data["format_version"] == P.FORMAT_VERSION
        back = P.WindowProfile.from_dict(data)
        assert back == profile
        assert back.to_dict() == data
    with pytest.raises(ValueError, match="format_version"):
        P.WindowProfile.from_dict({**five[0].to_dict(), "format_version": 99})
    spec = hour[0]
    assert P.ProfileSpec.from_dict(json.loads(json.dumps(spec.to_dict()))).to_dict() == spec.to_dict()


def test_merge_refuses_incompatible_profiles(hour):
    _spec, ev, _, five, _, _ = hour
    segments = by_segment(five)
    with pytest.raises(ValueError, match="segments"):
        P.merge([segments[""][0], segments["sex=f"][0]])
    other_spec = P.ProfileSpec.from_reference(numeric={"income": np.arange(100.0), "age": np.arange(10.0)})
    other = P.build_profiles(
        other_spec, timestamps=ev["timestamps"][:10], numeric={"income": ev["numeric"]["income"][:10]}
    )
    with pytest.raises(ValueError, match="edges"):
        P.merge([segments[""][0], other[0]])
    with pytest.raises(ValueError):
        P.merge([])


def test_reference_profile_and_edge_cases():
    spec = P.ProfileSpec.from_reference(numeric={"x": [1.0, 2.0, 3.0]}, categorical=["c"])
    profiles = P.build_profiles(
        spec,
        numeric={"x": [np.nan, np.inf, 1.0, 3.0]},
        categorical={"c": [1, "1", None, "b"]},  # 1 and "1" print the same: one category
        cohorts={"g": [None, None, None, None]},  # no cohort values: no cohort profiles
    )
    assert [p.segment for p in profiles] == [""]
    (p,) = profiles
    assert p.window_start is None and p.minutes.minute.size == 0
    assert p.numeric["x"].nulls == 2  # NaN and inf
    assert p.numeric["x"].count == 2 and p.numeric["x"].min == 1.0 and p.numeric["x"].max == 3.0
    assert p.categorical["c"].counts == {"1": 2, "b": 1} and p.categorical["c"].nulls == 1
    assert P.build_profiles(spec, numeric={"x": []}) == []
    with pytest.raises(ValueError):
        P.build_profiles(
            spec, timestamps=np.array(["2026-11-20T10:00"], dtype="datetime64[ns]"), bucket_seconds=90
        )

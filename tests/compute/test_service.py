"""Service metrics (DESIGN.md §3.2): numpy.percentile, the ≤ 1% sketch, rates, availability."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from metrics.compute import service
from metrics.compute.sketch import LatencySketch

from .helpers import close

QS = (50.0, 95.0, 99.0)


def latency_samples(seed: int, n: int):
    rng = np.random.default_rng(seed)
    tail = rng.lognormal(3, 0.6, n)
    tail[rng.random(n) < 0.005] *= 20  # slow tail
    yield "lognormal+tail", tail
    yield "uniform", rng.uniform(1, 500, n)
    yield "bimodal", np.concatenate([rng.normal(20, 2, n // 2), rng.normal(300, 30, n - n // 2)]).clip(0.1)
    yield "integer ms", rng.integers(1, 60, n).astype(float)
    yield "with zeros", np.where(rng.random(n) < 0.02, 0.0, rng.exponential(40, n))


@pytest.mark.parametrize("n", [1, 2, 7, 100, 5_000, 99_999])
def test_exact_percentiles_below_the_limit_equal_numpy(n):
    rng = np.random.default_rng(n)
    x = rng.lognormal(3, 1, n)
    x_with_nan = np.concatenate([x, [np.nan]])
    result = service.latency_percentiles(x_with_nan, percentiles=QS)
    expected = np.percentile(x, QS, method="linear")
    for q, e in zip(QS, expected, strict=True):
        assert result[q].details["method"] == "exact"
        assert close(result[q].value, e)
        assert result[q].sample_size == n


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sketch_is_within_one_percent_at_p50_p95_p99(seed):
    for name, x in latency_samples(seed, 150_000):
        result = service.latency_percentiles(x, percentiles=QS)  # above the exact limit
        exact = np.percentile(x, QS, method="linear")
        for q, e in zip(QS, exact, strict=True):
            assert result[q].details["method"] == "sketch"
            got = result[q].value
            if e == 0:
                assert got == 0
            else:
                assert abs(got - e) / e <= 0.01, (name, q, got, e)


def test_merged_window_sketches_equal_one_sketch_and_stay_within_one_percent():
    rng = np.random.default_rng(9)
    x = rng.lognormal(3, 0.6, 288 * 700)
    x[rng.random(x.size) < 0.005] *= 20
    windows = np.array_split(x, 288)
    merged = LatencySketch.merge_all(LatencySketch.from_values(w) for w in windows)
    whole = LatencySketch.from_values(x)
    assert merged == whole
    assert merged.count == x.size
    for q, e in zip(QS, np.percentile(x, QS, method="linear"), strict=True):
        assert abs(merged.quantile(q / 100) - e) / e <= 0.01


def test_sketch_round_trips_through_json_and_handles_edge_cases():
    s = LatencySketch.from_values([0.0, 0.0, 5.0, 7.5, 1000.0, np.nan, np.inf])
    assert s.count == 5
    assert LatencySketch.from_dict(s.to_dict()) == s
    assert s.quantile(0.0) == 0.0
    assert s.quantile(1.0) == 1000.0  # clamped to the exact max
    assert LatencySketch().quantile(0.5) is None
    assert LatencySketch.from_values([3.0]).quantile(0.99) == 3.0
    with pytest.raises(ValueError):
        LatencySketch(0.01).merge(LatencySketch(0.02))


def test_percentiles_of_an_empty_window_are_undefined():
    assert service.latency_percentiles([], percentiles=QS)[50.0].value is None
    assert service.latency_percentiles(sketch=LatencySketch(), percentiles=QS)[99.0].value is None


# --- rates ------------------------------------------------------------------------------------


def test_error_rate_throughput_null_rate_rejection_rate():
    errors = np.array([True, False, False, True, False])
    assert service.error_rate(errors).value == 0.4
    assert service.error_rate([]).value is None
    t = service.throughput_per_min(600, 60)
    assert t.value == 10.0 and t.sample_size == 600
    assert service.null_rate([1.0, np.nan, 3.0, np.nan]).value == 0.5
    assert service.null_rate(np.array(["a", None, "b", "c"], dtype=object)).value == 0.25
    assert service.ingest_rejection_rate(90, 10).value == 0.1
    assert service.ingest_rejection_rate(0, 0).value is None


def reference_availability(ts: pd.DatetimeIndex, errors: np.ndarray, slo: float) -> float:
    frame = pd.DataFrame({"error": errors}, index=ts)
    per_minute = frame.resample("1min")["error"].agg(["count", "sum"])
    per_minute = per_minute[per_minute["count"] > 0]  # empty minutes do not count
    success = 1 - per_minute["sum"] / per_minute["count"]
    return float((success >= slo).mean())


@pytest.mark.parametrize("seed", range(5))
def test_availability_matches_a_pandas_resample(seed):
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2026-11-20T10:00:00Z")
    offsets = np.sort(rng.integers(0, 3600 * 10**9, 3000))
    offsets = offsets[(offsets // (60 * 10**9)) % 7 != 3]  # some minutes without traffic
    ts = start + pd.to_timedelta(offsets, unit="ns")
    errors = rng.random(ts.size) < 0.02
    for slo in (0.99, 0.95, 0.9):
        result = service.availability(ts.to_numpy(), errors, slo)
        assert close(result.value, reference_availability(ts, errors, slo))
        assert result.details["minutes"] == pd.Series(errors, index=ts).resample("1min").count().gt(0).sum()


def test_availability_boundaries():
    # exactly at the SLO counts as meeting it: 1 error in 100 events = 0.99
    assert service.availability_from_minutes([100, 100], [1, 2], 0.99).value == 0.5
    assert service.availability_from_minutes([0, 0], [0, 0]).value is None
    assert service.availability_from_minutes([0, 10], [0, 0]).value == 1.0


def test_freshness():
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    r = service.freshness_s(now, now - timedelta(minutes=3))
    assert r.value == 180.0
    assert service.freshness_s(now, None, what="label").value is None

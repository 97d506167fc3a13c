"""Drift calculators against their references (DESIGN.md §3.1): NumPy as written, SciPy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.spatial.distance import jensenshannon

from metrics.compute import drift

from .helpers import close, integer_feature, with_nulls

SEEDS = range(8)


def reference_psi(ref: np.ndarray, cur: np.ndarray) -> float:
    """DESIGN §3.1 written out with numpy.histogram (independent of the implementation)."""
    ref, cur = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
    edges = np.unique(np.quantile(ref, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]))
    bins = np.concatenate([[-np.inf], edges, [np.inf]])
    r = np.histogram(ref, bins)[0] / ref.size
    c = np.histogram(cur, bins)[0] / cur.size
    r = np.where(r == 0, 0.0001, r)
    c = np.where(c == 0, 0.0001, c)
    return float(np.sum((c - r) * np.log(c / r)))


def reference_js(ref: np.ndarray, cur: np.ndarray) -> float:
    ref, cur = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
    edges = np.unique(np.quantile(ref, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]))
    bins = np.concatenate([[-np.inf], edges, [np.inf]])
    r = np.histogram(ref, bins)[0] / ref.size
    c = np.histogram(cur, bins)[0] / cur.size
    return float(jensenshannon(r, c))


def datasets(seed: int):
    """Continuous, shifted, integer (values on edges), heavy-tailed, with nulls, and tiny."""
    rng = np.random.default_rng(seed)
    yield rng.normal(size=2000), rng.normal(0.3, 1.2, size=1500)
    yield integer_feature(rng, 3000), integer_feature(rng, 1000, high=8)
    yield rng.lognormal(size=500), rng.lognormal(0.2, size=700)
    yield with_nulls(rng, rng.normal(size=800)), with_nulls(rng, rng.normal(size=900), 0.2)
    yield rng.integers(0, 3, size=40).astype(float), rng.integers(0, 4, size=7).astype(float)
    yield np.array([1.0]), np.array([1.0, 2.0])
    yield np.full(100, 5.0), rng.integers(4, 7, size=50).astype(float)


# --- binning ---------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_bins_are_exactly_numpy_histogram_with_open_outer_bins(seed):
    for ref, cur in datasets(seed):
        edges = drift.reference_edges(ref)
        clean = cur[~np.isnan(cur)]
        expected = np.histogram(clean, np.concatenate([[-np.inf], edges, [np.inf]]))[0]
        assert drift.bin_counts(cur, edges).tolist() == expected.tolist()


def test_values_on_edges_go_to_the_bin_on_the_right_and_the_last_edge_opens_the_last_bin():
    edges = np.array([1.0, 2.0, 3.0])
    x = np.array([0.5, 1.0, 1.5, 2.0, 3.0, 3.0, 99.0])
    # bins: (-inf,1) [1,2) [2,3) [3,inf)
    assert drift.bin_counts(x, edges).tolist() == [1, 2, 1, 3]
    assert drift.bin_counts(x, edges).tolist() == np.histogram(x, [-np.inf, 1, 2, 3, np.inf])[0].tolist()


def test_edges_are_deciles_with_duplicates_dropped():
    ref = np.array([0, 0, 0, 0, 0, 0, 1, 1, 2, 3], dtype=float)
    assert drift.reference_edges(ref).tolist() == np.unique(np.quantile(ref, np.arange(1, 10) / 10)).tolist()
    assert drift.reference_edges(ref) == pytest.approx([0.0, 0.4, 1.0, 1.2, 2.1], abs=1e-12)
    assert drift.reference_edges([np.nan, np.nan]).size == 0


def test_many_edges_fall_back_to_searchsorted_with_the_same_answer():
    rng = np.random.default_rng(3)
    edges = np.sort(rng.normal(size=50))
    x = np.concatenate([rng.normal(size=1000), edges])  # values exactly on every edge
    assert drift.bin_index(x, edges).tolist() == np.searchsorted(edges, x, side="right").tolist()
    assert drift.bin_index(x, edges[:9]).tolist() == np.searchsorted(edges[:9], x, side="right").tolist()


# --- PSI / JS --------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_psi_and_js_match_the_written_definition_and_scipy(seed):
    for ref, cur in datasets(seed):
        psi = drift.psi_numeric(ref, cur)
        js = drift.js_numeric(ref, cur)
        assert close(psi.value, reference_psi(ref, cur))
        assert close(js.value, reference_js(ref, cur))
        n_ref, n_cur = int((~np.isnan(ref)).sum()), int((~np.isnan(cur)).sum())
        for result in (psi, js):
            assert result.details["reference_size"] == n_ref
            assert result.details["current_size"] == n_cur
            assert result.sample_size == min(n_ref, n_cur)


@given(
    ref=st.lists(st.integers(-3, 3), min_size=1, max_size=60),
    cur=st.lists(st.integers(-4, 4), min_size=1, max_size=60),
)
@settings(max_examples=150, deadline=None)
def test_psi_js_on_small_integer_samples(ref, cur):
    ref, cur = np.array(ref, dtype=float), np.array(cur, dtype=float)
    assert close(drift.psi_numeric(ref, cur).value, reference_psi(ref, cur))
    assert close(drift.js_numeric(ref, cur).value, reference_js(ref, cur))


def test_psi_from_counts_equals_psi_from_raw_values_exactly():
    rng = np.random.default_rng(11)
    ref, cur = integer_feature(rng, 5000, 9), integer_feature(rng, 3000, 11)
    edges = drift.reference_edges(ref)
    from_raw = drift.psi_numeric(ref, cur)
    from_counts = drift.psi(drift.bin_counts(ref, edges), drift.bin_counts(cur, edges))
    assert from_raw.value == from_counts.value
    assert (
        drift.js_numeric(ref, cur).value
        == drift.js(drift.bin_counts(ref, edges), drift.bin_counts(cur, edges)).value
    )


def test_zero_shares_are_floored_and_identical_distributions_give_zero():
    assert drift.psi([10, 0], [0, 10]).value == pytest.approx(
        2 * (1 - 0.0001) * np.log(1 / 0.0001), rel=1e-12
    )
    assert drift.psi([3, 5, 2], [30, 50, 20]).value == 0.0
    assert drift.js([3, 5, 2], [30, 50, 20]).value == 0.0
    assert drift.js([1, 0], [0, 1]).value == pytest.approx(np.sqrt(np.log(2)), rel=1e-12)  # natural log max


def test_empty_side_is_undefined():
    for result in (drift.psi([0, 0], [1, 2]), drift.js([1, 2], [0, 0]), drift.psi_numeric([], [1.0])):
        assert result.value is None
        assert result.sample_size == 0


# --- categorical ----------------------------------------------------------------------------


def categorical_reference(ref_values, cur_values):
    cats = sorted(set(ref_values) | set(cur_values))
    r = np.array([list(ref_values).count(c) for c in cats], dtype=float)
    c = np.array([list(cur_values).count(k) for k in cats], dtype=float)
    return cats, r, c


@pytest.mark.parametrize("seed", SEEDS)
def test_categorical_psi_js_chi2_over_the_union_of_categories(seed):
    rng = np.random.default_rng(seed)
    ref = list(rng.choice(["eu", "us", "apac", "latam"], size=400, p=[0.4, 0.3, 0.2, 0.1]))
    cur = list(rng.choice(["eu", "us", "apac", "mena"], size=300, p=[0.3, 0.3, 0.3, 0.1]))
    cur_with_nulls = [*cur, None, np.nan]
    _cats, r, c = categorical_reference(ref, cur)
    rs, cs = r / r.sum(), c / c.sum()
    rs_f, cs_f = np.where(rs == 0, 1e-4, rs), np.where(cs == 0, 1e-4, cs)
    assert close(
        drift.psi_categorical(ref, cur_with_nulls).value, np.sum((cs_f - rs_f) * np.log(cs_f / rs_f))
    )
    assert close(drift.js_categorical(ref, cur_with_nulls).value, jensenshannon(rs, cs))
    expected_p = stats.chi2_contingency(np.vstack([r, c])).pvalue
    assert close(drift.chi2_p_categorical(ref, cur_with_nulls).value, expected_p)
    # counts path (profiles) gives the identical values
    assert (
        drift.psi_categorical(drift.value_counts(ref), drift.value_counts(cur)).value
        == drift.psi_categorical(ref, cur).value
    )
    result = drift.chi2_p(drift.value_counts(ref), drift.value_counts(cur))
    assert result.details["reference_size"] == 400
    assert result.details["current_size"] == 300


def test_chi2_drops_categories_empty_on_both_sides_and_handles_degenerate_tables():
    # a category with zero on both sides would make scipy raise: it is dropped
    with_empty = drift.chi2_p({"a": 10, "b": 5, "z": 0}, {"a": 7, "b": 9, "z": 0})
    assert close(with_empty.value, stats.chi2_contingency([[10, 5], [7, 9]]).pvalue)
    # one category only: dof 0, p = 1
    assert drift.chi2_p({"a": 10}, {"a": 3}).value == 1.0
    # a category seen only in the window is fine (two-sample test, not goodness of fit)
    assert close(
        drift.chi2_p({"a": 10, "b": 5}, {"a": 3, "b": 2, "c": 4}).value,
        stats.chi2_contingency([[10, 5, 0], [3, 2, 4]]).pvalue,
    )
    # an empty side is undefined
    assert drift.chi2_p({}, {"a": 3}).value is None
    assert drift.chi2_p({"a": 3}, {"a": 0}).value is None


# --- KS / Wasserstein -----------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_ks_and_wasserstein_match_scipy(seed):
    for ref, cur in datasets(seed):
        r, c = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
        ks, w = drift.ks_and_wasserstein(ref, cur)
        expected = stats.ks_2samp(r, c)
        assert close(ks.value, expected.statistic)
        assert close(ks.details["pvalue"], expected.pvalue)
        raw = stats.wasserstein_distance(r, c)
        assert close(w.value, raw / max(np.std(r), 0.001))
        assert close(w.details["wasserstein"], raw)
        assert w.details["reference_size"] == r.size and w.details["current_size"] == c.size


@given(
    ref=st.lists(st.integers(0, 5), min_size=1, max_size=40),
    cur=st.lists(st.integers(0, 6), min_size=1, max_size=40),
)
@settings(max_examples=150, deadline=None)
@pytest.mark.filterwarnings("ignore:ks_2samp. Exact calculation unsuccessful:RuntimeWarning")
def test_ks_wasserstein_with_heavy_ties(ref, cur):
    ref, cur = np.array(ref, dtype=float), np.array(cur, dtype=float)
    ks, w = drift.ks_and_wasserstein(ref, cur)
    assert close(ks.value, stats.ks_2samp(ref, cur).statistic)
    assert close(ks.details["pvalue"], stats.ks_2samp(ref, cur).pvalue)
    assert close(w.value, stats.wasserstein_distance(ref, cur) / max(np.std(ref), 0.001))


def test_large_samples_use_scipys_asymptotic_p_value():
    rng = np.random.default_rng(5)
    ref, cur = rng.normal(size=20_000), rng.normal(0.01, 1, size=30_000)
    ks, w = drift.ks_and_wasserstein(np.sort(ref), cur, ref_sorted=True)
    expected = stats.ks_2samp(ref, cur)
    assert close(ks.value, expected.statistic)
    assert ks.details["pvalue_method"] == "asymptotic"
    assert close(ks.details["pvalue"], expected.pvalue)
    assert close(w.value, stats.wasserstein_distance(ref, cur) / np.std(ref))


def test_far_tail_p_value_uses_the_kolmogorov_limit_and_stays_tiny():
    rng = np.random.default_rng(6)
    ref, cur = rng.normal(size=20_000), rng.normal(0.2, 1, size=30_000)
    ks = drift.ks(ref, cur)
    expected = stats.ks_2samp(ref, cur)
    assert close(ks.value, expected.statistic)
    assert ks.details["pvalue_method"] == "asymptotic_limit"
    assert ks.details["pvalue"] < 1e-3 and expected.pvalue < 1e-3


def test_wasserstein_norm_has_a_floor_for_constant_references():
    w = drift.wasserstein_normed(np.full(50, 2.0), np.full(40, 2.5))
    assert close(w.value, 0.5 / 0.001)
    assert w.details["norm"] == 0.001


# --- prediction drift, BH -------------------------------------------------------------------


def test_prediction_drift_uses_score_when_both_sides_have_it_else_prediction():
    rng = np.random.default_rng(2)
    ref_s, cur_s = rng.random(500), rng.beta(2, 1, 400)
    ref_p, cur_p = (ref_s > 0.5).astype(float), (cur_s > 0.5).astype(float)
    with_score = drift.prediction_drift_psi(
        reference_score=ref_s, current_score=cur_s, reference_prediction=ref_p, current_prediction=cur_p
    )
    assert with_score.details["source"] == "score"
    assert close(with_score.value, reference_psi(ref_s, cur_s))
    without = drift.prediction_drift_psi(
        reference_score=ref_s,
        current_score=np.full(400, np.nan),
        reference_prediction=ref_p,
        current_prediction=cur_p,
    )
    assert without.details["source"] == "prediction"
    assert close(without.value, reference_psi(ref_p, cur_p))


@given(st.lists(st.one_of(st.none(), st.floats(0, 1)), min_size=1, max_size=30))
@settings(max_examples=200, deadline=None)
def test_bh_qvalues_match_scipy(pvalues):
    q = drift.bh_qvalues(pvalues)
    defined = [i for i, p in enumerate(pvalues) if p is not None]
    assert [q[i] for i in range(len(q)) if i not in defined] == [None] * (len(q) - len(defined))
    if defined:
        expected = stats.false_discovery_control([pvalues[i] for i in defined], method="bh")
        for i, e in zip(defined, expected, strict=True):
            assert close(q[i], e)


def test_with_q_values_adds_q_beside_each_p():
    results = {
        "a": drift.chi2_p({"x": 50, "y": 50}, {"x": 80, "y": 20}),
        "b": drift.chi2_p({"x": 50, "y": 50}, {"x": 52, "y": 48}),
        "c": drift.chi2_p({}, {"x": 1}),
    }
    with_q = drift.with_q_values(results)
    expected = stats.false_discovery_control([results["a"].value, results["b"].value], method="bh")
    assert close(with_q["a"].details["qvalue"], expected[0])
    assert close(with_q["b"].details["qvalue"], expected[1])
    assert with_q["c"].details["qvalue"] is None
    ks = {"f": drift.ks(np.arange(50.0), np.arange(50.0) + 10)}
    assert drift.with_q_values(ks, "pvalue")["f"].details["qvalue"] == ks["f"].details["pvalue"]

"""promtool-style tests of the pure alert state machine: a series in, the expected state after
each window and the transitions out. ``_`` is a window with insufficient data."""

from __future__ import annotations

import pytest

from alerts import state as sm

_ = None
LOWER = sm.Rule(direction=sm.LOWER_IS_BETTER, warn=0.1, critical=0.25, for_windows=1)  # PSI-like
LOWER_FOR3 = sm.Rule(direction=sm.LOWER_IS_BETTER, warn=0.1, critical=0.25, for_windows=3)
HIGHER = sm.Rule(direction=sm.HIGHER_IS_BETTER, warn=0.85, critical=0.8, for_windows=2)  # accuracy-like
WARN_ONLY = sm.Rule(direction=sm.LOWER_IS_BETTER, warn=300.0, for_windows=1)  # latency, no critical

P, F, R, N = sm.PENDING, sm.FIRING, sm.RESOLVED, sm.INACTIVE  # N: inactive (no alert)

CASES = [
    # name, rule, series, expected states, expected transitions (flattened, in order)
    ("healthy stays inactive", LOWER, [0.01, 0.02, 0.05], [N, N, N], []),
    ("for=1 fires at once", LOWER, [0.01, 0.12, 0.12], [N, F, F], ["fired"]),
    ("for=3 pends then fires", LOWER_FOR3, [0.12, 0.13, 0.14, 0.15], [P, P, F, F], ["pending", "fired"]),
    (
        "for=3 interrupted resets the count",
        LOWER_FOR3,
        [0.12, 0.13, 0.02, 0.12, 0.13, 0.14],
        [P, P, N, P, P, F],
        ["pending", "cancelled", "pending", "fired"],
    ),
    (
        "pending band window cancels (not breaching)",
        LOWER_FOR3,
        [0.12, 0.095, 0.12],
        [P, N, P],
        ["pending", "cancelled", "pending"],
    ),
    ("resolves on a healthy window", LOWER, [0.3, 0.05, 0.05], [F, R, N], ["fired", "resolved"]),
    ("hysteresis: band keeps firing", LOWER, [0.12, 0.095, 0.09, 0.08], [F, F, F, R], ["fired", "resolved"]),
    (
        "flapping around the threshold: one fire, one resolve",
        LOWER,
        [0.11, 0.095, 0.105, 0.09, 0.11, 0.092, 0.104, 0.05],
        [F, F, F, F, F, F, F, R],
        ["fired", "resolved"],
    ),
    (
        "insufficient data neither fires nor resolves",
        LOWER,
        [_, 0.2, _, _, 0.01],
        [N, F, F, F, R],
        ["fired", "resolved"],
    ),
    (
        "insufficient data keeps the for count",
        LOWER_FOR3,
        [0.12, _, 0.12, _, 0.12],
        [P, P, P, P, F],
        ["pending", "fired"],
    ),
    (
        "warning escalates to critical: same alert",
        LOWER,
        [0.12, 0.3, 0.12, 0.02],
        [F, F, F, R],
        ["fired", "severity_raised", "resolved"],
    ),
    (
        "higher is better with for=2 (0.852 is in the band)",
        HIGHER,
        [0.9, 0.84, 0.83, 0.852, 0.9],
        [N, P, F, F, R],
        ["pending", "fired", "resolved"],
    ),
    ("warn-only rule", WARN_ONLY, [250, 310, 275, 260], [N, F, F, R], ["fired", "resolved"]),
    ("new episode after resolve", LOWER, [0.2, 0.01, 0.2], [F, R, F], ["fired", "resolved", "fired"]),
]


@pytest.mark.parametrize(
    ("name", "rule", "series", "states", "transitions"), CASES, ids=[c[0] for c in CASES]
)
def test_series(name, rule, series, states, transitions):
    steps = sm.run(series, rule)
    assert [s.after.state for s in steps] == states
    assert [t for s in steps for t in s.transitions] == transitions


def test_severity_is_the_peak_of_the_episode():
    steps = sm.run([0.12, 0.3, 0.12], LOWER)
    assert [s.after.severity for s in steps] == ["warning", "critical", "critical"]


def test_pending_remembers_the_highest_severity_seen():
    steps = sm.run([0.12, 0.3, 0.12], LOWER_FOR3)
    assert steps[-1].after == sm.SeriesState(sm.FIRING, 3, "critical")


def test_resuming_from_a_stored_state_continues_the_count():
    """What a restart looks like: the state comes from the database, not from memory."""
    stored = sm.run([0.12, 0.13], LOWER_FOR3)[-1].after
    assert stored == sm.SeriesState(sm.PENDING, 2, "warning")
    resumed = sm.run([0.14], LOWER_FOR3, start=stored)
    assert resumed[0].after.state == sm.FIRING and resumed[0].transitions == ("fired",)


@pytest.mark.parametrize(
    ("value", "level"),
    [
        (0.1, "warning"),
        (0.25, "critical"),
        (0.0999, "band"),
        (0.085, "ok"),
        (None, "insufficient"),
        (float("nan"), "insufficient"),
    ],
)
def test_classification_at_the_edges(value, level):
    # margin = 0.1 x |0.25 - 0.1| = 0.015 → clear threshold 0.085; reaching a threshold crosses it
    assert LOWER.classify(value) == level


def test_rule_validation():
    with pytest.raises(ValueError):
        sm.Rule(direction=sm.LOWER_IS_BETTER)
    with pytest.raises(ValueError):
        sm.Rule(direction="sideways", warn=1)
    with pytest.raises(ValueError):
        sm.Rule(direction=sm.LOWER_IS_BETTER, warn=1, for_windows=0)

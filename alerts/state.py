"""The alert state machine as a pure function: no Django, no database, no clock.

One *series* is a rule (a metric with thresholds) applied to one deployment x segment x
attribute x feature. Each closed window gives one observation; ``step`` maps the series'
state before the window and the observation to the state after it and the transition that
happened. The caller (``alerts.evaluate``) loads the state from the database and stores the
result, so a restart never resets a ``for`` count.

States (DESIGN.md §6)::

    inactive ──breach──▶ pending ──breach x for──▶ firing ──healthy──▶ resolved
        ▲                   │                        │  ▲                 │
        └──not breaching────┘                        └──┘ band, breach,   └─▶ inactive / pending…
                                                          insufficient

* A window *breaches* when its value is on the bad side of the warn threshold (severity
  warning) or of the critical threshold (severity critical).
* ``for_windows`` consecutive breaching windows are needed to fire (1 = at once). A pending
  series that sees a non-breaching window goes back to inactive ("cancelled").
* Hysteresis: a firing series resolves only on a *healthy* window, i.e. a value on the good
  side of the warn threshold by a margin (the *clear threshold*). A value in the band between
  the clear threshold and the warn threshold keeps the alert firing, so a value oscillating
  around the threshold gives one fire and one resolve per episode, not one per crossing.
* ``insufficient`` (too few samples, or no value) neither fires nor resolves nor counts: the
  state and the ``for`` count stay as they were.
* Severity only rises within an episode: a warning alert that crosses critical is the same
  alert with its severity raised (transition ``severity_raised``); it is not lowered again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

INACTIVE = "inactive"
PENDING = "pending"
FIRING = "firing"
RESOLVED = "resolved"
STATES = (INACTIVE, PENDING, FIRING, RESOLVED)

WARNING = "warning"
CRITICAL = "critical"
SEVERITY_RANK = {None: 0, WARNING: 1, CRITICAL: 2}

# Levels an observation is classified into.
OK = "ok"  # healthy: beyond the clear threshold on the good side
BAND = "band"  # not breaching, but not healthy enough to resolve (the hysteresis band)
INSUFFICIENT = "insufficient"

HIGHER_IS_BETTER = "higher_is_better"
LOWER_IS_BETTER = "lower_is_better"

DEFAULT_HYSTERESIS = 0.1

# Transitions reported by ``step``.
T_PENDING = "pending"
T_FIRED = "fired"
T_SEVERITY_RAISED = "severity_raised"
T_RESOLVED = "resolved"
T_CANCELLED = "cancelled"


@dataclass(frozen=True)
class Rule:
    """The part of a threshold policy the state machine needs."""

    direction: str
    warn: float | None = None
    critical: float | None = None
    for_windows: int = 1
    hysteresis: float = DEFAULT_HYSTERESIS

    def __post_init__(self) -> None:
        if self.direction not in (HIGHER_IS_BETTER, LOWER_IS_BETTER):
            raise ValueError(f"unknown direction {self.direction!r}")
        if self.warn is None and self.critical is None:
            raise ValueError("a rule needs a warn or a critical threshold")
        if self.for_windows < 1:
            raise ValueError("for_windows must be at least 1")
        if self.hysteresis < 0:
            raise ValueError("hysteresis must not be negative")

    @property
    def lower_is_better(self) -> bool:
        return self.direction == LOWER_IS_BETTER

    @property
    def trigger(self) -> float:
        """The least severe threshold: crossing it starts a breach."""
        return self.warn if self.warn is not None else self.critical  # type: ignore[return-value]

    @property
    def margin(self) -> float:
        """Width of the hysteresis band: a share of the warn-critical gap, or of the threshold."""
        if self.warn is not None and self.critical is not None and self.warn != self.critical:
            base = abs(self.critical - self.warn)
        else:
            base = abs(self.trigger)
        return self.hysteresis * base

    @property
    def clear_threshold(self) -> float:
        """A firing alert resolves only when a value is at or better than this."""
        return self.trigger - self.margin if self.lower_is_better else self.trigger + self.margin

    def threshold_for(self, severity: str | None) -> float | None:
        if severity == CRITICAL and self.critical is not None:
            return self.critical
        return self.trigger

    def _worse(self, value: float, threshold: float) -> bool:
        """Is ``value`` on the bad side of ``threshold``? Reaching a threshold counts as crossing it."""
        return value >= threshold if self.lower_is_better else value <= threshold

    def classify(self, value: float | None) -> str:
        """ok | band | warning | critical | insufficient for one window's value."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return INSUFFICIENT
        if self.critical is not None and self._worse(value, self.critical):
            return CRITICAL
        if self.warn is not None and self._worse(value, self.warn):
            return WARNING
        healthy = value <= self.clear_threshold if self.lower_is_better else value >= self.clear_threshold
        return OK if healthy else BAND


@dataclass(frozen=True)
class SeriesState:
    """What the database remembers about a series between windows."""

    state: str = INACTIVE
    breaches: int = 0  # consecutive breaching windows counted while pending
    severity: str | None = None  # peak severity of the current episode

    def __post_init__(self) -> None:
        if self.state not in STATES:
            raise ValueError(f"unknown state {self.state!r}")

    @property
    def is_open(self) -> bool:
        return self.state in (PENDING, FIRING)


@dataclass(frozen=True)
class Step:
    before: SeriesState
    after: SeriesState
    level: str
    transitions: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.transitions)


def _higher(a: str | None, b: str | None) -> str | None:
    return a if SEVERITY_RANK[a] >= SEVERITY_RANK[b] else b


def step(state: SeriesState, level: str, rule: Rule) -> Step:
    """Advance one series by one window whose observation was classified as ``level``."""
    breaching = level in (WARNING, CRITICAL)
    if level == INSUFFICIENT:
        # Neither fires nor resolves nor counts. A just-resolved series rests at inactive.
        after = SeriesState() if state.state == RESOLVED else state
        return Step(state, after, level)

    if state.state in (INACTIVE, RESOLVED):
        if not breaching:
            return Step(state, SeriesState(), level)
        if rule.for_windows <= 1:
            return Step(state, SeriesState(FIRING, 1, level), level, (T_FIRED,))
        return Step(state, SeriesState(PENDING, 1, level), level, (T_PENDING,))

    if state.state == PENDING:
        if not breaching:
            return Step(state, SeriesState(), level, (T_CANCELLED,))
        count = state.breaches + 1
        severity = _higher(state.severity, level)
        if count >= rule.for_windows:
            return Step(state, SeriesState(FIRING, count, severity), level, (T_FIRED,))
        return Step(state, SeriesState(PENDING, count, severity), level)

    # FIRING
    if level == OK:
        return Step(state, replace(state, state=RESOLVED, breaches=0), level, (T_RESOLVED,))
    if breaching and SEVERITY_RANK[level] > SEVERITY_RANK[state.severity]:
        return Step(state, replace(state, severity=level), level, (T_SEVERITY_RAISED,))
    return Step(state, state, level)


def run(series: list[float | None], rule: Rule, start: SeriesState | None = None) -> list[Step]:
    """Feed a whole series through ``step``: the promtool-style test helper and the simulator's."""
    current = start or SeriesState()
    steps = []
    for value in series:
        result = step(current, rule.classify(value), rule)
        steps.append(result)
        current = result.after
    return steps

"""The scenario simulator's engine: what would one hour of a deployment have shown under a fault?

It never writes. For the chosen hour ``[end - 1h, end)`` it

1. reads the hour's raw events into NumPy columns (``metrics.engine.read`` — a copy),
2. applies the fault to the copy (:func:`apply_fault`, pure NumPy),
3. rolls the faulted copy up into 5-minute profiles and recomputes every 5-minute and hourly
   window of the hour with the engine's own code (``metrics.compute.profiles.build_profiles``
   and ``metrics.engine.compute.compute_window``, i.e. the calculators of ``metrics.compute``
   and the catalog's effective thresholds); the values it returns are unsaved model instances,
4. compares them with the values stored for the same windows (reality),
5. replays each metric series through the alert state machine (``alerts.state.run``, the pure
   function ``alerts.evaluate`` steps with) from the stored values of the preceding windows,
   once with the real and once with the simulated values of the hour, and
6. scores the hour twice with the trust score's pure functions (``metrics.trust.score.
   compute_score`` and ``metrics.trust.readiness.decide``): with the observations
   ``metrics.trust.service.evaluate`` loads (reality) and with those observations' values
   replaced by the simulated ones.

Daily metrics (quality, fairness), the alerts-derived metrics (MTTD, MTTR, open critical
alerts) and the freshness / ingestion-rejection metrics are not recomputed: an hour's fault
does not close a day, and these faults change no event time or ingestion counter. Silences and inhibition are not
simulated (they change notifications, not evaluation).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from alerts import state as alert_state
from alerts.thresholds import effective_policies as alert_policies
from catalog.models import Deployment
from metrics.engine import compute as engine_compute
from metrics.engine import context as engine_context
from metrics.engine import read, rollup, windows
from metrics.engine.rollup import empty_profile
from metrics.models import MetricValue
from metrics.trust import readiness as trust_readiness
from metrics.trust import score as trust_score
from metrics.trust import service as trust_service

PERIOD = timedelta(hours=1)
SIZES = ("5m", "1h")  # the windows an hour holds
HISTORY_WINDOWS = 12  # stored windows before the hour that the alert replay starts from
SEED = 20_240_601  # the faults' random choices are reproducible
# Metrics of the clock (data / label freshness) and of the ingestion counters read no event
# values: no fault here changes them, so they are not recomputed (their stored values stay in
# the readiness decision as they are).
UNAFFECTED_NEEDS = frozenset({"clock", "ingest"})

LATENCY_SPIKE, ERROR_BURST, NULL_RATE, DRIFT = "latency_spike", "error_burst", "null_rate", "drift"
FAULTS = {
    LATENCY_SPIKE: "Latency spike (latency times size)",
    ERROR_BURST: "Error burst (size = share of events that fail)",
    NULL_RATE: "Null-rate fault (size = share of values nulled; one feature, or all)",
    DRIFT: "Drift in one feature (numeric: + size times the reference std; categorical: size = share moved)",
}
DEFAULT_SIZE = {LATENCY_SPIKE: 3.0, ERROR_BURST: 0.2, NULL_RATE: 0.3, DRIFT: 1.0}
MISSING = "missing"  # no value stored for the window (not computed yet, or before the first event)
STATUS_RANK = {MISSING: -1, "insufficient_data": 0, "ok": 1, "warn": 2, "critical": 3}

SeriesKey = tuple[str, str, str, str]  # metric key, segment, attribute, feature


@dataclass(frozen=True)
class Fault:
    kind: str
    size: float
    feature: str = ""  # drift: the feature; null rate: one feature ("" = every feature)
    segment: str = ""  # only the events of this cohort value ("attr=value"); "" = all traffic

    def __post_init__(self) -> None:
        if self.kind not in FAULTS:
            raise ValueError(f"unknown fault {self.kind!r}")
        if not np.isfinite(self.size):
            raise ValueError("the fault size must be a finite number")
        if self.kind in (ERROR_BURST, NULL_RATE) and not 0 <= self.size <= 1:
            raise ValueError("an error burst or null-rate fault's size is a share between 0 and 1")
        if self.kind == LATENCY_SPIKE and self.size < 0:
            raise ValueError("a latency factor cannot be negative")
        if self.kind == DRIFT and not self.feature:
            raise ValueError("drift needs a feature")


# --- 2. the fault ------------------------------------------------------------------------------


def _rows(cols: read.Columns, segment: str) -> np.ndarray:
    """The rows the fault hits: every row, or those of one cohort value."""
    if not segment:
        return np.ones(cols.n, dtype=bool)
    attribute, value = segment.split("=", 1)
    values = cols.cohorts.get(attribute)
    return np.zeros(cols.n, dtype=bool) if values is None else values == value


def apply_fault(
    cols: read.Columns,
    fault: Fault,
    *,
    reference_std: Mapping[str, float] | None = None,
    reference_rarest: Mapping[str, str] | None = None,
    seed: int = SEED,
) -> read.Columns:
    """A faulted copy of ``cols`` (the input is not modified).

    * latency spike: ``latency_ms * size``;
    * error burst: a random ``size`` share of the rows get ``error = true``;
    * null rate: a random ``size`` share of the feature's values (every feature's, when no
      feature is named) become null;
    * drift: a numeric feature moves by ``size`` times its reference standard deviation; a
      categorical one has a random ``size`` share of its values replaced by the reference's
      rarest category.
    """
    rng = np.random.default_rng(seed)
    hit = _rows(cols, fault.segment)
    out = dataclasses.replace(
        cols,
        latency_ms=None if cols.latency_ms is None else cols.latency_ms.copy(),
        error=None if cols.error is None else cols.error.copy(),
        numeric={k: v.copy() for k, v in cols.numeric.items()},
        categorical={k: v.copy() for k, v in cols.categorical.items()},
        cohorts=dict(cols.cohorts),
    )

    def share(size: float) -> np.ndarray:
        return hit & (rng.random(cols.n) < size)

    if fault.kind == LATENCY_SPIKE and out.latency_ms is not None:
        out.latency_ms[hit] = out.latency_ms[hit] * fault.size
    elif fault.kind == ERROR_BURST and out.error is not None:
        out.error[share(fault.size)] = True
    elif fault.kind == NULL_RATE:
        names = [fault.feature] if fault.feature else [*out.numeric, *out.categorical]
        for name in names:
            chosen = share(fault.size)
            if name in out.numeric:
                out.numeric[name][chosen] = np.nan
            elif name in out.categorical:
                out.categorical[name][chosen] = None
    elif fault.kind == DRIFT:
        if fault.feature in out.numeric:
            std = (reference_std or {}).get(fault.feature) or 1.0
            out.numeric[fault.feature][hit] = out.numeric[fault.feature][hit] + fault.size * std
        elif fault.feature in out.categorical:
            values = out.categorical[fault.feature]
            target = (reference_rarest or {}).get(fault.feature)
            if target is not None:
                present = np.fromiter((v is not None for v in values), dtype=bool, count=values.size)
                chosen = share(min(1.0, max(0.0, fault.size))) & present
                values[chosen] = target
    return out


def _reference_shape(ctx: engine_context.DeploymentContext) -> tuple[dict[str, float], dict[str, str]]:
    ref = ctx.reference_data()
    if ref is None:
        return {}, {}
    std = {}
    for name, values in ref.columns.numeric.items():
        finite = values[np.isfinite(values)]
        std[name] = float(finite.std()) if finite.size > 1 else 0.0
    rarest = {}
    if ref.whole is not None:
        for name, summary in ref.whole.categorical.items():
            if summary.counts:
                rarest[name] = min(summary.counts.items(), key=lambda kv: (kv[1], kv[0]))[0]
    return std, rarest


# --- 3. recompute on the copy ------------------------------------------------------------------


def recompute(
    ctx: engine_context.DeploymentContext,
    cols: read.Columns,
    start: datetime,
    end: datetime,
    plans: Sequence[engine_compute.MetricPlan],
) -> list[MetricValue]:
    """Every window of ``plans``' sizes ending in ``(start, end]``, computed from ``cols`` (unsaved)."""
    by_bucket: dict[datetime, dict] = {b: {} for b in windows.buckets(start, end)}
    for profile in rollup.profiles_of(ctx, cols):
        by_bucket.setdefault(profile.window_start, {})[profile.segment] = profile
    for bucket, segments in by_bucket.items():
        if "" not in segments:
            segments[""] = empty_profile(ctx, bucket)
    plans_for: dict[str, list] = defaultdict(list)
    for p in plans:
        plans_for[p.size].append(p)
    values: list[MetricValue] = []
    for window in windows.ending_in(start, end, plans_for):
        profiles = {b: s for b, s in by_bucket.items() if window.start <= b < window.end}
        result = engine_compute.compute_window(ctx, window, plans_for[window.size], profiles, raw=cols)
        values += result.values
    return values


# --- 4.-6. compare -----------------------------------------------------------------------------


@dataclass
class Side:
    """One metric series over the hour's windows, real or simulated."""

    statuses: list[str] = field(default_factory=list)
    values: list[float | None] = field(default_factory=list)

    def add(self, value: float | None, status: str) -> None:
        self.values.append(value)
        self.statuses.append(status)

    @property
    def worst(self) -> str:
        return max(self.statuses, key=STATUS_RANK.__getitem__, default=MISSING)

    @property
    def worst_value(self) -> float | None:
        """The value of the last window with the worst status."""
        for value, status in zip(reversed(self.values), reversed(self.statuses), strict=True):
            if status == self.worst:
                return value
        return None

    @property
    def breaching(self) -> int:
        return sum(1 for s in self.statuses if s in ("warn", "critical"))


@dataclass
class MetricChange:
    key: str
    segment: str
    attribute: str
    feature: str
    size: str
    real: Side
    sim: Side

    @property
    def changed(self) -> bool:
        """A window whose status differs, among the windows with a stored value."""
        return any(
            real != sim and real != MISSING
            for real, sim in zip(self.real.statuses, self.sim.statuses, strict=True)
        )

    @property
    def target(self) -> str:
        return self.feature or self.attribute


@dataclass
class AlertChange:
    key: str
    segment: str
    attribute: str
    feature: str
    real: str  # e.g. "firing (critical)", "fired (warning)", "inactive"
    sim: str

    @property
    def changed(self) -> bool:
        return self.real != self.sim


@dataclass
class Readiness:
    readiness: str
    score: float | None
    coverage: float | None
    reasons: list[dict]


@dataclass
class Simulation:
    deployment: Deployment
    fault: Fault
    start: datetime
    end: datetime
    events: int = 0
    metrics: list[MetricChange] = field(default_factory=list)
    alerts: list[AlertChange] = field(default_factory=list)
    real: Readiness | None = None
    sim: Readiness | None = None
    note: str = ""

    @property
    def changed_metrics(self) -> list[MetricChange]:
        return [m for m in self.metrics if m.changed]

    @property
    def changed_alerts(self) -> list[AlertChange]:
        return [a for a in self.alerts if a.changed]


def _observed(value: float | None, status: str) -> float | None:
    """What the alert evaluation sees (``alerts.evaluate._observed``): nothing when insufficient."""
    if status == MetricValue.Status.INSUFFICIENT_DATA or value is None:
        return None
    return None if not np.isfinite(value) else value


def alert_outcome(steps: Sequence[alert_state.Step], first: int) -> str:
    """The series' state at the hour's end and what happened during the hour (``steps[first:]``)."""
    if not steps:
        return "inactive"
    final = steps[-1].after
    during = [t for s in steps[first:] for t in s.transitions]
    state = final.state + (f" ({final.severity})" if final.is_open and final.severity else "")
    happened = [
        t for t in during if t in (alert_state.T_FIRED, alert_state.T_RESOLVED, alert_state.T_SEVERITY_RAISED)
    ]
    return f"{state}; {', '.join(dict.fromkeys(happened))} in the hour" if happened else state


def _alerts(
    deployment: Deployment,
    changes: Iterable[MetricChange],
    versions: Mapping[str, object],
    history: Mapping[SeriesKey, list[float | None]],
) -> list[AlertChange]:
    policies = alert_policies(list(versions.values()), deployment)
    rules = {
        key: policies[version.pk].rule()
        for key, version in versions.items()
        if policies[version.pk].has_thresholds
    }
    out = []
    for change in changes:
        rule = rules.get(change.key)
        if rule is None:
            continue
        series = (change.key, change.segment, change.attribute, change.feature)
        before = history.get(series, [])
        real = alert_state.run([*before, *map(_observed, change.real.values, change.real.statuses)], rule)
        sim = alert_state.run([*before, *map(_observed, change.sim.values, change.sim.statuses)], rule)
        out.append(
            AlertChange(
                change.key,
                change.segment,
                change.attribute,
                change.feature,
                alert_outcome(real, len(before)),
                alert_outcome(sim, len(before)),
            )
        )
    return out


def _readiness(decision: trust_readiness.Decision) -> Readiness:
    return Readiness(decision.readiness, decision.score, decision.coverage, decision.reasons)


def _trust(
    deployment: Deployment,
    start: datetime,
    end: datetime,
    real_pk_to_key: Mapping[int, tuple[SeriesKey, datetime]],
    simulated: Mapping[tuple[SeriesKey, datetime], MetricValue],
) -> tuple[Readiness, Readiness]:
    evaluation = trust_service.evaluate(deployment, start, end)
    observations = []
    for obs in evaluation.observations:
        sim = simulated.get(real_pk_to_key.get(obs.metric_value_id or 0))
        if sim is not None:
            obs = dataclasses.replace(
                obs, value=sim.value, enough_data=sim.status != MetricValue.Status.INSUFFICIENT_DATA
            )
        observations.append(obs)
    result = trust_score.compute_score(observations, evaluation.profile, expected=evaluation.expected)
    decision = trust_readiness.decide(
        result,
        criticality=deployment.environment.system.criticality,
        rollback_target=trust_service.rollback_target(deployment),
    )
    return _readiness(evaluation.decision), _readiness(decision)


def simulate(deployment: Deployment, end: datetime, fault: Fault, *, sensitive_ok: bool) -> Simulation:
    """Simulate ``fault`` on the hour ending at ``end`` of ``deployment`` (nothing is written)."""
    end = windows.floor(end, PERIOD)
    start = end - PERIOD
    sim = Simulation(deployment, fault, start, end)
    ctx = engine_context.load(deployment.pk)
    cols = rollup.read_window(ctx, start, end)
    sim.events = cols.n
    if not cols.n:
        sim.note = "No raw events are stored for this hour (none arrived, or retention removed them)."
        return sim
    std, rarest = _reference_shape(ctx)
    faulted = apply_fault(cols, fault, reference_std=std, reference_rarest=rarest)
    plans = [
        p
        for p in engine_compute.plan(ctx)
        if p.size in SIZES
        and p.calculator is not None
        and not p.needs & UNAFFECTED_NEEDS
        and (sensitive_ok or not p.version.sensitive)
    ]
    versions = {p.key: p.version for p in plans}
    simulated = {
        ((key_of[v.metric_version_id], v.segment, v.attribute, v.feature), v.window_end): v
        for key_of in [{p.version.pk: p.key for p in plans}]
        for v in recompute(ctx, faulted, start, end, plans)
    }
    stored = (
        MetricValue.objects.filter(
            deployment=deployment,
            metric_version__definition__key__in=list(versions),
            metric_version__window__in=SIZES,
        )
        .order_by("window_end", "metric_version__is_current", "pk")
        .values_list(
            "pk",
            "metric_version__definition__key",
            "metric_version__window",
            "segment",
            "attribute",
            "feature",
            "window_end",
            "value",
            "status",
        )
    )
    real: dict[tuple[SeriesKey, datetime], tuple[int, float | None, str]] = {}
    before: dict[tuple[SeriesKey, datetime], float | None] = {}
    earliest = {size: start - HISTORY_WINDOWS * windows.SIZES[size] for size in SIZES}
    # ordered by window end, the current metric version last: it wins a window stored twice
    for pk, key, size, segment, attribute, feature, window_end, value, status in stored.filter(
        window_end__gt=min(earliest.values()), window_end__lte=end
    ):
        series = (key, segment, attribute, feature)
        if window_end > start:
            real[(series, window_end)] = (pk, value, status)
        elif window_end > earliest[size]:
            before[(series, window_end)] = _observed(value, status)
    history: dict[SeriesKey, list[float | None]] = defaultdict(list)
    for (series, _), observed in sorted(before.items(), key=lambda item: item[0][1]):
        history[series].append(observed)
    if not real:
        sim.note = "No values are stored for this hour yet: every status of reality shows as missing."
    series_windows: dict[SeriesKey, set[datetime]] = defaultdict(set)
    for series, window_end in [*real, *simulated]:
        series_windows[series].add(window_end)
    size_of = {p.key: p.size for p in plans}
    for series, ends in sorted(series_windows.items()):
        change = MetricChange(*series, size=size_of[series[0]], real=Side(), sim=Side())
        for window_end in sorted(ends):
            _, value, status = real.get((series, window_end), (None, None, MISSING))
            change.real.add(value, status)
            computed = simulated.get((series, window_end))
            change.sim.add(computed.value if computed else None, computed.status if computed else MISSING)
        sim.metrics.append(change)
    sim.alerts = _alerts(deployment, sim.metrics, versions, history)
    pk_to_key = {pk: (series_end[0], series_end[1]) for series_end, (pk, _, _) in real.items()}
    sim.real, sim.sim = _trust(deployment, start, end, pk_to_key, simulated)
    return sim

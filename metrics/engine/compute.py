"""One window of one deployment: merged profiles (+ raw values where a metric needs them) →
every applicable metric of the given catalog versions → ``MetricValue`` rows (upserted).

Which values a window gets (``instances``):

* a calculator of scope ``feature`` — one value per model feature of a type it applies to
  (drift and null rate), in every segment;
* scope ``attribute`` (fairness) — one value per *protected* cohort attribute, all traffic only;
* scope ``deployment`` — one value per segment, except the clock / ingestion / alerts metrics
  (freshness, rejection rate, MTTD, MTTR, open critical alerts), which describe the whole
  deployment and are computed for all traffic only;
* quality metrics only for the model task they are defined for (``Calculator.tasks``).

Segments are all traffic (``""``) and every cohort value present in the window
(``"attr=value"``). Drift compares with the model version's current reference — the segment's
own reference rows when it has at least ``min_samples`` of them, otherwise the whole reference
(noted in ``details.reference_note``). Without a reference, drift values are stored as
``insufficient_data`` with ``details.reason`` saying so. Status comes from the effective
threshold policy (``catalog.services.effective_policies``) through ``classify``; a value below
``min_samples`` is ``insufficient_data``, never ``ok``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from django.db.models import Max, Q, Sum
from django.utils import timezone

from catalog.models import MetricVersion
from catalog.services import EffectivePolicy, effective_policies
from metrics.compute import registry
from metrics.compute.profiles import WindowProfile, merge
from metrics.compute.registry import CalcContext, Calculator
from metrics.compute.results import MetricResult, classify
from metrics.engine import conf, extra, read, store
from metrics.engine.context import DeploymentContext, ReferenceData, cohort_segments
from metrics.engine.rollup import Profiles
from metrics.engine.windows import Window
from metrics.models import IngestionStat, MetricValue
from metrics.models import WindowProfile as StoredProfile

log = logging.getLogger(__name__)

__all__ = ["MetricPlan", "WindowResult", "compute_window", "plan", "upsert"]

DEPLOYMENT_ONLY_NEEDS = frozenset({"clock", "ingest"})
REFERENCE_NEEDS = frozenset({"reference", "reference_features"})


@dataclass(frozen=True)
class MetricPlan:
    """One catalog version as the engine runs it on one deployment."""

    version: MetricVersion
    key: str
    calculator: Calculator | None
    extra: extra.Fn | None
    policy: EffectivePolicy

    @property
    def size(self) -> str:
        return self.version.window

    @property
    def params(self) -> Mapping[str, Any]:
        return self.version.params or {}

    @property
    def needs(self) -> frozenset[str]:
        return self.calculator.needs if self.calculator is not None else frozenset()

    @property
    def segmented(self) -> bool:
        calc = self.calculator
        return calc is not None and calc.scope != "attribute" and not (calc.needs & DEPLOYMENT_ONLY_NEEDS)


def plan(ctx: DeploymentContext, versions: Iterable[MetricVersion] | None = None) -> list[MetricPlan]:
    """The metrics to compute on the deployment: the current catalog versions, or ``versions``."""
    if versions is None:
        versions = MetricVersion.objects.filter(is_current=True).select_related("definition")
    versions = list(versions)
    policies = effective_policies(ctx.deployment, versions)
    out = []
    for version in sorted(versions, key=lambda v: v.definition.key):
        name = version.calculator or version.definition.key
        calc = registry.CALCULATORS.get(name)
        out.append(
            MetricPlan(
                version=version,
                key=version.definition.key,
                calculator=calc,
                extra=extra.EXTRA.get(name) if calc is None else None,
                policy=policies[version.definition.key],
            )
        )
    return out


def instances(p: MetricPlan, ctx: DeploymentContext) -> list[tuple[str, str]]:
    """``(attribute, feature)`` pairs the metric applies to on this deployment."""
    calc = p.calculator
    if calc is None:
        return [("", "")]
    if calc.tasks and ctx.task not in calc.tasks:
        return []
    if calc.scope == "feature":
        return [
            ("", name)
            for name in (*ctx.numeric, *ctx.categorical)
            if not calc.feature_types or ctx.feature_type(name) in calc.feature_types
        ]
    if calc.scope == "attribute":
        return [(attribute, "") for attribute in ctx.protected]
    return [("", "")]


# --- results -------------------------------------------------------------------------------------


def jsonable(value: Any) -> Any:
    """``details`` as strict JSON: numpy scalars → Python, NaN / ±inf → None."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        value = float(value)
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, datetime):
        return value.isoformat()
    return value


@dataclass
class WindowResult:
    window: Window
    values: list[MetricValue] = field(default_factory=list)
    input_rows: dict[str, int] = field(default_factory=dict)
    catalog_versions: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def upsert(values: Sequence[MetricValue]) -> int:
    """Insert or replace on the unique key (``ON CONFLICT … DO UPDATE`` on both databases)."""
    return store.upsert_values(values)


# --- the window ----------------------------------------------------------------------------------


def merge_segments(profiles: Profiles) -> dict[str, WindowProfile]:
    by_segment: dict[str, list[WindowProfile]] = {}
    for bucket in sorted(profiles):
        for segment, profile in profiles[bucket].items():
            by_segment.setdefault(segment, []).append(profile)
    return {segment: merge(parts) for segment, parts in by_segment.items()}


def _slice(cols: read.Columns, start: datetime, end: datetime) -> read.Columns:
    lo = int(start.timestamp()) * 1_000_000_000
    hi = int(end.timestamp()) * 1_000_000_000
    mask = (cols.ts >= lo) & (cols.ts < hi)
    return cols if bool(mask.all()) else cols.take(mask)


@dataclass
class _Raw:
    """Raw columns the window's metrics need (or None when nothing raw is needed)."""

    cols: read.Columns | None
    latency: bool = False
    outcome: bool = False
    features: tuple[str, ...] = ()


def _raw_needs(ctx, plans, merged, ref_data) -> tuple[bool, bool, tuple[str, ...]]:
    whole = merged[""]
    needs = set().union(*(p.needs for p in plans)) if plans else set()
    limits = [int(p.params.get("exact_limit", 100_000)) for p in plans if "raw:latency_ms" in p.needs]
    latency = bool(limits) and 0 < whole.count < max(limits)
    outcome = bool({"raw:label", "raw:score"} & needs) and whole.outcomes.labelled > 0
    features: tuple[str, ...] = ()
    if "raw_features" in needs and ref_data is not None and whole.count:
        wanted = set()
        for p in plans:
            if "raw_features" in p.needs:
                wanted.update(f for _, f in instances(p, ctx) if ctx.feature_type(f) == "numeric")
        features = tuple(f for f in ctx.numeric if f in wanted)
    return latency, outcome, features


def _load_raw(ctx, window: Window, plans, merged, ref_data, raw: read.Columns | None) -> _Raw:
    latency, outcome, features = _raw_needs(ctx, plans, merged, ref_data)
    if not (latency or outcome or features):
        return _Raw(None)
    cohorts = ctx.cohorts if len(merged) > 1 else []
    if raw is not None:
        cols = _slice(raw, window.start, window.end)
    else:
        core = ["ts"]
        if latency:
            core.append("latency_ms")
        if outcome:
            core += ["label", "score"]
        cols = read.read_events(
            ctx.id,
            window.start,
            window.end,
            layouts=ctx.layouts,
            core=core,
            numeric=features,
            cohorts=cohorts,
        )
    return _Raw(cols, latency, outcome, features)


@dataclass
class _Clock:
    newest_event_at: datetime | None = None
    newest_label_at: datetime | None = None


def _clock(ctx: DeploymentContext, window: Window) -> _Clock:
    """Newest event / label as of the window's end, from the stored bucket profiles."""
    found = StoredProfile.objects.filter(
        deployment_id=ctx.id, segment="", bucket_start__lt=window.end
    ).aggregate(
        event=Max("newest_event_at", filter=Q(newest_event_at__lt=window.end)),
        label=Max("newest_label_at", filter=Q(newest_label_at__lte=window.end)),
    )
    newest_event, newest_label = found["event"], found["label"]
    return _Clock(newest_event, newest_label)


def _ingest(ctx: DeploymentContext, window: Window) -> tuple[int, int]:
    totals = IngestionStat.objects.filter(
        system_id=ctx.system_id, bucket__gte=window.start, bucket__lt=window.end
    ).aggregate(accepted=Sum("accepted"), rejected=Sum("rejected"))
    return int(totals["accepted"] or 0), int(totals["rejected"] or 0)


class _Contexts:
    """CalcContext per (segment, min_samples), built lazily and shared by the metrics."""

    def __init__(self, ctx, window, merged, raw: _Raw, ref_data: ReferenceData | None, clock, ingest):
        self.ctx, self.window, self.merged, self.raw, self.ref_data = ctx, window, merged, raw, ref_data
        self.clock, self.ingest = clock, ingest
        self._made: dict[tuple[str, int], CalcContext] = {}
        self._masks: dict[str, np.ndarray] = {}
        self.cohorts = cohort_segments(merged)

    def _mask(self, segment: str) -> np.ndarray | None:
        cols = self.raw.cols
        if cols is None or not segment:
            return None
        if segment not in self._masks:
            attribute, value = segment.split("=", 1)
            values = cols.cohorts.get(attribute)
            self._masks[segment] = np.zeros(cols.n, dtype=bool) if values is None else (values == value)
        return self._masks[segment]

    def _reference(self, segment: str, min_samples: int) -> tuple[WindowProfile | None, str, str | None]:
        data = self.ref_data
        if data is None or data.whole is None:
            return None, "", None
        if not segment:
            return data.whole, "", None
        own = data.profile(segment)
        count = own.count if own is not None else 0
        if own is not None and count >= min_samples:
            return own, segment, None
        return (
            data.whole,
            "",
            (f"segment {segment!r} has {count} reference rows (< {min_samples}): whole reference used"),
        )

    def get(self, segment: str, min_samples: int) -> CalcContext:
        key = (segment, min_samples)
        if key in self._made:
            return self._made[key]
        reference, ref_segment, note = self._reference(segment, min_samples)
        raw_cols = self.raw.cols
        mask = self._mask(segment)

        def col(values):
            return values if mask is None else values[mask]

        raw: dict[str, Any] = {}
        raw_features: dict[str, Any] = {}
        reference_features: dict[str, Any] = {}
        if raw_cols is not None:
            if self.raw.latency:
                raw["latency_ms"] = col(raw_cols.latency_ms)
            if self.raw.outcome:
                raw["label"] = col(raw_cols.label)
                raw["score"] = col(raw_cols.score)
            for name in self.raw.features:
                raw_features[name] = col(raw_cols.numeric[name])
                reference_features[name] = self.ref_data.sorted_values(ref_segment, name)
        made = CalcContext(
            window=self.merged.get(segment),
            reference=reference,
            reference_note=note,
            raw=raw,
            raw_features=raw_features,
            reference_features=reference_features,
            reference_sorted=True,
            cohorts=self.cohorts if not segment else {},
            window_start=self.window.start,
            window_end=self.window.end,
            now=self.window.end,
            newest_event_at=self.clock.newest_event_at,
            newest_label_at=self.clock.newest_label_at,
            ingest_accepted=self.ingest[0] if self.ingest else None,
            ingest_rejected=self.ingest[1] if self.ingest else None,
        )
        self._made[key] = made
        return made


def _missing(reason: str, **details) -> MetricResult:
    return MetricResult(None, 0, {"reason": reason, **details})


def compute_window(
    ctx: DeploymentContext,
    window: Window,
    plans: Sequence[MetricPlan],
    profiles: Profiles,
    *,
    raw: read.Columns | None = None,
    run_id: int | None = None,
) -> WindowResult:
    """Compute ``plans`` (all of the window's size) on one window; values are not yet stored."""
    result = WindowResult(window)
    merged = merge_segments(profiles)
    if "" not in merged:
        raise ValueError(f"window {window} has no all-traffic profile")
    needs = set().union(*(p.needs for p in plans)) if plans else set()
    ref_data = ctx.reference_data() if needs & REFERENCE_NEEDS else None
    raw_data = _load_raw(ctx, window, plans, merged, ref_data, raw)
    clock = _clock(ctx, window) if "clock" in needs else _Clock()
    ingest = _ingest(ctx, window) if "ingest" in needs else None
    contexts = _Contexts(ctx, window, merged, raw_data, ref_data, clock, ingest)
    now = timezone.now()
    no_reference = (
        f"no reference data for model version {ctx.deployment.model_version.version!r}"
        if ref_data is None or ref_data.whole is None
        else None
    )
    segments, capped = _segments(merged)
    for p in plans:
        result.catalog_versions[p.key] = p.version.number
        pairs = instances(p, ctx)
        for segment in segments if p.segmented else [""]:
            for attribute, feature in pairs:
                target = feature or attribute or None
                try:
                    metric = _compute_one(p, contexts, segment, target, no_reference, window, ctx)
                except Exception as exc:  # one broken value must not hide all the others
                    log.exception("metric %s failed on deployment %s %s", p.key, ctx.id, window)
                    result.errors.append(f"{p.key}[{segment or 'all'}/{target or '-'}]: {exc!r}"[:300])
                    metric = _missing("calculator error", error=repr(exc)[:500])
                policy = p.policy
                status = classify(
                    metric.value,
                    policy.warn,
                    policy.critical,
                    policy.direction,
                    metric.sample_size,
                    policy.min_samples,
                )
                result.values.append(
                    MetricValue(
                        metric_version_id=p.version.pk,
                        deployment_id=ctx.id,
                        segment=segment,
                        attribute=attribute,
                        feature=feature,
                        window_start=window.start,
                        window_end=window.end,
                        value=metric.value,
                        status=status,
                        sample_size=max(0, int(metric.sample_size)),
                        details=jsonable(dict(metric.details)),
                        run_id=run_id,
                        computed_at=now,
                    )
                )
    whole = merged[""]
    result.input_rows = {
        "events": int(whole.count),
        "labelled": int(whole.outcomes.labelled),
        "buckets": len(profiles),
        "segments": len(merged),
        "raw_rows": int(raw_data.cols.n) if raw_data.cols is not None else 0,
        "reference_rows": int(ref_data.rows) if ref_data is not None else 0,
        "values": len(result.values),
    }
    if capped:
        result.input_rows["segments_without_values"] = capped
    return result


def _segments(merged: Mapping[str, WindowProfile]) -> tuple[list[str], int]:
    """All traffic and, per cohort attribute, its most frequent values (at most
    ``COMPUTE_MAX_SEGMENTS_PER_ATTRIBUTE``): a high-cardinality attribute must not explode the
    number of values. Returns the segments and how many were left out."""
    limit = conf.max_segments_per_attribute()
    by_attribute: dict[str, list[tuple[int, str]]] = {}
    for segment, profile in merged.items():
        if segment:
            by_attribute.setdefault(segment.split("=", 1)[0], []).append((-profile.count, segment))
    keep = [""] if "" in merged else []
    left_out = 0
    for items in by_attribute.values():
        items.sort()
        keep += [segment for _, segment in items[:limit]]
        left_out += max(0, len(items) - limit)
    return sorted(keep), left_out


def _compute_one(
    p: MetricPlan, contexts: _Contexts, segment, target, no_reference, window, ctx
) -> MetricResult:
    if p.calculator is None:
        if p.extra is None:
            return _missing(f"no calculator named {p.version.calculator!r}")
        if not extra.available(p.version.calculator or p.key):
            return _missing("the alerts app is not available")
        return p.extra(ctx.id, window.end, p.params)
    if p.needs & REFERENCE_NEEDS and no_reference and p.key != "accuracy_delta_vs_baseline":
        return _missing(no_reference)
    calc_ctx = contexts.get(segment, int(p.version.min_samples))
    window_profile = calc_ctx.window
    if window_profile is None or (window_profile.count == 0 and p.needs & {"raw_features", "raw:label"}):
        return _missing("no events in the window")
    if "raw:label" in p.needs and not contexts.raw.outcome:
        return _missing("no labelled events in the window", labelled=int(window_profile.outcomes.labelled))
    return p.calculator(calc_ctx, target, p.params)

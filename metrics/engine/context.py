"""What the engine knows about one deployment while it computes: model, features, cohorts,
layouts, the current reference of its model version, the profile spec derived from it, and
the reference's own profiles and sorted raw values (cached per process).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from catalog.models import CohortAttribute, Deployment, Feature, Model
from metrics.compute.profiles import (
    BINARY,
    REGRESSION,
    ProfileSpec,
    WindowProfile,
    build_profiles,
    segment_key,
)
from metrics.engine import read
from metrics.models import ReferenceDataset

__all__ = ["DeploymentContext", "ReferenceData", "load"]


def _edges(values) -> np.ndarray:
    return np.asarray(values or [], dtype=np.float64)


def _positive_label(model: Model) -> float | None:
    if model.task == REGRESSION:
        return None
    value = model.positive_label
    if value is None:
        return 1.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    try:
        return float(value)
    except (TypeError, ValueError):
        return 1.0


def spec_digest(spec: ProfileSpec) -> str:
    text = json.dumps(spec.to_dict(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class ReferenceData:
    """A reference's profiles (whole and per segment) over the deployment's spec, and its
    sorted non-null numeric values (whole and per segment) for KS / Wasserstein."""

    reference_id: int
    rows: int
    whole: WindowProfile | None
    segments: dict[str, WindowProfile]
    columns: read.Columns
    _sorted: dict = field(default_factory=dict)

    def profile(self, segment: str) -> WindowProfile | None:
        return self.whole if not segment else self.segments.get(segment)

    def sorted_values(self, segment: str, feature: str) -> np.ndarray:
        key = (segment, feature)
        if key not in self._sorted:
            values = self.columns.numeric.get(feature)
            if values is None:
                values = np.zeros(0)
            if segment:
                attribute, value = segment.split("=", 1)
                cohort = self.columns.cohorts.get(attribute)
                mask = np.zeros(self.columns.n, dtype=bool) if cohort is None else (cohort == value)
                values = values[mask]
            values = values[np.isfinite(values)]
            self._sorted[key] = np.sort(values, kind="quicksort")
        return self._sorted[key]


_cache: OrderedDict = OrderedDict()
_cache_lock = threading.Lock()
_CACHE_SIZE = 8


@dataclass
class DeploymentContext:
    deployment: Deployment
    model: Model
    numeric: list[str]
    categorical: list[str]
    cohorts: list[str]
    protected: list[str]
    layouts: list[read.Layout]
    reference: ReferenceDataset | None

    @property
    def id(self) -> int:
        return self.deployment.pk

    @property
    def system_id(self) -> int:
        return self.deployment.environment.system_id

    @property
    def task(self) -> str:
        return self.model.task if self.model.task in (BINARY, REGRESSION) else BINARY

    @cached_property
    def spec(self) -> ProfileSpec:
        ref = self.reference
        numeric_edges = {
            name: _edges((ref.numeric_edges or {}).get(name) if ref is not None else None)
            for name in self.numeric
        }
        outputs = (ref.output_edges or {}) if ref is not None else {}
        return ProfileSpec(
            numeric_edges=numeric_edges,
            categorical=tuple(self.categorical),
            score_edges=_edges(outputs["score"]) if outputs.get("score") else None,
            prediction_edges=_edges(outputs["prediction"]) if outputs.get("prediction") else None,
            task=self.task,
            positive_label=_positive_label(self.model),
        )

    @cached_property
    def digest(self) -> str:
        return spec_digest(self.spec)

    def feature_type(self, name: str) -> str | None:
        if name in self.numeric:
            return "numeric"
        if name in self.categorical:
            return "categorical"
        return None

    def reference_data(self) -> ReferenceData | None:
        """Profiles and sorted raw values of the current reference (cached per process)."""
        ref = self.reference
        if ref is None or not ref.row_count:
            return None
        key = (ref.pk, ref.updated_at.isoformat() if ref.updated_at else "", self.digest, tuple(self.cohorts))
        with _cache_lock:
            if key in _cache:
                _cache.move_to_end(key)
                return _cache[key]
        columns = read.read_reference(
            ref, numeric=self.numeric, categorical=self.categorical, cohorts=self.cohorts
        )
        profiles = build_profiles(
            self.spec,
            timestamps=None,
            latency_ms=columns.latency_ms,
            error=columns.error,
            numeric=columns.numeric,
            categorical=columns.categorical,
            prediction=columns.prediction,
            score=columns.score,
            label=columns.label,
            cohorts=columns.cohorts,
        )
        whole = next((p for p in profiles if p.segment == ""), None)
        data = ReferenceData(ref.pk, columns.n, whole, {p.segment: p for p in profiles if p.segment}, columns)
        with _cache_lock:
            _cache[key] = data
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
        return data


def load(deployment_id: int) -> DeploymentContext:
    deployment = Deployment.objects.select_related("model_version__model", "environment").get(
        pk=deployment_id
    )
    model = deployment.model_version.model
    numeric, categorical = [], []
    for name, kind in (
        Feature.objects.filter(model=model).order_by("position", "id").values_list("name", "type")
    ):
        (numeric if kind == Feature.Type.NUMERIC else categorical).append(name)
    cohorts, protected = [], []
    for name, is_protected in (
        CohortAttribute.objects.filter(model=model).order_by("name").values_list("name", "protected")
    ):
        cohorts.append(name)
        if is_protected:
            protected.append(name)
    reference = ReferenceDataset.objects.filter(
        model_version_id=deployment.model_version_id, is_current=True
    ).first()
    return DeploymentContext(
        deployment=deployment,
        model=model,
        numeric=numeric,
        categorical=categorical,
        cohorts=cohorts,
        protected=protected,
        layouts=read.layouts_of(model.pk),
        reference=reference,
    )


def cohort_segments(profiles) -> dict[str, dict[str, WindowProfile]]:
    """``{attribute: {value: profile}}`` from profiles keyed by segment."""
    out: dict[str, dict[str, WindowProfile]] = {}
    for segment, profile in profiles.items():
        if not segment:
            continue
        attribute, value = segment.split("=", 1)
        out.setdefault(attribute, {})[value] = profile
    return out


__all__ += ["cohort_segments", "segment_key", "spec_digest"]

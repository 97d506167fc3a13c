"""Where the trust score's thresholds and weights come from (the Django side of the policy).

Two questions, each answered by one function here so the rest of ``metrics.trust`` never reads
the catalog directly:

- :func:`threshold_for` — the *effective* threshold policy of a metric on a deployment. The
  catalog owns the precedence (deployment > environment > system > catalog default). When
  ``catalog.services`` provides its resolver it is used; until it does, the current
  ``ThresholdOverride`` rows are applied here field by field in the same precedence (an empty
  field inherits from the next level), and without override models the current
  ``MetricVersion``'s thresholds are the policy.
- :func:`weight_profile_for` — the current version of the system's weight profile
  (``System.weight_profile`` names it). Without the catalog's ``WeightProfile`` rows, or for a
  name that has none, the built-in profiles below are used and the snapshot says so
  (``source: "builtin"``).
"""

from __future__ import annotations

import logging

from django.apps import apps

from metrics.trust.score import Threshold, WeightProfile

log = logging.getLogger(__name__)

__all__ = ["BUILTIN_PROFILES", "ThresholdResolver", "threshold_for", "weight_profile_for"]

# Used only when the catalog has no weight-profile rows: the default catalog's pillar weights.
BUILTIN_PROFILES: dict[str, dict] = {
    "balanced": {
        "pillar_weights": {"performance": 0.25, "fairness": 0.25, "reliability": 0.25, "data_quality": 0.25},
        "metric_weights": {},
    },
    "high-stakes": {
        "pillar_weights": {"performance": 0.3, "fairness": 0.4, "reliability": 0.1, "data_quality": 0.2},
        "metric_weights": {},
    },
    "low-latency": {
        "pillar_weights": {"performance": 0.45, "fairness": 0.1, "reliability": 0.3, "data_quality": 0.15},
        "metric_weights": {},
    },
}
_RESOLVER_NAMES = (
    "effective_threshold_policy",
    "effective_thresholds",
    "effective_policy",
    "resolve_thresholds",
)


def _catalog_resolver():
    try:
        from catalog import services  # optional: lands with the catalog issue
    except ImportError:
        return None
    for name in _RESOLVER_NAMES:
        resolver = getattr(services, name, None)
        if callable(resolver):
            return resolver
    return None


def _field(obj, *names, default=None):
    for name in names:
        value = obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
        if value is not None:
            return value
    return default


def _model(name: str):
    try:
        return apps.get_model("catalog", name)
    except LookupError:
        return None


class ThresholdResolver:
    """Resolves every metric of one deployment; loads the deployment's overrides once."""

    def __init__(self, deployment):
        self.deployment = deployment
        self.resolver = _catalog_resolver()
        self._overrides: dict[tuple[int, str], object] | None = None

    def _load_overrides(self) -> dict:
        if self._overrides is None:
            self._overrides = {}
            override_model = _model("ThresholdOverride")
            if override_model is not None and self.resolver is None:
                dep = self.deployment
                keys = [
                    f"deployment:{dep.pk}",
                    f"environment:{dep.environment_id}",
                    f"system:{dep.environment.system_id}",
                ]
                for row in override_model.objects.filter(is_current=True, scope_key__in=keys):
                    self._overrides[(row.definition_id, row.scope_key.split(":")[0])] = row
        return self._overrides

    def __call__(self, metric_version) -> Threshold:
        base = Threshold(
            direction=metric_version.direction,
            warn=metric_version.warn_threshold,
            critical=metric_version.critical_threshold,
            source="catalog",
        )
        if self.resolver is not None:
            resolved = self.resolver(metric_version, self.deployment)
            if resolved is None:
                return base
            return Threshold(
                direction=_field(resolved, "direction", default=base.direction),
                warn=_field(resolved, "warn", "warn_threshold"),
                critical=_field(resolved, "critical", "critical_threshold"),
                source=str(_field(resolved, "source", "level", "origin", default="catalog")),
            )
        overrides = self._load_overrides()
        warn, critical = base.warn, base.critical
        warn_src = critical_src = "catalog"
        for scope in ("system", "environment", "deployment"):  # least specific first
            row = overrides.get((metric_version.definition_id, scope))
            if row is None:
                continue
            if row.warn_threshold is not None:
                warn, warn_src = row.warn_threshold, scope
            if row.critical_threshold is not None:
                critical, critical_src = row.critical_threshold, scope
        source = warn_src if warn_src == critical_src else f"{warn_src}/{critical_src}"
        return Threshold(direction=base.direction, warn=warn, critical=critical, source=source)


def threshold_for(metric_version, deployment) -> Threshold:
    return ThresholdResolver(deployment)(metric_version)


def weight_profile_for(system) -> tuple[WeightProfile, str]:
    """``(profile, source)`` for ``system``: source is ``catalog`` or ``builtin``."""
    name = system.weight_profile or "balanced"
    version_model = _model("WeightProfileVersion")
    if version_model is not None:
        row = version_model.objects.filter(profile__name=name, is_current=True).first()
        if row is None and name != "balanced":
            log.warning("system %s names unknown weight profile %r; using balanced", system.slug, name)
            row = version_model.objects.filter(profile__name="balanced", is_current=True).first()
        if row is not None:
            profile = WeightProfile(
                slug=row.profile.name,
                version=row.number,
                pillar_weights=dict(row.pillar_weights),
                metric_weights=dict(row.metric_weights or {}),
            )
            return profile, "catalog"
    data = BUILTIN_PROFILES.get(name) or BUILTIN_PROFILES["balanced"]
    slug = name if name in BUILTIN_PROFILES else "balanced"
    return WeightProfile(slug=slug, version=None, **data), "builtin"


def policy_snapshot(thresholds: dict[str, Threshold], profile: WeightProfile, source: str) -> dict:
    return {
        "thresholds": {key: t.as_dict() for key, t in sorted(thresholds.items())},
        "profile": {**profile.as_dict(), "source": source},
    }


def thresholds_from_snapshot(snapshot: dict) -> dict[str, Threshold]:
    return {key: Threshold.from_dict(data) for key, data in (snapshot.get("thresholds") or {}).items()}


def profile_from_snapshot(snapshot: dict) -> WeightProfile | None:
    data = snapshot.get("profile")
    return WeightProfile.from_dict(data) if data else None

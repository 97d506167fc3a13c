"""Where the trust score's thresholds and weights come from (the Django side of the policy).

Two questions, answered by the catalog (``catalog.services``), the one owner of both:

- :func:`thresholds_for` — the *effective* threshold policy of each metric on a deployment
  (deployment > environment > system override > catalog default, per field), through
  ``catalog.services.effective_policies`` (two queries for all metrics of a deployment).
- :func:`weight_profile_for` — the current version of the system's weight profile
  (``System.weight_profile`` names it; ``balanced`` when the name has no profile), through
  ``catalog.services.current_weights``. Only when the catalog has no profiles at all are the
  built-in pillar weights below used, and the snapshot says so (``source: "builtin"``).
"""

from __future__ import annotations

from collections.abc import Iterable

from catalog import services as catalog_services
from metrics.trust.score import Threshold, WeightProfile

__all__ = [
    "BUILTIN_PROFILES",
    "policy_snapshot",
    "profile_from_snapshot",
    "thresholds_for",
    "thresholds_from_snapshot",
    "weight_profile_for",
]

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


def thresholds_for(deployment, versions: Iterable) -> dict[str, Threshold]:
    """``{metric key: Threshold}`` for ``versions`` (current metric versions) on ``deployment``."""
    return {
        key: Threshold(direction=p.direction, warn=p.warn, critical=p.critical, source=p.source)
        for key, p in catalog_services.effective_policies(deployment, list(versions)).items()
    }


def weight_profile_for(system) -> tuple[WeightProfile, str]:
    """``(profile, source)`` for ``system``: source is ``catalog`` or ``builtin``."""
    row = catalog_services.current_weights(system)
    if row is not None:
        profile = WeightProfile(
            slug=row.profile.name,
            version=row.number,
            pillar_weights=dict(row.pillar_weights),
            metric_weights=dict(row.metric_weights or {}),
        )
        return profile, "catalog"
    name = system.weight_profile if system.weight_profile in BUILTIN_PROFILES else "balanced"
    return WeightProfile(slug=name, version=None, **BUILTIN_PROFILES[name]), "builtin"


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

"""The threshold policy a rule uses for one deployment, behind ONE function.

``effective_policy(metric_version, deployment)`` is the only place alert evaluation reads
thresholds from. The catalog owns the precedence (deployment > environment > system > catalog
default); when ``catalog.services`` provides its effective-threshold function it is used, and
until then the thresholds of the current ``MetricVersion`` are the policy.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from alerts import state

# The catalog's resolver (``catalog.services.effective_threshold_policy``); the batch variant
# ``effective_policies(deployment, versions)`` is used when present (one query per deployment).
_CATALOG_RESOLVERS = ("effective_threshold_policy", "effective_policy")
_CATALOG_BATCH = "effective_policies"


@dataclass(frozen=True)
class Policy:
    """A rule as evaluated: thresholds, direction, persistence, and where they came from."""

    metric_key: str
    metric_version_id: int
    metric_version_number: int
    direction: str
    warn: float | None
    critical: float | None
    for_windows: int
    hysteresis: float
    source: str = "catalog"  # catalog | system | environment | deployment (from the catalog resolver)
    sources: dict | None = None  # per field: which level set it
    overrides: tuple = ()  # (level, override version number) used

    @property
    def has_thresholds(self) -> bool:
        return self.warn is not None or self.critical is not None

    def rule(self) -> state.Rule:
        return state.Rule(
            direction=self.direction,
            warn=self.warn,
            critical=self.critical,
            for_windows=max(1, self.for_windows),
            hysteresis=self.hysteresis,
        )

    def snapshot(self) -> dict:
        """What an evaluation row stores: enough to explain the decision later."""
        data = asdict(self)
        if self.has_thresholds:
            data["clear_threshold"] = self.rule().clear_threshold
        return data


def _hysteresis(metric_version) -> float:
    params = metric_version.params or {}
    try:
        value = float(params.get("alert_hysteresis", state.DEFAULT_HYSTERESIS))
    except (TypeError, ValueError):
        return state.DEFAULT_HYSTERESIS
    return value if value >= 0 else state.DEFAULT_HYSTERESIS


def _services():
    try:
        from catalog import services
    except ImportError:
        return None
    return services


def _catalog_resolver():
    services = _services()
    for name in _CATALOG_RESOLVERS:
        resolver = getattr(services, name, None)
        if callable(resolver):
            return resolver
    return None


def _field(obj, name, default=None):
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _catalog_default(metric_version) -> Policy:
    return Policy(
        metric_key=metric_version.definition.key,
        metric_version_id=metric_version.pk,
        metric_version_number=metric_version.number,
        direction=metric_version.direction,
        warn=metric_version.warn_threshold,
        critical=metric_version.critical_threshold,
        for_windows=metric_version.for_windows or 1,
        hysteresis=_hysteresis(metric_version),
    )


def _merge(policy: Policy, resolved) -> Policy:
    if resolved is None:
        return policy
    return Policy(
        metric_key=policy.metric_key,
        metric_version_id=policy.metric_version_id,
        metric_version_number=policy.metric_version_number,
        direction=_field(resolved, "direction", policy.direction) or policy.direction,
        warn=_field(resolved, "warn", _field(resolved, "warn_threshold", policy.warn)),
        critical=_field(resolved, "critical", _field(resolved, "critical_threshold", policy.critical)),
        for_windows=_field(resolved, "for_windows", policy.for_windows) or 1,
        hysteresis=policy.hysteresis,
        source=str(_field(resolved, "source", _field(resolved, "level", "catalog")) or "catalog"),
        sources=dict(_field(resolved, "sources", {}) or {}),
        overrides=tuple(tuple(o) for o in (_field(resolved, "overrides", ()) or ())),
    )


def effective_policy(metric_version, deployment) -> Policy:
    """The thresholds that apply to ``metric_version`` on ``deployment``."""
    policy = _catalog_default(metric_version)
    resolver = _catalog_resolver()
    return policy if resolver is None else _merge(policy, resolver(metric_version, deployment))


def effective_policies(metric_versions, deployment) -> dict[int, Policy]:
    """``effective_policy`` for several metric versions of one deployment, keyed by version id."""
    versions = list(metric_versions)
    batch = getattr(_services(), _CATALOG_BATCH, None)
    if callable(batch):
        resolved = batch(deployment, versions)  # keyed by metric key
        return {v.pk: _merge(_catalog_default(v), resolved.get(v.definition.key)) for v in versions}
    return {v.pk: effective_policy(v, deployment) for v in versions}

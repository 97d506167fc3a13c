"""Catalog services: the only code that writes metric versions, threshold overrides and weight
profile versions, and the one place that resolves the threshold policy of a deployment.

Rules every writer follows (UI, API and config files call these functions):

- A version is never edited: a change creates a new row holding the full content, and the
  previous current row is flipped to ``is_current=False`` in the same transaction, under a
  ``SELECT … FOR UPDATE`` lock on the parent (definition / profile) so concurrent changes
  serialise. A partial unique index guarantees one current row.
- Every change has a non-empty reason and writes an audit record (before, after, diff,
  reason, actor, source) in the same transaction.
- Changes from people (``source`` ``ui`` / ``api``) need the ``catalog_admin`` role.
- With ``settings.CATALOG_FOUR_EYES`` on, a threshold change that affects a production
  environment made from the UI or the API becomes a pending ``CatalogChangeRequest`` that a
  *different* catalog admin must approve. Config files apply directly (the file's review is
  the second pair of eyes).

Threshold resolution: ``effective_policy(metric_version_or_key, deployment)`` — deployment
override > environment override > system override > the metric version (catalog default), per
field, with where each field came from.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Max, Q, QuerySet, Value
from django.utils import timezone

from catalog import signals
from catalog.models import (
    CatalogChangeRequest,
    Deployment,
    Environment,
    MetricDefinition,
    MetricVersion,
    System,
    ThresholdOverride,
    WeightProfile,
    WeightProfileVersion,
)
from catalog.models.metric_catalog import THRESHOLD_FIELDS
from healthboard import access
from healthboard.audit import record_change
from healthboard.models import AuditRecord

Source = AuditRecord.Source
PEOPLE_SOURCES = (Source.UI, Source.API)
LEVELS = ("deployment", "environment", "system", "catalog")
PILLARS = tuple(MetricVersion.Pillar.values)
BACKTEST_DAYS = 30

__all__ = [
    "BACKTEST_DAYS",
    "BacktestCounts",
    "BacktestReport",
    "BacktestRow",
    "EffectivePolicy",
    "Outcome",
    "Thresholds",
    "announce_policy_change",
    "approve_change",
    "backtest_metric_change",
    "count_breach_windows",
    "create_metric_definition",
    "create_metric_version",
    "create_weight_profile_version",
    "current_weights",
    "effective_policies",
    "effective_policy",
    "effective_threshold_policy",
    "four_eyes_enabled",
    "reject_change",
    "rollback_metric",
    "set_threshold_override",
    "validate_weight_profile_name",
]


@dataclass(frozen=True)
class Outcome:
    """What a change did: created ``version`` (a MetricVersion, ThresholdOverride or
    WeightProfileVersion), or left a ``pending`` change request for a second admin."""

    version: object | None = None
    pending: CatalogChangeRequest | None = None

    @property
    def is_pending(self) -> bool:
        return self.pending is not None


# --- shared helpers ---------------------------------------------------------------------------


def four_eyes_enabled() -> bool:
    return bool(getattr(settings, "CATALOG_FOUR_EYES", False))


def _user(actor):
    return actor if isinstance(actor, get_user_model()) and actor.is_authenticated else None


def _check_actor(actor, source: str) -> None:
    if source in PEOPLE_SOURCES and not (_user(actor) and access.is_catalog_admin(actor)):
        raise PermissionDenied("Only catalog admins may change the catalog.")


def _clean_reason(reason: str | None) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "A change reason is required."})
    return reason


def _float_or_none(value, field_name: str, errors: dict) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        errors[field_name] = "Enter a number or leave it empty."
        return None
    if not math.isfinite(number):
        errors[field_name] = "Enter a finite number."
        return None
    return number


def _check_order(direction: str, warn: float | None, critical: float | None, errors: dict) -> None:
    if warn is None or critical is None:
        return
    if direction == MetricVersion.Direction.LOWER_IS_BETTER and warn > critical:
        errors["critical_threshold"] = "Lower is better: the critical threshold must be ≥ the warn threshold."
    if direction == MetricVersion.Direction.HIGHER_IS_BETTER and warn < critical:
        errors["critical_threshold"] = (
            "Higher is better: the critical threshold must be ≤ the warn threshold."
        )


# Content fields of a metric version that decide a trust score (health, pillar).
SCORING_FIELDS = ("warn_threshold", "critical_threshold", "direction", "pillar")


def announce_policy_change(*, deployments: QuerySet[Deployment] | None = None, actor=None) -> None:
    """Tell the trust score that thresholds or weights changed (``signals.policy_changed``) for
    ``deployments`` (None: all), so the latest decisions are re-made under the new policy and a
    change that alone unblocks a deployment is flagged (DESIGN.md §5.6). Call it inside the
    change's transaction; ``actor`` is the author, None when the audit trail must tell."""
    ids = None if deployments is None else list(deployments.values_list("pk", flat=True))
    if ids == []:
        return
    signals.policy_changed.send(sender=Deployment, deployment_ids=ids, actor=_user(actor))


def _profile_users(name: str) -> QuerySet[Deployment]:
    """Deployments scored with weight profile ``name`` (``balanced`` also stands in for a
    system whose profile has no current version, see ``current_weights``)."""
    if name != "balanced":
        return Deployment.objects.filter(environment__system__weight_profile=name)
    others = WeightProfile.objects.filter(versions__is_current=True).exclude(name=name).values("name")
    return Deployment.objects.exclude(environment__system__weight_profile__in=others)


def _version_number(qs: QuerySet) -> int:
    return (qs.aggregate(top=Max("number"))["top"] or 0) + 1


def _definition(key_or_definition, *, lock: bool = False) -> MetricDefinition:
    queryset = MetricDefinition.objects.select_for_update() if lock else MetricDefinition.objects
    if isinstance(key_or_definition, MetricDefinition):
        return queryset.get(pk=key_or_definition.pk) if lock else key_or_definition
    try:
        return queryset.get(key=key_or_definition)
    except MetricDefinition.DoesNotExist:
        raise ValidationError({"key": f"No metric named {key_or_definition!r}."}) from None


# --- metric versions --------------------------------------------------------------------------


def validate_metric_content(content: Mapping) -> dict:
    """The full content of a metric version, normalised; ValidationError with per-field messages."""
    errors: dict[str, str] = {}
    missing = [f for f in MetricVersion.CONTENT_FIELDS if f not in content]
    if missing:
        raise ValidationError({f: "This field is required." for f in missing})
    unknown = sorted(set(content) - set(MetricVersion.CONTENT_FIELDS))
    if unknown:
        raise ValidationError({f: "Not a field of a metric version." for f in unknown})
    data = dict(content)
    data["warn_threshold"] = _float_or_none(data["warn_threshold"], "warn_threshold", errors)
    data["critical_threshold"] = _float_or_none(data["critical_threshold"], "critical_threshold", errors)
    if not isinstance(data["params"], dict):
        errors["params"] = "Params must be a JSON object."
    for name in ("min_samples", "for_windows"):
        value = data[name]
        if isinstance(value, bool) or not isinstance(value, int):
            try:
                value = int(value)
            except (TypeError, ValueError):
                errors[name] = "Enter a whole number."
                continue
        data[name] = value
    if isinstance(data.get("for_windows"), int) and data["for_windows"] < 1:
        errors["for_windows"] = "At least 1 (1 = alert on the first breaching window)."
    if isinstance(data.get("min_samples"), int) and data["min_samples"] < 0:
        errors["min_samples"] = "Cannot be negative."
    if not isinstance(data["sensitive"], bool):
        errors["sensitive"] = "Must be true or false."
    for name in ("name", "description", "calculator", "data_source", "unit", "playbook", "owner"):
        if data[name] is None:
            data[name] = ""
        if not isinstance(data[name], str):
            errors[name] = "Must be text."
        else:
            data[name] = data[name].replace("\r\n", "\n")
    if errors:
        raise ValidationError(errors)
    probe = MetricVersion(definition_id=0, number=1, change_reason="-", **data)
    try:
        probe.clean_fields(exclude=["definition", "number", "change_reason", "created_by", "created_at"])
    except ValidationError as exc:
        errors.update({k: " ".join(str(m) for m in v) for k, v in exc.message_dict.items()})
    _check_order(data["direction"], data["warn_threshold"], data["critical_threshold"], errors)
    if errors:
        raise ValidationError(errors)
    return data


def _policy_changed(before: Mapping, after: Mapping) -> bool:
    return any(before.get(f) != after.get(f) for f in (*THRESHOLD_FIELDS, "direction"))


def _production_exists() -> bool:
    return Environment.objects.filter(kind=Environment.Kind.PRODUCTION).exists()


def _audit_version(number: int | None, content: Mapping | None) -> dict | None:
    return None if content is None else {"version": number, **content}


def _write_metric_version(
    definition: MetricDefinition,
    current: MetricVersion | None,
    content: Mapping,
    *,
    reason: str,
    actor,
    source: str,
    action: str,
    created_by=None,
) -> MetricVersion:
    number = _version_number(MetricVersion.objects.filter(definition=definition))
    MetricVersion.objects.filter(definition=definition, is_current=True).update(is_current=False)
    version = MetricVersion.objects.create(
        definition=definition,
        number=number,
        is_current=True,
        created_by=created_by if created_by is not None else _user(actor),
        change_reason=reason,
        **content,
    )
    record_change(
        action=action,
        obj=definition,
        object_repr=f"{definition.key} v{number}",
        before=_audit_version(current.number, current.content()) if current else None,
        after=_audit_version(number, version.content()),
        reason=reason,
        source=source,
        actor=actor,
    )
    if current is not None and any(getattr(current, f) != getattr(version, f) for f in SCORING_FIELDS):
        # An approved change (``created_by`` = the proposer): the audit trail names both.
        announce_policy_change(actor=None if created_by is not None else actor)
    return version


def create_metric_definition(
    key: str, content: Mapping, *, reason: str, actor=None, source: str = Source.CONFIG
) -> MetricVersion:
    """A new metric: its definition and version 1 (audited)."""
    _check_actor(actor, source)
    reason = _clean_reason(reason)
    data = validate_metric_content(content)
    probe = MetricDefinition(key=key)
    probe.full_clean()
    with transaction.atomic():
        definition = MetricDefinition.objects.create(key=key)
        return _write_metric_version(
            definition,
            None,
            data,
            reason=reason,
            actor=actor,
            source=source,
            action="catalog.metric.created",
        )


def create_metric_version(
    key_or_definition,
    changes: Mapping,
    *,
    reason: str,
    actor=None,
    source: str = Source.UI,
    base_number: int | None = None,
    rollback_of: int | None = None,
) -> Outcome:
    """A new current version = the current content with ``changes`` applied.

    ``base_number`` (the version the editor started from) makes a concurrent change an error
    instead of a silent overwrite. Raises ValidationError when nothing would change.
    """
    _check_actor(actor, source)
    reason = _clean_reason(reason)
    with transaction.atomic():
        definition = _definition(key_or_definition, lock=True)
        current = definition.versions.filter(is_current=True).first()
        if current is None:
            raise ValidationError(f"{definition.key} has no current version.")
        if base_number is not None and current.number != base_number:
            raise ValidationError(
                f"{definition.key} changed meanwhile: v{current.number} is current now, you edited "
                f"v{base_number}. Reload and apply your change again."
            )
        before = current.content()
        content = validate_metric_content({**before, **changes})
        if content == before:
            raise ValidationError("Nothing changed: the content equals the current version.")
        if (
            source in PEOPLE_SOURCES
            and four_eyes_enabled()
            and _policy_changed(before, content)
            and _production_exists()
        ):
            pending = _propose(
                kind=CatalogChangeRequest.Kind.METRIC_VERSION,
                definition=definition,
                target_key="catalog",
                base_number=current.number,
                proposed=content,
                reason=reason,
                actor=actor,
                source=source,
                rollback_of=rollback_of,
            )
            return Outcome(pending=pending)
        version = _write_metric_version(
            definition,
            current,
            content,
            reason=reason,
            actor=actor,
            source=source,
            action="catalog.metric.rolled_back" if rollback_of else "catalog.metric.version_created",
        )
        return Outcome(version=version)


def rollback_metric(
    key_or_definition, number: int, *, reason: str, actor=None, source: str = Source.UI
) -> Outcome:
    """Make version ``number`` current again — as a new version with its content (audited)."""
    definition = _definition(key_or_definition)
    try:
        target = definition.versions.get(number=number)
    except MetricVersion.DoesNotExist:
        raise ValidationError(f"{definition.key} has no version {number}.") from None
    reason = _clean_reason(reason)
    return create_metric_version(
        definition,
        target.content(),
        reason=f"Rollback to v{number}: {reason}",
        actor=actor,
        source=source,
        rollback_of=number,
    )


def version_diff(a: MetricVersion, b: MetricVersion) -> list[dict]:
    """Every content field side by side, flagged when the two versions differ."""
    return [
        {
            "field": name,
            "a": getattr(a, name),
            "b": getattr(b, name),
            "changed": getattr(a, name) != getattr(b, name),
        }
        for name in MetricVersion.CONTENT_FIELDS
    ]


# --- four eyes --------------------------------------------------------------------------------


def _propose(
    *,
    kind: str,
    definition: MetricDefinition,
    target_key: str,
    base_number: int | None,
    proposed: Mapping,
    reason: str,
    actor,
    source: str,
    rollback_of: int | None = None,
    scope: str = "",
    system: System | None = None,
    environment: Environment | None = None,
    deployment: Deployment | None = None,
) -> CatalogChangeRequest:
    existing = CatalogChangeRequest.objects.filter(
        definition=definition, target_key=target_key, status=CatalogChangeRequest.Status.PENDING
    ).first()
    if existing is not None:
        raise ValidationError(
            f"Change #{existing.pk} for {definition.key} ({existing.target_label}) is already waiting "
            "for approval; approve or reject it first."
        )
    change = CatalogChangeRequest.objects.create(
        kind=kind,
        definition=definition,
        target_key=target_key,
        scope=scope,
        system=system,
        environment=environment,
        deployment=deployment,
        base_number=base_number,
        proposed=dict(proposed),
        rollback_of=rollback_of,
        reason=reason,
        source=source,
        proposed_by=_user(actor),
    )
    record_change(
        action="catalog.change.proposed",
        obj=change,
        object_repr=f"{definition.key} @ {change.target_label} (pending)",
        before=None,
        after={"kind": kind, "target": change.target_label, "base_version": base_number, **change.proposed},
        reason=reason,
        source=source,
        actor=actor,
    )
    return change


def approve_change(change_id: int, *, actor, note: str = "", source: str = Source.UI):
    """A second catalog admin approves a pending change: it becomes a new version."""
    _check_actor(actor, source)
    with transaction.atomic():
        change = (
            CatalogChangeRequest.objects.select_for_update().select_related("definition").get(pk=change_id)
        )
        if not change.is_pending:
            raise ValidationError(f"Change #{change.pk} is already {change.status}.")
        if change.proposed_by_id == getattr(actor, "pk", None):
            raise PermissionDenied("You proposed this change; a different catalog admin must approve it.")
        definition = _definition(change.definition, lock=True)
        proposer = get_user_model().objects.filter(pk=change.proposed_by_id).first()
        reason = f"{change.reason} (proposed by {getattr(proposer, 'username', '?')}, approved by {actor.username})"
        if change.kind == CatalogChangeRequest.Kind.METRIC_VERSION:
            current = definition.versions.filter(is_current=True).first()
            if current is None or current.number != change.base_number:
                raise ValidationError(
                    f"{definition.key} changed since this was proposed (v{change.base_number} → "
                    f"v{getattr(current, 'number', '?')}); reject it and propose again."
                )
            version = _write_metric_version(
                definition,
                current,
                change.proposed,
                reason=reason,
                actor=actor,
                source=source,
                action="catalog.metric.rolled_back"
                if change.rollback_of
                else "catalog.metric.version_created",
                created_by=proposer,
            )
        else:
            target = {
                "system": change.system,
                "environment": change.environment,
                "deployment": change.deployment,
            }[change.scope]
            current = _current_override(definition, change.scope, target)
            if getattr(current, "number", None) != change.base_number:
                raise ValidationError(
                    "The override changed since this was proposed; reject it and propose again."
                )
            version = _write_override(
                definition,
                change.scope,
                target,
                current,
                change.proposed,
                reason=reason,
                actor=actor,
                source=source,
                created_by=proposer,
            )
        before = {"status": change.status}
        change.status = CatalogChangeRequest.Status.APPROVED
        change.decided_by = actor
        change.decided_at = timezone.now()
        change.decision_note = (note or "").strip()
        change.result_number = version.number
        change.save()
        record_change(
            action="catalog.change.approved",
            obj=change,
            object_repr=f"{definition.key} @ {change.target_label} → v{version.number}",
            before=before,
            after={"status": change.status, "version": version.number},
            reason=change.decision_note or change.reason,
            source=source,
            actor=actor,
        )
        return version


def reject_change(change_id: int, *, actor, note: str, source: str = Source.UI) -> CatalogChangeRequest:
    """Reject (or, for the proposer, withdraw) a pending change; audited, a note is required."""
    _check_actor(actor, source)
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": "Say why the change is rejected."})
    with transaction.atomic():
        change = (
            CatalogChangeRequest.objects.select_for_update().select_related("definition").get(pk=change_id)
        )
        if not change.is_pending:
            raise ValidationError(f"Change #{change.pk} is already {change.status}.")
        change.status = CatalogChangeRequest.Status.REJECTED
        change.decided_by = actor
        change.decided_at = timezone.now()
        change.decision_note = note
        change.save()
        record_change(
            action="catalog.change.rejected",
            obj=change,
            object_repr=f"{change.definition.key} @ {change.target_label} (rejected)",
            before={"status": CatalogChangeRequest.Status.PENDING},
            after={"status": change.status},
            reason=note,
            source=source,
            actor=actor,
        )
        return change


# --- threshold overrides ----------------------------------------------------------------------


def _scope_target(scope: str, target) -> tuple[System, Environment | None, Deployment | None]:
    if scope == ThresholdOverride.Scope.SYSTEM and isinstance(target, System):
        return target, None, None
    if scope == ThresholdOverride.Scope.ENVIRONMENT and isinstance(target, Environment):
        return target.system, target, None
    if scope == ThresholdOverride.Scope.DEPLOYMENT and isinstance(target, Deployment):
        return target.environment.system, target.environment, target
    raise ValidationError({"scope": f"A {scope} override needs a {scope} target."})


def _current_override(definition: MetricDefinition, scope: str, target) -> ThresholdOverride | None:
    return ThresholdOverride.objects.filter(
        definition=definition, scope_key=ThresholdOverride.key_for(scope, target.pk), is_current=True
    ).first()


def _inherited(definition: MetricDefinition, scope: str, target) -> dict:
    """The values a scope's override falls back to (levels below it), field by field."""
    version = definition.versions.get(is_current=True)
    values = version.thresholds()
    system, environment, _ = _scope_target(scope, target)
    below = {"system": [], "environment": ["system"], "deployment": ["environment", "system"]}[scope]
    keys = {"system": f"system:{system.pk}", "environment": f"environment:{getattr(environment, 'pk', 0)}"}
    found = {
        o.scope: o
        for o in ThresholdOverride.objects.filter(
            definition=definition, is_current=True, scope_key__in=[keys[level] for level in below]
        )
    }
    for level in reversed(below):  # system first, then environment on top
        override = found.get(level)
        if override is not None:
            for name in THRESHOLD_FIELDS:
                if getattr(override, name) is not None:
                    values[name] = getattr(override, name)
    values["direction"] = version.direction
    return values


def _override_affects_production(scope: str, target) -> bool:
    production = Environment.Kind.PRODUCTION
    if scope == ThresholdOverride.Scope.SYSTEM:
        return target.environments.filter(kind=production).exists()
    if scope == ThresholdOverride.Scope.ENVIRONMENT:
        return target.kind == production
    return target.environment.kind == production


def _write_override(
    definition, scope, target, current, content, *, reason, actor, source, created_by=None
) -> ThresholdOverride:
    system, environment, deployment = _scope_target(scope, target)
    scope_key = ThresholdOverride.key_for(scope, target.pk)
    number = _version_number(ThresholdOverride.objects.filter(definition=definition, scope_key=scope_key))
    ThresholdOverride.objects.filter(definition=definition, scope_key=scope_key, is_current=True).update(
        is_current=False
    )
    override = ThresholdOverride.objects.create(
        definition=definition,
        scope=scope,
        system=system,
        environment=environment,
        deployment=deployment,
        number=number,
        is_current=True,
        created_by=created_by if created_by is not None else _user(actor),
        change_reason=reason,
        **content,
    )
    record_change(
        action="catalog.override.cleared" if override.is_cleared else "catalog.override.version_created",
        obj=override,
        object_repr=f"{definition.key} @ {override.target_label} v{number}",
        before=_audit_version(current.number, {"scope": scope_key, **current.content()}) if current else None,
        after=_audit_version(number, {"scope": scope_key, **override.content()}),
        reason=reason,
        source=source,
        actor=actor,
    )
    affected = {
        ThresholdOverride.Scope.SYSTEM: Q(environment__system=system),
        ThresholdOverride.Scope.ENVIRONMENT: Q(environment=environment),
        ThresholdOverride.Scope.DEPLOYMENT: Q(pk=getattr(deployment, "pk", None)),
    }[scope]
    announce_policy_change(
        deployments=Deployment.objects.filter(affected), actor=None if created_by is not None else actor
    )
    return override


def validate_override_content(definition, scope, target, content: Mapping) -> dict:
    errors: dict[str, str] = {}
    data = {
        "warn_threshold": _float_or_none(content.get("warn_threshold"), "warn_threshold", errors),
        "critical_threshold": _float_or_none(content.get("critical_threshold"), "critical_threshold", errors),
        "for_windows": None,
    }
    raw_for = content.get("for_windows")
    if raw_for not in (None, ""):
        try:
            data["for_windows"] = int(raw_for)
            if data["for_windows"] < 1:
                errors["for_windows"] = "At least 1, or empty to inherit."
        except (TypeError, ValueError):
            errors["for_windows"] = "Enter a whole number or leave it empty."
    if not errors:
        inherited = _inherited(definition, scope, target)
        merged = {k: data[k] if data[k] is not None else inherited[k] for k in THRESHOLD_FIELDS}
        _check_order(inherited["direction"], merged["warn_threshold"], merged["critical_threshold"], errors)
    if errors:
        raise ValidationError(errors)
    return data


def set_threshold_override(
    key_or_definition,
    *,
    scope: str,
    target,
    warn_threshold=None,
    critical_threshold=None,
    for_windows=None,
    reason: str,
    actor=None,
    source: str = Source.UI,
    base_number: int | None = None,
) -> Outcome:
    """A new version of the (metric, scope) override. Empty fields inherit from the next level;
    all empty clears the override (itself a version)."""
    _check_actor(actor, source)
    reason = _clean_reason(reason)
    _scope_target(scope, target)
    with transaction.atomic():
        definition = _definition(key_or_definition, lock=True)
        content = validate_override_content(
            definition,
            scope,
            target,
            {
                "warn_threshold": warn_threshold,
                "critical_threshold": critical_threshold,
                "for_windows": for_windows,
            },
        )
        current = _current_override(definition, scope, target)
        if base_number is not None and getattr(current, "number", None) != base_number:
            raise ValidationError("The override changed meanwhile; reload and apply your change again.")
        before = current.content() if current else dict.fromkeys(THRESHOLD_FIELDS)
        if content == before:
            raise ValidationError("Nothing changed: the override already has these values.")
        if source in PEOPLE_SOURCES and four_eyes_enabled() and _override_affects_production(scope, target):
            system, environment, deployment = _scope_target(scope, target)
            pending = _propose(
                kind=CatalogChangeRequest.Kind.THRESHOLD_OVERRIDE,
                definition=definition,
                target_key=ThresholdOverride.key_for(scope, target.pk),
                base_number=getattr(current, "number", None),
                proposed=content,
                reason=reason,
                actor=actor,
                source=source,
                scope=scope,
                system=system,
                environment=environment,
                deployment=deployment,
            )
            return Outcome(pending=pending)
        override = _write_override(
            definition, scope, target, current, content, reason=reason, actor=actor, source=source
        )
        return Outcome(version=override)


# --- effective policy -------------------------------------------------------------------------


@dataclass(frozen=True)
class EffectivePolicy:
    """The thresholds that apply to one metric version on one deployment, and their origin.

    ``sources`` names the level each field came from (deployment, environment, system or
    catalog); ``source`` is the most specific level that set anything.
    """

    metric_key: str
    metric_version_id: int
    metric_version_number: int
    direction: str
    warn: float | None
    critical: float | None
    for_windows: int
    min_samples: int
    sources: Mapping[str, str] = field(default_factory=dict)
    overrides: tuple[tuple[str, int], ...] = ()

    @property
    def source(self) -> str:
        for level in LEVELS:
            if level in self.sources.values():
                return level
        return "catalog"

    @property
    def has_thresholds(self) -> bool:
        return self.warn is not None or self.critical is not None

    def thresholds(self) -> Thresholds:
        return Thresholds(self.direction, self.warn, self.critical, self.min_samples)


def _resolve(
    version: MetricVersion | Mapping, overrides: Mapping[str, ThresholdOverride | Mapping | None], *, meta
) -> EffectivePolicy:
    get = version.get if isinstance(version, Mapping) else lambda n: getattr(version, n)
    values = {name: get(name) for name in THRESHOLD_FIELDS}
    sources = dict.fromkeys(THRESHOLD_FIELDS, "catalog")
    used = []
    for level in ("system", "environment", "deployment"):  # least specific first; later wins
        override = overrides.get(level)
        if override is None:
            continue
        oget = override.get if isinstance(override, Mapping) else lambda n, o=override: getattr(o, n)
        set_any = False
        for name in THRESHOLD_FIELDS:
            if oget(name) is not None:
                values[name] = oget(name)
                sources[name] = level
                set_any = True
        if set_any and not isinstance(override, Mapping):
            used.append((level, override.number))
    return EffectivePolicy(
        metric_key=meta["key"],
        metric_version_id=meta["id"],
        metric_version_number=meta["number"],
        direction=get("direction"),
        warn=values["warn_threshold"],
        critical=values["critical_threshold"],
        for_windows=values["for_windows"] or 1,
        min_samples=get("min_samples"),
        sources={
            "warn": sources["warn_threshold"],
            "critical": sources["critical_threshold"],
            "for_windows": sources["for_windows"],
        },
        overrides=tuple(used),
    )


def _scope_keys(deployment: Deployment) -> dict[str, str]:
    return {
        "deployment": f"deployment:{deployment.pk}",
        "environment": f"environment:{deployment.environment_id}",
        "system": f"system:{deployment.environment.system_id}",
    }


def _meta(version: MetricVersion) -> dict:
    return {"key": version.definition.key, "id": version.pk, "number": version.number}


def effective_policy(metric_version_or_key, deployment) -> EffectivePolicy:
    """THE threshold policy of a metric on a deployment: deployment > environment > system >
    catalog default (the given metric version, or the key's current version), per field."""
    if isinstance(metric_version_or_key, MetricVersion):
        version = metric_version_or_key
    else:
        version = MetricVersion.objects.select_related("definition").get(
            definition__key=str(metric_version_or_key), is_current=True
        )
    if not isinstance(deployment, Deployment):
        deployment = Deployment.objects.select_related("environment").get(pk=deployment)
    keys = _scope_keys(deployment)
    by_key = {
        o.scope_key: o
        for o in ThresholdOverride.objects.filter(
            definition_id=version.definition_id, is_current=True, scope_key__in=keys.values()
        )
    }
    overrides = {level: by_key.get(key) for level, key in keys.items()}
    return _resolve(version, overrides, meta=_meta(version))


# The name alerts.thresholds looks for.
effective_threshold_policy = effective_policy


def effective_policies(
    deployment: Deployment, versions: Iterable[MetricVersion] | None = None
) -> dict[str, EffectivePolicy]:
    """The effective policy of every current metric (or of ``versions``) on one deployment, in
    two queries."""
    if versions is None:
        versions = MetricVersion.objects.filter(is_current=True).select_related("definition")
    versions = list(versions)
    keys = _scope_keys(deployment)
    found: dict[tuple[int, str], ThresholdOverride] = {
        (o.definition_id, o.scope_key): o
        for o in ThresholdOverride.objects.filter(
            definition_id__in=[v.definition_id for v in versions],
            is_current=True,
            scope_key__in=keys.values(),
        )
    }
    result = {}
    for version in versions:
        overrides = {level: found.get((version.definition_id, key)) for level, key in keys.items()}
        result[version.definition.key] = _resolve(version, overrides, meta=_meta(version))
    return result


# --- backtest ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Thresholds:
    """A threshold policy as the status rule applies it (metrics.compute.results.classify):
    inclusive thresholds, direction-aware, values below ``min_samples`` are insufficient."""

    direction: str
    warn: float | None
    critical: float | None
    min_samples: int = 0

    def _breach(self, threshold: float | None) -> Q | None:
        if threshold is None:
            return None
        if self.direction == MetricVersion.Direction.LOWER_IS_BETTER:
            return Q(value__gte=threshold)
        return Q(value__lte=threshold)

    def critical_q(self) -> Q | None:
        breach = self._breach(self.critical)
        return None if breach is None else breach & Q(sample_size__gte=self.min_samples)

    def warn_or_worse_q(self) -> Q | None:
        parts = [q for q in (self._breach(self.warn), self._breach(self.critical)) if q is not None]
        if not parts:
            return None
        breach = parts[0] if len(parts) == 1 else parts[0] | parts[1]
        return breach & Q(sample_size__gte=self.min_samples)


@dataclass(frozen=True)
class BacktestCounts:
    windows: int
    old_warn: int
    old_critical: int
    new_warn: int
    new_critical: int

    @property
    def changed(self) -> bool:
        return (self.old_warn, self.old_critical) != (self.new_warn, self.new_critical)


def _per_group(
    groups: Mapping[Thresholds, list[int]], default: Thresholds, special: list[int], pick: str
) -> Q | None:
    """OR over threshold groups of (deployment in group AND breach under that group's policy)."""
    parts = []
    default_q = getattr(default, pick)()
    if default_q is not None:
        parts.append(default_q & ~Q(deployment_id__in=special) if special else default_q)
    for thresholds, ids in groups.items():
        q = getattr(thresholds, pick)()
        if q is not None:
            parts.append(q & Q(deployment_id__in=ids))
    if not parts:
        return None
    combined = parts[0]
    for part in parts[1:]:
        combined |= part
    return combined


def count_breach_windows(
    values: QuerySet,
    *,
    old: Thresholds,
    new: Thresholds,
    per_deployment: Mapping[int, tuple[Thresholds, Thresholds]] | None = None,
) -> dict[int, BacktestCounts]:
    """Per deployment: how many windows of ``values`` (MetricValue rows) would have been warn /
    critical under the ``old`` and ``new`` thresholds, in ONE aggregate query.

    A window counts once however many segments / features it has; its status is the worst
    of them (critical beats warn). Rows without a value, or marked ``insufficient_data``, or
    below a policy's ``min_samples`` never count. ``per_deployment`` gives deployments whose
    old / new policy differs from the defaults (threshold overrides).
    """
    per_deployment = per_deployment or {}
    special = list(per_deployment)
    annotations = {"windows": Count("window_start", distinct=True)}
    for side, default in (("old", old), ("new", new)):
        index = 0 if side == "old" else 1
        groups: dict[Thresholds, list[int]] = {}
        for deployment_id, pair in per_deployment.items():
            groups.setdefault(pair[index], []).append(deployment_id)
        for label, pick in (("warn_or_worse", "warn_or_worse_q"), ("critical", "critical_q")):
            condition = _per_group(groups, default, special, pick)
            annotations[f"{side}_{label}"] = (
                Value(0) if condition is None else Count("window_start", distinct=True, filter=condition)
            )
    rows = (
        values.exclude(value__isnull=True)
        .exclude(status="insufficient_data")
        .order_by()
        .values("deployment_id")
        .annotate(**annotations)
    )
    return {
        row["deployment_id"]: BacktestCounts(
            windows=row["windows"],
            old_warn=row["old_warn_or_worse"] - row["old_critical"],
            old_critical=row["old_critical"],
            new_warn=row["new_warn_or_worse"] - row["new_critical"],
            new_critical=row["new_critical"],
        )
        for row in rows
    }


@dataclass(frozen=True)
class BacktestRow:
    deployment: Deployment
    counts: BacktestCounts
    old: Thresholds
    new: Thresholds


@dataclass(frozen=True)
class BacktestReport:
    rows: list[BacktestRow]
    since: datetime
    until: datetime

    @property
    def has_data(self) -> bool:
        return bool(self.rows)

    @property
    def days(self) -> int:
        return round((self.until - self.since).total_seconds() / 86400)


def backtest_metric_change(
    key_or_definition,
    *,
    user,
    proposed: Mapping | None = None,
    override: tuple[str, object, Mapping] | None = None,
    days: int = BACKTEST_DAYS,
    now: datetime | None = None,
) -> BacktestReport:
    """What a change would have done over the last ``days``: for every deployment (that
    ``user`` may see) with stored values of the metric, windows warn / critical under the
    current effective policy and under the policy with the change applied.

    ``proposed``: the new content of the catalog default (a metric version edit).
    ``override``: ``(scope, target, {warn_threshold, critical_threshold, for_windows})``.
    """
    from metrics.models import MetricValue  # the catalog must not depend on metrics at import

    definition = _definition(key_or_definition)
    current = definition.versions.get(is_current=True)
    until = now or timezone.now()
    since = until - timedelta(days=days)
    visible = access.scope(Deployment.objects.all(), user)
    if override is not None:
        scope, target, _ = override
        visible = visible.filter(
            **{"system": {"environment__system": target}, "environment": {"environment": target}}.get(
                scope, {"pk": target.pk}
            )
        )
    values = MetricValue.objects.filter(
        metric_version__definition=definition,
        window_start__gte=since,
        window_start__lt=until,
        deployment__in=visible,
    )
    deployment_ids = list(values.order_by().values_list("deployment_id", flat=True).distinct())
    deployments = {
        d.pk: d
        for d in Deployment.objects.filter(pk__in=deployment_ids).select_related(
            "environment__system", "model_version__model"
        )
    }
    catalog_new = {**current.content(), **(proposed or {})}
    found: dict[str, ThresholdOverride] = {
        o.scope_key: o
        for o in ThresholdOverride.objects.filter(definition=definition, is_current=True).filter(
            Q(scope_key__in=[f"deployment:{i}" for i in deployments])
            | Q(scope_key__in={f"environment:{d.environment_id}" for d in deployments.values()})
            | Q(scope_key__in={f"system:{d.environment.system_id}" for d in deployments.values()})
        )
    }
    override_key = ThresholdOverride.key_for(override[0], override[1].pk) if override else None
    meta = _meta(current)
    pairs: dict[int, tuple[Thresholds, Thresholds]] = {}
    for pk, deployment in deployments.items():
        keys = _scope_keys(deployment)
        levels = {level: found.get(key) for level, key in keys.items()}
        old = _resolve(current, levels, meta=meta).thresholds()
        new_levels = dict(levels)
        if override is not None:
            for level, key in keys.items():
                if key == override_key:
                    new_levels[level] = dict(override[2])
        new = _resolve(catalog_new, new_levels, meta=meta).thresholds()
        pairs[pk] = (old, new)
    default = Thresholds(current.direction, None, None)
    counts = count_breach_windows(values, old=default, new=default, per_deployment=pairs)
    rows = [
        BacktestRow(deployments[pk], counts[pk], *pairs[pk])
        for pk in sorted(counts, key=lambda i: (str(deployments[i].environment.system.slug), i))
    ]
    return BacktestReport(rows=rows, since=since, until=until)


# --- weight profiles --------------------------------------------------------------------------


def validate_weights(content: Mapping) -> dict:
    errors: dict[str, str] = {}
    pillars = content.get("pillar_weights")
    metrics = content.get("metric_weights") or {}
    description = content.get("description") or ""
    if not isinstance(pillars, dict) or not pillars:
        errors["pillar_weights"] = "Give a weight for each pillar."
        pillars = {}
    if not isinstance(metrics, dict):
        errors["metric_weights"] = "Metric weights must be a mapping of metric key to weight."
        metrics = {}
    clean_pillars, clean_metrics = {}, {}
    for name, weight in pillars.items():
        if name not in PILLARS:
            errors["pillar_weights"] = f"Unknown pillar {name!r} (pillars: {', '.join(PILLARS)})."
            continue
        number = _float_or_none(weight, "pillar_weights", errors)
        if number is None or number < 0:
            errors["pillar_weights"] = f"The weight of {name} must be a number ≥ 0."
            continue
        clean_pillars[name] = number
    missing = [p for p in PILLARS if p not in pillars]
    if pillars and missing:
        errors["pillar_weights"] = f"Missing pillars: {', '.join(missing)}."
    if clean_pillars and not any(clean_pillars.values()):
        errors["pillar_weights"] = "At least one pillar needs a weight above 0."
    known = set(MetricDefinition.objects.values_list("key", flat=True))
    for key, weight in metrics.items():
        if key not in known:
            errors["metric_weights"] = f"Unknown metric {key!r}."
            continue
        number = _float_or_none(weight, "metric_weights", errors)
        if number is None or number < 0:
            errors["metric_weights"] = f"The weight of {key} must be a number ≥ 0."
            continue
        clean_metrics[key] = number
    if errors:
        raise ValidationError(errors)
    return {
        "description": description,
        "pillar_weights": {p: clean_pillars[p] for p in PILLARS},
        "metric_weights": dict(sorted(clean_metrics.items())),
    }


def create_weight_profile_version(
    name: str,
    changes: Mapping,
    *,
    reason: str,
    actor=None,
    source: str = Source.UI,
    create: bool = False,
    base_number: int | None = None,
) -> WeightProfileVersion:
    """A new version of a weight profile (or, with ``create``, a new profile and its v1)."""
    _check_actor(actor, source)
    reason = _clean_reason(reason)
    with transaction.atomic():
        profile = WeightProfile.objects.select_for_update().filter(name=name).first()
        if profile is None:
            if not create:
                raise ValidationError({"name": f"No weight profile named {name!r}."})
            if name == "new":
                raise ValidationError({"name": "'new' is reserved (it is the URL of the create form)."})
            WeightProfile(name=name).full_clean()
            profile = WeightProfile.objects.create(name=name)
        elif create:
            raise ValidationError({"name": f"A weight profile named {name!r} exists already."})
        current = profile.versions.filter(is_current=True).first()
        if base_number is not None and getattr(current, "number", None) != base_number:
            raise ValidationError(f"{name} changed meanwhile; reload and apply your change again.")
        before = current.content() if current else {}
        content = validate_weights({**before, **changes})
        if content == before:
            raise ValidationError("Nothing changed: the weights equal the current version.")
        number = _version_number(WeightProfileVersion.objects.filter(profile=profile))
        WeightProfileVersion.objects.filter(profile=profile, is_current=True).update(is_current=False)
        version = WeightProfileVersion.objects.create(
            profile=profile,
            number=number,
            is_current=True,
            created_by=_user(actor),
            change_reason=reason,
            **content,
        )
        record_change(
            action="catalog.weight_profile.created"
            if current is None
            else "catalog.weight_profile.version_created",
            obj=profile,
            object_repr=f"{name} v{number}",
            before=_audit_version(current.number, before) if current else None,
            after=_audit_version(number, content),
            reason=reason,
            source=source,
            actor=actor,
        )
        if current is not None and (before["pillar_weights"], before["metric_weights"]) != (
            content["pillar_weights"],
            content["metric_weights"],
        ):
            announce_policy_change(deployments=_profile_users(name), actor=actor)
        return version


def weight_profile_names() -> list[str]:
    return list(
        WeightProfile.objects.filter(versions__is_current=True)
        .order_by("name")
        .values_list("name", flat=True)
    )


def validate_weight_profile_name(name: str) -> None:
    """Systems must name an existing weight profile (used wherever systems are written)."""
    if not WeightProfile.objects.filter(name=name, versions__is_current=True).exists():
        known = ", ".join(weight_profile_names()) or "none defined"
        raise ValidationError({"weight_profile": f"No weight profile named {name!r} (known: {known})."})


def current_weights(system_or_name) -> WeightProfileVersion | None:
    """The current weights a system (or a profile name) uses; ``balanced`` when its profile is
    missing, None when there are no profiles at all."""
    name = system_or_name.weight_profile if isinstance(system_or_name, System) else str(system_or_name)
    versions = WeightProfileVersion.objects.filter(is_current=True).select_related("profile")
    return versions.filter(profile__name=name).first() or versions.filter(profile__name="balanced").first()

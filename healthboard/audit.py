"""The audit trail: one function writes a record, one verifies the chain.

``record_change`` must be called inside the transaction that makes the change, so the change
and its record commit or roll back together. Appends are serialised by locking the chain head
row, which keeps the hash chain linear under concurrent writers.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import models, transaction
from django.forms.models import model_to_dict

from healthboard.middleware import current_request
from healthboard.models import AuditChainHead, AuditRecord

GENESIS_HASH = "0" * 64


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, models.Model):
        return value.pk
    return value


def snapshot(instance: models.Model, exclude: Iterable[str] = ()) -> dict:
    """A JSON-able dict of a model instance's concrete fields, for before/after."""
    data = model_to_dict(instance, exclude=list(exclude))
    for field in instance._meta.concrete_fields:
        if field.name not in data and field.name not in exclude and not field.primary_key:
            data[field.name] = getattr(instance, field.attname)
    return _jsonable(data)


def diff(before: dict | None, after: dict | None) -> dict:
    """``{field: [old, new]}`` for every field whose value changed."""
    before = before or {}
    after = after or {}
    return {
        key: [before.get(key), after.get(key)]
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    }


@dataclass(frozen=True)
class Actor:
    """Who made a change when there is no request (commands, config files, the system)."""

    user: Any = None
    name: str = ""


def record_change(
    *,
    action: str,
    obj: models.Model | None = None,
    object_type: str | None = None,
    object_id: str | int | None = None,
    object_repr: str | None = None,
    before: dict | None = None,
    after: dict | None = None,
    reason: str = "",
    source: str = AuditRecord.Source.UI,
    actor: Any = None,
    request_id: str | None = None,
) -> AuditRecord:
    """Append one audit record. The caller's transaction must contain the change itself."""
    request = current_request.get()
    if actor is None and request is not None:
        actor = getattr(request, "user", None)
    if request_id is None:
        request_id = getattr(request, "id", "") if request is not None else ""
    user = actor if isinstance(actor, get_user_model()) and actor.is_authenticated else None
    actor_name = actor if isinstance(actor, str) else getattr(actor, "username", "") or ""
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = obj.pk if object_id is None else object_id
        object_repr = str(obj) if object_repr is None else object_repr
    before_j, after_j = _jsonable(before), _jsonable(after)
    with transaction.atomic():
        head, _ = AuditChainHead.objects.select_for_update().get_or_create(id=1)
        record = AuditRecord(
            seq=head.seq + 1,
            actor=user,
            actor_name=actor_name or ("system" if source == AuditRecord.Source.SYSTEM else ""),
            request_id=request_id or "",
            action=action,
            object_type=object_type or "",
            object_id="" if object_id is None else str(object_id),
            object_repr=(object_repr or "")[:255],
            before=before_j,
            after=after_j,
            diff=diff(before_j, after_j) if (before_j is not None or after_j is not None) else {},
            reason=reason,
            source=source,
            prev_hash=head.record_hash,
        )
        record.record_hash = record.compute_hash()
        record.save()
        AuditChainHead.objects.filter(id=1).update(seq=record.seq, record_hash=record.record_hash)
    return record


@dataclass(frozen=True)
class ChainProblem:
    seq: int | None
    message: str


def verify_chain() -> ChainProblem | None:
    """Walk the chain in order; return the first broken record, or None when intact."""
    expected_prev = GENESIS_HASH
    expected_seq = 1
    last_seq = 0
    for record in AuditRecord.objects.order_by("seq").iterator(chunk_size=2000):
        if record.seq != expected_seq:
            return ChainProblem(
                expected_seq, f"record #{expected_seq} is missing (next present is #{record.seq}): removed"
            )
        if record.prev_hash != expected_prev:
            return ChainProblem(record.seq, f"record #{record.seq} does not link to the record before it")
        if record.compute_hash() != record.record_hash:
            return ChainProblem(
                record.seq, f"record #{record.seq} was altered: its content does not match its hash"
            )
        expected_prev = record.record_hash
        expected_seq += 1
        last_seq = record.seq
    head = AuditChainHead.objects.filter(id=1).first()
    if head is not None and (head.seq != last_seq or (last_seq and head.record_hash != expected_prev)):
        return ChainProblem(
            last_seq + 1,
            f"the chain head names record #{head.seq} but the newest present is #{last_seq}: removed",
        )
    return None

"""The audit trail is a hash chain: edits and removals are detected, appends stay linear."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from healthboard.audit import record_change, verify_chain
from healthboard.models import AuditRecord

pytestmark = pytest.mark.django_db


def _write(n: int) -> list[AuditRecord]:
    return [
        record_change(
            action="test.change",
            object_type="thing",
            object_id=i,
            before={"v": i},
            after={"v": i + 1},
            reason=f"reason {i}",
            source=AuditRecord.Source.SYSTEM,
        )
        for i in range(n)
    ]


def _raw_sql(sql: str, params: list) -> None:
    """Tamper with the table as a database owner would, bypassing the ORM and the trigger."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "ALTER TABLE healthboard_auditrecord DISABLE TRIGGER healthboard_auditrecord_append_only"
            )
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute(
                "ALTER TABLE healthboard_auditrecord ENABLE TRIGGER healthboard_auditrecord_append_only"
            )


def test_record_carries_diff_reason_and_chain():
    first, second = _write(2)
    assert first.prev_hash == "0" * 64
    assert second.prev_hash == first.record_hash
    assert second.diff == {"v": [1, 2]}
    assert second.reason == "reason 1"
    assert verify_chain() is None
    call_command("verify_audit")


def test_edited_record_is_detected_and_named():
    records = _write(3)
    _raw_sql("UPDATE healthboard_auditrecord SET reason = %s WHERE seq = %s", ["forged", records[1].seq])
    problem = verify_chain()
    assert problem is not None and problem.seq == records[1].seq and "altered" in problem.message
    with pytest.raises(CommandError, match=f"#{records[1].seq}"):
        call_command("verify_audit")


def test_deleted_record_is_detected_and_named():
    records = _write(3)
    _raw_sql("DELETE FROM healthboard_auditrecord WHERE seq = %s", [records[1].seq])
    problem = verify_chain()
    assert problem is not None and problem.seq == records[1].seq and "removed" in problem.message


def test_deleted_newest_record_is_detected_through_the_chain_head():
    records = _write(2)
    _raw_sql("DELETE FROM healthboard_auditrecord WHERE seq = %s", [records[-1].seq])
    problem = verify_chain()
    assert problem is not None and "removed" in problem.message


def test_orm_refuses_updates_and_deletes():
    (record,) = _write(1)
    record.reason = "changed"
    with pytest.raises(ValidationError):
        record.save()
    with pytest.raises(ValidationError):
        record.delete()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the append-only trigger is PostgreSQL only")
def test_database_trigger_refuses_update_and_delete():
    (record,) = _write(1)
    for sql in (
        "UPDATE healthboard_auditrecord SET reason = 'x' WHERE seq = %s",
        "DELETE FROM healthboard_auditrecord WHERE seq = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [record.seq])
    assert AuditRecord.objects.get(seq=record.seq).reason == "reason 0"


def test_change_and_record_roll_back_together():
    with pytest.raises(RuntimeError), transaction.atomic():
        record_change(action="test.change", object_type="thing", object_id=1, after={"v": 1})
        raise RuntimeError("the change failed")
    assert AuditRecord.objects.count() == 0
    assert verify_chain() is None


def test_request_id_and_actor_come_from_the_request(client, catalog_admin, system_a, team_a):
    client.force_login(catalog_admin)
    response = client.post(
        "/access/",
        {
            "system": system_a.slug,
            "team": team_a.slug,
            "permissions": ["view_system"],
            "action": "grant",
            "reason": "team A owns it",
        },
        HTTP_X_REQUEST_ID="req-1234567890",
    )
    assert response.status_code == 302
    record = AuditRecord.objects.get(action="access.grant")
    assert record.actor == catalog_admin and record.actor_name == "carol"
    assert record.request_id == "req-1234567890"
    assert record.source == "ui" and record.reason == "team A owns it"
    assert record.after == {"team": "team-a", "permissions": ["view_system"]}

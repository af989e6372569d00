"""Outbox rows: staging, claiming due rows (SKIP LOCKED on PostgreSQL), marking outcomes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session

from storage.models import Outbox
from storage.outbox import (
    MAX_ATTEMPTS,
    OutboxStatus,
    Recipient,
    add_push,
    backoff_s,
    claim,
    claim_due,
    claim_one,
    expire_leases,
    held,
    list_rows,
    mark_failed,
    mark_sent,
    requeue,
    staged_ids,
)
from storage.times import as_utc, utcnow


def stage(session: Session, n: int, **fields) -> list[Outbox]:
    rows = [
        add_push(session, to=Recipient("resident", None, f"u{i}"), event="push_ticket_status",
                 text=f"text {i}", **fields)
        for i in range(n)
    ]
    session.commit()
    return rows


def test_add_push_stages_a_pending_row_in_the_callers_transaction(session):
    first = add_push(session, to=Recipient("staff", None, "u1"), event="push_task_assigned",
                     text="新工单", data={"first": "新工单"})
    second = add_push(session, to=Recipient("staff", None, "u2"), event="push_task_assigned",
                      text="新工单")
    assert first.id is None  # not flushed one by one: staged rows go in one INSERT
    ids = staged_ids(session)
    assert ids == [first.id, second.id] and None not in ids
    session.rollback()
    assert session.get(Outbox, ids[0]) is None


def test_backoff_doubles_from_30_s_up_to_an_hour():
    assert [backoff_s(n) for n in range(1, 9)] == [30, 60, 120, 240, 480, 960, 1920, 3600]
    assert backoff_s(20) == 3600


def test_claim_due_returns_due_pending_rows_oldest_first(session):
    now = utcnow()
    rows = stage(session, 4)
    rows[0].next_attempt_at = now + timedelta(seconds=60)  # not due
    rows[1].status = OutboxStatus.DEAD
    rows[2].next_attempt_at = now - timedelta(seconds=10)
    rows[3].next_attempt_at = now - timedelta(seconds=20)
    session.commit()
    claimed = claim_due(session, now, limit=10)
    assert [r.id for r in claimed] == [rows[3].id, rows[2].id]
    assert [r.id for r in claim_due(session, now, limit=1)] == [rows[3].id]
    assert claim_one(session, rows[0].id, now) is None
    assert claim_one(session, rows[2].id, now).id == rows[2].id


def test_claimed_rows_are_skipped_by_another_transaction(clean_db):
    if clean_db.dialect.name != "postgresql":
        pytest.skip("FOR UPDATE SKIP LOCKED is a PostgreSQL feature")
    with Session(clean_db) as setup:
        ids = [r.id for r in stage(setup, 3)]
    now = utcnow()
    with Session(clean_db) as first, Session(clean_db) as second:
        held = claim_due(first, now, limit=2)
        others = claim_due(second, now, limit=10)
        assert [r.id for r in held] == ids[:2]
        assert [r.id for r in others] == ids[2:]
        assert claim_one(second, ids[0], now) is None
        first.rollback()
        second.rollback()
        assert [r.id for r in claim_due(second, now, limit=10)] == ids


def test_claim_marks_the_row_sending_with_a_lease_and_counts_the_attempt(session):
    rows = stage(session, 2)
    now = utcnow()
    claimed = claim(session, now, lease_s=120)
    session.commit()
    assert claimed.id == rows[0].id
    session.refresh(claimed)
    assert (claimed.status, claimed.attempts) == ("sending", 1)
    assert as_utc(claimed.lease_until) == now + timedelta(seconds=120)
    assert as_utc(claimed.last_attempt_at) == now
    assert claim(session, now, 120, outbox_id=rows[0].id) is None  # not pending any more
    assert claim(session, now, 120).id == rows[1].id
    session.rollback()


def claimed_row(session: Session, now=None) -> Outbox:
    stage(session, 1)
    row = claim(session, now or utcnow(), lease_s=60)
    assert row is not None
    session.commit()
    return row


def test_mark_sent_records_channel_and_time(session):
    # Changed with issue 8: attempts are counted when a row is claimed, not when marked.
    row = claimed_row(session)
    now = utcnow()
    mark_sent(row, "template", now)
    session.commit()
    session.refresh(row)
    assert (row.status, row.channel, row.attempts, row.lease_until) == ("sent", "template", 1, None)
    assert as_utc(row.sent_at) == now


def test_mark_failed_schedules_a_retry_then_gives_up(session):
    row = claimed_row(session)
    now = utcnow()
    mark_failed(row, "custom: HTTP 503", now, retryable=True)
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "custom: HTTP 503")
    assert row.next_attempt_at == now + timedelta(seconds=30)
    assert row.lease_until is None
    session.commit()
    for n in range(2, MAX_ATTEMPTS + 1):
        again = claim(session, now + timedelta(hours=n), lease_s=60)
        assert (again.id, again.attempts) == (row.id, n)
        mark_failed(again, "custom: errcode -1: system error", now, retryable=True)
        if n == 2:
            assert again.next_attempt_at == now + timedelta(seconds=60)
        session.commit()
    assert (row.status, row.attempts) == ("dead", MAX_ATTEMPTS)


def test_mark_failed_not_retryable_is_dead_at_once(session):
    row = claimed_row(session)
    mark_failed(row, "custom: errcode 40003: invalid openid", utcnow(), retryable=False)
    session.commit()
    session.refresh(row)
    assert (row.status, row.attempts) == ("dead", 1)
    assert row.last_error == "custom: errcode 40003: invalid openid"


def test_expired_leases_become_unknown_never_pending(session):
    start = utcnow() + timedelta(seconds=1)  # the row is due by then
    row = claimed_row(session, start)  # lease 60 s
    assert expire_leases(session, start + timedelta(seconds=59)) == []
    [expired] = expire_leases(session, start + timedelta(seconds=61))
    session.commit()
    session.refresh(row)
    assert (row.status, row.attempts, row.lease_until) == ("unknown", 1, None)
    assert "in doubt" in row.last_error and "attempt 1" in row.last_error
    assert claim(session, start + timedelta(days=1), 60) is None  # never claimed again


def test_held_returns_the_row_only_for_its_own_attempt(session):
    row = claimed_row(session)
    assert held(session, row.id, attempt=1).id == row.id
    assert held(session, row.id, attempt=2) is None
    session.rollback()
    expire_leases(session, utcnow() + timedelta(hours=1))
    session.commit()
    assert held(session, row.id, attempt=1).status == "unknown"  # a late outcome still counts
    session.rollback()
    requeue(session, utcnow(), ids=[row.id])
    session.commit()
    assert held(session, row.id, attempt=1) is None  # re-queued by staff: not ours any more
    session.rollback()


def test_requeue_keeps_the_history_and_refuses_in_flight_and_sent_rows(session):
    now = utcnow()
    rows = stage(session, 5)
    dead, unknown, sending, sent, pending = rows
    for row, status in ((dead, "dead"), (unknown, "unknown"), (sending, "sending"),
                        (sent, "sent")):
        row.status, row.attempts, row.last_error = status, 3, f"was {status}"
    session.commit()
    later = now + timedelta(minutes=5)
    done, skipped = requeue(session, later, ids=[unknown.id, sending.id, sent.id, 999_999],
                            all_dead=True, by="staff test")
    session.commit()
    assert sorted(r.id for r in done) == sorted([unknown.id, dead.id])
    assert skipped == {sending.id: "sending: in flight, not re-queued",
                       sent.id: "sent: already delivered", 999_999: "no such push"}
    session.refresh(unknown)
    assert (unknown.status, unknown.attempts) == ("pending", 0)
    assert as_utc(unknown.next_attempt_at) == later
    assert unknown.last_error == (f"requeued by staff test at {later.isoformat()} after 3 "
                                  "attempts, was unknown: was unknown")
    assert [r.id for r in list_rows(session, ["pending"])] == [pending.id, unknown.id, dead.id]
    assert {r.id for r in list_rows(session)} == {dead.id, unknown.id, sending.id, pending.id}
    assert [r.id for r in list_rows(session, limit=1)] == [pending.id]

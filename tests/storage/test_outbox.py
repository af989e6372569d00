"""Outbox rows: staging, claiming due rows (SKIP LOCKED on PostgreSQL), marking outcomes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session

from storage.models import Outbox
from storage.outbox import (
    MAX_ATTEMPTS,
    OutboxStatus,
    add_push,
    backoff_s,
    claim_due,
    claim_one,
    mark_failed,
    mark_sent,
)
from storage.times import as_utc, utcnow


def stage(session: Session, n: int, **fields) -> list[Outbox]:
    rows = [
        add_push(session, openid=f"u{i}", audience="resident", event="push_ticket_status",
                 text=f"text {i}", **fields)
        for i in range(n)
    ]
    session.commit()
    return rows


def test_add_push_stages_a_pending_row_in_the_callers_transaction(session):
    row = add_push(session, openid="u1", audience="worker", event="push_task_assigned",
                   text="新工单", data={"first": "新工单"})
    assert row.id is not None
    session.rollback()
    assert session.get(Outbox, row.id) is None


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


def test_mark_sent_records_channel_and_time(session):
    [row] = stage(session, 1)
    now = utcnow()
    mark_sent(row, "template", now)
    session.commit()
    session.refresh(row)
    assert (row.status, row.channel, row.attempts) == ("sent", "template", 1)
    assert as_utc(row.sent_at) == now


def test_mark_failed_schedules_a_retry_then_gives_up(session):
    [row] = stage(session, 1)
    now = utcnow()
    mark_failed(row, "custom: HTTP 503", now, retryable=True)
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "custom: HTTP 503")
    assert row.next_attempt_at == now + timedelta(seconds=30)
    mark_failed(row, "custom: errcode -1: system error", now, retryable=True)
    assert row.next_attempt_at == now + timedelta(seconds=60)
    for _ in range(MAX_ATTEMPTS - 2):
        mark_failed(row, "custom: errcode -1: system error", now, retryable=True)
    assert (row.status, row.attempts) == ("dead", MAX_ATTEMPTS)
    session.commit()


def test_mark_failed_not_retryable_is_dead_at_once(session):
    [row] = stage(session, 1)
    mark_failed(row, "custom: errcode 40003: invalid openid", utcnow(), retryable=False)
    session.commit()
    session.refresh(row)
    assert (row.status, row.attempts) == ("dead", 1)
    assert row.last_error == "custom: errcode 40003: invalid openid"

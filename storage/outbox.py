"""The push outbox: pushes are rows written in the caller's transaction, relayed later.

A flushed Redis or a failed WeChat call loses no push: the worker relays pending rows and
records the channel used, each failure and the next attempt (backoff).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, select

from storage.models import Outbox, OutboxStatus

__all__ = [
    "MAX_ATTEMPTS", "OutboxStatus", "add_push", "backoff_s", "claim_due", "claim_one",
    "mark_failed", "mark_sent",
]


def add_push(
    session: Session,
    *,
    openid: str,
    audience: str,
    event: str,
    text: str,
    data: dict | None = None,
    ticket_id: int | None = None,
) -> Outbox:
    """Stage one push in ``session`` (committed with the caller's change).

    ``audience`` is "resident" or "worker"; ``event`` is the catalogue key of the text and
    selects the template ID when a template message must be used; ``data`` holds the
    template fields. Returns the flushed row; its id is also appended to
    ``session.info["outbox_ids"]`` so the caller can nudge the relay after commit.
    """
    row = Outbox(
        openid=openid, audience=audience, event=event, text=text, data=data or {},
        ticket_id=ticket_id,
    )
    session.add(row)
    session.flush()
    session.info.setdefault("outbox_ids", []).append(row.id)
    return row


# -- relay side -------------------------------------------------------------------------------

MAX_ATTEMPTS = 8
"""Attempts before a push is given up ("dead")."""
BACKOFF_BASE_S = 30
BACKOFF_MAX_S = 3600


def backoff_s(attempts: int) -> int:
    """Seconds to wait after the ``attempts``-th failed attempt: 30 s × 2^(attempts−1), at
    most 1 h (30, 60, 120, … 1920, 3600)."""
    return min(BACKOFF_BASE_S * 2 ** max(attempts - 1, 0), BACKOFF_MAX_S)


def _due(now: datetime):
    return select(Outbox).where(
        Outbox.status == OutboxStatus.PENDING, Outbox.next_attempt_at <= now
    )


def _locked(session: Session, stmt):
    """``stmt`` with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL; unchanged on SQLite, whose
    writers are serialised by the database lock (one process in the embedded mode)."""
    if session.get_bind().dialect.name == "postgresql":
        return stmt.with_for_update(skip_locked=True)
    return stmt


def claim_due(session: Session, now: datetime, limit: int) -> list[Outbox]:
    """Up to ``limit`` pending rows whose ``next_attempt_at`` (aware UTC) is ``<= now``,
    oldest due first, locked until ``session``'s transaction ends.

    On PostgreSQL the rows are locked ``FOR UPDATE SKIP LOCKED``: rows another transaction
    holds are skipped, so several relays never get the same row. On SQLite a plain select.
    """
    stmt = _due(now).order_by(Outbox.next_attempt_at, Outbox.id).limit(limit)
    return list(session.exec(_locked(session, stmt)).all())


def claim_one(session: Session, outbox_id: int, now: datetime) -> Outbox | None:
    """Row ``outbox_id`` locked as in ``claim_due``, or None when it is not pending, not
    due yet (``next_attempt_at`` > ``now``), missing, or locked by another relay."""
    stmt = _due(now).where(Outbox.id == outbox_id)
    return session.exec(_locked(session, stmt)).first()


def mark_sent(row: Outbox, channel: str, now: datetime) -> None:
    """Record a delivery: status "sent", ``channel`` ("wecom" | "custom" | "template"),
    ``sent_at`` = ``now`` (aware UTC), attempts + 1. ``last_error`` keeps the previous
    failure, if any, for the record."""
    row.attempts += 1
    row.status = OutboxStatus.SENT
    row.channel = channel
    row.sent_at = now


def mark_failed(
    row: Outbox, error: str, now: datetime, retryable: bool, max_attempts: int = MAX_ATTEMPTS
) -> None:
    """Record a failed attempt: attempts + 1, ``last_error`` = ``error``; then either status
    "dead" (not ``retryable``, or ``max_attempts`` reached) or the next attempt at ``now`` +
    ``backoff_s(attempts)``."""
    row.attempts += 1
    row.last_error = error[:2000]
    if not retryable or row.attempts >= max_attempts:
        row.status = OutboxStatus.DEAD
    else:
        row.next_attempt_at = now + timedelta(seconds=backoff_s(row.attempts))

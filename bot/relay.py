"""The outbox relay: send pending pushes through WeChat, one locked row at a time.

Each row is claimed in its own transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL),
sent while the lock is held, marked sent or failed and committed, so two worker processes
never send the same row and a crash loses at most the record of one send. On SQLite (the
embedded single-process mode) a process-wide lock per engine serialises the relays.

Runs in the worker process: the send is synchronous HTTP (wechatpy).
"""

from __future__ import annotations

import logging
import threading
import weakref
from contextlib import nullcontext

from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.push import Pusher, PushError
from storage.models import GridWorker, Outbox
from storage.outbox import OutboxStatus, claim_due, claim_one, mark_failed, mark_sent
from storage.times import Clock

logger = logging.getLogger(__name__)

_sqlite_locks: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()
_sqlite_locks_guard = threading.Lock()


def _serialise(engine: Engine):
    """A lock held around each relay transaction on SQLite (which has no SKIP LOCKED)."""
    if engine.dialect.name != "sqlite":
        return nullcontext()
    with _sqlite_locks_guard:
        return _sqlite_locks.setdefault(engine, threading.Lock())


def _wecom_userid(session: Session, row: Outbox) -> str | None:
    if row.audience != "worker":
        return None
    return session.exec(
        select(GridWorker.wecom_userid).where(GridWorker.openid == row.openid)
    ).first()


def _deliver(session: Session, row: Outbox, pusher: Pusher, clock: Clock) -> None:
    """Send the locked ``row`` and record the outcome on it (not committed)."""
    try:
        channel = pusher.send(row, _wecom_userid(session, row))
    except PushError as exc:
        mark_failed(row, str(exc), clock(), exc.retryable)
        _log_failure(row, str(exc))
        return
    except Exception as exc:  # a bug or an unexpected library error: record, back off
        logger.exception("push %s to %s failed unexpectedly", row.id, row.openid)
        mark_failed(row, f"unexpected {type(exc).__name__}: {exc}", clock(), retryable=True)
        return
    mark_sent(row, channel, clock())
    logger.info("push %s (%s) sent to %s by %s", row.id, row.event, row.openid, channel)


def _log_failure(row: Outbox, error: str) -> None:
    if row.status == OutboxStatus.DEAD:
        logger.error("push %s (%s) to %s given up after %d attempts: %s",
                     row.id, row.event, row.openid, row.attempts, error)
    else:
        logger.warning("push %s (%s) to %s failed (attempt %d, next at %s): %s",
                       row.id, row.event, row.openid, row.attempts,
                       row.next_attempt_at.isoformat(), error)


def relay_one(engine: Engine, outbox_id: int, pusher: Pusher, clock: Clock) -> str:
    """Send outbox row ``outbox_id`` if it is still pending and due at ``clock()``.

    Returns the row's status afterwards ("pending", "sent" or "dead"), its unchanged status
    when it was not due, already handled or locked by another relay, or "missing" when
    there is no such row. Failures are recorded on the row and logged, not raised.
    """
    with _serialise(engine), Session(engine, expire_on_commit=False) as session:
        row = claim_one(session, outbox_id, clock())
        if row is None:
            session.rollback()
            current = session.get(Outbox, outbox_id)
            return current.status if current is not None else "missing"
        _deliver(session, row, pusher, clock)
        session.commit()
        return row.status


def relay_due(engine: Engine, pusher: Pusher, clock: Clock, limit: int = 100) -> int:
    """Send up to ``limit`` due pending rows, each in its own claim-send-commit transaction.

    Safe to run in several processes at once. Returns the number of rows sent now;
    failures are recorded on their rows (backoff or "dead") and logged.
    """
    sent = 0
    for _ in range(limit):
        with _serialise(engine), Session(engine, expire_on_commit=False) as session:
            rows = claim_due(session, clock(), limit=1)
            if not rows:
                return sent
            row = rows[0]
            _deliver(session, row, pusher, clock)
            session.commit()
            if row.status == OutboxStatus.SENT:
                sent += 1
    return sent

"""The outbox relay: send pushes through WeChat at most once each, as far as WeChat allows.

Steps for one push (``storage.outbox`` draws the row's life):

1. **Claim** (tx1, committed): a due "pending" row becomes "sending" with a lease
   (``lease_until`` = now + ``settings.push_lease_s``), ``attempts`` + 1 and
   ``last_attempt_at`` = now. ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two relays
   never claim the same row; on SQLite (the embedded single-process mode) a process-wide
   lock per engine serialises the claim and record transactions (never the send).
   The recipient (``recipient_kind`` + ``recipient_id``) is resolved as they are now:
   staff get their WeCom userid (WeCom first, ``bot.push.CHANNEL_ORDER``); a resident who
   unfollowed the account since the push was staged makes it dead ("unsubscribed").
2. **Send** with no database transaction open (``bot.push.Pusher``), through the first
   channel that can reach the recipient.
3. **Record** (tx2): "sent" with the channel; a failure known to be before delivery goes
   back to "pending" with backoff (``storage.outbox.backoff_s``) or "dead"; a failure that
   may have reached WeChat (``PushError.in_doubt``) becomes "unknown". A database error
   here is retried for up to half the lease, then left: the row stays "sending".
4. **Reconcile** (each sweep, ``expire_in_doubt``): a "sending" row whose lease ran out was
   in flight when its relay died (SIGKILL, host lost, database gone during step 3). It is
   *not* sent again: it becomes "unknown" with a warning, for staff to check and re-queue
   (``gridbot outbox list --status unknown`` / ``gridbot outbox retry ID``).

Decision table — what a relay does with the outcome of step 2 (``bot.push`` lists which
WeChat answers and network errors are in doubt):

===================================================  =====================================
outcome                                              row becomes
===================================================  =====================================
delivered (errcode 0, any channel)                   sent (channel, sent_at)
failed before delivery, retryable                    pending, due after backoff; dead after
  (-1, quota, 40001 twice, 429/503, no connection)     MAX_ATTEMPTS attempts
failed before delivery, final (other errcodes,       dead
  45015 with no template, bad WeCom userid)
in doubt (read timeout, reset after sending,         unknown (never resent by the relay)
  HTTP 500/502/504, non-JSON answer)
unexpected exception (a bug: we cannot tell where    unknown (logged with traceback)
  it failed)
relay killed or outcome not recordable; lease ran    unknown (at the next sweep after
  out                                                  lease_until)
outcome arrives after the lease ran out              the outcome (better than the doubt)
===================================================  =====================================

What remains (WeChat's limit): 客服消息, 模板消息 and WeCom message/send take no idempotency
key, so a push whose request may have reached WeChat cannot be checked or safely repeated
by us. Such pushes are kept as "unknown" — 0 doubled, but possibly 0 delivered — until a
person re-queues them (which may then deliver a second copy). ``push_lease_s`` must exceed
the longest send (up to five HTTP calls of ``wechat_timeout_s`` connect + read each:
custom, token refresh, custom again, template, token) or a slow send is marked "unknown"
before it ends; its outcome is still recorded when it arrives.

Runs in the worker process: the send is synchronous HTTP (wechatpy).
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from contextlib import nullcontext
from dataclasses import dataclass

import sqlalchemy.exc
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.push import Pusher, PushError
from storage.models import GridWorker, Outbox, Resident
from storage.outbox import (
    STAFF,
    OutboxStatus,
    claim,
    expire_leases,
    held,
    mark_failed,
    mark_sent,
    mark_unknown,
)
from storage.times import Clock

logger = logging.getLogger(__name__)

DEFAULT_LEASE_S = 120
"""``Settings.push_lease_s``'s default, for callers without settings."""
RECORD_RETRY_MAX_S = 30.0
"""Longest time step 3 retries a database error (seconds); at most half the lease."""

_sqlite_locks: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()
_sqlite_locks_guard = threading.Lock()


def _serialise(engine: Engine):
    """A lock held around each relay transaction on SQLite (which has no SKIP LOCKED)."""
    if engine.dialect.name != "sqlite":
        return nullcontext()
    with _sqlite_locks_guard:
        return _sqlite_locks.setdefault(engine, threading.Lock())


@dataclass(frozen=True)
class _Claimed:
    row: Outbox
    """Detached copy of the claimed row ("sending")."""
    wecom_userid: str | None
    unreachable: str | None = None
    """Why the recipient cannot be sent to at all (e.g. "unsubscribed"), read at claim time."""


def _resolve(session: Session, row: Outbox) -> tuple[str | None, str | None]:
    """(WeCom userid, why unreachable) of the row's recipient, read at send time.

    Staff: their ``wecom_userid`` (by ``recipient_id``; by OpenID for rows from before the
    recipient columns). Residents: unreachable "unsubscribed" when they unfollowed the
    account or lost their OpenID since the push was staged.
    """
    if row.recipient_kind == STAFF:
        where = (GridWorker.id == row.recipient_id if row.recipient_id is not None
                 else GridWorker.openid == row.openid)
        return session.exec(select(GridWorker.wecom_userid).where(where)).first(), None
    if row.recipient_id is not None:
        resident = session.get(Resident, row.recipient_id)
        if resident is not None and (not resident.subscribed or not resident.openid):
            return None, "unsubscribed"
    return None, None


def _claim(engine: Engine, clock: Clock, lease_s: float, outbox_id: int | None = None
           ) -> _Claimed | None:
    """Step 1: claim one row and commit, or None when nothing (or not ``outbox_id``) is due."""
    with _serialise(engine), Session(engine, expire_on_commit=False) as session:
        row = claim(session, clock(), lease_s, outbox_id)
        if row is None:
            session.rollback()
            return None
        userid, unreachable = _resolve(session, row)
        session.commit()
        return _Claimed(row, userid, unreachable)


def _send(claimed: _Claimed, pusher: Pusher) -> str | PushError:
    """Step 2: the channel used, or the PushError saying why not (or that it is in doubt)."""
    row = claimed.row
    if claimed.unreachable:
        return PushError(claimed.unreachable, retryable=False)
    try:
        return pusher.send(row, claimed.wecom_userid)
    except PushError as exc:
        return exc
    except Exception as exc:  # a bug or an unexpected library error: where did it stop?
        logger.exception("push %s failed unexpectedly", row.id)
        return PushError(f"unexpected {type(exc).__name__}: {exc}", retryable=False,
                         in_doubt=True)


def _apply(row: Outbox, outcome: str | PushError, clock: Clock) -> None:
    now = clock()
    if isinstance(outcome, str):
        mark_sent(row, outcome, now)
    elif outcome.in_doubt:
        mark_unknown(row, f"in doubt: {outcome}", now)
    else:
        mark_failed(row, str(outcome), now, outcome.retryable)


def _record(engine: Engine, claimed: _Claimed, outcome: str | PushError, clock: Clock,
            lease_s: float) -> str:
    """Step 3: record ``outcome`` on the row; returns its status afterwards.

    Database errors are retried (0.5 s doubling to 5 s) for up to min(lease/2,
    RECORD_RETRY_MAX_S) seconds; then the row is left "sending" (in doubt at the next sweep
    after its lease) and "sending" is returned.
    """
    row_id, attempt, claimed_at = claimed.row.id, claimed.row.attempts, claimed.row.last_attempt_at
    deadline = time.monotonic() + min(lease_s / 2, RECORD_RETRY_MAX_S)
    delay_s = 0.5
    while True:
        try:
            with _serialise(engine), Session(engine, expire_on_commit=False) as session:
                row = held(session, row_id, attempt, claimed_at)
                if row is None:
                    session.rollback()
                    current = session.get(Outbox, row_id)
                    status = current.status if current is not None else "missing"
                    logger.warning("push %s: outcome of attempt %d (%s) not recorded: the row "
                                   "is %s now", row_id, attempt, _describe(outcome), status)
                    return status
                _apply(row, outcome, clock)
                session.commit()
                _log(row, outcome)
                return row.status
        except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError,
                sqlalchemy.exc.TimeoutError) as exc:
            if time.monotonic() + delay_s > deadline:
                logger.error("push %s: could not record attempt %d (%s): %s; it stays "
                             "'sending' and will be in doubt when its lease runs out",
                             row_id, attempt, _describe(outcome), _first_line(exc))
                return OutboxStatus.SENDING
            logger.warning("push %s: database unavailable recording attempt %d (%s); "
                           "retrying in %.1f s", row_id, attempt, _first_line(exc), delay_s)
            time.sleep(delay_s)
            delay_s = min(delay_s * 2, 5.0)


def _describe(outcome: str | PushError) -> str:
    return f"sent by {outcome}" if isinstance(outcome, str) else str(outcome)


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _log(row: Outbox, outcome: str | PushError) -> None:
    if row.status == OutboxStatus.SENT:
        logger.info("push %s (%s) sent to %s by %s (attempt %d)",
                    row.id, row.event, row.openid, row.channel, row.attempts)
    elif row.status == OutboxStatus.UNKNOWN:
        logger.warning("push %s (%s) to %s in doubt after attempt %d, not resent; kept for "
                       "staff (gridbot outbox list --status unknown): %s",
                       row.id, row.event, row.openid, row.attempts, outcome)
    elif row.status == OutboxStatus.DEAD:
        logger.error("push %s (%s) to %s given up after %d attempts: %s",
                     row.id, row.event, row.openid, row.attempts, outcome)
    else:
        logger.warning("push %s (%s) to %s failed (attempt %d, next at %s): %s",
                       row.id, row.event, row.openid, row.attempts,
                       row.next_attempt_at.isoformat(), outcome)


def _relay(engine: Engine, claimed: _Claimed, pusher: Pusher, clock: Clock,
           lease_s: float) -> str:
    return _record(engine, claimed, _send(claimed, pusher), clock, lease_s)


def expire_in_doubt(engine: Engine, clock: Clock, limit: int = 100) -> int:
    """Step 4: mark "unknown" the "sending" rows whose lease ran out before ``clock()``; each
    is logged as a warning. Returns how many."""
    with _serialise(engine), Session(engine, expire_on_commit=False) as session:
        rows = expire_leases(session, clock(), limit)
        session.commit()
    for row in rows:
        logger.warning("push %s (%s) to %s was in flight when its relay stopped (attempt %d); "
                       "in doubt, not resent; kept for staff (gridbot outbox list --status "
                       "unknown)", row.id, row.event, row.openid, row.attempts)
    return len(rows)


def relay_one(engine: Engine, outbox_id: int, pusher: Pusher, clock: Clock,
              lease_s: float = DEFAULT_LEASE_S) -> str:
    """Send outbox row ``outbox_id`` if it is still pending and due at ``clock()``.

    Returns the row's status afterwards ("sent", "pending" for a retry later, "dead",
    "unknown", or "sending" when the outcome could not be recorded); its unchanged status
    when it was not due, already handled or claimed by another relay ("sending"), or
    "missing" when there is no such row. Failures are recorded on the row and logged, not
    raised; sqlalchemy errors of step 1 (database down) are raised.
    """
    claimed = _claim(engine, clock, lease_s, outbox_id)
    if claimed is None:
        with Session(engine) as session:
            current = session.get(Outbox, outbox_id)
            return current.status if current is not None else "missing"
    return _relay(engine, claimed, pusher, clock, lease_s)


def relay_due(engine: Engine, pusher: Pusher, clock: Clock, limit: int = 100,
              lease_s: float = DEFAULT_LEASE_S) -> int:
    """Reconcile expired leases (step 4), then send up to ``limit`` due pending rows, oldest
    first, each claimed, sent and recorded on its own.

    Safe to run in several processes at once. Returns the number of rows sent now;
    failures are recorded on their rows and logged. sqlalchemy errors of steps 1 and 4
    (database down) are raised.
    """
    expire_in_doubt(engine, clock)
    sent = 0
    for _ in range(limit):
        claimed = _claim(engine, clock, lease_s)
        if claimed is None:
            return sent
        if _relay(engine, claimed, pusher, clock, lease_s) == OutboxStatus.SENT:
            sent += 1
    return sent

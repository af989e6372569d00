"""The push outbox: pushes are rows written in the caller's transaction, relayed later.

A flushed Redis or a failed WeChat call loses no push: the worker relays pending rows and
records the channel used, each attempt, each failure and the next attempt (backoff).

Life of a row (``Outbox.status``; the relay's side is in ``bot.relay``)::

    pending ──claim (tx1, committed before the send)──▶ sending (lease_until = now + lease)
       ▲                                                  │
       │ retryable failure before delivery (backoff)      ├─ delivered ─────────▶ sent
       ├──────────────────────────────────────────────────┤
       │                                                  ├─ final failure ─────▶ dead
       │                                                  ├─ may have reached ──▶ unknown
       │                                                  │  WeChat (in doubt)
       │                                                  └─ relay died, lease ─▶ unknown
       │                                                     ran out (expire_leases)
       └──── requeue (staff: ``gridbot outbox retry``) ◀── dead | unknown

``attempts`` is counted when a row is claimed, so an attempt whose relay died is counted
too; ``last_attempt_at`` is the time of the latest claim. An "unknown" row is never sent
again by the relay: WeChat's send APIs take no idempotency key, so only a person can tell
whether the recipient got it (ask them, or look at the official account's records).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import literal
from sqlmodel import Session, col, select

from storage.models import GridWorker, Outbox, OutboxStatus, Resident
from storage.times import as_utc

__all__ = [
    "MAX_ATTEMPTS", "OutboxStatus", "REQUEUEABLE", "Recipient", "add_push", "backoff_s", "claim",
    "claim_due", "claim_one", "expire_leases", "held", "list_rows", "mark_failed", "mark_sent",
    "mark_unknown", "requeue",
]


@dataclass(frozen=True)
class Recipient:
    """Whom a push is for: a person, not an address.

    ``kind`` is "resident" (``id`` = resident.id) or "staff" (``id`` = gridworker.id);
    ``openid`` is their official-account OpenID when the push is staged (the address of
    record; the relay resolves the channel and address from the person at send time).
    Build one with ``Recipient.resident(row)`` / ``Recipient.staff(row)``.
    """

    kind: str
    id: int | None
    openid: str

    @classmethod
    def resident(cls, resident: Resident) -> Recipient:
        """The resident ``resident``; ValueError when they have no OpenID (forgotten, or
        added by staff without an account)."""
        if not resident.openid:
            raise ValueError(f"resident {resident.id} has no OpenID to address")
        return cls(RESIDENT, resident.id, resident.openid)

    @classmethod
    def staff(cls, worker: GridWorker) -> Recipient:
        """The staff member ``worker`` (a gridworker row)."""
        return cls(STAFF, worker.id, worker.openid)

    @property
    def audience(self) -> str:
        """The ``Outbox.audience`` word of this kind: "resident" or "worker"."""
        return "worker" if self.kind == STAFF else "resident"


RESIDENT = "resident"
STAFF = "staff"


def add_push(
    session: Session,
    *,
    to: Recipient,
    event: str,
    text: str,
    data: dict | None = None,
    ticket_id: int | None = None,
) -> Outbox:
    """Stage one push to ``to`` in ``session`` (committed with the caller's change).

    ``event`` is the catalogue key of the text and selects the template ID when a template
    message must be used; ``data`` holds the template fields. Returns the row, not yet
    flushed (rows staged together are inserted in one statement at the next flush);
    ``staged_ids(session)`` gives their ids so the caller can nudge the relay after commit.
    """
    row = Outbox(
        recipient_kind=to.kind, recipient_id=to.id, openid=to.openid, audience=to.audience,
        event=event, text=text, data=data or {}, ticket_id=ticket_id,
    )
    session.add(row)
    session.info.setdefault("outbox_rows", []).append(row)
    return row


def staged_ids(session: Session) -> list[int]:
    """Ids of the rows ``add_push`` staged in ``session``, in order. Call it after commit (or
    it flushes the session first)."""
    rows: list[Outbox] = session.info.get("outbox_rows", [])
    if any(row.id is None for row in rows):
        session.flush()
    return [row.id for row in rows if row.id is not None]


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
    """Pending rows due at ``now``. "pending" is written into the SQL (not bound), so that
    PostgreSQL uses the partial index ``ix_outbox_due`` in prepared (generic) plans too."""
    return select(Outbox).where(
        Outbox.status == literal(OutboxStatus.PENDING, literal_execute=True),
        Outbox.next_attempt_at <= now,
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


def claim(
    session: Session, now: datetime, lease_s: float, outbox_id: int | None = None
) -> Outbox | None:
    """Claim one due pending row for sending (``outbox_id``, or the oldest due one).

    The row becomes "sending" with ``lease_until`` = ``now`` + ``lease_s`` seconds,
    ``attempts`` + 1 and ``last_attempt_at`` = ``now`` (aware UTC). The caller commits
    *before* sending, so a relay that dies mid-send leaves a "sending" row whose lease runs
    out (``expire_leases``) instead of a pending row that would be sent again.
    Returns None when nothing is due (or the row is not pending, not due, or held by
    another relay).
    """
    if outbox_id is None:
        rows = claim_due(session, now, limit=1)
        row = rows[0] if rows else None
    else:
        row = claim_one(session, outbox_id, now)
    if row is None:
        return None
    row.status = OutboxStatus.SENDING
    row.attempts += 1
    row.last_attempt_at = now
    row.lease_until = now + timedelta(seconds=lease_s)
    session.add(row)
    return row


def held(session: Session, outbox_id: int, attempt: int, claimed_at: datetime | None = None
         ) -> Outbox | None:
    """Row ``outbox_id`` locked for recording the outcome of the attempt claimed as its
    ``attempt``-th at ``claimed_at`` (its ``last_attempt_at``), or None when that attempt is
    no longer the row's (re-queued by staff since, and perhaps claimed again, or sent).

    A row whose lease ran out meanwhile ("unknown") is still returned: the relay now knows
    the outcome, which is better than the doubt.
    """
    stmt = select(Outbox).where(
        Outbox.id == outbox_id, Outbox.attempts == attempt,
        col(Outbox.status).in_([OutboxStatus.SENDING, OutboxStatus.UNKNOWN]),
    )
    if claimed_at is not None:
        stmt = stmt.where(Outbox.last_attempt_at == claimed_at)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return session.exec(stmt).first()


def expire_leases(session: Session, now: datetime, limit: int = 100) -> list[Outbox]:
    """Mark "unknown" up to ``limit`` "sending" rows whose ``lease_until`` is before ``now``.

    Their relay died (or lost the database) while sending: the push may or may not have
    reached WeChat, so it is not sent again; ``last_error`` says so. Locked SKIP LOCKED on
    PostgreSQL. Returns the rows changed (not committed).
    """
    stmt = (select(Outbox)
            .where(Outbox.status == OutboxStatus.SENDING, Outbox.lease_until < now)
            .order_by(Outbox.id).limit(limit))
    rows = list(session.exec(_locked(session, stmt)).all())
    for row in rows:
        lease = as_utc(row.lease_until).isoformat() if row.lease_until else "?"
        mark_unknown(row, f"in doubt: the relay sending attempt {row.attempts} stopped before "
                          f"recording the outcome (lease ran out at {lease}); it may have been "
                          "delivered", now)
        session.add(row)
    return rows


def mark_sent(row: Outbox, channel: str, now: datetime) -> None:
    """Record a delivery: status "sent", ``channel`` ("wecom" | "custom" | "template"),
    ``sent_at`` = ``now`` (aware UTC), lease cleared. ``attempts`` was counted by ``claim``;
    ``last_error`` keeps the previous failure, if any, for the record."""
    row.status = OutboxStatus.SENT
    row.channel = channel
    row.sent_at = now
    row.lease_until = None


def mark_failed(
    row: Outbox, error: str, now: datetime, retryable: bool, max_attempts: int = MAX_ATTEMPTS
) -> None:
    """Record a failed attempt that did not reach the recipient: ``last_error`` = ``error``,
    lease cleared; then either status "dead" (not ``retryable``, or ``max_attempts``
    attempts made) or "pending" again with the next attempt at ``now`` +
    ``backoff_s(attempts)``. ``attempts`` was counted by ``claim``."""
    row.last_error = error[:2000]
    row.lease_until = None
    if not retryable or row.attempts >= max_attempts:
        row.status = OutboxStatus.DEAD
    else:
        row.status = OutboxStatus.PENDING
        row.next_attempt_at = now + timedelta(seconds=backoff_s(row.attempts))


def mark_unknown(row: Outbox, error: str, now: datetime) -> None:
    """Record an attempt in doubt (it may have reached WeChat): status "unknown",
    ``last_error`` = ``error``, lease cleared. The relay never sends it again by itself."""
    row.status = OutboxStatus.UNKNOWN
    row.last_error = error[:2000]
    row.lease_until = None


# -- staff side (gridbot outbox list / retry) --------------------------------------------------

REQUEUEABLE = (OutboxStatus.DEAD, OutboxStatus.UNKNOWN, OutboxStatus.PENDING)
"""Statuses a person may re-queue. "sending" is in flight and "sent" was delivered: re-queueing
those would send a second message."""


def list_rows(session: Session, statuses: Iterable[str] | None = None, limit: int = 50
              ) -> list[Outbox]:
    """Up to ``limit`` rows with one of ``statuses`` (default: every status but "sent"),
    newest first."""
    wanted = list(statuses) if statuses else [
        OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.UNKNOWN, OutboxStatus.DEAD]
    return list(session.exec(
        select(Outbox).where(col(Outbox.status).in_(wanted))
        .order_by(col(Outbox.id).desc()).limit(limit)
    ).all())


def requeue(
    session: Session, now: datetime, ids: Iterable[int] = (), all_dead: bool = False,
    by: str = "staff",
) -> tuple[list[Outbox], dict[int, str]]:
    """Put rows back in the queue: status "pending", due at ``now``, ``attempts`` reset to 0
    so they get the full retry schedule again; ``last_error`` keeps the history
    ("requeued by <by> at <now> after <n> attempts, was <status>: <previous error>").

    ``ids`` names the rows; ``all_dead`` adds every "dead" row. Only rows in REQUEUEABLE are
    changed. Returns (rows re-queued, {id: why skipped} for missing, "sending" or "sent"
    rows). Not committed.
    """
    wanted = sorted(set(ids))
    rows = {r.id: r for r in session.exec(
        _locked_plain(session, select(Outbox).where(col(Outbox.id).in_(wanted)))).all()} \
        if wanted else {}
    skipped = {i: "no such push" for i in wanted if i not in rows}
    targets = [rows[i] for i in wanted if i in rows]
    if all_dead:
        seen = set(rows)
        targets += [r for r in session.exec(_locked_plain(session, select(Outbox).where(
            Outbox.status == OutboxStatus.DEAD).order_by(Outbox.id))).all() if r.id not in seen]
    done = []
    for row in targets:
        if row.status not in REQUEUEABLE:
            skipped[row.id] = (f"{row.status}: in flight, not re-queued" if row.status ==
                               OutboxStatus.SENDING else f"{row.status}: already delivered")
            continue
        history = (f"requeued by {by} at {as_utc(now).isoformat()} after {row.attempts} "
                   f"attempts, was {row.status}")
        if row.last_error:
            history += f": {row.last_error}"
        row.last_error = history[:2000]
        row.status = OutboxStatus.PENDING
        row.attempts = 0
        row.next_attempt_at = now
        row.lease_until = None
        session.add(row)
        done.append(row)
    return done, skipped


def _locked_plain(session: Session, stmt):
    """``stmt`` with ``FOR UPDATE`` (waiting for a relay's short transaction) on PostgreSQL."""
    if session.get_bind().dialect.name == "postgresql":
        return stmt.with_for_update()
    return stmt

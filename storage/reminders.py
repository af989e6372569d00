"""Reminders already sent: one row per reminder key, so no reminder goes out twice.

A job that wants to send reminder ``key`` (e.g. "loan:17:due_tomorrow") first claims it with
``claim``; the row is inserted in the caller's transaction, and the primary key makes a
second claim fail — also when two worker processes race (on PostgreSQL the second insert
waits for the first transaction and then fails; if the first rolls back, the second wins).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel


class SentReminder(SQLModel, table=True):
    """A reminder that was sent (or deliberately skipped), by key."""

    __tablename__ = "sent_reminder"

    key: str = Field(primary_key=True, max_length=200)
    """"<subject>:<id>:<stage>", e.g. "loan:17:overdue2" or "enrollment:5:day_before"."""
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    """When it was claimed (aware UTC)."""
    skipped: bool = False
    """True when the stage was passed over (a later stage was due at the same time)."""


def claim(session: Session, key: str, now: datetime, skipped: bool = False) -> bool:
    """Record reminder ``key`` in the caller's transaction; False when it was already recorded.

    Uses a savepoint, so a lost race leaves the caller's transaction usable.
    """
    if session.get(SentReminder, key) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(SentReminder(key=key, at=now, skipped=skipped))
            session.flush()
    except IntegrityError:
        return False
    return True


def was_sent(session: Session, key: str) -> bool:
    """True when reminder ``key`` has been claimed."""
    return session.get(SentReminder, key) is not None

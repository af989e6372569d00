"""Tables of the staff console (员工控制台) and the Open311 door: login sessions, the audit
log, API keys and staff-edited configuration documents.

- ``ConsoleSession``: one browser login of a ``GridWorker``; the cookie holds a random token,
  the table only its SHA-256 (``token_hash``), so a database leak gives no live session.
- ``AuditEntry``: who did what from the console (logins, failed logins, every staff POST).
- ``ApiKey``: an Open311 GeoReport v2 client key, stored hashed; ``community_id`` limits it
  to one community (None: every community of the account); revoked keys are kept.
- ``ConfigDocument``: a TOML text edited by staff that overrides a packaged file ("sla",
  "lexicon:<intent>" …); ``version`` counts saves (optimistic locking).

All datetimes are aware UTC. The logic lives in ``services/accounts.py`` and the console.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime
from sqlmodel import Field, SQLModel

from storage.times import utcnow


def _ts(nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=nullable, index=index))


def _created(index: bool = False) -> Any:
    return Field(default_factory=utcnow,
                 sa_column=Column(DateTime(timezone=True), nullable=False, index=index))


class ConsoleSession(SQLModel, table=True):
    """A logged-in browser of a member of staff.

    ``token_hash`` is the hex SHA-256 of the cookie's token. The session ends at
    ``expires_at`` (absolute) or after the idle limit counted from ``last_seen_at``
    (``services.accounts``); ``csrf_token`` must come back with every POST.
    """

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, index=True)
    worker_id: int = Field(foreign_key="gridworker.id", index=True)
    created_at: datetime = _created()
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    last_seen_at: datetime = _created()
    csrf_token: str
    ip: str | None = None
    user_agent: str | None = None


class AuditEntry(SQLModel, table=True):
    """One line of the audit log: ``action`` ("login", "login_failed", "logout", "ticket.assign"
    …) by ``worker_id`` (None: unknown, e.g. a failed login for no such user) on a target
    (``target_kind`` "ticket", ``target_id`` its number or id), with details (JSON dict)."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _created(index=True)
    worker_id: int | None = Field(default=None, foreign_key="gridworker.id", index=True)
    action: str
    target_kind: str | None = None
    target_id: str | None = None
    detail: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    ip: str | None = None


class ApiKey(SQLModel, table=True):
    """An Open311 client's key; ``key_hash`` is the hex SHA-256 of the key given out once."""

    id: int | None = Field(default=None, primary_key=True)
    name: str
    key_hash: str = Field(unique=True, index=True)
    community_id: int | None = Field(default=None, foreign_key="community.id")
    created_at: datetime = _created()
    revoked_at: datetime | None = _ts()


class ConfigDocument(SQLModel, table=True):
    """Staff-edited configuration text overriding a packaged TOML file, by ``name``."""

    name: str = Field(primary_key=True)
    text: str
    version: int = 1
    updated_at: datetime = _created()
    updated_by_id: int | None = Field(default=None, foreign_key="gridworker.id")

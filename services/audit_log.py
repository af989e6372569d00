"""The audit log as staff read it (审计日志 in the console): who did what, newest first.

``entries(session, worker, kind=None, page=1)`` needs the "audit" capability
(``services.permissions``): a street administrator reads every entry; a community
administrator the entries of staff of their community (their own included) — entries of no
known worker (a failed login for an unknown name, a password set from the command line) are
the street administrators' only. ``kind`` narrows to one family of actions ("login",
"ticket", "kept", "config", "export", "password").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_
from sqlmodel import Session, col, select

from services.permissions import require_may
from services.scope import community_ids_seen, scope_of
from storage.accounts import AuditEntry
from storage.models import Grid, GridWorker

PER_PAGE = 50
KINDS = {
    "login": ("login", "logout", "login_failed", "login_blocked", "login_link_issued", "login_link_used"),
    "password": ("password_set", "password_changed", "password_change_refused", "sessions_ended"),
}
"""Kinds whose actions have no common prefix; any other kind matches "<kind>.*"."""


@dataclass(frozen=True)
class Entry:
    """One line of the log: ``at`` (aware UTC), ``action``, who (``worker_name``, None when
    unknown), the target and the details."""

    id: int
    at: datetime
    action: str
    worker_id: int | None
    worker_name: str | None
    target_kind: str | None
    target_id: str | None
    detail: dict
    ip: str | None


@dataclass(frozen=True)
class Page:
    """A page of entries (newest first); ``more``: whether an older page exists."""

    entries: list[Entry]
    page: int
    more: bool


def entries(session: Session, worker: GridWorker, kind: str | None = None, page: int = 1,
            per_page: int = PER_PAGE) -> Page:
    """The entries ``worker`` may read (see the module doc), ``per_page`` per page from page 1.
    Raises NotAllowed without the "audit" capability."""
    require_may(session, worker, "audit")
    page = max(1, page)
    query = select(AuditEntry, GridWorker.name).join(
        GridWorker, col(GridWorker.id) == col(AuditEntry.worker_id), isouter=True)
    communities = community_ids_seen(session, scope_of(session, worker))
    if communities is not None:
        ids = sorted(communities)
        grids = select(Grid.id).where(col(Grid.community_id).in_(ids))
        query = query.where(or_(col(GridWorker.community_id).in_(ids), col(GridWorker.grid_id).in_(grids),
                                col(AuditEntry.worker_id) == worker.id))
    if kind:
        actions = KINDS.get(kind)
        query = query.where(col(AuditEntry.action).in_(actions) if actions
                            else col(AuditEntry.action).startswith(f"{kind}."))
    rows = session.exec(query.order_by(col(AuditEntry.at).desc(), col(AuditEntry.id).desc())
                        .offset((page - 1) * per_page).limit(per_page + 1)).all()
    found = [Entry(e.id, e.at, e.action, e.worker_id, name, e.target_kind, e.target_id, e.detail or {}, e.ip)
             for e, name in rows[:per_page]]
    return Page(found, page, len(rows) > per_page)

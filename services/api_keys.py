"""Open311 API keys: issue one to a client system (a city's 12345 platform, a dashboard),
check the key it sends with each POST, revoke it.

A key is ``PREFIX`` + 43 URL-safe random characters (256 bits), shown once when issued; the
``ApiKey`` row keeps only its hex SHA-256 (``key_hash``), so a database leak gives no usable
key. A key may be limited to one community (``ApiKey.community_id``); revoked keys stay in the
table (``revoked_at``) so old timeline entries still name their client.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlmodel import Session, col, select

from services.errors import Invalid, NotAllowed, NotFound
from storage.accounts import ApiKey
from storage.models import Community

PREFIX = "g311_"
"""Start of every key, so a leaked one is recognisable (secret scanners, logs)."""
MAX_NAME_CHARS = 60


def digest(key: str) -> str:
    """Hex SHA-256 of the key as given (``ApiKey.key_hash``)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def issue(session: Session, name: str, now: datetime,
          community_id: int | None = None) -> tuple[ApiKey, str]:
    """A new key for the client called ``name``, limited to ``community_id`` when given.

    Returns (the flushed row, the plain key — shown once, never stored). Raises Invalid (an
    empty or over-long name, or a name an active key already has), NotFound (no such
    community)."""
    name = name.strip()
    if not name or len(name) > MAX_NAME_CHARS:
        raise Invalid(f"an API key needs a name of 1–{MAX_NAME_CHARS} characters")
    if community_id is not None and session.get(Community, community_id) is None:
        raise NotFound(f"community {community_id}")
    if _active_named(session, name) is not None:
        raise Invalid(f"an active API key is already called {name!r}")
    plain = PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(name=name, key_hash=digest(plain), community_id=community_id, created_at=now)
    session.add(row)
    session.flush()
    return row, plain


def verify(session: Session, key: str | None) -> ApiKey:
    """The active key row matching ``key``. Raises NotAllowed("api_key") for a missing,
    unknown or revoked key."""
    if not key:
        raise NotAllowed("api_key")
    row = session.exec(select(ApiKey).where(ApiKey.key_hash == digest(key.strip()))).first()
    if row is None or row.revoked_at is not None:
        raise NotAllowed("api_key")
    return row


def revoke(session: Session, ref: str, now: datetime) -> ApiKey:
    """Revoke the active key whose id (digits) or name is ``ref``; returns it. Revoking is
    final (issue a new key instead). Raises NotFound (no active key so named)."""
    ref = ref.strip()
    row = (session.get(ApiKey, int(ref)) if ref.isdigit() else None) or _active_named(session, ref)
    if row is None or row.revoked_at is not None:
        raise NotFound(f"api key {ref}")
    row.revoked_at = now
    session.add(row)
    return row


def listing(session: Session, include_revoked: bool = False) -> list[ApiKey]:
    """Keys by id (active ones only unless ``include_revoked``)."""
    query = select(ApiKey).order_by(col(ApiKey.id))
    if not include_revoked:
        query = query.where(col(ApiKey.revoked_at).is_(None))
    return list(session.exec(query))


def _active_named(session: Session, name: str) -> ApiKey | None:
    return session.exec(select(ApiKey).where(ApiKey.name == name,
                                             col(ApiKey.revoked_at).is_(None))).first()

"""Staff console accounts: passwords (argon2), login sessions and login throttling.

- ``set_password`` / ``verify`` / ``authenticate``: a ``GridWorker``'s console password,
  hashed with argon2id (argon2-cffi's defaults); ``verify`` upgrades an old hash in place
  when the parameters have changed. An unknown login costs the same time as a wrong password.
- ``start_session`` / ``session_for_token`` / ``end_session``: a browser login. The token
  (``secrets.token_urlsafe(32)``) goes into the cookie; the table keeps its SHA-256. A session
  ends ``idle_s`` seconds after the last request or ``max_s`` seconds after the login.
- ``issue_login_link`` / ``redeem_login_link``: a one-time login link (10 minutes) pushed to
  a member of staff's WeChat; kept hashed in the audit log, which also makes it single-use.
- ``Throttle``: failed logins counted in Redis per login name and per IP address over a
  window; too many and ``blocked`` says so until the window passes.

All times are aware UTC datetimes; durations are seconds.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete
from sqlmodel import Session, col, select

from services.errors import Invalid
from storage.accounts import AuditEntry, ConsoleSession
from storage.models import GridWorker
from storage.times import as_utc

MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 256
TOUCH_EVERY_S = 60
"""``last_seen_at`` is written at most this often (seconds), not on every request."""

hasher = PasswordHasher()
_DUMMY_HASH = hasher.hash(secrets.token_urlsafe(16))
"""Verified against when no worker has the login, so both cases cost the same."""


def token_hash(token: str) -> str:
    """Hex SHA-256 of a session token or API key (what the tables keep)."""
    return hashlib.sha256(token.encode()).hexdigest()


def set_password(session: Session, worker: GridWorker, password: str, login: str | None = None) -> None:
    """Give ``worker`` the console ``password`` (argon2id hash) and a ``login``: the one given,
    else the one they have, else their phone, else their OpenID. Ends their open sessions.

    Raises Invalid when the password is shorter than ``MIN_PASSWORD_CHARS`` (or absurdly
    long), or when the login is blank or another worker's.
    """
    if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise Invalid(f"password must have {MIN_PASSWORD_CHARS}–{MAX_PASSWORD_CHARS} characters")
    name = (login if login is not None else worker.login or worker.phone or worker.openid).strip()
    if not name:
        raise Invalid("login must not be blank")
    other = session.exec(select(GridWorker).where(GridWorker.login == name)).first()
    if other is not None and other.id != worker.id:
        raise Invalid(f"login {name!r} belongs to another worker")
    worker.login = name
    worker.password_hash = hasher.hash(password)
    session.add(worker)
    session.flush()
    end_sessions_of(session, worker)


def verify(session: Session, worker: GridWorker, password: str) -> bool:
    """Whether ``password`` is ``worker``'s (constant time; False when they have none);
    rehashes it when argon2's parameters changed since it was set."""
    if not worker.password_hash:
        _burn(password)
        return False
    try:
        hasher.verify(worker.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    if hasher.check_needs_rehash(worker.password_hash):
        worker.password_hash = hasher.hash(password)
        session.add(worker)
    return True


def authenticate(session: Session, login: str, password: str) -> GridWorker | None:
    """The active worker whose login (or, failing that, phone) is ``login`` and whose console
    password is ``password``; None otherwise (an unknown login takes as long as a wrong
    password)."""
    login = login.strip()
    worker = session.exec(select(GridWorker).where(GridWorker.login == login)).first() if login else None
    if worker is None and login:
        worker = session.exec(select(GridWorker).where(
            GridWorker.phone == login, col(GridWorker.password_hash).is_not(None))).first()
    if worker is None or not worker.active:
        _burn(password)
        return None
    return worker if verify(session, worker, password) else None


def _burn(password: str) -> None:
    """Spend the time of one verification (for a login that has no password)."""
    with contextlib.suppress(VerificationError):
        hasher.verify(_DUMMY_HASH, password)


def find_login(session: Session, login: str) -> GridWorker | None:
    """The worker with this login, else the one with this phone, else None."""
    login = login.strip()
    return (session.exec(select(GridWorker).where(GridWorker.login == login)).first()
            or session.exec(select(GridWorker).where(GridWorker.phone == login)).first())


# -- sessions -------------------------------------------------------------------------------

def start_session(session: Session, worker: GridWorker, now: datetime, *, max_s: int,
                  ip: str | None = None, user_agent: str | None = None) -> tuple[str, ConsoleSession]:
    """A new login of ``worker`` lasting at most ``max_s`` seconds: (the token for the
    cookie, the row). The row has a fresh CSRF token."""
    token = secrets.token_urlsafe(32)
    row = ConsoleSession(token_hash=token_hash(token), worker_id=worker.id, created_at=now,
                         last_seen_at=now, expires_at=now + timedelta(seconds=max_s),
                         csrf_token=secrets.token_urlsafe(32), ip=ip,
                         user_agent=(user_agent or "")[:300] or None)
    session.add(row)
    session.flush()
    return token, row


@dataclass(frozen=True)
class LoggedIn:
    """A live console session and its worker."""

    row: ConsoleSession
    worker: GridWorker


def session_for_token(session: Session, token: str | None, now: datetime, *, idle_s: int) -> LoggedIn | None:
    """The live session of the cookie's ``token``, or None when there is none, it expired
    (``expires_at`` passed, or ``idle_s`` seconds without a request) or its worker is no
    longer active. An expired row is deleted; a live one's ``last_seen_at`` moves to ``now``
    (at most every ``TOUCH_EVERY_S`` seconds)."""
    if not token:
        return None
    row = session.exec(select(ConsoleSession).where(ConsoleSession.token_hash == token_hash(token))).first()
    if row is None:
        return None
    worker = session.get(GridWorker, row.worker_id)
    idle_until = as_utc(row.last_seen_at) + timedelta(seconds=idle_s)
    if now >= as_utc(row.expires_at) or now >= idle_until or worker is None or not worker.active:
        session.delete(row)
        session.flush()
        return None
    if (now - as_utc(row.last_seen_at)).total_seconds() >= TOUCH_EVERY_S:
        row.last_seen_at = now
        session.add(row)
        session.flush()
    return LoggedIn(row, worker)


def end_session(session: Session, token: str | None) -> int | None:
    """Delete the session of ``token``; the worker id it belonged to, or None."""
    if not token:
        return None
    row = session.exec(select(ConsoleSession).where(ConsoleSession.token_hash == token_hash(token))).first()
    if row is None:
        return None
    session.delete(row)
    session.flush()
    return row.worker_id


def end_sessions_of(session: Session, worker: GridWorker) -> None:
    """Log ``worker`` out everywhere (after a password change, or when they leave)."""
    session.execute(delete(ConsoleSession).where(col(ConsoleSession.worker_id) == worker.id))


def purge_expired(session: Session, now: datetime, *, idle_s: int) -> int:
    """Delete sessions past their end or idle for ``idle_s`` seconds; how many."""
    result = session.execute(delete(ConsoleSession).where(
        (col(ConsoleSession.expires_at) <= now)
        | (col(ConsoleSession.last_seen_at) <= now - timedelta(seconds=idle_s))))
    return result.rowcount or 0


# -- one-time login links ---------------------------------------------------------------------

LINK_ISSUED = "login_link_issued"
LINK_USED = "login_link_used"
LINK_TTL_S = 10 * 60


def issue_login_link(session: Session, worker: GridWorker, now: datetime, *,
                     ttl_s: int = LINK_TTL_S, by: str | None = None) -> str:
    """A one-time login token for ``worker``, valid ``ttl_s`` seconds (the link pushed to
    their WeChat by `gridbot staff link`). Kept only as its SHA-256 in an audit row
    (``LINK_ISSUED``); ``by`` says who asked. Raises Invalid for an inactive worker."""
    if not worker.active:
        raise Invalid("worker is not active")
    token = secrets.token_urlsafe(32)
    session.add(AuditEntry(at=now, worker_id=worker.id, action=LINK_ISSUED, target_kind="login_link",
                           target_id=token_hash(token),
                           detail={"expires_at": (now + timedelta(seconds=ttl_s)).isoformat(),
                                   "by": by}))
    session.flush()
    return token


def redeem_login_link(session: Session, token: str | None, now: datetime,
                      ip: str | None = None) -> GridWorker | None:
    """The active worker whose unexpired, unused login link ``token`` is, marking it used
    (an audit row ``LINK_USED``); None otherwise. The issue row is locked meanwhile, so a
    link works once however many requests race."""
    if not token:
        return None
    digest = token_hash(token)
    issued = session.exec(select(AuditEntry).where(
        AuditEntry.action == LINK_ISSUED, AuditEntry.target_id == digest).with_for_update()).first()
    if issued is None or now >= datetime.fromisoformat(issued.detail["expires_at"]):
        return None
    used = session.exec(select(AuditEntry.id).where(
        AuditEntry.action == LINK_USED, AuditEntry.target_id == digest)).first()
    worker = session.get(GridWorker, issued.worker_id)
    if used is not None or worker is None or not worker.active:
        return None
    session.add(AuditEntry(at=now, worker_id=worker.id, action=LINK_USED, target_kind="login_link",
                           target_id=digest, detail={}, ip=ip))
    session.flush()
    return worker


# -- throttling -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Throttle:
    """Failed console logins counted in Redis (a sync client, e.g. ``app.state.redis``):
    ``per_login`` failures for one login name, or ``per_ip`` from one address, within
    ``window_s`` seconds (from the first counted failure) block further attempts until the
    window ends. A success clears the login's count (not the address's)."""

    redis: object
    per_login: int = 5
    per_ip: int = 20
    window_s: int = 15 * 60
    prefix: str = "gridbot:console:login-fail"

    def _keys(self, login: str, ip: str | None) -> tuple[str, str | None]:
        name = hashlib.sha256(login.strip().lower().encode()).hexdigest()[:32]
        return f"{self.prefix}:login:{name}", (f"{self.prefix}:ip:{ip}" if ip else None)

    def blocked(self, login: str, ip: str | None) -> bool:
        """Whether attempts for ``login`` or from ``ip`` are refused now."""
        by_login, by_ip = self._keys(login, ip)
        if int(self.redis.get(by_login) or 0) >= self.per_login:
            return True
        return by_ip is not None and int(self.redis.get(by_ip) or 0) >= self.per_ip

    def failed(self, login: str, ip: str | None) -> None:
        """Count one failed attempt for ``login`` and ``ip``."""
        for key in self._keys(login, ip):
            if key is None:
                continue
            if self.redis.incr(key) == 1:
                self.redis.expire(key, self.window_s)

    def succeeded(self, login: str) -> None:
        """Forget ``login``'s failures."""
        self.redis.delete(self._keys(login, None)[0])

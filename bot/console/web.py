"""What every console page module uses: templates, ``render``, the request dependencies,
``audit``, ``redirect`` and the mapping of service errors to pages.

A page module (``bot/console/<page>.py``) is a thin adapter::

    router = APIRouter()

    @router.post("/tickets/{number}/accept")
    def accept(number: str, request: Request, db: DbDep, me: StaffDep, now: NowDep,
               _: CsrfDep) -> Response:
        with service_errors():
            ticket = ...  # call services
        audit(db, request, me, "ticket.accept", "ticket", number)
        db.commit()
        return redirect(request, f"/console/tickets/{number}", ok="已接单")

- ``DbDep``: a sqlmodel Session on ``app.state.engine`` (the handler commits; closed after).
- ``StaffDep``: the logged-in active ``GridWorker``; not logged in → 303 to
  /console/login?next=… (htmx requests: 401 with an ``HX-Redirect`` header).
- ``CsrfDep``: on every POST; the form field ``csrf_token`` or the ``X-CSRF-Token`` header
  must equal the session's token, else 403.
- ``NowDep``: aware UTC now from ``app.state.clock``; ``SettingsDep``: ``app.state.settings``.
- Service errors raised in a console request become pages (``install`` registers the
  handlers): NotAllowed → 403, NotFound → 404, WrongState / storage.Conflict → 409,
  Invalid → 422, each with a Chinese sentence (``error`` in the page, or a flash fragment
  for htmx requests). ``service_errors()`` is the same mapping as a context manager.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import secrets
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.exc import DataError
from sqlmodel import Session

from bot.settings import Settings
from services import accounts
from services.errors import Invalid, NotAllowed, ServiceError, WrongState
from services.messages import msg, role_name
from services.permissions import may
from services.public_text import public_text
from storage import Conflict
from storage import NotFound as StorageNotFound
from storage.accounts import AuditEntry
from storage.models import GridWorker, Role
from storage.times import local

log = logging.getLogger("gridbot.console")

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
COOKIE = "gridbot_console"
"""Name of the session cookie (HttpOnly, SameSite=Lax, Secure in production)."""
PRE_COOKIE = "gridbot_console_pre"
"""Cookie holding the login form's CSRF token before there is a session."""

ROLE_NAMES = {role: role_name(role) for role in Role.ALL}
"""Role → what staff read (the catalogue's ``[role]`` table)."""

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": ("frame-ancestors 'none'; base-uri 'self'; form-action 'self';"
                                " object-src 'none'; script-src 'self'"),
}
"""Headers of every console response but static files (``install``)."""

ERROR_TEXT = {status: msg(f"console.error.{status}") for status in (403, 404, 409, 422)}
"""HTTP status → the standard sentence of its error page (the catalogue's ``[console.error]``)."""
ERROR_OTHER = msg("console.error.other")
"""The sentence of an error page whose status has none of its own."""


# -- Jinja2 filters -----------------------------------------------------------------------

def _tz(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An aware UTC datetime shown in Asia/Shanghai ("-" for None)."""
    if value is None:
        return "-"
    return local(value).strftime(fmt)


templates.env.filters["tz"] = _tz
templates.env.filters["local"] = _tz
templates.env.filters["tzdate"] = lambda v: _tz(v, "%Y-%m-%d")
templates.env.filters["role_name"] = role_name
templates.env.globals["ROLE_NAMES"] = ROLE_NAMES


# -- dependencies -------------------------------------------------------------------------

def _db(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine, expire_on_commit=False) as session:
        request.state.db = session
        yield session


def _now(request: Request) -> datetime:
    clock = getattr(request.app.state, "clock", None)
    if clock is None:
        from storage.times import utcnow

        return utcnow()
    return clock()


def _settings(request: Request) -> Settings:
    return request.app.state.settings


DbDep = Annotated[Session, Depends(_db)]
NowDep = Annotated[datetime, Depends(_now)]
SettingsDep = Annotated[Settings, Depends(_settings)]


class LoginRequired(Exception):
    """Raised by ``StaffDep`` when the request has no live console session."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class ConsoleError(Exception):
    """An error page: ``status`` (403, 404, 409, 422 …) and the sentence to show."""

    def __init__(self, status: int, message: str | None = None) -> None:
        super().__init__(message or ERROR_TEXT.get(status, ERROR_OTHER))
        self.status = status
        self.message = message or ERROR_TEXT.get(status, ERROR_OTHER)


def _logged_in(request: Request, db: DbDep, now: NowDep, settings: SettingsDep) -> accounts.LoggedIn:
    logged = accounts.session_for_token(db, request.cookies.get(COOKIE), now,
                                        idle_s=settings.console_session_idle_s)
    db.commit()  # the touch of last_seen_at, or the expired row's deletion
    if logged is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target if request.method == "GET" else "/console/")
    request.state.console = logged
    return logged


LoggedInDep = Annotated[accounts.LoggedIn, Depends(_logged_in)]


def _staff(logged: LoggedInDep) -> GridWorker:
    return logged.worker


StaffDep = Annotated[GridWorker, Depends(_staff)]


def same_token(sent: str | None, expected: str | None) -> bool:
    """Whether the token ``sent`` (a form field, header or cookie: any text, None) equals
    ``expected``, in constant time. Compared as UTF-8 bytes: ``secrets.compare_digest``
    raises TypeError on non-ASCII ``str`` (a crafted token would be a 500, not a 403)."""
    if not sent or not expected:
        return False
    return secrets.compare_digest(sent.encode("utf-8", "surrogatepass"),
                                  expected.encode("utf-8", "surrogatepass"))


async def _csrf(request: Request, logged: LoggedInDep) -> None:
    sent = request.headers.get("x-csrf-token")
    if sent is None:
        form = await request.form()  # cached: the handler's Form() fields read it again
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else None
    if not same_token(sent, logged.row.csrf_token):
        raise ConsoleError(403, msg("console.error.csrf"))


CsrfDep = Annotated[None, Depends(_csrf)]


# -- rendering ----------------------------------------------------------------------------

def is_htmx(request: Request) -> bool:
    """Whether htmx sent the request (``HX-Request: true``)."""
    return request.headers.get("hx-request") == "true"


def render(request: Request, name: str, context: dict[str, Any] | None = None,
           status_code: int = 200) -> HTMLResponse:
    """The template ``name`` with ``context`` plus: ``me`` (GridWorker or None),
    ``csrf_token``, ``now`` (aware UTC), ``can(capability, community_id=None)``, ``htmx``,
    ``ok`` / ``error`` (from the query string, signed by ``redirect``, unless given),
    ``request``."""
    logged: accounts.LoggedIn | None = getattr(request.state, "console", None)
    me = logged.worker if logged else None
    db: Session | None = getattr(request.state, "db", None)

    def can(capability: str, community_id: int | None = None) -> bool:
        return me is not None and db is not None and may(db, me, capability, community_id)

    full: dict[str, Any] = {
        "me": me,
        "csrf_token": logged.row.csrf_token if logged else "",
        "now": _now(request),
        "can": can,
        "htmx": is_htmx(request),
        **_flash(request),
    }
    full.update(context or {})
    return templates.TemplateResponse(request, name, full, status_code=status_code)


def redirect(request: Request, url: str, ok: str | None = None, error: str | None = None) -> Response:
    """303 to ``url`` (with ``?ok=`` / ``?error=`` for the next page to show, and ``sig``:
    ``flash_signature``); for htmx
    requests an ``HX-Redirect`` header instead, so the whole page changes."""
    params = {k: v for k, v in (("ok", ok), ("error", error)) if v}
    if params:
        params["sig"] = flash_signature(request, ok, error)
        url += ("&" if "?" in url else "?") + urlencode(params)
    if is_htmx(request):
        return Response(status_code=200, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def flash_signature(request: Request, ok: str | None, error: str | None) -> str:
    """HMAC (hex, 32 characters) of a redirect's ``?ok=`` / ``?error=`` sentences, keyed from
    the account's AppSecret (shared by every process), so that a page shows only sentences
    the console itself wrote — not a link's 「账号异常，请联系…」."""
    secret = request.app.state.settings.wechat_app_secret or ""
    key = hashlib.sha256(b"gridbot console flash\0" + secret.encode()).digest()
    return hmac.new(key, f"{ok or ''}\0{error or ''}".encode(), hashlib.sha256).hexdigest()[:32]


def _flash(request: Request) -> dict[str, str | None]:
    """``ok`` / ``error`` from the query string when ``sig`` vouches for them, else None."""
    query = request.query_params
    ok, error = query.get("ok") or None, query.get("error") or None
    if (ok or error) and not same_token(query.get("sig"), flash_signature(request, ok, error)):
        return {"ok": None, "error": None}
    return {"ok": ok, "error": error}


def client_ip(request: Request) -> str | None:
    """The client's address as the server saw it (uvicorn's proxy headers apply)."""
    return request.client.host if request.client else None


AUDIT_FREE_TEXT = frozenset({"text", "note", "reason"})
"""``audit`` detail keys holding what staff typed (masked through ``public_text``)."""


def audit(session: Session, request: Request | None, me: GridWorker | None, action: str,
          target_kind: str | None = None, target_id: object = None, **detail: Any) -> AuditEntry:
    """Add one audit log row (committed with the caller's transaction): ``action`` such as
    "ticket.assign", by ``me``, on ``target_kind``/``target_id`` (str()'d), with ``detail``
    (JSON-able values). The time is ``app.state.clock``'s now.

    Free text in ``detail`` (``AUDIT_FREE_TEXT`` keys: a note, a message to a resident, a
    reason) is kept through ``services.public_text``: the audit log is never rewritten when a
    resident unsubscribes (``services.privacy`` forgets their data in the tickets, timeline
    and messages, which keep the full text), so it must not hold their phone, room or name."""
    detail = {k: public_text(v) if k in AUDIT_FREE_TEXT and isinstance(v, str) else v
              for k, v in detail.items()}
    entry = AuditEntry(at=_now(request) if request is not None else None, worker_id=me.id if me else None,
                       action=action, target_kind=target_kind,
                       target_id=None if target_id is None else str(target_id),
                       detail=detail, ip=client_ip(request) if request is not None else None)
    if entry.at is None:
        from storage.times import utcnow

        entry.at = utcnow()
    session.add(entry)
    return entry


# -- errors -------------------------------------------------------------------------------

def status_of(exc: Exception) -> int:
    """HTTP status for a service error (500 for anything else)."""
    if isinstance(exc, NotAllowed):
        return 403
    if isinstance(exc, StorageNotFound):
        return 404
    if isinstance(exc, WrongState | Conflict):
        return 409
    if isinstance(exc, Invalid | ValueError):
        return 422
    return 500


def message_of(exc: Exception, status: int) -> str:
    """The sentence shown for ``exc``: ``Invalid``'s own message when it is Chinese (the
    services write some), else the status's standard sentence."""
    text = str(exc)
    if isinstance(exc, Invalid | WrongState) and any(0x4E00 <= ord(ch) <= 0x9FFF for ch in text):
        return text
    return ERROR_TEXT.get(status, ERROR_OTHER)


@contextlib.contextmanager
def service_errors() -> Iterator[None]:
    """Turn the service errors raised inside into ``ConsoleError`` (an error page)."""
    try:
        yield
    except (ServiceError, StorageNotFound, Conflict) as exc:
        status = status_of(exc)
        raise ConsoleError(status, message_of(exc, status)) from exc


def error_response(request: Request, status: int, message: str) -> Response:
    """The error page (or, for htmx, the flash fragment swapped into #flash).

    Runs after the request's session was closed (the exception left ``DbDep``); the page's
    queries (``can``, the nav badge) reopen it, so it is closed again here: else its
    connection stays checked out "idle in transaction", holding locks."""
    try:
        if is_htmx(request):
            response = render(request, "_flash.html", {"error": message, "ok": None},
                              status_code=status)
            response.headers["HX-Retarget"] = "#flash"
            response.headers["HX-Reswap"] = "innerHTML"
            return response
        return render(request, "error.html", {"status": status, "error": message},
                      status_code=status)
    finally:
        if (db := getattr(request.state, "db", None)) is not None:
            db.close()


def install(app: FastAPI, router) -> None:  # noqa: ANN001 - an APIRouter
    """Mount the console on ``app``: the static files, ``router`` and the error handlers
    (login required, console errors, service errors raised on /console pages)."""
    from fastapi.staticfiles import StaticFiles

    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")
    app.include_router(router)

    @app.middleware("http")
    async def _console_headers(request: Request, call_next):  # noqa: ANN202 - Starlette's signature
        """Console pages: never cached (they show residents' data), never framed, no
        referrer to other sites, no MIME sniffing."""
        try:
            response = await call_next(request)
        finally:
            # whatever path the request took (a page, a redirect, an htmx partial, an error
            # page that reopened the session, an exception), its session is closed now:
            # never a pooled connection left "idle in transaction" holding locks
            if (db := getattr(request.state, "db", None)) is not None:
                db.close()
        if request.url.path.startswith("/console") and not request.url.path.startswith("/console/static/"):
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
        return response

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> Response:
        url = "/console/login?next=" + quote(exc.next_url, safe="")
        if is_htmx(request):
            return Response(status_code=401, headers={"HX-Redirect": url})
        return RedirectResponse(url, status_code=303)

    @app.exception_handler(ConsoleError)
    async def _console_error(request: Request, exc: ConsoleError) -> Response:
        return error_response(request, exc.status, exc.message)

    async def _service_error(request: Request, exc: Exception) -> Response:
        status = status_of(exc)
        if not request.url.path.startswith("/console"):
            log.error("unhandled service error on %s", request.url.path, exc_info=exc)
            return Response("Internal Server Error", status_code=500)
        return error_response(request, status, message_of(exc, status))

    for kind in (ServiceError, StorageNotFound, Conflict):
        app.add_exception_handler(kind, _service_error)

    async def _out_of_range(request: Request, exc: Exception) -> Response:
        """A number in the URL or form beyond what the database stores (?page=999…9,
        /kept/999…9/answer: PostgreSQL's DataError, SQLite's OverflowError) names nothing
        there is: 404, not a server error."""
        if not request.url.path.startswith("/console"):
            log.error("unhandled error on %s", request.url.path, exc_info=exc)
            return Response("Internal Server Error", status_code=500)
        log.warning("out-of-range value on %s: %s", request.url.path, exc)
        return error_response(request, 404, ERROR_TEXT[404])

    for kind in (DataError, OverflowError):
        app.add_exception_handler(kind, _out_of_range)

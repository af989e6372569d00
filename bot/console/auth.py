"""Console login and logout: GET/POST /console/login, POST /console/logout.

The password check, sessions and throttling are ``services.accounts``; this module reads the
form, sets or clears the cookie and writes the audit log (login, login_failed,
login_blocked, logout). The login form carries its own CSRF token (double-submit: a random
value in the ``PRE_COOKIE`` cookie and in the form) since there is no session yet.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from bot.console.web import (
    COOKIE,
    PRE_COOKIE,
    CsrfDep,
    DbDep,
    LoggedInDep,
    NowDep,
    SettingsDep,
    StaffDep,
    audit,
    client_ip,
    redirect,
    render,
    same_token,
)
from services import accounts
from services.errors import Invalid
from services.messages import msg

router = APIRouter()

TOO_MANY = msg("console.auth.too_many", minutes=accounts.Throttle.window_s // 60)
"""Shown while the login throttle blocks an account or address."""
WRONG = msg("console.auth.wrong")
"""Shown for an unknown login or a wrong password (the same words: no account probing)."""


def safe_next(url: str | None) -> str:
    """``url`` when it is a console path on this site, else /console/ (no open redirect)."""
    if url and url.startswith("/console") and not url.startswith("//") and "\\" not in url:
        return url
    return "/console/"


def _login_page(request: Request, next_url: str, error: str | None = None, login: str = "",
                status_code: int = 200) -> Response:
    token = request.cookies.get(PRE_COOKIE) or secrets.token_urlsafe(24)
    response = render(request, "login.html", {"next": next_url, "error": error, "login": login,
                                              "login_csrf": token}, status_code=status_code)
    response.set_cookie(PRE_COOKIE, token, httponly=True, samesite="lax", path="/console",
                        secure=request.app.state.settings.environment == "production")
    return response


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:  # noqa: A002 - the query name
    """The login page."""
    return _login_page(request, safe_next(next))


@router.post("/login")
def login(request: Request, db: DbDep, now: NowDep, settings: SettingsDep,
          login: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "",
          next: Annotated[str, Form()] = "/console/",  # noqa: A002
          csrf_token: Annotated[str, Form()] = "") -> Response:
    """Check the password; on success start a session (cookie) and go to ``next``."""
    next_url = safe_next(next)
    pre = request.cookies.get(PRE_COOKIE)
    if not same_token(csrf_token, pre):
        return _login_page(request, next_url, msg("console.auth.login_expired"), login, status_code=403)
    ip = client_ip(request)
    throttle = accounts.Throttle(request.app.state.redis)
    name = login.strip()[:100]
    known = accounts.find_login(db, name) if name else None
    # one count per account, whichever name reaches it (login or phone, any case)
    account = f"worker:{known.id}" if known is not None else name
    if throttle.blocked(account, ip):
        audit(db, request, None, "login_blocked", "login", name)
        db.commit()
        return _login_page(request, next_url, TOO_MANY, name, status_code=429)
    worker = accounts.authenticate(db, name, password)
    if worker is None:
        throttle.failed(account, ip)
        audit(db, request, known, "login_failed", "login", name)
        db.commit()
        return _login_page(request, next_url, WRONG, name, status_code=401)
    throttle.succeeded(f"worker:{worker.id}")
    accounts.purge_expired(db, now, idle_s=settings.console_session_idle_s)  # abandoned logins
    token, _row = accounts.start_session(db, worker, now, max_s=settings.console_session_max_s,
                                         ip=ip, user_agent=request.headers.get("user-agent"))
    audit(db, request, worker, "login", "worker", worker.id)
    db.commit()
    response = RedirectResponse(next_url, status_code=303)
    response.set_cookie(COOKIE, token, max_age=settings.console_session_max_s, httponly=True,
                        samesite="lax", path="/console", secure=settings.environment == "production")
    response.delete_cookie(PRE_COOKIE, path="/console")
    return response


@router.post("/logout")
def logout(request: Request, db: DbDep, logged: LoggedInDep, _: CsrfDep) -> Response:
    """End this browser's session and go to the login page."""
    accounts.end_session(db, request.cookies.get(COOKIE))
    audit(db, request, logged.worker, "logout", "worker", logged.worker.id)
    db.commit()
    response = redirect(request, "/console/login", ok=msg("console.auth.logged_out"))
    response.delete_cookie(COOKIE, path="/console")
    return response


@router.get("/password")
def password_form(request: Request, me: StaffDep) -> Response:
    """The page where the logged-in member of staff changes their own password."""
    return render(request, "password.html", {"min_chars": accounts.MIN_PASSWORD_CHARS})


@router.post("/password")
def change_password(request: Request, db: DbDep, me: StaffDep, now: NowDep, settings: SettingsDep,
                    _: CsrfDep, current: Annotated[str, Form()] = "",
                    new: Annotated[str, Form()] = "", again: Annotated[str, Form()] = "") -> Response:
    """Change one's own password (the current one first); every other session ends, this
    browser gets a new one."""
    def refuse(text: str) -> Response:
        return render(request, "password.html", {"min_chars": accounts.MIN_PASSWORD_CHARS,
                                                 "error": text}, status_code=422)

    worker = me
    # the current password is guessed here as at the login (a stolen session must not
    # buy unlimited guesses at it): the same count per account
    throttle, account = accounts.Throttle(request.app.state.redis), f"worker:{worker.id}"
    if throttle.blocked(account, client_ip(request)):
        return render(request, "password.html", {"min_chars": accounts.MIN_PASSWORD_CHARS,
                                                 "error": TOO_MANY}, status_code=429)
    if not accounts.verify(db, worker, current):
        throttle.failed(account, client_ip(request))
        audit(db, request, worker, "password_change_refused", "worker", worker.id)
        db.commit()
        return refuse(msg("console.auth.current_wrong"))
    if new != again:
        return refuse(msg("console.auth.new_mismatch"))
    if new == current:
        return refuse(msg("console.auth.new_same"))
    try:
        accounts.set_password(db, worker, new)
    except Invalid:
        return refuse(msg("console.auth.new_short", n=accounts.MIN_PASSWORD_CHARS))
    token, _row = accounts.start_session(db, worker, now, max_s=settings.console_session_max_s,
                                         ip=client_ip(request), user_agent=request.headers.get("user-agent"))
    throttle.succeeded(account)  # the right current password: as a login would
    audit(db, request, worker, "password_changed", "worker", worker.id)
    db.commit()
    response = redirect(request, "/console/", ok=msg("console.auth.password_changed"))
    response.set_cookie(COOKIE, token, max_age=settings.console_session_max_s, httponly=True,
                        samesite="lax", path="/console", secure=settings.environment == "production")
    return response


@router.get("/login/link")
def link_form(request: Request, token: str = "") -> Response:
    """A one-time login link (`gridbot staff link`) opens this page; its button logs in (a
    GET does not, so a link preview cannot use the link up)."""
    pre = request.cookies.get(PRE_COOKIE) or secrets.token_urlsafe(24)
    response = render(request, "login_link.html", {"token": token, "login_csrf": pre})
    response.set_cookie(PRE_COOKIE, pre, httponly=True, samesite="lax", path="/console",
                        secure=request.app.state.settings.environment == "production")
    return response


@router.post("/login/link")
def link_login(request: Request, db: DbDep, now: NowDep, settings: SettingsDep,
               token: Annotated[str, Form()] = "", csrf_token: Annotated[str, Form()] = "") -> Response:
    """Redeem a one-time login link: a session as with a password."""
    pre = request.cookies.get(PRE_COOKIE)
    if not same_token(csrf_token, pre):
        return _login_page(request, "/console/", msg("console.auth.link_expired"), status_code=403)
    ip = client_ip(request)
    throttle = accounts.Throttle(request.app.state.redis)
    if throttle.blocked("login-link", ip):
        return _login_page(request, "/console/", TOO_MANY, status_code=429)
    worker = accounts.redeem_login_link(db, token, now, ip=ip)
    if worker is None:
        throttle.failed("login-link", ip)
        audit(db, request, None, "login_failed", "login_link")
        db.commit()
        return _login_page(request, "/console/", msg("console.auth.link_invalid"),
                           status_code=401)
    session_token, _row = accounts.start_session(db, worker, now, max_s=settings.console_session_max_s,
                                                 ip=ip, user_agent=request.headers.get("user-agent"))
    audit(db, request, worker, "login", "worker", worker.id, via="link")
    db.commit()
    response = RedirectResponse("/console/", status_code=303)
    response.set_cookie(COOKIE, session_token, max_age=settings.console_session_max_s, httponly=True,
                        samesite="lax", path="/console", secure=settings.environment == "production")
    response.delete_cookie(PRE_COOKIE, path="/console")
    return response

"""Console fixtures: ``console`` (a TestClient on the app with the demo community) and the
``login(client, worker_or_login)`` helper.

    def test_queue(console, community):
        me = login(console, "worker-g1")          # an OpenID, login, phone or GridWorker
        page = console.get("/console/")
        post(console, "/console/tickets/GD…/accept")   # adds the session's csrf_token

``login`` gives the worker the password ``PASSWORD`` (unless ``password=`` is given), logs in
through the form and leaves ``client.csrf`` (the session's CSRF token) and ``client.me``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, or_, select

from bot.app import create_app
from bot.settings import Settings
from intents.classify import Classifier
from services import accounts
from storage.models import GridWorker
from storage.times import FrozenClock

PASSWORD = "Pa55-word-for-tests"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def console_app(settings: Settings, community: Engine, clock: FrozenClock, classifier: Classifier):
    """The web app (demo community seeded, frozen clock, no embedded worker)."""
    return create_app(settings, clock=clock, classifier=classifier)


@pytest.fixture
def console(console_app) -> Iterator[TestClient]:
    """A started TestClient for the app (cookies kept between requests; redirects followed)."""
    with TestClient(console_app) as client:
        yield client


def worker_of(engine: Engine, who: GridWorker | str) -> GridWorker:
    """The GridWorker named by a row, an OpenID, a console login or a phone."""
    with Session(engine, expire_on_commit=False) as session:
        if isinstance(who, GridWorker):
            return session.get(GridWorker, who.id)
        return session.exec(select(GridWorker).where(or_(
            GridWorker.openid == who, GridWorker.login == who, GridWorker.phone == who))).one()


def set_password(engine: Engine, who: GridWorker | str, password: str = PASSWORD) -> GridWorker:
    """Give the worker a console password (login: their phone, else OpenID); the row."""
    worker = worker_of(engine, who)
    with Session(engine, expire_on_commit=False) as session:
        worker = session.get(GridWorker, worker.id)
        accounts.set_password(session, worker, password)
        session.commit()
        return worker


def login_form_token(client: TestClient, next_url: str = "/console/") -> str:
    """GET the login page; the form's CSRF token (its cookie is now in the client)."""
    page = client.get("/console/login", params={"next": next_url})
    assert page.status_code == 200, page.text
    return CSRF.search(page.text).group(1)


def login(client: TestClient, who: GridWorker | str, password: str | None = None) -> GridWorker:
    """Log ``client`` in as ``who`` (setting the password ``PASSWORD`` first unless
    ``password`` is given); sets ``client.csrf`` and ``client.me``; returns the worker."""
    engine = client.app.state.engine
    worker = set_password(engine, who) if password is None else worker_of(engine, who)
    token = login_form_token(client)
    response = client.post("/console/login", data={
        "login": worker.login, "password": password or PASSWORD, "next": "/console/",
        "csrf_token": token})
    assert response.status_code == 200 and response.url.path.startswith("/console"), response.text
    cookie = client.cookies.get("gridbot_console")
    assert cookie, "no session cookie after login"
    from storage.accounts import ConsoleSession

    with Session(engine) as session:
        row = session.exec(select(ConsoleSession).where(
            ConsoleSession.token_hash == accounts.token_hash(cookie))).one()
        client.csrf = row.csrf_token
    client.me = worker
    return worker


def post(client: TestClient, url: str, data: dict | None = None, **kwargs):
    """POST a form with the session's CSRF token added."""
    return client.post(url, data={"csrf_token": client.csrf, **(data or {})}, **kwargs)

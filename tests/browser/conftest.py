"""Browser tests of the staff console: the real app served by uvicorn in a thread (demo
community, the test database and Redis, a frozen clock), driven by Playwright through
Debian's chromium (/usr/bin/chromium; the tests are skipped when it is absent).

Fixtures:
- ``server``: a ``Server`` (base URL, engine, ``say(openid, text)`` as WeChat would deliver
  a resident's or worker's message to /wechat).
- ``page``: a fresh browser page (its own cookies), 1280×860; ``phone_page`` 390×844.
- ``staff_login(page, who)``: set the worker's password and log in through the form.
- ``shot(page, name)``: a full-page screenshot under test-output/screenshots/ (path printed).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from bot.app import create_app
from bot.devtools.sandbox import serve_in_thread
from bot.devtools.simulator import WeChatSimulator
from bot.settings import Settings
from intents.classify import Classifier
from storage.times import FrozenClock
from tests.console.conftest import PASSWORD, set_password

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
"""Screenshots of every browser test (ignored by git)."""


@dataclass
class Server:
    """The app served for the browser: ``url`` (http://127.0.0.1:PORT), ``engine``, ``sim``."""

    url: str
    engine: Engine
    sim: WeChatSimulator

    def say(self, openid: str, text: str) -> str:
        """Deliver ``text`` from ``openid`` to /wechat as WeChat would; the bot's reply text."""
        delivery = self.sim.text(openid, text)
        response = httpx.post(f"{self.url}/wechat", params=delivery.params, content=delivery.body,
                              timeout=15)
        assert response.status_code == 200, response.text
        return self.sim.reply_text(response.content)


@pytest.fixture
def server(settings: Settings, community: Engine, clock: FrozenClock,
           classifier: Classifier) -> Iterator[Server]:
    """The web app with the demo community on a free port (no embedded worker)."""
    app = create_app(settings, clock=clock, classifier=classifier)
    sim = WeChatSimulator(settings.wechat_token, settings.wechat_app_id, None,
                          now=lambda: clock().timestamp())
    with serve_in_thread(app) as url:
        yield Server(url, community, sim)


@pytest.fixture(scope="package")
def browser():
    """One headless chromium for the browser tests (skipped without /usr/bin/chromium).

    Package scope, not session: Playwright's sync API keeps an event loop running in the main
    thread while it is open, and every later test calling ``asyncio.run`` would fail with
    "cannot be called from a running event loop"; it closes when the browser tests are done."""
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium (apt-get install chromium) for the browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


def _page(browser, server: Server, width: int, height: int):
    context = browser.new_context(base_url=server.url, viewport={"width": width, "height": height},
                                  locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors
    return context, page


@pytest.fixture
def page(browser, server: Server):
    """A page in a fresh browser context (no cookies) of a desktop's size."""
    context, page = _page(browser, server, 1280, 860)
    yield page
    context.close()
    assert page.js_errors == [], page.js_errors


@pytest.fixture
def phone_page(browser, server: Server):
    """A page in a fresh browser context of a phone's size (390×844)."""
    context, page = _page(browser, server, 390, 844)
    yield page
    context.close()
    assert page.js_errors == [], page.js_errors


@pytest.fixture
def staff_login(server: Server) -> Callable:
    """``staff_login(page, who)``: give ``who`` (an OpenID, phone or login) the test password
    and log in through the login form; returns the GridWorker."""

    def log_in(page, who: str):
        worker = set_password(server.engine, who)
        page.goto("/console/login")
        page.get_by_label("账号").fill(worker.login)
        page.get_by_label("密码").fill(PASSWORD)
        page.get_by_role("button", name="登录").click()
        page.wait_for_url("**/console/**")
        assert "/console/login" not in page.url, page.content()
        return worker

    return log_in


@pytest.fixture
def shot(request) -> Callable:
    """``shot(page, name)``: save a full-page PNG as test-output/screenshots/<test>-<name>.png."""

    def take(page, name: str) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{request.node.name}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}")
        return path

    return take


def update_docs() -> bool:
    """Whether to refresh docs/console.png (GRIDBOT_UPDATE_DOCS_SCREENSHOT=1)."""
    return os.environ.get("GRIDBOT_UPDATE_DOCS_SCREENSHOT") == "1"

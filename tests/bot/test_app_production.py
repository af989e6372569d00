"""In production the app publishes no API map and never serves the WeChat API stand-in."""

from __future__ import annotations

from fastapi.testclient import TestClient

from bot.app import create_app
from bot.settings import Settings
from tests.bot.test_settings import PRODUCTION


def test_production_has_no_docs_and_no_sandbox():
    settings = Settings(_env_file=None, **PRODUCTION)
    # Settings refuse sandbox=True in production; the app must not mount it even so
    forced = settings.model_copy(update={"sandbox": True})
    client = TestClient(create_app(forced))  # no lifespan: only routing is looked at
    for path in ("/docs", "/redoc", "/openapi.json", "/sandbox/cgi-bin/token", "/sandbox/inbox/o1"):
        assert client.get(path).status_code == 404, path
    assert client.get("/healthz").status_code == 200


def test_development_keeps_docs_and_the_sandbox():
    client = TestClient(create_app(Settings(_env_file=None, sandbox=True)))
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/sandbox/inbox/o1").status_code == 200

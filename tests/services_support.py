"""Fixtures for the lending and care tests: the demo station and programmes on top of the
demo community, and a chat understood by the project's own classifier.

Import the fixtures into a test module with
``from tests.services_support import schat_fixture, services_fixture  # noqa: F401``
(they are named ``schat`` and ``services``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.devtools.simulator import WeChatSimulator
from storage.db import session_scope
from storage.importer import import_file
from storage.services_import import import_services
from tests.chat import START, Chat

DEMO_SERVICES = Path(__file__).resolve().parents[1] / "bot" / "demo_services.yaml"


def load_demo_services(engine, now=START) -> None:
    """Import the demo station, its staff (station-1) and the demo programmes."""
    with session_scope(engine) as s:
        import_file(s, DEMO_SERVICES)  # the staff entry (the importer's own keys)
        import_services(s, yaml.safe_load(DEMO_SERVICES.read_text(encoding="utf-8")), now=now)


@pytest.fixture(name="services")
def services_fixture(community):
    """The demo community with the demo station and programmes."""
    load_demo_services(community)
    return community


@pytest.fixture(name="schat")
def schat_fixture(settings, services, clock, classifier):
    """A chat with the demo community, station and programmes (clock: ``clock`` fixture),
    understood by the project's own classifier."""
    client = TestClient(create_app(settings, clock=clock, classifier=classifier))
    client.__enter__()
    sim = WeChatSimulator(settings.wechat_token, settings.wechat_app_id, None,
                          now=lambda: clock().timestamp())
    yield Chat(client, sim, services)
    client.__exit__(None, None, None)

"""Fixtures for the lending and care tests: the demo station and programmes on top of the
demo community, and a chat whose classifier knows the services' fixed commands.

Import the fixtures into a test module with
``from tests.services_support import schat_fixture, services_fixture  # noqa: F401``
(they are named ``schat`` and ``services``).

``COMMAND_KEYWORDS`` are the lexicon keywords the services' commands need (「续借」 is
otherwise ``other`` and 「取消预约」/「取消报名」 ``cancel``). Until ``intents/lexicon.toml``
carries them, ``services_classifier`` adds the missing ones to a copy of the lexicon.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.simulator import WeChatSimulator
from intents.classify import Classifier
from intents.lexicon import DEFAULT_LEXICON
from storage.db import session_scope
from storage.importer import import_file
from storage.services_import import import_services
from tests.chat import START, Chat

DEMO_SERVICES = Path(__file__).resolve().parents[1] / "bot" / "demo_services.yaml"
COMMAND_KEYWORDS = {
    "tool_lending": {"续借": 5, "取消预约": 9, "我借的东西": 5, "退出排队": 9},
    "care_signup": {"取消报名": 9, "我的报名": 5, "确认报名": 5, "放弃名额": 9},
}
"""Weights 9 outweigh the cancel combo (报名/预约 + 取消 → cancel, weight 5)."""


@cache
def services_classifier(tmp_dir: str = "/tmp") -> Classifier:
    """The project's classifier plus any of ``COMMAND_KEYWORDS`` it lacks."""
    text = DEFAULT_LEXICON.read_text(encoding="utf-8")
    data = tomllib.loads(text)
    known = {kw for spec in data.get("intents", {}).values()
             for kw in (spec.get("keywords") or {})}
    for intent, keywords in COMMAND_KEYWORDS.items():
        header = f"[intents.{intent}.keywords]\n"
        extra = "".join(f'"{k}" = {w}\n' for k, w in keywords.items() if k not in known)
        if extra:
            text = text.replace(header, header + extra, 1)
    if text == DEFAULT_LEXICON.read_text(encoding="utf-8"):
        return Classifier.load()
    path = Path(tmp_dir) / f"gridbot-services-lexicon-{abs(hash(text))}.toml"
    path.write_text(text, encoding="utf-8")
    return Classifier.load(path)


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
def schat_fixture(settings, services, clock):
    """A chat with the demo community, station and programmes (clock: ``clock`` fixture)."""
    client = TestClient(create_app(settings, clock=clock, classifier=services_classifier()))
    client.__enter__()
    sim = WeChatSimulator(settings.wechat_token, settings.wechat_app_id, None,
                          now=lambda: clock().timestamp())
    yield Chat(client, sim, services)
    client.__exit__(None, None, None)

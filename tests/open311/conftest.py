"""Fixtures for the Open311 door: the app over the demo community (frozen clock) and an API
key issued through ``services.api_keys``."""

from __future__ import annotations

from collections.abc import Iterator
from xml.etree import ElementTree as ET

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from bot.app import create_app
from services import api_keys
from storage.db import session_scope
from tests.chat import START

BASE = "/open311/v2"
CLIENT_NAME = "市12345平台"


@pytest.fixture
def o311(settings, community: Engine, clock, classifier) -> Iterator[TestClient]:
    """A client of the app (demo community; ``clock`` drives the app's now)."""
    app = create_app(settings, clock=clock, classifier=classifier)
    with TestClient(app) as client:
        app.state.clock = clock
        yield client


def issue(engine: Engine, name: str = CLIENT_NAME, community_id: int | None = None) -> str:
    """A new key's plain text."""
    with session_scope(engine) as session:
        _, plain = api_keys.issue(session, name, START, community_id)
    return plain


@pytest.fixture
def api_key(community: Engine) -> str:
    return issue(community)


def xml_rows(text: str, root: str, item: str) -> list[dict[str, str | None]]:
    """The items of an XML answer as {child tag: text}; checks the declaration and root."""
    assert text.startswith('<?xml version="1.0" encoding="utf-8"?>'), text[:80]
    tree = ET.fromstring(text.encode("utf-8"))
    assert tree.tag == root, tree.tag
    assert all(child.tag == item for child in tree), [c.tag for c in tree]
    return [{field.tag: field.text for field in child} for child in tree]

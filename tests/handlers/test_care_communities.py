"""Care sign-up on an account of several communities: a resident sees the classes of their
own community only; one whose community is unknown is asked which first."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from bot.demo import MORE_COMMUNITY_FILES
from services.messages import msg
from storage import estates
from storage.importer import import_file
from storage.models import Community
from tests.services_support import schat_fixture, services_fixture  # noqa: F401


@pytest.fixture
def street(schat) -> dict[str, int]:
    """The demo community with its classes, plus 阳光社区 and 和谐社区 (no classes)."""
    with Session(schat.engine) as s:
        for path in MORE_COMMUNITY_FILES:
            import_file(s, path)
        s.commit()
        return {c.name: c.id for c in s.exec(select(Community))}


def test_a_resident_of_another_community_is_not_offered_these_classes(schat, street):
    schat.event("yg1", "subscribe", "qrscene_" + estates.scene_for(community_id=street["阳光社区"]))
    reply = schat.say("yg1", "孩子想报名四点半课堂")
    assert "常年班" not in reply
    assert reply == msg("care.none_open")


def test_a_resident_of_the_community_sees_its_classes_unnamed(schat, street):
    schat.event("xf1", "subscribe", "qrscene_" + estates.scene_for(community_id=street["幸福新社区"]))
    reply = schat.say("xf1", "孩子想报名四点半课堂")
    assert "四点半课堂（常年班）" in reply and "幸福新社区·" not in reply


def test_a_resident_of_unknown_community_is_asked_first_then_sees_that_ones_classes(schat,
                                                                                    street):
    asked = schat.say("new1", "孩子想报名四点半课堂")
    assert asked.startswith(msg("community.ask", options="").rstrip())
    assert "四点半课堂（常年班）" in schat.say("new1", "1")  # 1. 幸福新社区
    asked = schat.say("new2", "孩子想报名四点半课堂")
    assert schat.say("new2", "2") == msg("care.none_open")  # 2. 阳光小区 (阳光社区)

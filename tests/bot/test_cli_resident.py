"""`gridbot resident level`: staff set a resident's care level (红橙黄蓝绿), which the chat
layer turns into priority; every change is an audit log line."""

from __future__ import annotations

import logging

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from bot.cli import app
from storage.models import Priority, Resident
from tests.org_support import org


@pytest.fixture
def town(monkeypatch, postgres_url, redis_url, session: Session) -> Session:
    """Two communities; 3-2-501 exists in both; 幸福 has a couple sharing phone tail 8888."""
    monkeypatch.setenv("GRIDBOT_DATABASE_URL", postgres_url)
    monkeypatch.setenv("GRIDBOT_REDIS_URL", redis_url)
    town = org(session, {"幸福新社区": {"G01": [3]}, "和谐社区": {"G11": [3]}})
    for i, b in enumerate(town.buildings):
        session.add(Resident(openid=f"oWx{i}-501", building_id=b.id, unit=2, room="501",
                             phone=f"1390000{i}123"))
        if i == 0:
            session.add_all([Resident(openid="oWx-a", building_id=b.id, unit=1, room="101",
                                      phone="13800008888"),
                             Resident(openid="oWx-b", building_id=b.id, unit=1, room="102",
                                      phone="13900008888")])
    session.commit()
    return session


def gridbot(*args: str):
    return CliRunner().invoke(app, list(args))


def level_of(session: Session, openid: str) -> str | None:
    session.expire_all()
    return session.exec(select(Resident.vulnerability).where(Resident.openid == openid)).one()


def test_set_by_openid_and_clear(town, caplog):
    with caplog.at_level(logging.INFO, logger="gridbot.audit"):
        result = gridbot("resident", "level", "oWx-a", "红", "--by", "赵敏", "--note", "独居老人")
    assert result.exit_code == 0, result.output
    assert "照护等级：无 → 红" in result.output and "手机尾号8888" in result.output
    assert level_of(town, "oWx-a") == "红"
    audit = [r.getMessage() for r in caplog.records if r.name == "gridbot.audit"]
    assert len(audit) == 1 and "-> 红 by 赵敏 (独居老人)" in audit[0] and "none" in audit[0]
    cleared = gridbot("resident", "level", "oWx-a", "none")
    assert cleared.exit_code == 0 and "红 → 无" in cleared.output
    assert level_of(town, "oWx-a") is None


def test_by_phone_tail_and_by_address_in_a_community(town):
    assert gridbot("resident", "level", "00123", "橙色").exit_code == 0
    assert level_of(town, "oWx0-501") == "橙"
    result = gridbot("resident", "level", "3-2-501", "黄", "--community", "和谐社区")
    assert result.exit_code == 0, result.output
    assert level_of(town, "oWx1-501") == "黄" and level_of(town, "oWx0-501") == "橙"
    assert gridbot("resident", "level", "3号楼2单元501", "蓝", "--community", "幸福新社区"
                   ).exit_code == 0
    assert level_of(town, "oWx0-501") == "蓝"


def test_ambiguous_references_list_the_candidates_and_change_nothing(town):
    result = gridbot("resident", "level", "8888", "红")
    assert result.exit_code == 1 and "对应多位居民" in result.output
    assert "OpenID oWx-a" in result.output and "OpenID oWx-b" in result.output
    address = gridbot("resident", "level", "3-2-501", "红")  # in both communities
    assert address.exit_code == 1 and "--community" in address.output
    assert [level_of(town, o) for o in ("oWx-a", "oWx-b", "oWx0-501", "oWx1-501")] == [None] * 4


def test_unknown_resident_and_bad_level(town):
    missing = gridbot("resident", "level", "oNobody", "红")
    assert missing.exit_code == 1 and "找不到" in missing.output
    bad = gridbot("resident", "level", "oWx-a", "紫")
    assert bad.exit_code == 2 and "「紫」不是照护等级" in bad.output
    assert level_of(town, "oWx-a") is None


def test_a_level_set_by_staff_gives_the_residents_next_report_priority(chat, monkeypatch,
                                                                        postgres_url, redis_url):
    monkeypatch.setenv("GRIDBOT_DATABASE_URL", postgres_url)
    monkeypatch.setenv("GRIDBOT_REDIS_URL", redis_url)
    chat.say("oElder", "3号楼2单元501 楼道灯坏了")
    before = chat.tickets()[-1]
    assert before.priority == Priority.NORMAL
    assert gridbot("resident", "level", "oElder", "红", "--note", "独居老人").exit_code == 0
    chat.say("oElder", "暖气不热了")
    after = chat.tickets()[-1]
    assert after.id != before.id and after.priority == Priority.HIGH

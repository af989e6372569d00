"""`gridbot notice`: send to a community, grid or building list (the README's `1,3-5` form),
and `--status N` shows a notice's delivery counts without a title or text."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from bot.cli import app
from storage.models import Notice, NoticeDelivery, Outbox, Resident
from storage.outbox import mark_sent
from storage.times import utcnow
from tests.org_support import org


@pytest.fixture
def town(monkeypatch, postgres_url, redis_url, session: Session) -> Session:
    """幸福新社区: buildings 1–6 in G01 (1–3) and G02 (4–6), two subscribed residents each."""
    monkeypatch.setenv("GRIDBOT_DATABASE_URL", postgres_url)
    monkeypatch.setenv("GRIDBOT_REDIS_URL", redis_url)
    town = org(session, {"幸福新社区": {"G01": [1, 2, 3], "G02": [4, 5, 6]}})
    for b in town.buildings:
        session.add_all([Resident(openid=f"o{b.number}a", building_id=b.id),
                         Resident(openid=f"o{b.number}b", building_id=b.id)])
    session.commit()
    return session


def gridbot(*args: str):
    return CliRunner().invoke(app, list(args))


def recipients(session: Session, notice_id: int) -> set[str]:
    return set(session.exec(select(Outbox.openid).join(
        NoticeDelivery, NoticeDelivery.outbox_id == Outbox.id).where(
        NoticeDelivery.notice_id == notice_id)))


@pytest.mark.parametrize("spec", ["1,3-5", "1，3-5", "1，3至5号楼", "1 3~5"])
def test_buildings_take_lists_and_ranges(town, spec):
    result = gridbot("notice", "停水通知", "明天9:00-12:00停水", "--buildings", spec)
    assert result.exit_code == 0, result.output
    assert "楼栋:1,3-5的8位居民" in result.output and "待发送8" in result.output
    notice = town.exec(select(Notice)).one()
    assert recipients(town, notice.id) == {f"o{n}{x}" for n in (1, 3, 4, 5) for x in "ab"}


@pytest.mark.parametrize(("spec", "shown"), [("1,x", "「x」"), ("5-3", "「5-3」"), ("，", "没有写楼号")])
def test_a_bad_building_list_is_a_clear_usage_error(town, spec, shown):
    result = gridbot("notice", "停水通知", "明天停水", "--buildings", spec)
    assert result.exit_code == 2 and shown in result.output and "1,3-5" in result.output
    assert town.exec(select(Notice)).first() is None


def test_an_unknown_building_is_named(town):
    result = gridbot("notice", "停水通知", "明天停水", "--buildings", "5-9")
    assert result.exit_code == 1 and "building 7-9" in result.output


def test_status_needs_no_title_or_text(town):
    sent = gridbot("notice", "停电通知", "周六8点检修", "--grid", "G02", "--sender", "赵敏")
    assert sent.exit_code == 0, sent.output
    notice_id = town.exec(select(Notice.id)).one()
    first = town.exec(select(Outbox).order_by(Outbox.id)).first()
    mark_sent(first, "custom", utcnow())
    town.commit()
    status = gridbot("notice", "--status", str(notice_id))
    assert status.exit_code == 0, status.output
    assert status.output.strip() == f"通知#{notice_id} 送达情况：已发送1 待发送5 失败0 共6"
    assert town.exec(select(Notice)).all()[0].sender == "赵敏"  # nothing new was sent


def test_status_of_an_unknown_notice(town):
    result = gridbot("notice", "--status", "42")
    assert result.exit_code == 1 and "找不到通知#42" in result.output


def test_status_refuses_send_arguments(town):
    result = gridbot("notice", "停水通知", "--status", "1")
    assert result.exit_code == 2 and "--status" in result.output and "标题/正文" in result.output


def test_sending_needs_a_title_and_a_text(town):
    result = gridbot("notice", "停水通知", "--grid", "G01")
    assert result.exit_code == 2 and "需要标题和正文" in result.output
    assert town.exec(select(Notice)).first() is None

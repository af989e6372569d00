"""Notices to the residents of a community, grid or buildings, through the outbox."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from bot.cli_ops import ops_app
from services.notices import send
from storage import NotFound
from storage.models import Resident, Street
from storage.notices import BadBuildingList, audience, deliveries, parse_buildings, ranges
from storage.outbox import mark_sent
from storage.times import utcnow
from tests.org_support import org


@pytest.fixture
def town(session: Session) -> Session:
    for b in org(session, {"幸福新社区": {"G01": [1, 2], "G02": [3]}}).buildings:
        session.add(Resident(openid=f"oR{b.number}a", building_id=b.id))
        session.add(Resident(openid=f"oR{b.number}b", building_id=b.id))
    session.add(Resident(openid=None, building_id=b.id, subscribed=False))  # anonymised
    session.commit()
    return session


def test_audiences(town):
    assert [len(audience(town, community="幸福新社区")[1]), len(audience(town, grid="G01")[1]),
            len(audience(town, grid="第二网格")[1]), len(audience(town, buildings=[1, 3])[1])] == \
        [6, 4, 2, 4]
    assert audience(town, buildings=[1, 3])[0] == "楼栋:1,3"
    with pytest.raises(NotFound):
        audience(town, grid="G09")
    with pytest.raises(NotFound, match="building 7"):
        audience(town, buildings=[1, 7])
    with pytest.raises(ValueError):
        audience(town)


@pytest.mark.parametrize(("spec", "numbers"), [
    ("1,3-5", [1, 3, 4, 5]), ("1，3-5", [1, 3, 4, 5]), ("3至5号楼、1栋", [1, 3, 4, 5]),
    ("2; 7 9~10", [2, 7, 9, 10]), ("1 - 3,2", [1, 2, 3]), ("12", [12])])
def test_building_lists_as_staff_type_them(spec, numbers):
    assert parse_buildings(spec) == numbers
    assert parse_buildings(ranges(numbers)) == numbers


@pytest.mark.parametrize(("spec", "item"), [
    ("1,x", "x"), ("5-3", "5-3"), ("0", "0"), ("1-99999", "1-99999"), ("3号楼A", "3号楼A"),
    (" ，", "")])
def test_a_bad_building_list_names_the_item(spec, item):
    with pytest.raises(BadBuildingList) as caught:
        parse_buildings(spec)
    assert caught.value.item == item


def test_audience_needs_the_community_when_there_are_several(town):
    street_id = town.exec(select(Street)).one().id
    org(town, {"和谐社区": {"G11": []}}, street_id=street_id)  # G11 第一网格: the same name
    town.commit()
    with pytest.raises(ValueError, match="several communities"):
        audience(town, grid="第一网格")
    with pytest.raises(ValueError, match="several communities"):
        audience(town, buildings=[1])
    assert len(audience(town, community="幸福新社区", grid="第一网格")[1]) == 4
    assert audience(town, community="和谐社区", grid="第一网格") == ("网格:G11", [])
    with pytest.raises(NotFound):
        audience(town, community="和谐社区", buildings=[1])


def test_unknown_notice_is_not_found(town):
    with pytest.raises(NotFound):
        deliveries(town, 999)


def test_send_counts_deliveries(town):
    scope, people = audience(town, grid="G01")
    notice = send(town, "停水通知", "明天9:00-12:00停水", people, scope, utcnow(), "赵敏")
    town.commit()
    assert deliveries(town, notice.id) == {"pending": 4, "sent": 0, "dead": 0, "total": 4}

    from storage.models import NoticeDelivery, Outbox
    first = town.exec(select(Outbox).join(NoticeDelivery, NoticeDelivery.outbox_id == Outbox.id)
                      ).first()
    assert first.text == "【停水通知】\n明天9:00-12:00停水"
    mark_sent(first, "custom", utcnow())
    town.commit()
    assert deliveries(town, notice.id)["sent"] == 1


def test_notice_cli(town, postgres_url, monkeypatch):
    monkeypatch.setenv("GRIDBOT_DATABASE_URL", postgres_url)
    runner = CliRunner()
    ok = runner.invoke(ops_app, ["notice", "停电通知", "周六8点检修", "--buildings", "1-2"])
    assert ok.exit_code == 0, ok.output
    assert "楼栋:1-2的4位居民" in ok.output and "待发送4" in ok.output
    again = runner.invoke(ops_app, ["notice", "--status", "1"])
    assert again.exit_code == 0 and "共4" in again.output
    bad = runner.invoke(ops_app, ["notice", "停电通知", "周六", "--grid", "G09"])
    assert bad.exit_code == 1 and "找不到" in bad.output

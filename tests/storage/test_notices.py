"""Notices to the residents of a community, grid or buildings, through the outbox."""

from __future__ import annotations

import pytest
from sqlmodel import Session
from typer.testing import CliRunner

from bot.cli_ops import ops_app
from storage import NotFound
from storage.models import Building, Community, Grid, Resident, Street
from storage.notices import audience, deliveries, send
from storage.outbox import mark_sent
from storage.times import utcnow


@pytest.fixture
def town(session: Session) -> Session:
    street = Street(name="和平街道")
    session.add(street)
    session.flush()
    comm = Community(name="幸福新社区", street_id=street.id)
    session.add(comm)
    session.flush()
    g1 = Grid(community_id=comm.id, code="G01", name="第一网格")
    g2 = Grid(community_id=comm.id, code="G02", name="第二网格")
    session.add_all([g1, g2])
    session.flush()
    for n in (1, 2, 3):
        b = Building(community_id=comm.id, grid_id=(g1 if n < 3 else g2).id, number=n,
                     name=f"{n}号楼")
        session.add(b)
        session.flush()
        session.add(Resident(openid=f"oR{n}a", building_id=b.id))
        session.add(Resident(openid=f"oR{n}b", building_id=b.id))
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


def test_send_counts_deliveries(town):
    scope, people = audience(town, grid="G01")
    notice = send(town, "停水通知", "明天9:00-12:00停水", people, scope, utcnow(), "赵敏")
    town.commit()
    assert deliveries(town, notice.id) == {"pending": 4, "sent": 0, "dead": 0, "total": 4}
    from sqlmodel import select

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
    assert "楼栋:1,2的4位居民" in ok.output and "待发送4" in ok.output
    again = runner.invoke(ops_app, ["notice", "x", "y", "--status", "1"])
    assert "共4" in again.output
    bad = runner.invoke(ops_app, ["notice", "停电通知", "周六", "--grid", "G09"])
    assert bad.exit_code == 1 and "找不到" in bad.output

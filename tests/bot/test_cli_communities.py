"""No silent fallback to the first community: on an account of several communities the
station and care commands need --community (the error names the choices), stations and
programmes of one name live in each community, and `gridbot stats` covers every community."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from bot.cli import app
from bot.cli_services import care_app, station_app
from bot.demo import MORE_COMMUNITY_FILES
from storage import care, lending
from storage.importer import import_file
from storage.models import Community

runner = CliRunner()
CHOICES = "幸福新社区、阳光社区、和谐社区"


@pytest.fixture
def street(monkeypatch, postgres_url, community) -> dict[str, int]:
    """The demo's three communities; {name: id}."""
    monkeypatch.setenv("GRIDBOT_DATABASE_URL", postgres_url)
    with Session(community) as s:
        for path in MORE_COMMUNITY_FILES:
            import_file(s, path)
        s.commit()
        return {c.name: c.id for c in s.exec(select(Community))}


def run(cli, *args: str) -> str:
    result = runner.invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def refused(cli, *args: str) -> str:
    result = runner.invoke(cli, list(args))
    assert result.exit_code == 1, result.output
    return result.output


def test_a_new_station_needs_its_community_named(street, community):
    out = refused(station_app, "add", "东区驿站")
    assert f"这个账号有多个社区（{CHOICES}），请用 --community 指明是哪个社区。" in out
    run(station_app, "add", "东区驿站", "--community", "阳光社区")
    run(station_app, "add", "东区驿站", "--community", "幸福新社区")
    with Session(community) as s:
        rows = s.exec(select(lending.Station).where(lending.Station.name == "东区驿站")).all()
        assert sorted(r.community_id for r in rows) == sorted(
            [street["阳光社区"], street["幸福新社区"]])
    # one name in two communities: naming the station alone is not enough
    out = refused(station_app, "item", "东区驿站", "梯子", "--count", "2")
    assert "这个账号有多个社区（阳光社区、幸福新社区）" in out  # those that have one, by id
    assert "梯子: 可借 2/2" in run(station_app, "item", "东区驿站", "梯子", "--count", "2",
                                 "--community", "阳光社区")
    with Session(community) as s:
        station = lending.station_by_name(s, "东区驿站", street["阳光社区"])
        assert [i.name for i in lending.all_items(s, station.id)] == ["梯子"]
    assert "没有叫「光明社区」的社区" in refused(station_app, "add", "西区驿站",
                                              "--community", "光明社区")


def test_a_programme_needs_its_community_named_and_sessions_find_the_right_one(street,
                                                                               community):
    out = refused(care_app, "programme", "四点半课堂", "--grades", "1-6")
    assert CHOICES in out
    run(care_app, "programme", "四点半课堂", "--grades", "1-6", "--community", "和谐社区")
    run(care_app, "programme", "四点半课堂", "--grades", "1-3", "--community", "阳光社区")
    assert "--community" in refused(care_app, "session", "四点半课堂", "秋季班", "--capacity", "5")
    run(care_app, "session", "四点半课堂", "秋季班", "--capacity", "5", "--weekdays", "1-5",
        "--time", "16:30-18:00", "--community", "阳光社区")
    with Session(community) as s:
        prog = care.programme_by_name(s, "四点半课堂", street["阳光社区"])
        assert prog.grade_max == 3
        assert [r.name for r in care.sessions(s, community_id=street["阳光社区"])] == ["秋季班"]
        assert care.sessions(s, community_id=street["和谐社区"]) == []


def test_stats_with_no_community_covers_every_community(street):
    out = run(app, "stats")
    for name in ("幸福新社区", "阳光社区", "和谐社区"):
        assert f"\n{name}：工单 0 件" in out
    only = run(app, "stats", "--community", "阳光社区")
    assert "阳光社区：工单" in only and "幸福新社区" not in only


def test_one_community_accounts_keep_their_default(monkeypatch, postgres_url, community):
    monkeypatch.setenv("GRIDBOT_DATABASE_URL", postgres_url)
    run(station_app, "add", "东区驿站")
    run(care_app, "programme", "四点半课堂", "--grades", "1-6")
    with Session(community) as s:
        only = s.exec(select(Community)).one()
        assert lending.station_by_name(s, "东区驿站").community_id == only.id
        assert care.programme_by_name(s, "四点半课堂").community_id == only.id

"""Addresses written with letters and in real-world forms reach the right building and grid
(over the webhook, on PostgreSQL + Redis)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from storage.models import Building, Grid, Resident


@pytest.fixture
def lettered(community: Engine) -> Engine:
    """The demo community plus a building named 「A栋」 in the third grid (张敏), as an
    estate with lettered buildings imports it."""
    with Session(community) as s:
        grid = s.exec(select(Grid).where(Grid.code == "G03")).one()
        s.add(Building(community_id=grid.community_id, grid_id=grid.id, number=101, name="A栋"))
        s.commit()
    return community


def _home(engine: Engine, openid: str) -> tuple[str | None, int | None, str | None]:
    with Session(engine) as s:
        resident = s.exec(select(Resident).where(Resident.openid == openid)).one()
        building = s.get(Building, resident.building_id) if resident.building_id else None
        return (building.name if building else None), resident.unit, resident.room


@pytest.mark.parametrize("answer", ["A座3单元501", "a栋3单元五零一", "A幢3门501室"])
def test_a_lettered_building_is_found_and_routed_to_its_grid(lettered: Engine, chat,
                                                             answer: str) -> None:
    chat.say("r1", "楼道灯坏了")
    opened = chat.say("r1", answer)
    assert "GD20261122-0001" in opened and "张敏" in opened
    ticket = chat.tickets()[0]
    with Session(lettered) as s:
        assert s.get(Building, ticket.building_id).name == "A栋"
    assert (ticket.unit, ticket.room) == (3, "501")
    assert _home(lettered, "r1") == ("A栋", 3, "501")
    assert len(chat.pushes("worker-g3")) == 1


@pytest.mark.parametrize(
    ("answer", "home"),
    [("十二号楼三单元六零一", ("12号楼", 3, "601")), ("3#楼2单元402", ("3号楼", 2, "402")),
     ("3栋2-501", ("3号楼", 2, "501")), ("阳光小区7栋1门302", ("7号楼", 1, "302"))],
)
def test_real_world_address_forms_are_understood_whole(chat, community: Engine, answer: str,
                                                       home: tuple) -> None:
    chat.say("r2", "楼道灯坏了")
    assert "GD20261122-0001" in chat.say("r2", answer)
    assert _home(community, "r2") == home


def test_a_year_is_no_address(chat, community: Engine) -> None:
    chat.say("r3", "楼道灯坏了")
    reply = chat.say("r3", "我2018年搬来的")
    assert "GD2026" not in reply and chat.tickets() == []
    assert _home(community, "r3") == (None, None, None)

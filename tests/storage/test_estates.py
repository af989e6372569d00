"""storage.estates: scenes, estate names in text (ambiguity refused), the numbered list, and
settling a resident's community (a home elsewhere wins)."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from handlers.community import estate_stem
from storage import estates
from storage.models import Building, Community, Grid, Resident, Street


@pytest.fixture
def town(session: Session) -> dict[str, Community]:
    street = Street(name="和平街道")
    session.add(street)
    session.flush()
    rows = {name: Community(street_id=street.id, name=name, estates=names) for name, names in (
        ("阳光社区", ["阳光小区", "阳光花园"]), ("和谐社区", ["和谐家园"]),
        ("东湖社区", ["和谐家园东区"]), ("幸福新社区", []))}
    session.add_all(rows.values())
    session.flush()
    return rows


def test_scenes_round_trip_and_refuse_what_is_not_ours(session, town):
    sun = town["阳光社区"]
    grid = Grid(community_id=sun.id, code="G01", name="一网格")
    session.add(grid)
    session.flush()
    b = Building(community_id=sun.id, grid_id=grid.id, number=3, name="3号楼")
    session.add(b)
    session.flush()
    assert estates.from_scene(session, "qrscene_" + estates.scene_for(community_id=sun.id)) == (
        sun, None)
    assert estates.from_scene(session, estates.scene_for(building_id=b.id)) == (sun, b.id)
    for bad in (None, "", "c", "c0", "c01", "x1", "c99999", "b99999", "promo", "c1;drop"):
        assert estates.from_scene(session, bad) is None
    with pytest.raises(ValueError):
        estates.scene_for(community_id=1, building_id=2)


def test_the_numbered_list_names_estates_or_the_community(session, town):
    assert [e.name for e in estates.choices(session)] == [
        "阳光小区", "阳光花园", "和谐家园", "和谐家园东区", "幸福新社区"]


@pytest.mark.parametrize(("text", "slot", "community", "estate"), [
    ("阳光花园5号楼漏水", None, "阳光社区", "阳光花园"),
    ("我是幸福新社区的", None, "幸福新社区", None),
    ("和谐家园东区2栋", None, "东湖社区", "和谐家园东区"),  # the longest name wins
    ("和谐家园2栋", None, "和谐社区", "和谐家园"),
    ("我住阳光家园3号楼", "阳光家园", "阳光社区", None),  # another ending, one 阳光 stem:
    # the community is sure, which of its estates is not
    ("楼道灯坏了", None, None, None),
])
def test_estate_named_in_text(session, town, text, slot, community, estate):
    found = estates.named_in(session, text, slot, estate_stem)
    if community is None:
        assert found is None
    else:
        assert (found.community_id, found.estate) == (town[community].id, estate)


def test_a_name_two_communities_share_decides_nothing(session, town):
    town["幸福新社区"].estates = ["阳光小区"]
    session.add(town["幸福新社区"])
    session.flush()
    assert estates.named_in(session, "阳光小区3号楼", "阳光小区") is None


def test_settle_keeps_a_home_in_another_community(session, town):
    sun, harmony = town["阳光社区"], town["和谐社区"]
    grid = Grid(community_id=sun.id, code="G01", name="一网格")
    session.add(grid)
    session.flush()
    home = Building(community_id=sun.id, grid_id=grid.id, number=1, name="1号楼")
    session.add(home)
    session.flush()
    newcomer = Resident(openid="o-new")
    settled = Resident(openid="o-home", building_id=home.id)
    session.add_all([newcomer, settled])
    session.flush()
    assert estates.unknown(session, newcomer) and not estates.unknown(session, settled)
    assert estates.settle(session, newcomer, harmony.id, "和谐家园")
    assert (newcomer.community_id, newcomer.estate) == (harmony.id, "和谐家园")
    assert not estates.settle(session, settled, harmony.id)
    assert settled.community_id is None and estates.home_community_id(session, settled) == sun.id

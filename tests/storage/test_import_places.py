"""Public places (and coordinates) in the community import file."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from storage import ImportFormatError, org
from storage.importer import import_file
from storage.models import Building, Grid, Place

YAML = """
street: 和平街道
community: 幸福新社区
grids:
  - code: G01
    buildings: [1, {number: 2, lat: 41.8015, lng: 123.4325}]
  - code: G02
    buildings: "3-4"
places:
  - {name: 东门, grid: G01, aliases: [东大门, 东侧门], lat: 41.801, lng: 123.434}
  - {name: 广场, grid: G02, aliases: 中心广场，小广场}
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_places_belong_to_grids_with_aliases_and_coordinates(session, tmp_path):
    report = import_file(session, _write(tmp_path, "c.yaml", YAML))
    session.commit()
    assert (report.places, report.buildings) == (2, 4)
    grids = {g.code: g.id for g in session.exec(select(Grid))}
    places = {p.name: p for p in session.exec(select(Place))}
    assert places["东门"].grid_id == grids["G01"] and places["东门"].aliases == ["东大门", "东侧门"]
    assert (places["东门"].latitude, places["东门"].longitude) == (41.801, 123.434)
    assert places["广场"].aliases == ["中心广场", "小广场"] and places["广场"].latitude is None
    two = session.exec(select(Building).where(Building.number == 2)).one()
    assert (two.latitude, two.longitude, two.grid_id) == (41.8015, 123.4325, grids["G01"])
    assert [p.name for p in org.places(session)] == ["东门", "广场"]
    assert {(kind, lat) for kind, _, lat, _ in org.located(session)} == {
        ("building", 41.8015), ("place", 41.801)}


def test_reimport_moves_a_place_instead_of_duplicating_it(session, tmp_path):
    import_file(session, _write(tmp_path, "c.yaml", YAML))
    moved = YAML.replace("{name: 东门, grid: G01, aliases: [东大门, 东侧门]",
                         "{name: 东门, grid: G02, aliases: [东大门]")
    with pytest.raises(ImportFormatError, match="c2.yaml line 10: place 东门 moves to grid G02"):
        import_file(session, _write(tmp_path, "c2.yaml", moved))  # a move needs allow_moves
    report = import_file(session, _write(tmp_path, "c2.yaml", moved), allow_moves=True)
    session.commit()
    assert (report.places, report.moved["places"]) == (0, 1)
    east = session.exec(select(Place).where(Place.name == "东门")).one()
    g02 = session.exec(select(Grid).where(Grid.code == "G02")).one()
    assert east.grid_id == g02.id and east.aliases == ["东大门"]


@pytest.mark.parametrize("place, fragment", [
    ("{name: 北门, grid: G09}", "bad.yaml line 12: unknown grid 'G09' for place '北门' "
                               "(grids of 幸福新社区: G01, G02)"),
    ("{name: 北门}", "bad.yaml line 12: a place needs a name and a grid"),
    ("{name: 北门, grid: G01, lat: north, lng: 123.4}", "lat and lng must be numbers"),
    ("{name: 北门, grid: G01, lat: 141.8, lng: 123.4}", "is not on Earth"),
])
def test_bad_places_name_the_problem(session, tmp_path, place, fragment):
    text = YAML + f"  - {place}\n"
    with pytest.raises(ImportFormatError) as err:
        import_file(session, _write(tmp_path, "bad.yaml", text))
    assert fragment in str(err.value)


def test_csv_places_column(session, tmp_path):
    csv = ("street,community,grid_code,grid_name,buildings,places,name,openid\n"
           "和平街道,幸福新社区,G05,第五网格,20-21,东门=东大门/东侧门；健身区,李强,oW5\n")
    report = import_file(session, _write(tmp_path, "c.csv", csv))
    session.commit()
    assert report.places == 2
    places = {p.name: p for p in session.exec(select(Place))}
    g05 = session.exec(select(Grid).where(Grid.code == "G05")).one()
    assert places["东门"].aliases == ["东大门", "东侧门"] and places["健身区"].grid_id == g05.id


def test_demo_community_has_its_places(session):
    from bot.demo import COMMUNITY_FILE

    import_file(session, COMMUNITY_FILE)
    names = {p.name for p in session.exec(select(Place))}
    assert {"东门", "北门", "广场", "小区主路", "地下车库", "健身区", "垃圾站"} <= names

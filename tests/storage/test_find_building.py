"""storage.org.find_building (as the chat calls it, handlers.location.find_building): the building
a resident's address label names."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from handlers import location
from intents.slots import extract_address
from storage import org, orgcache
from storage.models import Building, Grid
from tests.conftest import counting

LETTERED = {101: "A栋", 102: "B座", 103: "C5栋", 104: "D幢", 105: "东配楼"}


@pytest.fixture
def engine_with_letters(community: Engine) -> Engine:
    """The demo community (buildings 1–12) plus lettered buildings in grid G02."""
    with Session(community) as s:
        grid = s.exec(select(Grid).where(Grid.code == "G02")).one()
        for number, name in LETTERED.items():
            s.add(Building(community_id=grid.community_id, grid_id=grid.id, number=number,
                           name=name))
        s.commit()
    return community


@pytest.mark.parametrize(
    ("written", "name"),
    [("A栋", "A栋"), ("a座", "A栋"), ("A幢2单元", "A栋"), ("B座1203", "B座"), ("B栋", "B座"),
     ("C5栋3单元", "C5栋"), ("c5座", "C5栋"), ("D号楼", "D幢"), ("5号楼", "5号楼"),
     ("五栋", "5号楼"), ("十二号楼三单元六零一", "12号楼"), ("3#楼402", "3号楼")],
)
def test_the_label_of_any_written_form_finds_the_building(
        engine_with_letters: Engine, written: str, name: str) -> None:
    with Session(engine_with_letters) as s:
        found = location.find_building(s, extract_address(written)["building"])
        assert found is not None and found.name == name


@pytest.mark.parametrize("label", ["E", "C6", "13", "0", "", "东配"])
def test_an_unknown_label_is_none(engine_with_letters: Engine, label: str) -> None:
    with Session(engine_with_letters) as s:
        assert location.find_building(s, label) is None


def test_a_name_that_is_no_address_is_found_whole(engine_with_letters: Engine) -> None:
    with Session(engine_with_letters) as s:
        found = location.find_building(s, "东配楼")
        assert found is not None and found.number == 105


def test_storage_reads_names_only_with_the_reader_it_is_given(engine_with_letters: Engine) -> None:
    with Session(engine_with_letters) as s:
        assert org.find_building(s, "A") is None  # storage alone does not read 「A栋」 as "A"
        assert org.find_building(s, "A栋").number == 101  # … but matches the name whole
        assert org.find_building(s, "A", read_label=location.building_label).number == 101


def test_lookups_through_the_org_cache_cost_no_sql(engine_with_letters: Engine) -> None:
    cache = orgcache.OrgCache(engine_with_letters)
    with Session(engine_with_letters) as s:
        orgcache.attach(s, cache)
        assert location.find_building(s, "A").name == "A栋"
        assert location.find_building(s, "7").number == 7
    with Session(engine_with_letters) as s, counting(engine_with_letters) as statements:
        orgcache.attach(s, cache)
        assert location.find_building(s, "A").name == "A栋"
        assert location.find_building(s, "7").number == 7
        assert location.find_building(s, "Z") is None
    assert statements == []

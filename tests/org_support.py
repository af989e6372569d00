"""A small builder for the 街道 → 社区 → 网格 → 楼栋 skeleton tests need, written by hand
in one line instead of a page of add/flush:

    town = org(session, {"幸福新社区": {"G01": [1, 2, 3], "G02": [4, 5, 6]}})
    town.grid("G02").id, town.building(3).grid_id, town.community("幸福新社区").id

A grid key is its code, optionally followed by its name ("G01 阳光一网格"); without one the
name is 第一网格 … 第九网格 after the code's last digit ("G11" → 第一网格). Buildings are
numbers, named 「3号楼」. ``street_id`` adds the communities to a street already there.
Rows are flushed (ids set), not committed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import Session, select

from bot.demo import DEMO_FILES
from storage.importer import import_file
from storage.models import Building, Community, Grid, Street

_DIGITS = "〇一二三四五六七八九"


@dataclass
class Org:
    """What ``org`` made: the ``street``, its ``communities`` by name, and every grid and
    building in the order given."""

    street: Street
    communities: dict[str, Community] = field(default_factory=dict)
    grids: list[Grid] = field(default_factory=list)
    buildings: list[Building] = field(default_factory=list)

    def community(self, name: str | None = None) -> Community:
        """The community called ``name``; without a name, the only one (ValueError if
        there are several)."""
        if name is None:
            (only,) = self.communities.values()
            return only
        return self.communities[name]

    def grid(self, code: str, community: str | None = None) -> Grid:
        """The grid with ``code`` (in ``community`` when codes repeat across communities)."""
        return _one(g for g in self.grids if g.code == code
                    and (community is None or g.community_id == self.community(community).id))

    def building(self, number: int, community: str | None = None) -> Building:
        """Building ``number`` (in ``community`` when numbers repeat across communities)."""
        return _one(b for b in self.buildings if b.number == number
                    and (community is None or b.community_id == self.community(community).id))


def _one(rows: Iterable):
    (row,) = rows
    return row


def demo_communities(session: Session, files: Sequence[Path] = DEMO_FILES) -> dict[str, int]:
    """The demo's communities (``bot.demo.DEMO_FILES``, or ``files`` such as
    ``MORE_COMMUNITY_FILES``) imported and committed: the ids of all communities by name."""
    for path in files:
        import_file(session, path)
    session.commit()
    return {c.name: c.id for c in session.exec(select(Community))}


def grid_name(code: str) -> str:
    """The default grid name for ``code``: 「第一网格」 for G01 and G11."""
    return f"第{_DIGITS[int(code[-1])]}网格"


def org(session: Session, communities: Mapping[str, Mapping[str, Iterable[int]]], *,
        street: str = "和平街道", street_id: int | None = None) -> Org:
    """The street ``street`` (or the existing one ``street_id``) with ``communities``
    ({name: {grid key: [building numbers]}}, see the module doc), added to ``session`` and
    flushed."""
    if street_id is not None:
        made = Org(session.get_one(Street, street_id))
    else:
        made = Org(Street(name=street))
        session.add(made.street)
        session.flush()
    for name, grids in communities.items():
        community = Community(name=name, street_id=made.street.id)
        session.add(community)
        session.flush()
        made.communities[name] = community
        for key, numbers in grids.items():
            code, _, grid_title = key.partition(" ")
            grid = Grid(community_id=community.id, code=code, name=grid_title or grid_name(code))
            session.add(grid)
            session.flush()
            made.grids.append(grid)
            for number in numbers:
                building = Building(community_id=community.id, grid_id=grid.id, number=number,
                                    name=f"{number}号楼")
                session.add(building)
                made.buildings.append(building)
        session.flush()
    return made

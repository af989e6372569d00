"""Notices (通知: 停水停电, activities) to the residents of a community, grid or buildings.

``audience`` picks the residents (sending is ``services.notices.send``, which words the
pushes); ``deliveries`` counts the pushes by outbox status (pending / sent / dead).
``parse_buildings`` reads the building list staff type ("1,3-5", "1，3至5号楼").
Raises NotFound for an unknown community, grid, building or notice, ValueError for an empty
audience spec or text, or a building list that cannot be read.
"""

from __future__ import annotations

import re

from sqlmodel import Session, and_, col, func, or_, select

from storage import NotFound
from storage.models import (
    Building,
    Community,
    Grid,
    Notice,
    NoticeDelivery,
    Outbox,
    Resident,
)

BUILDINGS_MAX = 9999
"""Highest building number a list may name; a range spans at most this many buildings."""
_SEPARATORS = re.compile(r"[,，;；、/\s]+")
_ITEM = re.compile(r"(\d+)(?:\s*(?:-|－|–|—|~|～|至|到)\s*(\d+))?")
_SUFFIX = re.compile(r"(号楼|号|栋|幢|楼)$")
_DASH = re.compile(r"\s*(-|－|–|—|~|～|至|到)\s*")


class BadBuildingList(ValueError):
    """A building list that cannot be read; ``item`` is the first offending item ("" when
    the list is empty)."""

    def __init__(self, item: str) -> None:
        self.item = item
        super().__init__(f"bad building list item {item!r}: use numbers 1-{BUILDINGS_MAX} and "
                         "ascending ranges, e.g. 1,3-5" if item else "no building number given")


def parse_buildings(spec: str) -> list[int]:
    """Building numbers of a list as staff type it: items separated by commas (, or ，),
    semicolons, 、 or spaces; an item is a number or an inclusive range ("3-5", "3~5",
    "3至5"), optionally ending in 号楼/栋/幢. "1,3-5" → [1, 3, 4, 5]; sorted, no repeats.

    Raises BadBuildingList (a ValueError) for the first item that is not a number or an
    ascending range within 1..BUILDINGS_MAX, or for an empty list.
    """
    numbers: set[int] = set()
    for item in filter(None, _SEPARATORS.split(_DASH.sub(r"\1", spec.strip()))):
        match = _ITEM.fullmatch(_SUFFIX.sub("", item))
        lo = int(match.group(1)) if match else 0
        hi = int(match.group(2) or lo) if match else 0
        if not match or not 1 <= lo <= hi <= BUILDINGS_MAX:
            raise BadBuildingList(item)
        numbers.update(range(lo, hi + 1))
    if not numbers:
        raise BadBuildingList("")
    return sorted(numbers)


def ranges(numbers: list[int]) -> str:
    """[1, 3, 4, 5] → "1,3-5" (the inverse of ``parse_buildings`` for a sorted list)."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in runs)


def audience(session: Session, *, community: str | None = None, grid: str | None = None,
             buildings: list[int] | None = None) -> tuple[str, list[Resident]]:
    """(scope label, subscribed residents with an OpenID) of exactly one audience spec:
    a community name, a grid code or name, or building numbers — a grid or buildings of
    ``community`` when given (needed when the account serves several communities).
    Raises NotFound for an unknown community, grid or building; ValueError when no audience
    is named, a grid and buildings are both named, or a grid or the buildings could be in
    several communities."""
    query = select(Resident).join(Building, Building.id == Resident.building_id).where(
        Resident.subscribed, col(Resident.openid).is_not(None))
    if grid and buildings:
        raise ValueError("name a grid or buildings, not both")
    comm = None
    if community:
        comm = session.exec(select(Community).where(Community.name == community)).first()
        if comm is None:
            raise NotFound(f"community {community}")
    if grid:
        grids_q = select(Grid).where((Grid.code == grid.upper()) | (Grid.name == grid))
        if comm is not None:
            grids_q = grids_q.where(Grid.community_id == comm.id)
        rows = session.exec(grids_q).all()
        if not rows:
            raise NotFound(f"grid {grid}")
        if len(rows) > 1:
            raise ValueError(f"grid {grid} exists in several communities: name the community")
        return f"网格:{rows[0].code}", list(session.exec(
            query.where(Building.grid_id == rows[0].id).order_by(Resident.id)))
    if buildings:
        if comm is None:
            communities = session.exec(select(Community).order_by(Community.id).limit(2)).all()
            if len(communities) > 1:
                raise ValueError("several communities: name the community of the buildings")
            comm = communities[0] if communities else None
        known = set(session.exec(select(Building.number).where(
            Building.community_id == (comm.id if comm else -1),
            col(Building.number).in_(buildings))))
        missing = sorted(set(buildings) - known)
        if missing:
            raise NotFound("building " + ranges(missing))
        return ("楼栋:" + ranges(sorted(set(buildings))),
                list(session.exec(query.where(Building.community_id == comm.id,
                                              col(Building.number).in_(buildings))
                                  .order_by(Resident.id))))
    if comm is None:
        raise ValueError("name a community, a grid or buildings")
    # its households, and those known to live there (a QR code, an estate named) with no
    # address yet
    in_community = select(Building.id).where(Building.community_id == comm.id)
    return f"社区:{comm.name}", list(session.exec(select(Resident).where(
        Resident.subscribed, col(Resident.openid).is_not(None),
        or_(col(Resident.building_id).in_(in_community),
            and_(col(Resident.building_id).is_(None), Resident.community_id == comm.id)))
        .order_by(Resident.id)))


def deliveries(session: Session, notice_id: int) -> dict[str, int]:
    """{"pending": n, "sent": n, "dead": n, "total": n} for the notice's pushes, plus a key
    for any other outbox status met (sending, unknown). Raises NotFound for no such notice."""
    if session.get(Notice, notice_id) is None:
        raise NotFound(f"notice {notice_id}")
    counts = {"pending": 0, "sent": 0, "dead": 0}
    for status, n in session.exec(
            select(Outbox.status, func.count()).join(NoticeDelivery,
                                                     NoticeDelivery.outbox_id == Outbox.id)
            .where(NoticeDelivery.notice_id == notice_id).group_by(Outbox.status)):
        counts[status] = n
    counts["total"] = sum(counts.values())
    return counts

"""The organisation and the people in it: lookups used on every message.

街道 → 社区 → 网格 → 楼栋 → 户, plus public places (东门, 广场 …) each covered by a grid; the
building or place of a problem decides the grid, and the grid's active grid worker (网格员)
is the assignee of its tickets (首问负责).

Organisation lookups (buildings, grids, communities, staff) are served from the session's
``storage.orgcache.OrgCache`` when one is attached (the web processes), with no SQL, and
from the database otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, SQLModel, col, select

from storage import NotFound, StorageError, orgcache
from storage.models import (
    Building,
    Community,
    Department,
    Grid,
    GridWorker,
    Place,
    Resident,
    Role,
)


def _cached(session: Session, key: tuple, load: Callable[[Session], Any]) -> Any:
    """``load(session)``, through the session's org cache when one is attached (the value is
    then merged into ``session`` when it is an ORM object)."""
    cache = orgcache.of(session)
    if cache is None:
        return load(session)
    value = cache.get(key, load)
    return orgcache.merged(session, value) if isinstance(value, SQLModel) else value


def _active_staff(session: Session) -> dict[str, int]:
    return dict(session.exec(select(GridWorker.openid, GridWorker.id).where(GridWorker.active)).all())


def worker_by_openid(session: Session, openid: str) -> GridWorker | None:
    """The active staff member with this OpenID, or None (residents cost no query when the
    org cache is attached: it keeps the set of staff OpenIDs)."""
    if orgcache.of(session) is None:
        return session.exec(
            select(GridWorker).where(GridWorker.openid == openid, GridWorker.active)
        ).first()
    worker_id = _cached(session, ("staff_openids",), _active_staff).get(openid)
    return None if worker_id is None else staff(session, worker_id)


def staff(session: Session, worker_id: int) -> GridWorker | None:
    """The staff member ``worker_id`` (active or not), or None."""
    return _cached(session, ("staff", worker_id), lambda s: s.get(GridWorker, worker_id))


def building(session: Session, building_id: int) -> Building | None:
    """Building ``building_id``, or None."""
    return _cached(session, ("building", building_id), lambda s: s.get(Building, building_id))


def grid(session: Session, grid_id: int) -> Grid | None:
    """Grid ``grid_id``, or None."""
    return _cached(session, ("grid", grid_id), lambda s: s.get(Grid, grid_id))


def resident_for(session: Session, openid: str, now: datetime) -> Resident:
    """The resident with this OpenID, created on first contact; ``last_message_at`` = now.

    First contact is ``INSERT … ON CONFLICT (openid) DO NOTHING`` then a select, so a new
    resident's first messages arriving at once (in several processes) make one row and no
    unique-key error.
    """
    resident = session.exec(select(Resident).where(Resident.openid == openid)).first()
    if resident is None:
        dialect = session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        session.execute(
            insert(Resident)
            .values(openid=openid, subscribed=True, created_at=now)
            .on_conflict_do_nothing(index_elements=["openid"])
        )
        resident = session.exec(select(Resident).where(Resident.openid == openid)).one()
    # Written at commit with the turn's other changes: the row is not locked meanwhile.
    resident.last_message_at = now
    resident.subscribed = True
    return resident


def default_community(session: Session) -> Community | None:
    """The account's only community; None when it has none or several (then the caller
    must know which one: never the first imported)."""
    all_ = communities(session)
    return all_[0] if len(all_) == 1 else None


class CommunityNeeded(StorageError, ValueError):
    """No community was named on an account of several: ``choices`` are their names (by
    id), for the door to list (the CLI in Chinese)."""

    def __init__(self, choices: list[str]) -> None:
        self.choices = choices
        super().__init__("several communities (" + ", ".join(choices) + "): name one",
                         "community_needed", choices="、".join(choices))


def which_community(session: Session, name: str | None) -> Community:
    """Community ``name``; with no name, the account's only one.

    Raises NotFound (no community of that name, or none at all), CommunityNeeded (no name
    and several communities; the names are on the error). Two communities of one name in
    different streets: the first by id."""
    all_ = communities(session)
    if name is not None and name.strip():
        found = next((c for c in all_ if c.name == name.strip()), None)
        if found is None:
            raise NotFound(f"community {name.strip()}")
        return found
    if len(all_) > 1:
        raise CommunityNeeded([c.name for c in all_])
    if not all_:
        raise NotFound("community (none imported yet)")
    return all_[0]


def only_community_id(session: Session) -> int | None:
    """The id of the account's only community, None when there is none yet. Raises
    CommunityNeeded when there are several (a default is never the first imported)."""
    all_ = communities(session)
    if len(all_) > 1:
        raise CommunityNeeded([c.name for c in all_])
    return all_[0].id if all_ else None


def communities(session: Session) -> tuple[Community, ...]:
    """The account's communities, by id. Read-only (detached when served from the org
    cache)."""
    return _cached(session, ("communities",), lambda s: tuple(s.exec(
        select(Community).order_by(Community.id))))


def department_by_name(session: Session, name: str, community_id: int | None = None
                       ) -> Department | None:
    """The department called ``name`` (trimmed) that serves ``community_id``: the
    community's own one first, else a street-level one (``community_id`` None, serving
    every community). With no ``community_id``: the street-level one, else the only one of
    that name in the account. None when there is none, or several and no community decides.
    """
    rows = list(session.exec(select(Department).where(Department.name == name.strip())
                             .order_by(col(Department.id))))
    if community_id is not None:
        own = [d for d in rows if d.community_id == community_id]
        if own:
            return own[0]
    street = [d for d in rows if d.community_id is None]
    if street:
        return street[0]
    return rows[0] if community_id is None and len(rows) == 1 else None


def find_building(session: Session, label: str, community_id: int | None = None,
                  read_label: Callable[[str], str | None] | None = None) -> Building | None:
    """The building residents call ``label`` in the community (default: the account's only
    one), or None (also when no community is given on an account of several).

    ``label`` is a canonical building label ("5", "A", "C5"; case and surrounding spaces do
    not matter). A number is looked up as ``Building.number`` first; any label is then
    matched against the buildings' names read by ``read_label`` (the chat passes the address
    reader of ``intents.slots``, so the label "A" finds a building named 「A栋」, 「A座」,
    「A幢」 or 「A号楼」, and "5" one named 「5栋」); a name it reads as no label, or every
    name without ``read_label``, is matched whole, upper-cased. Both lookups go through the
    org cache when one is attached.
    """
    label = label.strip().upper()
    if community_id is None:
        community = default_community(session)
        if community is None:
            return None
        community_id = community.id
    if label.isdigit() and len(label) <= 9:
        number = int(label)
        found = _cached(session, ("building_no", community_id, number), lambda s: s.exec(
            select(Building).where(Building.community_id == community_id,
                                   Building.number == number)).first())
        if found is not None:
            return found
    building_id = _cached(session, ("building_labels", community_id, read_label),
                          lambda s: _building_labels(s, community_id, read_label)).get(label)
    return None if building_id is None else building(session, building_id)


def _building_labels(session: Session, community_id: int,
                     read_label: Callable[[str], str | None] | None) -> dict[str, int]:
    """{label of the name: building id} of the community's buildings (「A座」 → "A" by
    ``read_label``; a name read as no label is kept whole, upper-cased); the first by id
    wins."""
    labels: dict[str, int] = {}
    for row in session.exec(select(Building).where(Building.community_id == community_id)
                            .order_by(Building.id)):
        label = (read_label(row.name) if read_label else None) or row.name.strip().upper()
        labels.setdefault(label, row.id)
    return labels


def place(session: Session, place_id: int) -> Place | None:
    """Public place ``place_id`` (东门, 广场 …), or None."""
    return _cached(session, ("place", place_id), lambda s: s.get(Place, place_id))


def places(session: Session, community_id: int | None = None) -> tuple[Place, ...]:
    """The public places of the community (default: the account's only one; none on an
    account of several), by id. Read-only (detached when served from the org cache): use
    ``place()`` for one to attach."""
    if community_id is None:
        community = default_community(session)
        if community is None:
            return ()
        community_id = community.id
    return _cached(session, ("places", community_id), lambda s: tuple(s.exec(
        select(Place).where(Place.community_id == community_id).order_by(Place.id))))


def located(session: Session, community_id: int | None = None
            ) -> tuple[tuple[str, int, float, float], ...]:
    """("building"|"place", id, lat, lng) of every building and place of the community
    (default: the account's only one; none on an account of several) whose coordinates were
    imported (WGS-84 degrees)."""
    if community_id is None:
        community = default_community(session)
        if community is None:
            return ()
        community_id = community.id

    def load(s: Session) -> tuple[tuple[str, int, float, float], ...]:
        rows = [("building", b.id, b.latitude, b.longitude) for b in s.exec(
            select(Building).where(Building.community_id == community_id,
                                   Building.latitude.is_not(None),
                                   Building.longitude.is_not(None)).order_by(Building.id))]
        rows += [("place", p.id, p.latitude, p.longitude) for p in s.exec(
            select(Place).where(Place.community_id == community_id,
                                Place.latitude.is_not(None),
                                Place.longitude.is_not(None)).order_by(Place.id))]
        return tuple(rows)

    return _cached(session, ("located", community_id), load)


def grid_worker_of(session: Session, grid_id: int) -> GridWorker | None:
    """The grid's active full-time grid worker (the first by id when several)."""
    return _cached(session, ("grid_worker", grid_id), lambda s: s.exec(
        select(GridWorker)
        .where(GridWorker.grid_id == grid_id, GridWorker.role == Role.GRID_WORKER, GridWorker.active)
        .order_by(GridWorker.id)
    ).first())


def get_grid(session: Session, grid_id: int) -> Grid:
    """Raises NotFound."""
    found = grid(session, grid_id)
    if found is None:
        raise NotFound(f"grid {grid_id}")
    return found


def address_of(session: Session, resident: Resident) -> str | None:
    """"3号楼2单元501" for a resident with a known building, else None; on an account with
    several communities the estate (or community) comes first: "阳光小区3号楼2单元501"."""
    if resident.building_id is None:
        return None
    found = building(session, resident.building_id)
    address = format_address(found.name if found else "?", resident.unit, resident.room)
    if found is None or len(all_ := communities(session)) < 2:
        return address
    if resident.estate and resident.community_id == found.community_id:
        return resident.estate + address
    home = next((c for c in all_ if c.id == found.community_id), None)
    return (home.estates[0] if home and len(home.estates) == 1 else home.name if home else "") + address


def format_address(building_name: str, unit: int | None, room: str | None) -> str:
    """"3号楼" + "2单元" + "501" as people write it."""
    return building_name + (f"{unit}单元" if unit else "") + (room or "")

"""The organisation and the people in it: lookups used on every message.

街道 → 社区 → 网格 → 楼栋 → 户; a resident's building decides the grid, and the grid's
active grid worker (网格员) is the assignee of its tickets (首问负责).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, select

from storage import NotFound
from storage.models import Building, Community, Grid, GridWorker, Resident, Role


def worker_by_openid(session: Session, openid: str) -> GridWorker | None:
    """The active staff member with this OpenID, or None."""
    return session.exec(
        select(GridWorker).where(GridWorker.openid == openid, GridWorker.active)
    ).first()


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
    resident.last_message_at = now
    resident.subscribed = True
    session.flush()
    return resident


def default_community(session: Session) -> Community | None:
    """The community this account serves (the first one imported)."""
    return session.exec(select(Community).order_by(Community.id)).first()


def building_by_number(
    session: Session, number: int, community_id: int | None = None
) -> Building | None:
    """Building ``number`` ("3号楼" → 3) of the community (default: the account's)."""
    if community_id is None:
        community = default_community(session)
        if community is None:
            return None
        community_id = community.id
    return session.exec(
        select(Building).where(Building.community_id == community_id, Building.number == number)
    ).first()


def grid_worker_of(session: Session, grid_id: int) -> GridWorker | None:
    """The grid's active full-time grid worker (the first by id when several)."""
    return session.exec(
        select(GridWorker)
        .where(GridWorker.grid_id == grid_id, GridWorker.role == Role.GRID_WORKER, GridWorker.active)
        .order_by(GridWorker.id)
    ).first()


def get_grid(session: Session, grid_id: int) -> Grid:
    """Raises NotFound."""
    grid = session.get(Grid, grid_id)
    if grid is None:
        raise NotFound(f"grid {grid_id}")
    return grid


def address_of(session: Session, resident: Resident) -> str | None:
    """"3号楼2单元501" for a resident with a known building, else None."""
    if resident.building_id is None:
        return None
    building = session.get(Building, resident.building_id)
    return format_address(building.name if building else "?", resident.unit, resident.room)


def format_address(building_name: str, unit: int | None, room: str | None) -> str:
    """"3号楼" + "2单元" + "501" as people write it."""
    return building_name + (f"{unit}单元" if unit else "") + (room or "")

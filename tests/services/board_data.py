"""A small 街道 for the dashboard and export tests: two communities, three grids, staff of
every console role, and tickets whose figures are easy to count by hand.

幸福新社区: G01 第一网格 (building 1), G02 第二网格 (building 2); 阳光社区: G01 阳光一网格
(building 1). Times are written in Shanghai local time (``at``); ``NOW`` is 2026-11-20 12:00.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from storage.models import Building, Community, Grid, GridWorker, Resident, Role, Street, Ticket
from storage.times import SHANGHAI, as_utc

TZ = "Asia/Shanghai"


def at(text: str) -> datetime:
    """A Shanghai wall-clock time ("2026-11-02 09:00") as aware UTC."""
    return as_utc(datetime.fromisoformat(text).replace(tzinfo=SHANGHAI))


NOW = at("2026-11-20 12:00")


@dataclass
class Board:
    """The rows the tests refer to."""

    c1: Community
    c2: Community
    g1: Grid
    g2: Grid
    g3: Grid
    b1: Building
    b2: Building
    b3: Building
    resident: Resident
    street_admin: GridWorker
    admin: GridWorker
    leader: GridWorker
    worker: GridWorker
    other_admin: GridWorker


def ticket(s: Session, grid: Grid, n: int, kind: str, category: str | None, created: str,
           status: str, response_min: float | None = None, resolve_min: float | None = None,
           response_met: bool | None = None, resolve_met: bool | None = None,
           rating: int | None = None, auto_closed: bool = False, resolve_due: str | None = None,
           resident: Resident | None = None, building: Building | None = None,
           description: str = "楼道灯坏了") -> Ticket:
    """A ticket of ``grid`` created at local time ``created``; due in 1 h (response) and 3
    days (resolution) unless ``resolve_due`` says otherwise."""
    c = at(created)
    row = Ticket(
        number=f"GD-{n:04d}", kind=kind, category=category, description=description,
        grid_id=grid.id, status=status, created_at=c, building_id=building.id if building else None,
        resident_id=resident.id if resident else None,
        first_response_at=c + timedelta(minutes=response_min) if response_min is not None else None,
        responded_at=c + timedelta(minutes=response_min) if response_min is not None else None,
        resolved_at=c + timedelta(minutes=resolve_min) if resolve_min is not None else None,
        response_met=response_met, resolve_met=resolve_met, rating=rating, auto_closed=auto_closed,
        response_due_at=c + timedelta(hours=1),
        resolve_due_at=at(resolve_due) if resolve_due else c + timedelta(days=3))
    s.add(row)
    return row


def seed(s: Session) -> Board:
    """The street, its staff and tickets (committed). In the period 2026-11-01…30:
    幸福新社区 G01 has 5 tickets (one overdue, one created just after local midnight),
    G02 two, 阳光社区 G01 one (overdue); one old open ticket of G01 (October) is overdue too."""
    street = Street(name="和平街道")
    s.add(street)
    s.flush()
    c1 = Community(name="幸福新社区", street_id=street.id)
    c2 = Community(name="阳光社区", street_id=street.id)
    s.add_all([c1, c2])
    s.flush()
    g1 = Grid(community_id=c1.id, code="G01", name="第一网格")
    g2 = Grid(community_id=c1.id, code="G02", name="第二网格")
    g3 = Grid(community_id=c2.id, code="G01", name="阳光一网格")
    s.add_all([g1, g2, g3])
    s.flush()
    b1 = Building(community_id=c1.id, grid_id=g1.id, number=1, name="1号楼")
    b2 = Building(community_id=c1.id, grid_id=g2.id, number=2, name="2号楼")
    b3 = Building(community_id=c2.id, grid_id=g3.id, number=1, name="阳光1号楼")
    s.add_all([b1, b2, b3])
    s.flush()
    resident = Resident(openid="res-1", community_id=c1.id, building_id=b1.id, unit=2, room="501",
                        phone="13812345678")
    s.add(resident)
    staff = [
        GridWorker(openid="street", name="街道李", role=Role.STREET_ADMIN),
        GridWorker(openid="admin-1", name="社区张", role=Role.COMMUNITY_ADMIN, community_id=c1.id),
        GridWorker(openid="leader-g1", name="网格长赵", role=Role.GRID_LEADER, grid_id=g1.id,
                   community_id=c1.id),
        GridWorker(openid="worker-g1", name="王芳", role=Role.GRID_WORKER, grid_id=g1.id,
                   community_id=c1.id),
        GridWorker(openid="admin-2", name="阳光刘", role=Role.COMMUNITY_ADMIN, community_id=c2.id),
    ]
    s.add_all(staff)
    s.flush()
    # 幸福新社区 G01
    ticket(s, g1, 1, "repair", "楼道灯", "2026-11-02 09:00", "closed", 10, 120, True, True, 5,
           resident=resident, building=b1)
    ticket(s, g1, 2, "repair", "漏水", "2026-11-03 00:30", "closed", 30, 600, True, False, 2,
           description="=HYPERLINK(\"http://x\")厨房漏水")  # local 11-03, UTC 11-02
    ticket(s, g1, 3, "complaint", "噪音", "2026-11-04 09:00", "closed", 90, 1440, False, False,
           auto_closed=True)
    ticket(s, g1, 4, "repair", "楼道灯", "2026-11-05 09:00", "assigned")  # overdue: no response
    ticket(s, g1, 5, "complaint", None, "2026-11-06 09:00", "cancelled")
    ticket(s, g1, 6, "repair", "漏水", "2026-10-20 09:00", "accepted", 5, None, True)  # old, overdue
    # 幸福新社区 G02
    ticket(s, g2, 7, "repair", "电梯", "2026-11-10 09:00", "closed", 20, 200, True, True, 4)
    ticket(s, g2, 8, "repair", "电梯", "2026-11-19 09:00", "accepted", 5, None, True,
           resolve_due="2027-01-01 00:00")
    # 阳光社区 G01
    ticket(s, g3, 9, "complaint", "噪音", "2026-11-12 09:00", "submitted")  # overdue
    s.commit()
    return Board(c1, c2, g1, g2, g3, b1, b2, b3, resident, *staff)

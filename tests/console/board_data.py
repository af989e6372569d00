"""Tickets for the console's dashboard and export tests: the demo 街道 (幸福新社区, 阳光社区,
和谐社区) with five tickets created around 2026-11-20 (``tests.chat.START`` is 2026-11-22
10:00 in Shanghai) and a street admin ``street-1``.

幸福新社区 G01: GD20261120-0001 (closed, 5 points, phone 13812345678), -0002 (closed, late),
-0003 (assigned, overdue); G02: -0004 (closed, 11-15); 阳光社区 G01: -0005 (submitted, overdue).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.demo import MORE_COMMUNITY_FILES
from storage.db import session_scope
from storage.importer import import_file
from storage.models import Community, Grid, GridWorker, Resident, Role, Ticket
from tests.chat import START


def add_ticket(s: Session, community: str, code: str, n: int, kind: str, category: str | None,
               created: datetime, status: str, response_min: float | None = None,
               resolve_min: float | None = None, met: bool | None = None,
               rating: int | None = None, phone: str | None = None) -> Ticket:
    """A ticket of grid ``code`` of ``community`` created at ``created`` (aware)."""
    grid = s.exec(select(Grid).join(Community, Community.id == Grid.community_id)
                  .where(Community.name == community, Grid.code == code)).one()
    resident = None
    if phone:
        resident = Resident(openid=f"res-{n}", community_id=grid.community_id, phone=phone)
        s.add(resident)
        s.flush()
    row = Ticket(number=f"GD20261120-{n:04d}", kind=kind, category=category,
                 description="楼道灯坏了", grid_id=grid.id, status=status, created_at=created,
                 resident_id=resident.id if resident else None,
                 first_response_at=created + timedelta(minutes=response_min) if response_min else None,
                 responded_at=created + timedelta(minutes=response_min) if response_min else None,
                 resolved_at=created + timedelta(minutes=resolve_min) if resolve_min else None,
                 response_met=met, resolve_met=met if resolve_min else None, rating=rating,
                 response_due_at=created + timedelta(hours=1),
                 resolve_due_at=created + timedelta(days=1))
    s.add(row)
    return row


def seed_street(community: Engine) -> Engine:
    """Import the demo's other communities into ``community`` (the engine of the seeded demo),
    add the tickets of the module doc and the street admin; returns the engine."""
    with session_scope(community) as s:
        for path in MORE_COMMUNITY_FILES:
            import_file(s, path)
    day = START - timedelta(days=2)
    with session_scope(community) as s:
        add_ticket(s, "幸福新社区", "G01", 1, "repair", "楼道灯", day, "closed", 10, 120, True, 5,
                   phone="13812345678")
        add_ticket(s, "幸福新社区", "G01", 2, "complaint", "噪音", day + timedelta(hours=1),
                   "closed", 30, 600, False, 2)
        add_ticket(s, "幸福新社区", "G01", 3, "repair", "漏水", day + timedelta(hours=2),
                   "assigned")  # overdue
        add_ticket(s, "幸福新社区", "G02", 4, "repair", "电梯", day - timedelta(days=5), "closed",
                   20, 200, True, 4)
        add_ticket(s, "阳光社区", "G01", 5, "complaint", "噪音", day, "submitted")  # overdue
        s.add(GridWorker(openid="street-1", name="街道办", role=Role.STREET_ADMIN,
                         phone="13800000999"))
    return community

"""Fixtures for the staff console's tests (services and HTTP): two communities of one
street with a street admin, and helpers that report tickets in them.

Import the fixture with ``from tests.staff_support import street_fixture  # noqa: F401``
(it is named ``street``).
"""

from __future__ import annotations

import itertools

import pytest
from sqlmodel import Session, select

from bot.demo import MORE_COMMUNITY_FILES
from services import tickets
from storage.db import session_scope
from storage.importer import import_file
from storage.models import Building, Community, GridWorker, Resident, Role, Ticket
from tests.chat import START

_REPORTERS = itertools.count(1)
"""Numbers the reporters ``report`` makes (unique OpenIDs)."""


@pytest.fixture(name="street")
def street_fixture(community):
    """The demo's 幸福新社区 (the ``community`` fixture) with 阳光社区 (same grid codes and
    building numbers) and a street admin (street-1, phone 13800000900)."""
    with session_scope(community) as s:
        import_file(s, MORE_COMMUNITY_FILES[0])
        s.add(GridWorker(openid="street-1", name="街道李", phone="13800000900",
                         role=Role.STREET_ADMIN))
    return community


def staff(s: Session, openid: str) -> GridWorker:
    return s.exec(select(GridWorker).where(GridWorker.openid == openid)).one()


def building(s: Session, number: int, community: str = "幸福新社区") -> Building:
    return s.exec(select(Building).join(Community, Community.id == Building.community_id)
                  .where(Building.number == number, Community.name == community)).one()


def report(s: Session, number: int, text: str = "楼道灯坏了", *, community: str = "幸福新社区",
           kind: str = "repair", category: str = "楼道灯", urgent: bool = False,
           phone: str = "13700001234", at=START) -> Ticket:
    home = building(s, number, community)
    resident = Resident(openid=f"o-reporter-{next(_REPORTERS)}", building_id=home.id,
                        phone=phone)
    s.add(resident)
    s.flush()
    return tickets.open_ticket(
        s, tickets.Reporter.of(resident),
        tickets.NewTicket(kind=kind, category=category, description=text, urgent=urgent,
                          building_id=home.id), at)

"""Tool lending (工具借用) at 便民服务驿站: stations, items, holds, loans, waiting lists.

Life of a ``Loan`` row (one item kind, ``quantity`` units, one people-facing number
"JY20261122-0001")::

    held ──借出──▶ out ──归还──▶ returned
     ├──取消预约──▶ cancelled
     └──hold_expires_at passed──▶ expired

A unit of an item is free (counted in ``LendItem.available``), held or out. ``available``
changes only while the item row is locked (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite
serialises writers), and a CHECK keeps it within 0…total, so residents writing at the same
moment from many processes never get more than there is. Units that come back go first to
the waiting list (``LendWait``, in order): the next resident gets a hold that expires after
the station's ``hold_hours``; unclaimed, it passes to the one after.

Every change is a ``LendEvent`` on the timeline. This module holds the tables, the queries,
the catalogue upserts (stations, items) and the stock mechanics under the item lock
(``lock_item``, ``hold_units``, ``release_units``, ``offer_free_units``). What residents and
station staff do (request, renew, cancel, hand out, take back, hold expiry) is
``services/lending.py``; who is told what is ``services/lending_notify.py``. Times are aware
UTC; loans fall due at ``DUE_LOCAL_TIME`` (Asia/Shanghai) on the due date.

Errors: ``storage.NotFound`` (no such row), ``storage.Conflict`` (stock below the units held
or out), ``ValueError`` (bad limits or stock).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from sqlalchemy import CheckConstraint, Column, DateTime, UniqueConstraint, func
from sqlalchemy import update as sa_update
from sqlmodel import Field, Session, SQLModel, col, select

from storage import BadValue, Conflict, NotFound, numbers, org
from storage.tickets import next_number
from storage.times import SHANGHAI, as_utc, local

NUMBER_PREFIX = numbers.LOAN_PREFIX
"""Loan numbers: JY<yyyymmdd>-<nnnn> (借用)."""
DUE_LOCAL_TIME = time(20, 0)
"""Loans are due by this local time on the due date."""
MAX_QUANTITY = 20
"""More units than this in one request is refused as absurd, whatever the stock."""
RETURNED_INTACT = "完好"
"""``Loan.return_condition`` of a loan given back whole (a stored value, shown as is)."""
RETURNED_DAMAGED = "损坏"
"""``Loan.return_condition`` of a loan given back damaged (a stored value, shown as is)."""


def _ts(nullable: bool = True, index: bool = False):
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=nullable,
                                                index=index))


class LoanStatus:
    """``Loan.status`` values."""

    HELD = "held"  # reserved, waiting to be collected until hold_expires_at
    OUT = "out"  # handed out, due back at due_at
    RETURNED = "returned"
    CANCELLED = "cancelled"
    EXPIRED = "expired"  # not collected in time

    OPEN = (HELD, OUT)


class WaitStatus:
    """``LendWait.status`` values."""

    WAITING = "waiting"
    OFFERED = "offered"  # a hold was made for this entry (LendWait.loan_id)
    CANCELLED = "cancelled"


class Station(SQLModel, table=True):
    """A 便民服务驿站 that lends tools; belongs to a community, within which its name is
    unique."""

    __tablename__ = "lend_station"
    __table_args__ = (UniqueConstraint("community_id", "name", name="uq_lend_station_community_name"),)

    id: int | None = Field(default=None, primary_key=True)
    community_id: int | None = Field(default=None, foreign_key="community.id", index=True)
    name: str
    address: str = ""
    opening_hours: str = ""
    """As people write it: 「每天 8:30–17:30」."""
    phone: str | None = None
    max_open_per_resident: int = 3
    """Units one resident may hold or have out at once, over all items."""
    hold_hours: int = 24
    """A reservation (or a waiting-list offer) not collected within this many hours expires."""
    active: bool = True


class LendItem(SQLModel, table=True):
    """One kind of thing a station lends (梯子 ×2), with its stock and lending terms."""

    __tablename__ = "lend_item"
    __table_args__ = (
        UniqueConstraint("station_id", "name"),
        CheckConstraint("available >= 0 AND available <= total", name="ck_lend_item_available"),
    )

    id: int | None = Field(default=None, primary_key=True)
    station_id: int = Field(foreign_key="lend_station.id", index=True)
    name: str
    """Canonical name, as the classifier's tool slot gives it (梯子, 手推车 …)."""
    total: int = 0
    """Units in service."""
    available: int = 0
    """Units free now (not held, not out)."""
    condition: str = "良好"
    photo_url: str | None = None
    loan_days: int = 7
    max_per_loan: int = 1
    """Units of this item one resident may borrow at once."""
    deposit_yuan: int = 0
    """Deposit asked at hand-out, in yuan (0 = none)."""
    needs_id: bool = False
    """An ID card (身份证) must be shown at hand-out."""
    note: str | None = None
    active: bool = True


class Loan(SQLModel, table=True):
    """A reservation that becomes a loan: ``quantity`` units of one item for one resident."""

    __tablename__ = "lend_loan"
    __table_args__ = (CheckConstraint("quantity > 0", name="ck_lend_loan_quantity"),)

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(unique=True, index=True)
    item_id: int = Field(foreign_key="lend_item.id", index=True)
    resident_id: int = Field(foreign_key="resident.id", index=True)
    quantity: int = 1
    status: str = Field(default=LoanStatus.HELD, index=True)
    loan_days: int = 7
    created_at: datetime = _ts(nullable=False)
    hold_expires_at: datetime | None = _ts(index=True)
    out_at: datetime | None = _ts()
    due_at: datetime | None = _ts(index=True)
    returned_at: datetime | None = _ts()
    closed_at: datetime | None = _ts()
    """When it was cancelled or expired."""
    renewals: int = 0
    return_condition: str | None = None
    """``RETURNED_INTACT`` | ``RETURNED_DAMAGED``"""
    return_note: str | None = None
    handed_out_by: int | None = Field(default=None, foreign_key="gridworker.id")
    returned_to: int | None = Field(default=None, foreign_key="gridworker.id")


class LendWait(SQLModel, table=True):
    """A place on an item's waiting list (first come, first offered)."""

    __tablename__ = "lend_wait"
    __table_args__ = (CheckConstraint("quantity > 0", name="ck_lend_wait_quantity"),)

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="lend_item.id", index=True)
    resident_id: int = Field(foreign_key="resident.id", index=True)
    quantity: int = 1
    status: str = Field(default=WaitStatus.WAITING, index=True)
    created_at: datetime = _ts(nullable=False)
    offered_at: datetime | None = _ts()
    loan_id: int | None = Field(default=None, foreign_key="lend_loan.id")


class LendEvent(SQLModel, table=True):
    """One step on the lending timeline (held, out, returned, waiting, offered, stock …)."""

    __tablename__ = "lend_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts(nullable=False)
    kind: str
    actor: str
    """"resident:<id>", "worker:<id>", "staff:cli" or "system"."""
    station_id: int | None = Field(default=None, foreign_key="lend_station.id", index=True)
    item_id: int | None = Field(default=None, foreign_key="lend_item.id", index=True)
    loan_id: int | None = Field(default=None, foreign_key="lend_loan.id", index=True)
    wait_id: int | None = Field(default=None, foreign_key="lend_wait.id")
    note: str | None = None


@dataclass
class Released:
    """What freeing units caused: holds offered to waiting residents (new ``Loan`` rows)."""

    offers: list[Loan] = field(default_factory=list)


# ------------------------------------------------------------------ timeline, helpers
def record(session: Session, kind: str, actor: str, now: datetime, *, item: LendItem | None = None,
           loan: Loan | None = None, wait: LendWait | None = None,
           station_id: int | None = None, note: str | None = None) -> LendEvent:
    """Append one event to the lending timeline."""
    if station_id is None and item is not None:
        station_id = item.station_id
    event = LendEvent(at=now, kind=kind, actor=actor, note=note, station_id=station_id,
                      item_id=item.id if item else (loan.item_id if loan else None),
                      loan_id=loan.id if loan else None, wait_id=wait.id if wait else None)
    session.add(event)
    return event


def timeline(session: Session, *, loan_id: int | None = None,
             item_id: int | None = None) -> list[LendEvent]:
    """Events of one loan or one item, oldest first."""
    query = select(LendEvent)
    if loan_id is not None:
        query = query.where(LendEvent.loan_id == loan_id)
    if item_id is not None:
        query = query.where(LendEvent.item_id == item_id)
    return list(session.exec(query.order_by(LendEvent.id)))


def due_at_for(out_at: datetime, days: int, tz: str = "Asia/Shanghai") -> datetime:
    """Due moment (aware UTC): ``DUE_LOCAL_TIME`` local on the day ``days`` after hand-out."""
    day = local(out_at, tz).date() + timedelta(days=days)
    zone = SHANGHAI if tz == "Asia/Shanghai" else local(out_at, tz).tzinfo
    return as_utc(datetime.combine(day, DUE_LOCAL_TIME, tzinfo=zone))


def lock_item(session: Session, item_id: int) -> LendItem:
    """The item row, re-read and locked until the transaction ends: ``FOR UPDATE`` on
    PostgreSQL; on SQLite a no-op UPDATE first takes the database's write lock (writers wait
    up to the busy timeout), so the re-read below is current and stays so."""
    if session.get_bind().dialect.name == "sqlite":
        table = LendItem.__table__
        session.execute(sa_update(table).where(table.c.id == item_id)
                        .values(available=table.c.available))
    item = session.exec(
        select(LendItem).where(LendItem.id == item_id).with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if item is None:
        raise NotFound(f"item {item_id}")
    return item


def lock_loan(session: Session, loan: Loan) -> Loan:
    """``loan`` re-read under the row lock of its item (all changes to an item's loans take
    the item lock first, so lock order is item → loan everywhere)."""
    lock_item(session, loan.item_id)
    fresh = session.exec(select(Loan).where(Loan.id == loan.id).with_for_update()
                         .execution_options(populate_existing=True)).one()
    return fresh


# ------------------------------------------------------------------ stations and items
def upsert_station(session: Session, name: str, now: datetime, *, actor: str = "staff:cli",
                   community_id: int | None = None, address: str | None = None,
                   opening_hours: str | None = None, phone: str | None = None,
                   max_open_per_resident: int | None = None,
                   hold_hours: int | None = None) -> Station:
    """Create station ``name`` of community ``community_id`` or update the fields given
    (None = keep). ``community_id`` defaults to the account's only community.

    Raises ValueError on a non-positive limit, ``storage.org.CommunityNeeded`` (a
    ValueError) for no ``community_id`` on an account of several communities."""
    if community_id is None:
        community_id = org.only_community_id(session)
    station = session.exec(select(Station).where(Station.name == name,
                                                 Station.community_id == community_id)).first()
    if station is None:
        station = Station(name=name, community_id=community_id)
        session.add(station)
        session.flush()
        record(session, "station_added", actor, now, station_id=station.id, note=name)
    for attr, value in (("address", address), ("opening_hours", opening_hours), ("phone", phone),
                        ("max_open_per_resident", max_open_per_resident),
                        ("hold_hours", hold_hours)):
        if value is not None:
            if attr in ("max_open_per_resident", "hold_hours") and int(value) <= 0:
                raise BadValue(f"{attr} must be positive, not {value}", "not_positive",
                               attr=attr, value=value)
            setattr(station, attr, value)
    station.active = True
    session.add(station)
    session.flush()
    return station


def station_by_name(session: Session, name_or_id: str | int,
                    community_id: int | None = None) -> Station:
    """A station by id or exact name (names are unique within a community: of
    ``community_id`` when given).

    Raises NotFound; ``storage.org.CommunityNeeded`` (choices: the communities that have
    one) when the name is found in several communities and none is given."""
    station = None
    if isinstance(name_or_id, int) or str(name_or_id).isdigit():
        station = session.get(Station, int(name_or_id))
        if station is not None and community_id not in (None, station.community_id):
            station = None
    if station is None:
        query = select(Station).where(Station.name == str(name_or_id))
        if community_id is not None:
            query = query.where(Station.community_id == community_id)
        rows = list(session.exec(query.order_by(col(Station.id))))
        if len(rows) > 1:
            raise org.CommunityNeeded(_community_names(session, [r.community_id for r in rows]))
        station = rows[0] if rows else None
    if station is None:
        raise NotFound(f"station {name_or_id}")
    return station


def _community_names(session: Session, ids: list[int | None]) -> list[str]:
    names = {c.id: c.name for c in org.communities(session)}
    return [names.get(i, "-") for i in ids]


def stations(session: Session) -> list[Station]:
    """Active stations by id."""
    return list(session.exec(select(Station).where(Station.active).order_by(Station.id)))


def set_item(session: Session, station: Station, name: str, now: datetime, *,
             actor: str = "staff:cli", total: int | None = None, loan_days: int | None = None,
             condition: str | None = None, photo_url: str | None = None,
             deposit_yuan: int | None = None, needs_id: bool | None = None,
             max_per_loan: int | None = None, note: str | None = None) -> tuple[LendItem, Released]:
    """Create item ``name`` at ``station`` or update it; None keeps a field.

    Changing ``total`` moves ``available`` by the same amount (units held or out stay so);
    new units go to the waiting list first. Raises ValueError for a negative total or a
    non-positive loan period, and Conflict when the new total is below the units now held
    or out.
    """
    item = session.exec(select(LendItem).where(LendItem.station_id == station.id,
                                               LendItem.name == name)).first()
    if item is None:
        item = LendItem(station_id=station.id, name=name)
        session.add(item)
        session.flush()
        record(session, "item_added", actor, now, item=item, note=name)
    item = lock_item(session, item.id)
    for attr, value in (("loan_days", loan_days), ("max_per_loan", max_per_loan)):
        if value is not None and int(value) <= 0:
            raise BadValue(f"{attr} must be positive, not {value}", "not_positive", attr=attr,
                           value=value)
    if deposit_yuan is not None and deposit_yuan < 0:
        raise BadValue(f"deposit must not be negative, not {deposit_yuan}", "deposit_negative",
                       value=deposit_yuan)
    for attr, value in (("loan_days", loan_days), ("condition", condition),
                        ("photo_url", photo_url), ("deposit_yuan", deposit_yuan),
                        ("needs_id", needs_id), ("max_per_loan", max_per_loan), ("note", note)):
        if value is not None:
            setattr(item, attr, value)
    item.active = True
    released = Released()
    if total is not None:
        if total < 0 or total > 10_000:
            raise BadValue(f"stock must be within 0…10000, not {total}", "stock_range",
                           value=total)
        delta = total - item.total
        if item.available + delta < 0:
            raise Conflict(f"{item.name}: {item.total - item.available} held or out, "
                           f"cannot set stock to {total}", "stock_below_out", item=item.name,
                           out=item.total - item.available, total=total)
        if delta:
            item.total = total
            item.available += delta
            record(session, "stock", actor, now, item=item, note=f"{total - delta}→{total}")
            session.add(item)
            session.flush()
            if delta > 0:
                released = offer_free_units(session, item, now)
    session.add(item)
    session.flush()
    return item, released


def items_named(session: Session, name: str, community_id: int | None = None) -> list[LendItem]:
    """Active items called ``name`` at active stations, most units free first."""
    query = (select(LendItem).join(Station, col(Station.id) == LendItem.station_id)
             .where(LendItem.name == name, LendItem.active, Station.active))
    if community_id is not None:
        query = query.where(Station.community_id == community_id)
    return list(session.exec(query.order_by(col(LendItem.available).desc(), LendItem.id)))


def all_items(session: Session, station_id: int | None = None) -> list[LendItem]:
    """Active items (of one station, or all active stations) by station then name."""
    query = (select(LendItem).join(Station, col(Station.id) == LendItem.station_id)
             .where(LendItem.active, Station.active))
    if station_id is not None:
        query = query.where(LendItem.station_id == station_id)
    return list(session.exec(query.order_by(LendItem.station_id, LendItem.id)))


# ------------------------------------------------------------------ residents' side
def open_units(session: Session, resident_id: int) -> int:
    """Units the resident holds or has out now, over all items."""
    total = session.exec(
        select(func.coalesce(func.sum(Loan.quantity), 0))
        .where(Loan.resident_id == resident_id, col(Loan.status).in_(LoanStatus.OPEN))
    ).one()
    return int(total)


def loans_of(session: Session, resident_id: int) -> list[Loan]:
    """The resident's open loans and holds, oldest first."""
    return list(session.exec(
        select(Loan).where(Loan.resident_id == resident_id, col(Loan.status).in_(LoanStatus.OPEN))
        .order_by(Loan.id)))


def waits_of(session: Session, resident_id: int) -> list[LendWait]:
    """The resident's places on waiting lists, oldest first."""
    return list(session.exec(
        select(LendWait).where(LendWait.resident_id == resident_id,
                               LendWait.status == WaitStatus.WAITING).order_by(LendWait.id)))


def loan_by_number(session: Session, number: str) -> Loan:
    """The loan with this number (case-insensitive). Raises NotFound."""
    loan = session.exec(select(Loan).where(Loan.number == number.strip().upper())).first()
    if loan is None:
        raise NotFound(number)
    return loan


def wait_position(session: Session, wait: LendWait) -> int:
    """1-based place of ``wait`` on its item's waiting list."""
    return sum(1 for w in waiting_list(session, wait.item_id) if w.id <= wait.id)


def waiting_list(session: Session, item_id: int) -> list[LendWait]:
    return list(session.exec(
        select(LendWait).where(LendWait.item_id == item_id, LendWait.status == WaitStatus.WAITING)
        .order_by(LendWait.id)))


def hold_units(session: Session, item: LendItem, station: Station, resident_id: int, quantity: int,
          now: datetime, actor: str, kind: str = "held") -> Loan:
    item.available -= quantity
    session.add(item)
    loan = Loan(number=next_number(session, NUMBER_PREFIX, now), item_id=item.id,
                resident_id=resident_id, quantity=quantity, status=LoanStatus.HELD,
                loan_days=item.loan_days, created_at=now,
                hold_expires_at=now + timedelta(hours=station.hold_hours))
    session.add(loan)
    session.flush()
    record(session, kind, actor, now, item=item, loan=loan, note=f"×{quantity}")
    return loan


def release_units(session: Session, item: LendItem, quantity: int, now: datetime) -> Released:
    """Give ``quantity`` units back to the locked ``item`` and offer them to waiters."""
    item.available += quantity
    session.add(item)
    session.flush()
    return offer_free_units(session, item, now)


def offer_free_units(session: Session, item: LendItem, now: datetime) -> Released:
    """Turn free units into holds for the waiting list, in order, while they suffice.

    A waiter who wants more than is free, or who is at their cap, stays waiting (and is
    passed over for now, so one large request does not block everyone behind it).
    """
    released = Released()
    station = session.get(Station, item.station_id)
    for wait in waiting_list(session, item.id):
        if item.available <= 0:
            break
        if wait.quantity > item.available:
            continue
        if open_units(session, wait.resident_id) + wait.quantity > station.max_open_per_resident:
            continue
        loan = hold_units(session, item, station, wait.resident_id, wait.quantity, now, "system",
                     kind="offered")
        wait.status = WaitStatus.OFFERED
        wait.offered_at = now
        wait.loan_id = loan.id
        session.add(wait)
        released.offers.append(loan)
    session.flush()
    return released


def out_loans(session: Session, station_id: int | None = None,
              overdue_at: datetime | None = None) -> list[Loan]:
    """Loans out now (of one station), soonest due first; only those due before
    ``overdue_at`` when given."""
    query = (select(Loan).join(LendItem, col(LendItem.id) == Loan.item_id)
             .where(Loan.status == LoanStatus.OUT))
    if station_id is not None:
        query = query.where(LendItem.station_id == station_id)
    if overdue_at is not None:
        query = query.where(Loan.due_at < overdue_at)
    return list(session.exec(query.order_by(Loan.due_at, Loan.id)))


def open_loans(session: Session, station_id: int | None = None) -> list[Loan]:
    """Held and out loans (of one station), by number."""
    query = (select(Loan).join(LendItem, col(LendItem.id) == Loan.item_id)
             .where(col(Loan.status).in_(LoanStatus.OPEN)))
    if station_id is not None:
        query = query.where(LendItem.station_id == station_id)
    return list(session.exec(query.order_by(Loan.id)))

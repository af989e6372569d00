"""Tool lending actions (工具借用): a resident reserves, waits, cancels and renews; station
staff hand out and take back. The tables, queries and the stock mechanics under the item lock
(holds, releases, offers to the waiting list) are ``storage.lending``; who is told what is
``services.lending_notify``; who may hand out is ``services.permissions.may_lend``.

Every action runs in the caller's transaction and takes the item row lock itself. Times are
aware UTC.

Errors (``services.errors``): NotFound (no such item), WrongState (the loan's or wait's state
or owner forbids it: an expired hold, a second renewal, someone else's loan), Invalid (a
quantity out of range).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, select

from services.errors import Invalid, NotAllowed, WrongState
from services.messages import msg
from storage.lending import (
    MAX_QUANTITY,
    RETURNED_DAMAGED,
    RETURNED_INTACT,
    LendItem,
    LendWait,
    Loan,
    LoanStatus,
    Released,
    Station,
    WaitStatus,
    due_at_for,
    hold_units,
    lock_item,
    lock_loan,
    open_units,
    record,
    release_units,
    waiting_list,
)
from storage.models import Resident
from storage.times import as_utc


def check_quantity(item: LendItem, quantity: int) -> None:
    """Raise Invalid unless 1 ≤ ``quantity`` ≤ min(item.max_per_loan, MAX_QUANTITY)."""
    if quantity < 1 or quantity > min(item.max_per_loan, MAX_QUANTITY):
        raise Invalid(f"quantity {quantity} outside 1…{item.max_per_loan} for {item.name}")


def request(session: Session, item_id: int, resident: Resident, quantity: int,
            now: datetime) -> Loan | LendWait:
    """Reserve ``quantity`` units for ``resident``, or put them on the waiting list.

    Returns the new held ``Loan`` (expires after the station's ``hold_hours``) when enough
    units are free and nobody is waiting, else the ``LendWait`` entry (the existing one when
    the resident already waits for this item). The item row stays locked until commit.
    (The cap is checked over all items; the webhook's transaction has already updated the
    resident's row, which serialises one resident's concurrent messages.)
    Raises Invalid for a bad quantity, WrongState when the resident's cap
    (``Station.max_open_per_resident``) would be passed, NotFound for no such item.
    """
    item = lock_item(session, item_id)
    check_quantity(item, quantity)
    station = session.get(Station, item.station_id)
    if open_units(session, resident.id) + quantity > station.max_open_per_resident:
        raise WrongState(f"resident {resident.id} would pass {station.max_open_per_resident} units")
    actor = f"resident:{resident.id}"
    waiting = waiting_list(session, item.id)
    if item.available >= quantity and not waiting:
        return hold_units(session, item, station, resident.id, quantity, now, actor)
    mine = next((w for w in waiting if w.resident_id == resident.id), None)
    if mine is not None:
        return mine
    wait = LendWait(item_id=item.id, resident_id=resident.id, quantity=quantity, created_at=now)
    session.add(wait)
    session.flush()
    record(session, "waiting", actor, now, item=item, wait=wait, note=f"×{quantity}")
    return wait


def cancel_wait(session: Session, wait: LendWait, resident: Resident, now: datetime) -> None:
    """Leave a waiting list. Raises NotAllowed when it is someone else's entry, WrongState
    when it is not waiting any more."""
    lock_item(session, wait.item_id)
    session.refresh(wait)
    if wait.resident_id != resident.id:
        raise NotAllowed("cancel_wait")
    if wait.status != WaitStatus.WAITING:
        raise WrongState(f"wait {wait.id} is not waiting for resident {resident.id}")
    wait.status = WaitStatus.CANCELLED
    session.add(wait)
    record(session, "wait_cancelled", f"resident:{resident.id}", now,
           item=session.get(LendItem, wait.item_id), wait=wait)


def cancel_hold(session: Session, loan: Loan, resident: Resident, now: datetime) -> Released:
    """The resident releases a hold (取消预约); the units go to the next waiter.

    Raises NotAllowed when the loan is not the resident's, WrongState when it is not held
    any more.
    """
    loan = lock_loan(session, loan)
    if loan.resident_id != resident.id:
        raise NotAllowed("cancel_hold", loan.number)
    if loan.status != LoanStatus.HELD:
        raise WrongState(f"{loan.number} is {loan.status}, not held")
    loan.status = LoanStatus.CANCELLED
    loan.closed_at = now
    session.add(loan)
    item = session.get(LendItem, loan.item_id)
    record(session, "cancelled", f"resident:{resident.id}", now, item=item, loan=loan)
    return release_units(session, item, loan.quantity, now)


def hand_out(session: Session, loan: Loan, worker_id: int, now: datetime,
             tz: str = "Asia/Shanghai") -> Loan:
    """Station staff hand the held units over (借出): status out, due date set.

    Raises WrongState unless the loan is held and its hold has not expired.
    """
    loan = lock_loan(session, loan)
    if loan.status != LoanStatus.HELD:
        raise WrongState(f"{loan.number} is {loan.status}, not held")
    if loan.hold_expires_at is not None and as_utc(loan.hold_expires_at) <= now:
        raise WrongState(f"{loan.number}: hold expired at {loan.hold_expires_at}")
    loan.status = LoanStatus.OUT
    loan.out_at = now
    loan.due_at = due_at_for(now, loan.loan_days, tz)
    loan.handed_out_by = worker_id
    session.add(loan)
    record(session, "out", f"worker:{worker_id}", now, loan=loan,
           item=session.get(LendItem, loan.item_id))
    return loan


def take_back(session: Session, loan: Loan, worker_id: int, now: datetime, damaged: bool = False,
              note: str | None = None) -> Released:
    """Station staff take the units back (归还). Intact units go to the next waiter; damaged
    ones are taken out of service (``total`` shrinks; staff restore it with set_item).

    Raises WrongState unless the loan is out.
    """
    loan = lock_loan(session, loan)
    if loan.status != LoanStatus.OUT:
        raise WrongState(f"{loan.number} is {loan.status}, not out")
    loan.status = LoanStatus.RETURNED
    loan.returned_at = now
    loan.returned_to = worker_id
    loan.return_condition = RETURNED_DAMAGED if damaged else RETURNED_INTACT
    loan.return_note = note
    session.add(loan)
    item = session.get(LendItem, loan.item_id)
    actor = f"worker:{worker_id}"
    record(session, "returned", actor, now, item=item, loan=loan,
           note=loan.return_condition + (f" {note}" if note else ""))
    if damaged:
        item.total -= loan.quantity
        item.condition = (msg("lending.condition_damaged_note", quantity=loan.quantity, note=note)
                          if note else msg("lending.condition_damaged", quantity=loan.quantity))
        session.add(item)
        session.flush()
        record(session, "damaged", actor, now, item=item, loan=loan, note=note)
        return Released()
    return release_units(session, item, loan.quantity, now)


def renew(session: Session, loan: Loan, resident: Resident, now: datetime,
          max_renewals: int = 1) -> Loan:
    """Extend an out loan by its loan period once (续借), unless someone waits for the item.

    Raises NotAllowed when the loan is not the resident's; WrongState when it is not out,
    already renewed ``max_renewals`` times, or wanted by a waiting resident.
    """
    loan = lock_loan(session, loan)
    if loan.resident_id != resident.id:
        raise NotAllowed("renew", loan.number)
    if loan.status != LoanStatus.OUT:
        raise WrongState(f"{loan.number} is not out with resident {resident.id}")
    if loan.renewals >= max_renewals:
        raise WrongState(f"{loan.number} was renewed already")
    if waiting_list(session, loan.item_id):
        raise WrongState(f"{loan.number}: others are waiting")
    loan.renewals += 1
    loan.due_at = as_utc(loan.due_at) + timedelta(days=loan.loan_days)
    session.add(loan)
    record(session, "renewed", f"resident:{resident.id}", now, loan=loan,
           item=session.get(LendItem, loan.item_id))
    return loan


def expire_holds(session: Session, now: datetime, limit: int = 200) -> list[tuple[Loan, Released]]:
    """Expire holds not collected by ``hold_expires_at`` ≤ ``now``; free units go to the next
    waiter. Safe to run in several workers at once (each hold is re-checked under its lock).
    Returns (expired loan, what its release caused) pairs.
    """
    ids = list(session.exec(
        select(Loan.id).where(Loan.status == LoanStatus.HELD, Loan.hold_expires_at <= now)
        .order_by(Loan.hold_expires_at).limit(limit)))
    done: list[tuple[Loan, Released]] = []
    for loan_id in ids:
        loan = lock_loan(session, session.get(Loan, loan_id))
        if loan.status != LoanStatus.HELD or as_utc(loan.hold_expires_at) > now:
            continue  # another worker got there first
        loan.status = LoanStatus.EXPIRED
        loan.closed_at = now
        session.add(loan)
        item = session.get(LendItem, loan.item_id)
        record(session, "expired", "system", now, item=item, loan=loan)
        done.append((loan, release_units(session, item, loan.quantity, now)))
    return done

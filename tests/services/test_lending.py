"""Lending repository: holds, hand-out, return, waiting lists, renewals, stock, and the stock
never going below zero or above its limit when many residents ask at once (PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from sqlmodel import Session, select

from services import lending as lending_actions
from services.errors import NotAllowed
from storage import Conflict, ImportFormatError, NotFound, lending
from storage.lending import LendEvent, LendItem, LendWait, Loan, LoanStatus, WaitStatus
from storage.models import GridWorker, Resident
from storage.services_import import import_services
from storage.times import local

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)  # Sunday 10:00 in Shanghai


def _residents(session: Session, n: int) -> list[Resident]:
    rows = [Resident(openid=f"r{i}") for i in range(n)]
    session.add_all(rows)
    session.flush()
    return rows


def _item(session: Session, name: str = "梯子", total: int = 2, **kw) -> LendItem:
    """An item at station 驿站; also makes staff member #1 (who hands out and takes back)."""
    if session.get(GridWorker, 1) is None:
        session.add(GridWorker(id=1, openid="station-1", name="孙阿姨", role="station_staff"))
        session.flush()
    station = lending.upsert_station(session, "驿站", NOW, opening_hours="每天 8:30–17:30",
                                     max_open_per_resident=kw.pop("cap", 3))
    item, _ = lending.set_item(session, station, name, NOW, total=total, loan_days=3, **kw)
    return item


def test_hold_hand_out_and_return(session):
    item = _item(session)
    (r,) = _residents(session, 1)
    loan = lending_actions.request(session, item.id, r, 1, NOW)
    assert isinstance(loan, Loan) and loan.status == LoanStatus.HELD
    assert loan.number == "JY20261122-0001" and loan.hold_expires_at == NOW + timedelta(hours=24)
    assert item.available == 1
    lending_actions.hand_out(session, loan, 1, NOW + timedelta(hours=2))
    due = local(loan.due_at)
    assert (due.date().isoformat(), due.hour) == ("2026-11-25", 20)
    released = lending_actions.take_back(session, loan, 1, NOW + timedelta(days=2))
    assert loan.status == LoanStatus.RETURNED and loan.return_condition == "完好"
    assert released.offers == [] and item.available == 2
    kinds = [e.kind for e in lending.timeline(session, loan_id=loan.id)]
    assert kinds == ["held", "out", "returned"]


def test_bad_quantities_cap_and_unknown_item(session):
    item = _item(session, max_per_loan=2, cap=2)
    a, b = _residents(session, 2)
    for quantity in (0, -1, 3, 10_000):
        with pytest.raises(ValueError):
            lending_actions.request(session, item.id, a, quantity, NOW)
    lending_actions.request(session, item.id, a, 2, NOW)
    other = _item(session, "电钻", total=1, cap=2)
    with pytest.raises(Conflict):  # cap of 2 units per resident
        lending_actions.request(session, other.id, a, 1, NOW)
    with pytest.raises(NotFound):
        lending_actions.request(session, 9999, b, 1, NOW)


def test_nobody_can_cancel_or_hand_out_what_is_not_held(session):
    item = _item(session)
    owner, stranger = _residents(session, 2)
    loan = lending_actions.request(session, item.id, owner, 1, NOW)
    with pytest.raises(NotAllowed):
        lending_actions.cancel_hold(session, loan, stranger, NOW)
    lending_actions.cancel_hold(session, loan, owner, NOW)
    assert loan.status == LoanStatus.CANCELLED and item.available == 2
    with pytest.raises(Conflict):
        lending_actions.hand_out(session, loan, 1, NOW)
    with pytest.raises(Conflict):
        lending_actions.take_back(session, loan, 1, NOW)


def test_waiting_list_gets_returned_units_in_order_then_expired_holds_move_on(session):
    item = _item(session, "电钻", total=1)
    a, b, c = _residents(session, 3)
    first = lending_actions.request(session, item.id, a, 1, NOW)
    wait_b = lending_actions.request(session, item.id, b, 1, NOW)
    wait_c = lending_actions.request(session, item.id, c, 1, NOW)
    assert isinstance(wait_b, LendWait) and lending.wait_position(session, wait_c) == 2
    assert lending_actions.request(session, item.id, b, 1, NOW).id == wait_b.id  # no double queueing
    lending_actions.hand_out(session, first, 1, NOW)
    released = lending_actions.take_back(session, first, 1, NOW + timedelta(days=1))
    (offer,) = released.offers
    assert offer.resident_id == b.id and offer.status == LoanStatus.HELD
    assert wait_b.status == WaitStatus.OFFERED and item.available == 0
    # b never comes: after the hold time the unit passes to c
    assert lending_actions.expire_holds(session, NOW + timedelta(days=1, hours=23)) == []
    ((expired, moved),) = lending_actions.expire_holds(session, NOW + timedelta(days=2, hours=1))
    assert expired.id == offer.id and expired.status == LoanStatus.EXPIRED
    assert [x.resident_id for x in moved.offers] == [c.id]
    assert lending_actions.expire_holds(session, NOW + timedelta(days=2, hours=1)) == []


def test_renew_once_and_not_when_others_wait(session):
    item = _item(session, "电钻", total=1)
    a, b = _residents(session, 2)
    loan = lending_actions.request(session, item.id, a, 1, NOW)
    lending_actions.hand_out(session, loan, 1, NOW)
    due = loan.due_at
    lending_actions.renew(session, loan, a, NOW)
    assert loan.due_at == due + timedelta(days=3)
    with pytest.raises(Conflict):
        lending_actions.renew(session, loan, a, NOW)
    other = _item(session, "梯子", total=1)
    loan2 = lending_actions.request(session, other.id, a, 1, NOW)
    lending_actions.hand_out(session, loan2, 1, NOW)
    lending_actions.request(session, other.id, b, 1, NOW)  # b waits for it
    with pytest.raises(Conflict):
        lending_actions.renew(session, loan2, a, NOW)
    with pytest.raises(NotAllowed):
        lending_actions.renew(session, loan2, b, NOW)  # not b's


def test_damaged_return_takes_units_out_of_service(session):
    item = _item(session, total=2)
    (a,) = _residents(session, 1)
    loan = lending_actions.request(session, item.id, a, 1, NOW)
    lending_actions.hand_out(session, loan, 1, NOW)
    lending_actions.take_back(session, loan, 1, NOW, damaged=True, note="梯子腿弯了")
    assert (item.total, item.available) == (1, 1) and "损坏" in item.condition
    assert "damaged" in [e.kind for e in lending.timeline(session, item_id=item.id)]


def test_stock_changes_keep_what_is_out_and_serve_the_queue(session):
    item = _item(session, total=1)
    a, b = _residents(session, 2)
    loan = lending_actions.request(session, item.id, a, 1, NOW)
    lending_actions.request(session, item.id, b, 1, NOW)
    station = lending.station_by_name(session, "驿站")
    with pytest.raises(Conflict):
        lending.set_item(session, station, "梯子", NOW, total=0)
    with pytest.raises(ValueError):
        lending.set_item(session, station, "梯子", NOW, total=-1)
    _, released = lending.set_item(session, station, "梯子", NOW, total=2)
    assert [x.resident_id for x in released.offers] == [b.id]
    assert (item.total, item.available) == (2, 0) and loan.status == LoanStatus.HELD


def test_import_services_is_idempotent_and_names_bad_entries(session):
    doc = {"stations": [{"name": "驿站", "hours": "9-17",
                         "items": [{"name": "梯子", "count": 2, "loan_days": 3}]}]}
    import_services(session, doc, NOW)
    report = import_services(session, doc, NOW)
    assert (report.stations, report.items) == (1, 1)
    assert len(session.exec(select(LendItem)).all()) == 1
    with pytest.raises(ImportFormatError, match=r"stations\[1\]\.items\[1\]"):
        import_services(session, {"stations": [{"name": "驿站", "items": [{"count": 1}]}]}, NOW)
    with pytest.raises(ImportFormatError, match="count"):
        import_services(session, yaml.safe_load(
            "stations: [{name: 驿站, items: [{name: 梯子, count: 两个}]}]"), NOW)
    with pytest.raises(ImportFormatError, match="stock"):
        import_services(session, {"stations": [{"name": "驿站",
                                                "items": [{"name": "梯子", "count": -3}]}]}, NOW)


def test_fifty_residents_at_once_get_exactly_the_three_free_units(clean_db):
    """50 concurrent requests for the last 3 units: 3 holds, 47 on the waiting list."""
    with Session(clean_db) as s:
        item = _item(s, "轮椅", total=3)
        residents = _residents(s, 50)
        s.commit()
        item_id, ids = item.id, [r.id for r in residents]
    barrier = threading.Barrier(len(ids))
    errors: list[BaseException] = []

    def ask(resident_id: int) -> None:
        try:
            barrier.wait()
            with Session(clean_db) as s:
                lending_actions.request(s, item_id, s.get(Resident, resident_id), 1, NOW)
                s.commit()
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with Session(clean_db) as s:
        held = s.exec(select(Loan).where(Loan.status == LoanStatus.HELD)).all()
        waiting = s.exec(select(LendWait).where(LendWait.status == WaitStatus.WAITING)).all()
        item = s.get(LendItem, item_id)
        assert (len(held), len(waiting), item.available) == (3, 47, 0)
        assert len({loan.number for loan in held}) == 3
        assert len(s.exec(select(LendEvent).where(LendEvent.kind == "waiting")).all()) == 47

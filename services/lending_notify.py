"""The lending life cycle as residents live it: each change tells them through the outbox.

Used by the chat handlers (``lend_tool``, ``lend_station``) and the worker's jobs
(``bot.jobs_services``): offers to the waiting list, expired holds, hand-out and return,
and the due-date reminders (the day before, on the day, then when overdue, at most
``OVERDUE_REMINDERS`` times, one per day). Every push is an outbox row whose ``event`` is
the catalogue key of its text.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlmodel import Session, col, select

from services import lending as lending_actions
from services.messages import msg
from services.notify import push_resident
from storage import lending, reminders
from storage.lending import RETURNED_DAMAGED, LendItem, Loan, LoanStatus, Released, Station
from storage.times import as_utc, local, show

REMINDER_LOCAL_TIME = time(9, 0)
"""Due-date reminders go out from this local time of their day."""
OVERDUE_REMINDERS = 3
"""Overdue loans are reminded on the 1st … 3rd day after the due date, then staff take over."""


def fields(session: Session, loan: Loan, tz: str = "Asia/Shanghai") -> dict[str, str]:
    """Text fields of a loan: no, name, quantity, station, address, hours, deadline, due,
    terms (deposit / ID card), status."""
    item = session.get(LendItem, loan.item_id)
    station = session.get(Station, item.station_id)
    return {
        "no": loan.number, "name": item.name, "quantity": str(loan.quantity),
        "station": station.name, "address": station.address or "-",
        "hours": station.opening_hours or "-",
        "deadline": show(loan.hold_expires_at, tz), "due": show(loan.due_at, tz),
        "terms": terms(item), "status": msg(f"lending.status_{loan.status}"),
    }


def terms(item: LendItem) -> str:
    """「需押金50元，需带身份证」, or "" when neither is asked."""
    parts = []
    if item.deposit_yuan:
        parts.append(msg("lending.term_deposit", deposit=item.deposit_yuan))
    if item.needs_id:
        parts.append(msg("lending.term_id"))
    return msg("text.clause_sep").join(parts)


def _push(session: Session, resident_id: int, key: str, now: datetime, /,
          **values: str) -> bool:
    return push_resident(session, resident_id, key, msg(key, **values), {
        "first": msg("lending.template_first"), "keyword1": values.get("no", ""),
        "keyword2": values.get("name", ""), "keyword3": show(now),
        "remark": values.get("remark", "")})


def tell_offers(session: Session, released: Released, now: datetime,
                tz: str = "Asia/Shanghai") -> int:
    """Tell each waiting resident who was just given a hold. Returns pushes staged."""
    return sum(_push(session, loan.resident_id, "lending.push_offer", now, **fields(session, loan, tz))
               for loan in released.offers)


def handed_out(session: Session, loan: Loan, now: datetime, tz: str = "Asia/Shanghai") -> None:
    """Tell the resident they collected the loan and when it is due."""
    _push(session, loan.resident_id, "lending.push_out", now, **fields(session, loan, tz))


def taken_back(session: Session, loan: Loan, released: Released, now: datetime,
               tz: str = "Asia/Shanghai") -> int:
    """Thank the resident for the return and offer the units to the next waiters.
    Returns the number of waiting residents offered a hold."""
    f = fields(session, loan, tz)
    if loan.return_condition == RETURNED_DAMAGED:
        _push(session, loan.resident_id, "lending.push_returned_damaged", now,
              note=loan.return_note or "-", **f)
    else:
        _push(session, loan.resident_id, "lending.push_returned", now, **f)
    tell_offers(session, released, now, tz)
    return len(released.offers)


def expire_holds(session: Session, now: datetime, tz: str = "Asia/Shanghai") -> int:
    """Expire uncollected holds, tell their residents, offer the units on. Returns the count."""
    done = lending_actions.expire_holds(session, now)
    for loan, released in done:
        _push(session, loan.resident_id, "lending.push_expired", now, **fields(session, loan, tz))
        tell_offers(session, released, now, tz)
    return len(done)


def reminder_stages(loan: Loan, tz: str = "Asia/Shanghai") -> list[tuple[str, datetime]]:
    """(stage, fire_at UTC) of an out loan: due_tomorrow, due_today, overdue1…N, each at
    ``REMINDER_LOCAL_TIME`` local; stages that fall before the hand-out are left out."""
    due_day = local(loan.due_at, tz).date()
    zone = local(loan.due_at, tz).tzinfo
    offsets = [("due_tomorrow", -1), ("due_today", 0)] + [
        (f"overdue{k}", k) for k in range(1, OVERDUE_REMINDERS + 1)]
    out_at = as_utc(loan.out_at) if loan.out_at else None
    stages = []
    for stage, days in offsets:
        fire_at = as_utc(datetime.combine(due_day + timedelta(days=days), REMINDER_LOCAL_TIME,
                                          tzinfo=zone))
        if out_at is None or fire_at > out_at:
            stages.append((stage, fire_at))
    return stages


def send_due_reminders(session: Session, now: datetime, tz: str = "Asia/Shanghai") -> int:
    """Stage the due-date reminders that are due at ``now`` and not sent yet.

    Each (loan, due date, stage) is claimed in ``storage.reminders`` first, so two workers
    never send one twice. When several stages are due at once (the worker was down), only
    the latest is sent; the earlier ones are recorded as skipped. Returns pushes staged.
    """
    horizon = now + timedelta(days=2)
    loans = session.exec(select(Loan).where(Loan.status == LoanStatus.OUT,
                                            col(Loan.due_at) <= horizon).order_by(Loan.id))
    sent = 0
    for loan in loans:
        due_key = local(loan.due_at, tz).date().isoformat()
        ready = [(s, at) for s, at in reminder_stages(loan, tz) if at <= now]
        fresh = [(s, at) for s, at in ready
                 if not reminders.was_sent(session, f"loan:{loan.id}:{due_key}:{s}")]
        if not fresh:
            continue
        *older, (stage, _at) = fresh
        for old, _ in older:
            reminders.claim(session, f"loan:{loan.id}:{due_key}:{old}", now, skipped=True)
        if not reminders.claim(session, f"loan:{loan.id}:{due_key}:{stage}", now):
            continue  # another worker sent it a moment ago
        f = fields(session, loan, tz)
        if stage.startswith("overdue"):
            days = (local(now, tz).date() - local(loan.due_at, tz).date()).days
            lending.record(session, "overdue_reminder", "system", now, loan=loan, note=str(days))
            sent += _push(session, loan.resident_id, "lending.push_overdue", now,
                          days=str(max(days, 1)), **f)
        else:
            lending.record(session, f"reminder_{stage}", "system", now, loan=loan)
            sent += _push(session, loan.resident_id, f"lending.push_{stage}", now, **f)
    return sent

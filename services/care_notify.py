"""The care sign-up life cycle as families live it: each change tells them via the outbox.

Used by the chat handler (``care_signup``), the staff CLI and the worker's jobs
(``bot.jobs_services``): offers of freed places, expired offers, the reminder the day
before the first class, and notices to all enrolled families of a session (停课通知).
Every push is an outbox row whose ``event`` is the catalogue key of its text.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlmodel import Session, col, select

from services import care as care_actions
from services.messages import msg
from services.notify import push_resident
from storage import care, reminders
from storage.care import CareSession, Enrollment, EnrollmentStatus, Freed
from storage.times import as_utc, show

REMINDER_LOCAL_TIME = time(9, 0)
"""The first-class reminder goes out from this local time the day before."""


def day_text(day: date | None) -> str:
    """「11月24日（周二）」, or 「待定」 for None."""
    if day is None:
        return msg("care.day_unknown")
    return msg("care.day", month=day.month, day=day.day,
               weekday=msg(f"promise.weekday_{day.isoweekday()}"))


def weekdays_text(row: CareSession) -> str:
    """A session's days as people read them: 「周一至周五」 for three or more days in a row,
    else 「周一、三、五」 (``CareSession.weekdays`` is "1,3,5", ISO weekdays)."""
    days = [int(d) for d in row.weekdays.split(",") if d]
    if len(days) > 2 and days == list(range(days[0], days[-1] + 1)):
        return msg("care.weekday_range", first=msg(f"promise.weekday_{days[0]}"),
                   last=msg(f"promise.weekday_{days[-1]}"))
    return msg("care.weekday_list",
               days=msg("text.list_sep").join(msg(f"care.day_{d}") for d in days))


def grade_text(grade: int | None, age: int | None) -> str:
    """「3年级」, 「初一」 or 「8岁」."""
    if grade is not None:
        return msg(f"care.grade_{grade}") if grade >= 7 else msg("care.grade", grade=grade)
    return msg("care.age", age=age) if age is not None else "-"


def session_fields(session: Session, row: CareSession) -> dict[str, str]:
    """Text fields of a session: session, programme, days, start, end, location, fee, grades."""
    prog = care.programme_of(session, row)
    return {
        "session": msg("care.session_name", programme=prog.name, session=row.name),
        "programme": prog.name,
        "days": weekdays_text(row), "start": row.start_time, "end": row.end_time,
        "location": row.location or prog.location or "-",
        "fee": msg("care.free") if not prog.fee_yuan else msg("care.fee", fee=prog.fee_yuan),
        "grades": msg("care.grades", min=prog.grade_min, max=prog.grade_max),
    }


def fields(session: Session, enrollment: Enrollment, tz: str = "Asia/Shanghai") -> dict[str, str]:
    """Text fields of an enrollment: the session's fields plus no, name, grade, phone, notes,
    status, first (first class day), deadline (offer expiry)."""
    row = session.get(CareSession, enrollment.session_id)
    return {
        **session_fields(session, row), "no": enrollment.number, "name": enrollment.child_name,
        "grade": grade_text(enrollment.grade, enrollment.age),
        "phone": enrollment.guardian_phone, "notes": enrollment.notes or msg("care.no_notes"),
        "status": msg(f"care.status_{enrollment.status}"),
        "first": day_text(enrollment.first_session_on),
        "deadline": show(enrollment.offer_expires_at, tz),
    }


def _push(session: Session, resident_id: int | None, key: str, now: datetime, /,
          **values: str) -> bool:
    return push_resident(session, resident_id, key, msg(key, **values), {
        "first": msg("care.template_first"), "keyword1": values.get("name", ""),
        "keyword2": values.get("session", ""), "keyword3": show(now),
        "remark": values.get("no", "")})


def tell_offers(session: Session, freed: Freed, now: datetime, tz: str = "Asia/Shanghai") -> int:
    """Tell each waiting family now offered a place. Returns pushes staged."""
    return sum(_push(session, e.resident_id, "care.push_offer", now, **fields(session, e, tz))
               for e in freed.offers)


def expire_offers(session: Session, now: datetime, tz: str = "Asia/Shanghai") -> int:
    """Expire unconfirmed offers, tell those families, offer the places on. Returns count."""
    done = care_actions.expire_offers(session, now)
    for enrollment, freed in done:
        _push(session, enrollment.resident_id, "care.push_offer_expired", now,
              **fields(session, enrollment, tz))
        tell_offers(session, freed, now, tz)
    return len(done)


def send_first_class_reminders(session: Session, now: datetime, tz: str = "Asia/Shanghai") -> int:
    """Remind families the day before their child's first class.

    Due from ``REMINDER_LOCAL_TIME`` local the day before until the class starts, for
    children enrolled before that moment (later ones had the date in their confirmation).
    Each is claimed in ``storage.reminders`` ("enrollment:<id>:first:<date>"), so it is
    sent once even with several workers. Returns pushes staged.
    """
    from zoneinfo import ZoneInfo

    today = now.astimezone(ZoneInfo(tz)).date()
    rows = session.exec(select(Enrollment).where(
        Enrollment.status == EnrollmentStatus.ENROLLED,
        col(Enrollment.first_session_on).in_([today, today + timedelta(days=1)])))
    sent = 0
    for enrollment in rows:
        first = enrollment.first_session_on
        fire_at = as_utc(datetime.combine(first - timedelta(days=1), REMINDER_LOCAL_TIME,
                                          tzinfo=ZoneInfo(tz)))
        row = session.get(CareSession, enrollment.session_id)
        if not fire_at <= now < care.class_start(row, first, tz):
            continue
        if enrollment.enrolled_at is None or as_utc(enrollment.enrolled_at) >= fire_at:
            continue
        key = f"enrollment:{enrollment.id}:first:{first.isoformat()}"
        if not reminders.claim(session, key, now):
            continue
        care.record(session, "reminder_first_class", "system", now, enrollment=enrollment)
        sent += _push(session, enrollment.resident_id, "care.push_day_before", now,
                      **fields(session, enrollment, tz))
    return sent


def send_notice(session: Session, row: CareSession, text: str, now: datetime,
                actor: str = "staff:cli") -> int:
    """Push ``text`` to every enrolled family of session ``row`` (e.g. 停课通知) and record
    it on the session's timeline. Raises ValueError for an empty text. Returns pushes."""
    text = text.strip()
    if not text:
        raise ValueError("a notice needs text")
    care.record(session, "notice", actor, now, session_id=row.id, note=text[:500])
    values = session_fields(session, row)
    sent = 0
    told: set[int] = set()
    for enrollment in care.roster(session, row.id):
        if enrollment.resident_id in told:
            continue  # one push per family, even with two children enrolled
        if enrollment.resident_id is not None:
            told.add(enrollment.resident_id)
        sent += _push(session, enrollment.resident_id, "care.push_notice", now, text=text,
                      name=enrollment.child_name, **values)
    return sent

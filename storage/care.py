"""After-school care (四点半课堂, 假期托管): programmes, sessions, enrollments, waiting lists,
attendance and the timeline.

A ``Programme`` (四点半课堂) runs ``CareSession`` rows (terms/classes: 2026秋季学期) with
weekly days, times, a capacity and a sign-up window. Life of an ``Enrollment`` (one child in
one session, number "BM20261122-0001")::

    enrolled ──取消报名──▶ cancelled
    waiting ──a place frees──▶ offered ──确认报名──▶ enrolled
       │                          ├──放弃/取消──▶ declined
       └──取消报名──▶ cancelled    └──offer_expires_at passed──▶ expired

``CareSession.taken`` counts enrolled and offered places; it changes only while the session
row is locked (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite serialises writers), and a CHECK
keeps it within 0…capacity. A place that frees up is offered to the first waiting family for
``Programme.offer_hours``; unconfirmed, it passes to the next.

This module holds the tables, the queries, the catalogue upserts (programmes, sessions) and
the place-keeping under the session lock (``lock_session``, ``free_place``,
``offer_places``), recording ``CareEvent`` rows. What families and staff do (enroll, confirm,
cancel, attendance, offer expiry) is ``services/care.py``; who is told what is
``services/care_notify.py``. Datetimes are aware UTC; dates and times of day are local
(Asia/Shanghai).

Errors: ``storage.Conflict`` (a capacity below the places taken), ``storage.NotFound``,
``ValueError`` (bad weekdays, times, dates, grades or fee).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as dtime

from sqlalchemy import CheckConstraint, Column, Date, DateTime, UniqueConstraint
from sqlalchemy import update as sa_update
from sqlmodel import Field, Session, SQLModel, col, select

from storage import BadValue, Conflict, NotFound, numbers, org
from storage.times import as_utc, local

NUMBER_PREFIX = numbers.ENROLLMENT_PREFIX
"""Enrollment numbers: BM<yyyymmdd>-<nnnn> (报名)."""
WEEKDAY_NAMES = "一二三四五六日"
"""ISO weekday 1…7 → 周一…周日, as ``parse_weekdays`` reads them (people read
``services.care_notify.weekdays_text``)."""


def _ts(nullable: bool = True, index: bool = False):
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=nullable,
                                                index=index))


def _date(nullable: bool = True):
    return Field(default=None, sa_column=Column(Date(), nullable=nullable))


class EnrollmentStatus:
    """``Enrollment.status`` values."""

    ENROLLED = "enrolled"
    WAITING = "waiting"
    OFFERED = "offered"  # a place is held for this family until offer_expires_at
    CANCELLED = "cancelled"
    DECLINED = "declined"
    EXPIRED = "expired"

    ACTIVE = (ENROLLED, WAITING, OFFERED)
    HOLDS_PLACE = (ENROLLED, OFFERED)


class Programme(SQLModel, table=True):
    """A care programme (四点半课堂, 寒假托管 …) of a community, within which its name is
    unique."""

    __tablename__ = "care_programme"
    __table_args__ = (UniqueConstraint("community_id", "name",
                                       name="uq_care_programme_community_name"),)

    id: int | None = Field(default=None, primary_key=True)
    community_id: int | None = Field(default=None, foreign_key="community.id", index=True)
    name: str
    kind: str = "四点半课堂"
    """Canonical kind as the classifier's ``program`` slot gives it (四点半课堂 | 假期托管)."""
    description: str = ""
    location: str = ""
    grade_min: int = 1
    grade_max: int = 6
    """Primary grades 1–6 (7–9 = 初一…初三)."""
    age_min: int | None = None
    age_max: int | None = None
    """When unset, an age is checked as grade ≈ age − 6 (±1)."""
    fee_yuan: int = 0
    offer_hours: int = 12
    """A freed place offered to a waiting family is kept this many hours for them."""
    active: bool = True


class CareSession(SQLModel, table=True):
    """A term or class of a programme, with its schedule and places."""

    __tablename__ = "care_session"
    __table_args__ = (
        UniqueConstraint("programme_id", "name"),
        CheckConstraint("taken >= 0 AND taken <= capacity", name="ck_care_session_taken"),
    )

    id: int | None = Field(default=None, primary_key=True)
    programme_id: int = Field(foreign_key="care_programme.id", index=True)
    name: str
    starts_on: date | None = _date()
    ends_on: date | None = _date()
    """Local dates; None = open-ended."""
    weekdays: str = "1,2,3,4,5"
    """ISO weekdays (1 = Monday) the class meets, comma-separated."""
    start_time: str = "16:30"
    end_time: str = "18:00"
    """Local times of day, HH:MM."""
    location: str | None = None
    """Overrides the programme's location."""
    capacity: int = 30
    taken: int = 0
    """Places enrolled or offered."""
    signup_opens_at: datetime | None = _ts()
    signup_closes_at: datetime | None = _ts()
    active: bool = True


class Enrollment(SQLModel, table=True):
    """One child's place (or place in the queue) in one session."""

    __tablename__ = "care_enrollment"

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(unique=True, index=True)
    session_id: int = Field(foreign_key="care_session.id", index=True)
    resident_id: int | None = Field(default=None, foreign_key="resident.id", index=True)
    child_name: str
    grade: int | None = None
    age: int | None = None
    guardian_phone: str
    notes: str | None = None
    status: str = Field(index=True)
    created_at: datetime = _ts(nullable=False)
    enrolled_at: datetime | None = _ts()
    offered_at: datetime | None = _ts()
    offer_expires_at: datetime | None = _ts(index=True)
    closed_at: datetime | None = _ts()
    first_session_on: date | None = _date()
    """The child's first class day (local), set when enrolled."""


class CareAttendance(SQLModel, table=True):
    """Whether an enrolled child came on one class day."""

    __tablename__ = "care_attendance"
    __table_args__ = (UniqueConstraint("enrollment_id", "on_date"),)

    id: int | None = Field(default=None, primary_key=True)
    enrollment_id: int = Field(foreign_key="care_enrollment.id", index=True)
    on_date: date = _date(nullable=False)
    present: bool = True
    note: str | None = None
    marked_by: str = "staff:cli"
    at: datetime = _ts(nullable=False)


class CareEvent(SQLModel, table=True):
    """One step on the care timeline (enrolled, waiting, offered, cancelled, notice …)."""

    __tablename__ = "care_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts(nullable=False)
    kind: str
    actor: str
    """"resident:<id>", "worker:<id>", "staff:cli" or "system"."""
    session_id: int | None = Field(default=None, foreign_key="care_session.id", index=True)
    enrollment_id: int | None = Field(default=None, foreign_key="care_enrollment.id", index=True)
    note: str | None = None


@dataclass
class Freed:
    """What freeing a place caused: enrollments now offered a place."""

    offers: list[Enrollment] = field(default_factory=list)


# ------------------------------------------------------------------ timeline
def record(session: Session, kind: str, actor: str, now: datetime, *,
           session_id: int | None = None, enrollment: Enrollment | None = None,
           note: str | None = None) -> CareEvent:
    """Append one event to the care timeline."""
    if session_id is None and enrollment is not None:
        session_id = enrollment.session_id
    event = CareEvent(at=now, kind=kind, actor=actor, session_id=session_id,
                      enrollment_id=enrollment.id if enrollment else None, note=note)
    session.add(event)
    return event


def timeline(session: Session, *, enrollment_id: int | None = None,
             session_id: int | None = None) -> list[CareEvent]:
    """Events of one enrollment or one session, oldest first."""
    query = select(CareEvent)
    if enrollment_id is not None:
        query = query.where(CareEvent.enrollment_id == enrollment_id)
    if session_id is not None:
        query = query.where(CareEvent.session_id == session_id)
    return list(session.exec(query.order_by(CareEvent.id)))


# ------------------------------------------------------------------ programmes and sessions
def upsert_programme(session: Session, name: str, *, community_id: int | None = None,
                     kind: str | None = None, description: str | None = None,
                     location: str | None = None, grade_min: int | None = None,
                     grade_max: int | None = None, age_min: int | None = None,
                     age_max: int | None = None, fee_yuan: int | None = None,
                     offer_hours: int | None = None) -> Programme:
    """Create programme ``name`` of community ``community_id`` or update the fields given
    (None = keep). ``community_id`` defaults to the account's only community.

    Raises ValueError for a grade range outside 1…9 or reversed, a negative fee or a
    non-positive offer time; ``storage.org.CommunityNeeded`` (a ValueError) for no
    ``community_id`` on an account of several communities.
    """
    if community_id is None:
        community_id = org.only_community_id(session)
    prog = session.exec(select(Programme).where(Programme.name == name,
                                                Programme.community_id == community_id)).first()
    if prog is None:
        prog = Programme(name=name, community_id=community_id, kind=kind or name)
    for attr, value in (("kind", kind), ("description", description), ("location", location),
                        ("grade_min", grade_min), ("grade_max", grade_max),
                        ("age_min", age_min), ("age_max", age_max), ("fee_yuan", fee_yuan),
                        ("offer_hours", offer_hours)):
        if value is not None:
            setattr(prog, attr, value)
    if not 1 <= prog.grade_min <= prog.grade_max <= 9:
        raise BadValue(f"grades {prog.grade_min}–{prog.grade_max} must lie within 1–9",
                       "grades_range", min=prog.grade_min, max=prog.grade_max)
    if prog.fee_yuan < 0 or prog.offer_hours <= 0:
        raise BadValue("fee must be ≥ 0 and offer_hours > 0", "fee_offer")
    prog.active = True
    session.add(prog)
    session.flush()
    return prog


def programme_by_name(session: Session, name_or_id: str | int,
                      community_id: int | None = None) -> Programme:
    """A programme by id or exact name (names are unique within a community: of
    ``community_id`` when given).

    Raises NotFound; ``storage.org.CommunityNeeded`` (choices: the communities that have
    one) when the name is found in several communities and none is given."""
    prog = None
    if isinstance(name_or_id, int) or str(name_or_id).isdigit():
        prog = session.get(Programme, int(name_or_id))
        if prog is not None and community_id not in (None, prog.community_id):
            prog = None
    if prog is None:
        query = select(Programme).where(Programme.name == str(name_or_id))
        if community_id is not None:
            query = query.where(Programme.community_id == community_id)
        rows = list(session.exec(query.order_by(col(Programme.id))))
        if len(rows) > 1:
            names = {c.id: c.name for c in org.communities(session)}
            raise org.CommunityNeeded([names.get(r.community_id, "-") for r in rows])
        prog = rows[0] if rows else None
    if prog is None:
        raise NotFound(f"programme {name_or_id}")
    return prog


def parse_weekdays(spec: str | list | tuple) -> str:
    """[1,2,3] / "1-5" / "1,3,5" / "周一至周五" → "1,2,3,4,5". Raises BadValue (a ValueError)."""
    try:
        return _parse_weekdays(spec)
    except BadValue:
        raise
    except ValueError:
        raise BadValue(f"weekdays must be 1 (Mon) … 7 (Sun): {spec!r}", "weekdays",
                       value=repr(spec)) from None


def _parse_weekdays(spec: str | list | tuple) -> str:
    if isinstance(spec, (list, tuple)):
        days = [int(d) for d in spec]
    else:
        text = str(spec).strip()
        for i, ch in enumerate(WEEKDAY_NAMES, start=1):
            text = text.replace(f"周{ch}", str(i)).replace(f"星期{ch}", str(i))
        text = text.replace("至", "-").replace("到", "-").replace("～", "-").replace("~", "-")
        days = []
        for part in text.replace("，", ",").replace("、", ",").split(","):
            part = part.strip()
            if not part:
                continue
            if "-" in part:
                lo, hi = (int(x) for x in part.split("-", 1))
                days.extend(range(lo, hi + 1))
            else:
                days.append(int(part))
    if not days or any(d < 1 or d > 7 for d in days):
        raise BadValue(f"weekdays must be 1 (Mon) … 7 (Sun): {spec!r}", "weekdays",
                       value=repr(spec))
    return ",".join(str(d) for d in sorted(set(days)))


def _check_hhmm(text: str) -> str:
    try:
        hour, minute = (int(x) for x in str(text).replace("：", ":").split(":"))
        return dtime(hour, minute).strftime("%H:%M")
    except ValueError:
        raise BadValue(f"time of day must be HH:MM, not {text!r}", "time_of_day",
                       value=repr(text)) from None


def upsert_session(session: Session, programme: Programme, name: str, now: datetime, *,
                   actor: str = "staff:cli", starts_on: date | None = None,
                   ends_on: date | None = None, weekdays: str | list | None = None,
                   start_time: str | None = None, end_time: str | None = None,
                   location: str | None = None, capacity: int | None = None,
                   signup_opens_at: datetime | None = None,
                   signup_closes_at: datetime | None = None) -> tuple[CareSession, Freed]:
    """Create session ``name`` of ``programme`` or update the fields given (None = keep).

    Raising ``capacity`` offers the new places to the waiting list. Raises ValueError for bad
    weekdays/times/dates or a negative capacity, Conflict when the capacity would fall
    below the places taken.
    """
    row = session.exec(select(CareSession).where(CareSession.programme_id == programme.id,
                                                 CareSession.name == name)).first()
    if row is None:
        row = CareSession(programme_id=programme.id, name=name, capacity=0)
        session.add(row)
        session.flush()
        record(session, "session_added", actor, now, session_id=row.id, note=name)
    row = lock_session(session, row.id)
    if weekdays is not None:
        row.weekdays = parse_weekdays(weekdays)
    for attr, value in (("start_time", start_time), ("end_time", end_time)):
        if value is not None:
            setattr(row, attr, _check_hhmm(value))
    for attr, value in (("starts_on", starts_on), ("ends_on", ends_on), ("location", location),
                        ("signup_opens_at", signup_opens_at),
                        ("signup_closes_at", signup_closes_at)):
        if value is not None:
            setattr(row, attr, value)
    if row.starts_on and row.ends_on and row.ends_on < row.starts_on:
        raise BadValue(f"{name}: ends {row.ends_on} before it starts {row.starts_on}",
                       "ends_before_start", name=name, start=row.starts_on, end=row.ends_on)
    freed = Freed()
    if capacity is not None:
        if capacity < 0 or capacity > 10_000:
            raise BadValue(f"capacity must be within 0…10000, not {capacity}",
                           "capacity_range", value=capacity)
        if capacity < row.taken:
            raise Conflict(f"{name}: {row.taken} places taken, cannot set capacity {capacity}",
                           "capacity_below_taken", name=name, taken=row.taken,
                           capacity=capacity)
        if capacity != row.capacity:
            record(session, "capacity", actor, now, session_id=row.id,
                   note=f"{row.capacity}→{capacity}")
            row.capacity = capacity
            session.add(row)
            session.flush()
            freed = offer_places(session, row, programme, now)
    row.active = True
    session.add(row)
    session.flush()
    return row, freed


def session_by_id(session: Session, session_id: int) -> CareSession:
    """Raises NotFound."""
    row = session.get(CareSession, session_id)
    if row is None:
        raise NotFound(f"care session {session_id}")
    return row


def lock_session(session: Session, session_id: int) -> CareSession:
    """The session row, re-read and locked until the transaction ends: ``FOR UPDATE`` on
    PostgreSQL; on SQLite a no-op UPDATE first takes the database's write lock."""
    if session.get_bind().dialect.name == "sqlite":
        table = CareSession.__table__
        session.execute(sa_update(table).where(table.c.id == session_id)
                        .values(taken=table.c.taken))
    row = session.exec(select(CareSession).where(CareSession.id == session_id).with_for_update()
                       .execution_options(populate_existing=True)).first()
    if row is None:
        raise NotFound(f"care session {session_id}")
    return row


def window_state(row: CareSession, now: datetime) -> str:
    """"open", "not_yet" (before signup_opens_at) or "closed" (after signup_closes_at or
    after the session ended)."""
    if row.signup_opens_at is not None and now < as_utc(row.signup_opens_at):
        return "not_yet"
    if row.signup_closes_at is not None and now >= as_utc(row.signup_closes_at):
        return "closed"
    if row.ends_on is not None and local(now).date() > row.ends_on:
        return "closed"
    return "open"


def sessions(session: Session, programme_id: int | None = None,
             community_id: int | None = None) -> list[CareSession]:
    """Active sessions of active programmes (of one programme; of one community's
    programmes), by id."""
    query = (select(CareSession).join(Programme, col(Programme.id) == CareSession.programme_id)
             .where(CareSession.active, Programme.active))
    if programme_id is not None:
        query = query.where(CareSession.programme_id == programme_id)
    if community_id is not None:
        query = query.where(Programme.community_id == community_id)
    return list(session.exec(query.order_by(CareSession.id)))


def open_sessions(session: Session, now: datetime, kind: str | None = None,
                  community_id: int | None = None) -> list[CareSession]:
    """Sessions whose sign-up window is open at ``now``, optionally of programmes whose kind
    or name is ``kind`` (四点半课堂, 假期托管, 寒假托管 …) and of one community."""
    rows = [s for s in sessions(session, community_id=community_id)
            if window_state(s, now) == "open"]
    if kind is not None:
        rows = [s for s in rows if kind in (programme_of(session, s).kind,
                                            programme_of(session, s).name)]
    return rows


def programme_of(session: Session, row: CareSession) -> Programme:
    """The programme a session belongs to."""
    return session.get(Programme, row.programme_id)


def first_class_day(row: CareSession, after: date) -> date | None:
    """The first class day strictly after local date ``after`` (and not before starts_on),
    or None when the session has no class day left."""
    days = {int(d) for d in row.weekdays.split(",") if d}
    day = after + timedelta(days=1)
    if row.starts_on is not None and day < row.starts_on:
        day = row.starts_on
    for _ in range(14):
        if row.ends_on is not None and day > row.ends_on:
            return None
        if day.isoweekday() in days:
            return day
        day += timedelta(days=1)
    return None


def class_start(row: CareSession, day: date, tz: str = "Asia/Shanghai") -> datetime:
    """Aware UTC moment the class starts on local ``day``."""
    from zoneinfo import ZoneInfo

    hour, minute = (int(x) for x in row.start_time.split(":"))
    return as_utc(datetime.combine(day, dtime(hour, minute), tzinfo=ZoneInfo(tz)))


# ------------------------------------------------------------------ eligibility


# ------------------------------------------------------------------ enrolling


def waiting_list(session: Session, session_id: int) -> list[Enrollment]:
    return list(session.exec(
        select(Enrollment).where(Enrollment.session_id == session_id,
                                 Enrollment.status == EnrollmentStatus.WAITING)
        .order_by(Enrollment.id)))


def waiting_position(session: Session, enrollment: Enrollment) -> int:
    """1-based place of a waiting enrollment in its session's queue."""
    return sum(1 for e in waiting_list(session, enrollment.session_id) if e.id <= enrollment.id)


def offer_places(session: Session, row: CareSession, prog: Programme, now: datetime) -> Freed:
    """Offer free places of the locked session to waiting families, first come first."""
    freed = Freed()
    for waiting in waiting_list(session, row.id):
        if row.taken >= row.capacity:
            break
        row.taken += 1
        waiting.status = EnrollmentStatus.OFFERED
        waiting.offered_at = now
        waiting.offer_expires_at = now + timedelta(hours=prog.offer_hours)
        session.add(waiting)
        record(session, "offered", "system", now, enrollment=waiting)
        freed.offers.append(waiting)
    session.add(row)
    session.flush()
    return freed


def free_place(session: Session, row: CareSession, now: datetime) -> Freed:
    row.taken -= 1
    session.add(row)
    session.flush()
    return offer_places(session, row, programme_of(session, row), now)


def by_number(session: Session, number: str) -> Enrollment:
    """The enrollment with this number (case-insensitive). Raises NotFound."""
    row = session.exec(select(Enrollment).where(Enrollment.number == number.strip().upper())).first()
    if row is None:
        raise NotFound(number)
    return row


def lock_enrollment(session: Session, enrollment: Enrollment) -> tuple[Enrollment, CareSession]:
    row = lock_session(session, enrollment.session_id)
    fresh = session.exec(select(Enrollment).where(Enrollment.id == enrollment.id)
                         .execution_options(populate_existing=True)).one()
    return fresh, row


# ------------------------------------------------------------------ queries
def of_resident(session: Session, resident_id: int) -> list[Enrollment]:
    """The resident's active enrollments (enrolled, offered, waiting), oldest first."""
    return list(session.exec(
        select(Enrollment).where(Enrollment.resident_id == resident_id,
                                 col(Enrollment.status).in_(EnrollmentStatus.ACTIVE))
        .order_by(Enrollment.id)))


def roster(session: Session, session_id: int,
           statuses: tuple[str, ...] = (EnrollmentStatus.ENROLLED,)) -> list[Enrollment]:
    """Enrollments of a session with these statuses, in sign-up order."""
    return list(session.exec(
        select(Enrollment).where(Enrollment.session_id == session_id,
                                 col(Enrollment.status).in_(statuses))
        .order_by(Enrollment.id)))


def attendance(session: Session, session_id: int, on_date: date) -> dict[int, CareAttendance]:
    """Attendance marks of a session's enrollments on one day, by enrollment id."""
    rows = session.exec(
        select(CareAttendance).join(Enrollment, col(Enrollment.id) == CareAttendance.enrollment_id)
        .where(Enrollment.session_id == session_id, CareAttendance.on_date == on_date))
    return {r.enrollment_id: r for r in rows}

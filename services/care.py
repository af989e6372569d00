"""After-school care actions (课后托管): a family signs a child up, confirms an offered
place or withdraws; staff take the register; offers that were not confirmed expire. The
tables, queries and place-keeping under the session lock (freeing a place, offering it to the
waiting list) are ``storage.care``; who is told what is ``services.care_notify``.

Every action runs in the caller's transaction and takes the session row lock itself.
Datetimes are aware UTC, dates local.

Errors (``services.errors`` and the subclasses here): NotFound (no such session),
WrongState (SignupClosed, AlreadyEnrolled, an expired offer, someone else's enrollment),
Invalid (NotEligible, a missing name or phone).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session, col, select

from services.errors import Invalid, NotAllowed, WrongState
from storage.care import (
    NUMBER_PREFIX,
    CareAttendance,
    CareSession,
    Enrollment,
    EnrollmentStatus,
    Freed,
    Programme,
    first_class_day,
    free_place,
    lock_enrollment,
    lock_session,
    programme_of,
    record,
    waiting_list,
    window_state,
)
from storage.models import Resident
from storage.tickets import next_number
from storage.times import as_utc, local


class NotEligible(Invalid):
    """The child's grade or age is outside the programme's range."""


class SignupClosed(WrongState):
    """Sign-up has not opened yet or has closed; ``opens_at``/``closes_at`` say when."""

    def __init__(self, message: str, opens_at: datetime | None = None,
                 closes_at: datetime | None = None) -> None:
        super().__init__(message)
        self.opens_at = opens_at
        self.closes_at = closes_at


class AlreadyEnrolled(WrongState):
    """The same child already has an active enrollment in this session (``existing``)."""

    def __init__(self, message: str, existing: Enrollment) -> None:
        super().__init__(message)
        self.existing = existing


@dataclass(frozen=True)
class Child:
    """What a guardian tells about the child. ``grade`` 1–9 or ``age`` in years (one needed)."""

    name: str
    guardian_phone: str
    grade: int | None = None
    age: int | None = None
    notes: str | None = None


def check_eligible(prog: Programme, grade: int | None, age: int | None) -> None:
    """Raise NotEligible unless the grade (or, without one, the age) fits the programme.

    An age is checked against ``age_min``…``age_max`` when set, else against the grade range
    as grade ≈ age − 6 with one year's slack either way. Raises Invalid with neither.
    """
    if grade is not None:
        if not prog.grade_min <= grade <= prog.grade_max:
            raise NotEligible(f"grade {grade} outside {prog.grade_min}–{prog.grade_max}")
        return
    if age is None:
        raise Invalid("grade or age needed")
    low = prog.age_min if prog.age_min is not None else prog.grade_min + 5
    high = prog.age_max if prog.age_max is not None else prog.grade_max + 7
    if not low <= age <= high:
        raise NotEligible(f"age {age} outside {low}–{high}")


def _same_child(a: str, b: str) -> bool:
    return a.strip().replace(" ", "") == b.strip().replace(" ", "")


def enroll(session: Session, session_id: int, resident: Resident | None, child: Child,
           now: datetime, actor: str | None = None, tz: str = "Asia/Shanghai") -> Enrollment:
    """Give the child a place, or a place on the waiting list when the session is full.

    The session row stays locked until commit, so ``taken`` never passes ``capacity``.
    Returns the enrollment (status "enrolled" or "waiting"). Raises SignupClosed,
    NotEligible, AlreadyEnrolled (same child name with the same guardian account or phone,
    still active), Invalid (empty name/phone, neither grade nor age), NotFound.
    """
    row = lock_session(session, session_id)
    prog = programme_of(session, row)
    state = window_state(row, now)
    if state != "open" or not row.active or not prog.active:
        raise SignupClosed(f"session {row.id} sign-up is {state}",
                           as_utc(row.signup_opens_at) if row.signup_opens_at else None,
                           as_utc(row.signup_closes_at) if row.signup_closes_at else None)
    name = child.name.strip()
    if not name or not child.guardian_phone:
        raise Invalid("child name and guardian phone are needed")
    check_eligible(prog, child.grade, child.age)
    for other in session.exec(select(Enrollment).where(
            Enrollment.session_id == row.id, col(Enrollment.status).in_(EnrollmentStatus.ACTIVE))):
        same_family = (resident is not None and other.resident_id == resident.id) or (
            other.guardian_phone == child.guardian_phone)
        if same_family and _same_child(other.child_name, name):
            raise AlreadyEnrolled(f"{name} already {other.status} in session {row.id}", other)
    actor = actor or (f"resident:{resident.id}" if resident else "staff:cli")
    enrollment = Enrollment(
        number=next_number(session, NUMBER_PREFIX, now, tz), session_id=row.id,
        resident_id=resident.id if resident else None, child_name=name, grade=child.grade,
        age=child.age, guardian_phone=child.guardian_phone, notes=child.notes or None,
        status=EnrollmentStatus.WAITING, created_at=now)
    has_queue = waiting_list(session, row.id)
    if row.taken < row.capacity and not has_queue:
        row.taken += 1
        _mark_enrolled(enrollment, row, now, tz)
    session.add(row)
    session.add(enrollment)
    session.flush()
    record(session, enrollment.status, actor, now, enrollment=enrollment, note=name)
    return enrollment


def _mark_enrolled(enrollment: Enrollment, row: CareSession, now: datetime, tz: str) -> None:
    enrollment.status = EnrollmentStatus.ENROLLED
    enrollment.enrolled_at = now
    enrollment.offer_expires_at = None
    enrollment.first_session_on = first_class_day(row, local(now, tz).date())


def cancel(session: Session, enrollment: Enrollment, resident: Resident | None, now: datetime,
           actor: str | None = None) -> Freed:
    """Withdraw an active enrollment (取消报名; an offered place counts as declined). A place
    it held goes to the next waiting family.

    ``resident`` None means staff act. Raises NotAllowed when it is someone else's,
    WrongState when it is not active.
    """
    enrollment, row = lock_enrollment(session, enrollment)
    if resident is not None and enrollment.resident_id != resident.id:
        raise NotAllowed("care_cancel", enrollment.number)
    if enrollment.status not in EnrollmentStatus.ACTIVE:
        raise WrongState(f"{enrollment.number} is {enrollment.status}")
    held_place = enrollment.status in EnrollmentStatus.HOLDS_PLACE
    was_offered = enrollment.status == EnrollmentStatus.OFFERED
    enrollment.status = EnrollmentStatus.DECLINED if was_offered else EnrollmentStatus.CANCELLED
    enrollment.closed_at = now
    session.add(enrollment)
    record(session, enrollment.status, actor or (f"resident:{resident.id}" if resident
                                                 else "staff:cli"), now, enrollment=enrollment)
    return free_place(session, row, now) if held_place else Freed()


def accept_offer(session: Session, enrollment: Enrollment, resident: Resident, now: datetime,
                 tz: str = "Asia/Shanghai") -> Enrollment:
    """The family confirms an offered place (确认报名) before it expires.

    Raises NotAllowed when it is not theirs, WrongState when it is not offered or the offer
    has expired.
    """
    enrollment, row = lock_enrollment(session, enrollment)
    if enrollment.resident_id != resident.id:
        raise NotAllowed("accept_offer", enrollment.number)
    if enrollment.status != EnrollmentStatus.OFFERED:
        raise WrongState(f"{enrollment.number} has no offer for resident {resident.id}")
    if as_utc(enrollment.offer_expires_at) <= now:
        raise WrongState(f"{enrollment.number}: offer expired")
    _mark_enrolled(enrollment, row, now, tz)
    session.add(enrollment)
    record(session, "accepted", f"resident:{resident.id}", now, enrollment=enrollment)
    return enrollment


def expire_offers(session: Session, now: datetime,
                  limit: int = 200) -> list[tuple[Enrollment, Freed]]:
    """Expire offers not confirmed by ``offer_expires_at`` ≤ ``now``; each place goes to the
    next waiting family. Safe in several workers at once (re-checked under the session lock).
    Returns (expired enrollment, what freeing its place caused) pairs.
    """
    ids = list(session.exec(
        select(Enrollment.id).where(Enrollment.status == EnrollmentStatus.OFFERED,
                                    Enrollment.offer_expires_at <= now)
        .order_by(Enrollment.offer_expires_at).limit(limit)))
    done: list[tuple[Enrollment, Freed]] = []
    for enrollment_id in ids:
        enrollment, row = lock_enrollment(session, session.get(Enrollment, enrollment_id))
        if enrollment.status != EnrollmentStatus.OFFERED or as_utc(
                enrollment.offer_expires_at) > now:
            continue
        enrollment.status = EnrollmentStatus.EXPIRED
        enrollment.closed_at = now
        session.add(enrollment)
        record(session, "expired", "system", now, enrollment=enrollment)
        done.append((enrollment, free_place(session, row, now)))
    return done


def mark_attendance(session: Session, enrollment: Enrollment, on_date: date, present: bool,
                    now: datetime, actor: str = "staff:cli",
                    note: str | None = None) -> CareAttendance:
    """Record (or correct) whether the child came on ``on_date`` (local).

    Raises WrongState unless the child is enrolled.
    """
    if enrollment.status != EnrollmentStatus.ENROLLED:
        raise WrongState(f"{enrollment.number} is {enrollment.status}, not enrolled")
    row = session.exec(select(CareAttendance).where(
        CareAttendance.enrollment_id == enrollment.id, CareAttendance.on_date == on_date)).first()
    if row is None:
        row = CareAttendance(enrollment_id=enrollment.id, on_date=on_date, at=now)
    row.present = present
    row.note = note
    row.marked_by = actor
    row.at = now
    session.add(row)
    session.flush()
    record(session, "present" if present else "absent", actor, now, enrollment=enrollment,
           note=on_date.isoformat())
    return row

"""Care repository: enrolling, eligibility, windows, duplicates, waiting lists with timed
offers, attendance, and places never below zero or above capacity under concurrency."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import Session, select

from services import care as care_actions
from services import care_notify
from services.care import AlreadyEnrolled, Child, NotEligible, SignupClosed
from services.errors import NotAllowed
from storage import Conflict, ImportFormatError, care
from storage.care import CareSession, Enrollment, EnrollmentStatus
from storage.models import Resident
from storage.services_import import import_services

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)  # Sunday 10:00 in Shanghai
S = EnrollmentStatus


def _residents(session: Session, n: int) -> list[Resident]:
    rows = [Resident(openid=f"p{i}") for i in range(n)]
    session.add_all(rows)
    session.flush()
    return rows


def _session(session: Session, capacity: int = 2, name: str = "常年班", **kw) -> CareSession:
    prog = care.upsert_programme(session, "四点半课堂", grade_min=1, grade_max=6, offer_hours=12)
    row, _ = care.upsert_session(session, prog, name, NOW, weekdays="1-5", start_time="16:30",
                                 end_time="18:00", capacity=capacity, **kw)
    return row


def _child(name: str, phone: str = "13800000001", grade: int | None = 3, age=None) -> Child:
    return Child(name=name, guardian_phone=phone, grade=grade, age=age)


def test_enroll_sets_the_first_class_day_and_timeline(session):
    row = _session(session)
    (p,) = _residents(session, 1)
    e = care_actions.enroll(session, row.id, p, _child("张小明"), NOW)
    assert (e.status, e.number, row.taken) == (S.ENROLLED, "BM20261122-0001", 1)
    assert e.first_session_on == date(2026, 11, 23)  # Sunday → Monday
    assert [ev.kind for ev in care.timeline(session, enrollment_id=e.id)] == ["enrolled"]


def test_grade_age_window_and_duplicates_are_refused(session):
    row = _session(session, signup_closes_at=NOW + timedelta(days=1))
    p, q = _residents(session, 2)
    with pytest.raises(NotEligible):
        care_actions.enroll(session, row.id, p, _child("大宝", grade=7), NOW)
    with pytest.raises(NotEligible):
        care_actions.enroll(session, row.id, p, _child("小宝", grade=None, age=4), NOW)
    care_actions.enroll(session, row.id, p, _child("二宝", grade=None, age=8), NOW)
    with pytest.raises(AlreadyEnrolled) as dup:
        care_actions.enroll(session, row.id, p, _child("二宝", grade=2), NOW)
    assert dup.value.existing.child_name == "二宝"
    with pytest.raises(AlreadyEnrolled):  # the other parent, same phone
        care_actions.enroll(session, row.id, q, _child(" 二宝 ", grade=2), NOW)
    with pytest.raises(SignupClosed):
        care_actions.enroll(session, row.id, p, _child("三宝"), NOW + timedelta(days=2))
    later = _session(session, name="寒假班", signup_opens_at=NOW + timedelta(days=3))
    with pytest.raises(SignupClosed) as closed:
        care_actions.enroll(session, later.id, p, _child("三宝"), NOW)
    assert closed.value.opens_at == NOW + timedelta(days=3)
    with pytest.raises(ValueError):
        care_actions.enroll(session, row.id, p, Child(name="", guardian_phone="1"), NOW + timedelta(hours=1))


def test_full_session_queues_and_offers_freed_places_for_a_limited_time(session):
    row = _session(session, capacity=1)
    a, b, c = _residents(session, 3)
    first = care_actions.enroll(session, row.id, a, _child("甲", "13800000001"), NOW)
    second = care_actions.enroll(session, row.id, b, _child("乙", "13800000002"), NOW)
    third = care_actions.enroll(session, row.id, c, _child("丙", "13800000003"), NOW)
    assert (second.status, care.waiting_position(session, third)) == (S.WAITING, 2)
    with pytest.raises(NotAllowed):
        care_actions.cancel(session, first, b, NOW)  # not b's
    freed = care_actions.cancel(session, first, a, NOW)
    assert freed.offers == [second] and second.status == S.OFFERED and row.taken == 1
    assert second.offer_expires_at == NOW + timedelta(hours=12)
    # b lets the offer lapse: it goes to c
    assert care_actions.expire_offers(session, NOW + timedelta(hours=11)) == []
    ((expired, moved),) = care_actions.expire_offers(session, NOW + timedelta(hours=12))
    assert expired is second and second.status == S.EXPIRED and moved.offers == [third]
    with pytest.raises(Conflict):
        care_actions.accept_offer(session, second, b, NOW + timedelta(hours=13))
    care_actions.accept_offer(session, third, c, NOW + timedelta(hours=13))
    assert third.status == S.ENROLLED and row.taken == 1
    assert third.first_session_on == date(2026, 11, 23)


def test_declining_an_offer_passes_it_on_and_capacity_cannot_drop_below_taken(session):
    row = _session(session, capacity=1)
    a, b, c = _residents(session, 3)
    care_actions.enroll(session, row.id, a, _child("甲", "13800000001"), NOW)
    care_actions.enroll(session, row.id, b, _child("乙", "13800000002"), NOW)
    care_actions.enroll(session, row.id, c, _child("丙", "13800000003"), NOW)
    prog = care.programme_of(session, row)
    with pytest.raises(Conflict):
        care.upsert_session(session, prog, "常年班", NOW, capacity=0)
    _, freed = care.upsert_session(session, prog, "常年班", NOW, capacity=2)
    (offer,) = freed.offers
    assert offer.child_name == "乙"
    freed = care_actions.cancel(session, offer, b, NOW)
    assert offer.status == S.DECLINED and [e.child_name for e in freed.offers] == ["丙"]


def test_attendance_is_marked_once_per_day_and_corrected(session):
    row = _session(session)
    (a,) = _residents(session, 1)
    e = care_actions.enroll(session, row.id, a, _child("甲"), NOW)
    day = date(2026, 11, 23)
    care_actions.mark_attendance(session, e, day, True, NOW)
    care_actions.mark_attendance(session, e, day, False, NOW, note="病假")
    marks = care.attendance(session, row.id, day)
    assert len(marks) == 1 and marks[e.id].present is False and marks[e.id].note == "病假"
    care_actions.cancel(session, e, a, NOW)
    with pytest.raises(Conflict):
        care_actions.mark_attendance(session, e, day, True, NOW)


def test_first_class_day_follows_weekdays_and_term_dates(session):
    row = _session(session)
    assert care.first_class_day(row, date(2026, 11, 27)) == date(2026, 11, 30)  # Fri → Mon
    row.starts_on, row.ends_on = date(2027, 1, 18), date(2027, 2, 12)
    assert care.first_class_day(row, date(2026, 11, 22)) == date(2027, 1, 18)
    assert care.first_class_day(row, date(2027, 2, 12)) is None
    assert care_notify.weekdays_text(row) == "周一至周五"
    row.weekdays = "1,3,5"
    assert care_notify.weekdays_text(row) == "周一、三、五"
    row.weekdays = "6,7"
    assert care_notify.weekdays_text(row) == "周六、日"
    row.weekdays = "1,2,3,4,5"
    assert care.parse_weekdays("周一、周三、周五") == "1,3,5"
    with pytest.raises(ValueError):
        care.parse_weekdays("8")


def test_import_names_bad_programme_entries(session):
    doc = {"programmes": [{"name": "四点半课堂", "grades": "1-6", "sessions": [
        {"name": "常年班", "weekdays": "1-5", "time": "16:30-18:00", "capacity": 30}]}]}
    report = import_services(session, doc, NOW)
    assert (report.programmes, report.sessions) == (1, 1)
    with pytest.raises(ImportFormatError, match=r"programmes\[1\]"):
        import_services(session, {"programmes": [{"name": "班", "grades": "6-1"}]}, NOW)
    with pytest.raises(ImportFormatError, match=r"sessions\[1\]"):
        import_services(session, {"programmes": [{"name": "班", "sessions": [
            {"name": "x", "time": "下午"}]}]}, NOW)
    with pytest.raises(ImportFormatError, match="signup_opens|bad time"):
        import_services(session, {"programmes": [{"name": "班", "sessions": [
            {"name": "x", "signup_opens": "明天"}]}]}, NOW)


def test_fifty_families_at_once_for_the_last_three_places(clean_db):
    """27 of 30 places taken; 50 concurrent sign-ups → exactly 3 enrolled and 47 waiting."""
    with Session(clean_db) as s:
        row = _session(s, capacity=30)
        early = _residents(s, 27)
        for i, r in enumerate(early):
            care_actions.enroll(s, row.id, r, _child(f"早{i}", f"1390000{i:04d}"), NOW)
        late = [Resident(openid=f"late{i}") for i in range(50)]
        s.add_all(late)
        s.commit()
        session_id, ids = row.id, [r.id for r in late]
    barrier = threading.Barrier(len(ids))
    errors: list[BaseException] = []

    def sign_up(n: int, resident_id: int) -> None:
        try:
            barrier.wait()
            with Session(clean_db) as s:
                care_actions.enroll(s, session_id, s.get(Resident, resident_id),
                            _child(f"晚{n}", f"1370000{n:04d}"), NOW)
                s.commit()
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=sign_up, args=(n, i)) for n, i in enumerate(ids)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with Session(clean_db) as s:
        rows = s.exec(select(Enrollment).where(Enrollment.session_id == session_id)).all()
        late_rows = [e for e in rows if e.child_name.startswith("晚")]
        assert sum(e.status == S.ENROLLED for e in late_rows) == 3
        assert sum(e.status == S.WAITING for e in late_rows) == 47
        assert s.get(CareSession, session_id).taken == 30
        assert len({e.number for e in rows}) == 77

"""Forgetting a resident (services.privacy): a realistic history of one resident, beside a
neighbour's, then ``forget_resident``; every table is searched for what identified them."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import event
from sqlmodel import Session, select

from services import care as care_actions
from services import lending as lending_actions
from services.care import Child
from services.privacy import MASK, forget_resident, marker, pending_sweeps, run_sweep, scrub
from storage import care
from storage.care import Enrollment
from storage.lending import LendItem, LendWait, Loan
from storage.models import (
    Building,
    InboundMessage,
    Outbox,
    OutboxStatus,
    Resident,
    Ticket,
    TicketEvent,
    TicketFollower,
    TicketStatus,
)
from storage.org import grid_worker_of
from tests.chat import START
from tests.privacy_support import dump, tables_holding, where_found
from tests.services_support import services_fixture  # noqa: F401

OPENID_A = "oA1b2C3d4E5f6G7h8I9j0KlMnOpQr"
PHONE_A = "13912345678"
ROOM_A = "1702"
ADDRESS_A = "3号楼2单元1702"
CHILD_A = "王子涵"
GUARDIAN_PHONE_A = "13700001111"
PLACE_A = "幸福路88号东门"
LAT_A, LNG_A = "41.812345", "123.456789"
PHOTO_A = "http://img.example/a-kitchen.jpg"
NEEDLES_A = [OPENID_A, PHONE_A, "139 1234 5678", "单元1702", "2-1702", "1702室", CHILD_A,
             GUARDIAN_PHONE_A, PLACE_A, LAT_A, LNG_A, PHOTO_A, "花生过敏"]

OPENID_B = "oB9y8X7w6V5u4T3s2R1q0PoNmLkJi"
PHONE_B = "13655556666"
ADDRESS_B = "3号楼4单元602"


def _history(session: Session, now) -> dict[str, int]:
    """Resident A's year with the account, and neighbour B's report that A joined.

    Returns ids: resident_a, resident_b, ticket_a, ticket_b.
    """
    b3 = session.exec(select(Building).where(Building.number == 3)).one()
    worker = grid_worker_of(session, b3.grid_id)
    a = Resident(openid=OPENID_A, building_id=b3.id, unit=2, room=ROOM_A, phone=PHONE_A,
                 vulnerability="黄", last_message_at=now,
                 dialogue={"flow": "report", "awaiting": "address",
                           "pending": {"text": f"厨房漏水 电话{PHONE_A}", "photos": [PHOTO_A],
                                       "location": f"{PLACE_A} ({LAT_A},{LNG_A})"}},
                 dialogue_expires_at=now + timedelta(minutes=30))
    b = Resident(openid=OPENID_B, building_id=b3.id, unit=4, room="602", phone=PHONE_B)
    session.add_all([a, b])
    session.flush()

    def inbound(openid: str, key: str, msg_type: str, content: str, reply: str, intent=None):
        row = InboundMessage(dedup_key=key, openid=openid, msg_type=msg_type, content=content,
                             reply=reply, intent=intent, confidence=0.9 if intent else None,
                             received_at=now)
        session.add(row)
        return row

    first = inbound(OPENID_A, "msg:1001", "text", f"{ADDRESS_A}，厨房漏水了 电话{PHONE_A}",
                    "已为您登记报修工单：GD20261122-0001", "report_repair")
    inbound(OPENID_A, "msg:1002", "location", PLACE_A, f"已收到位置：{PLACE_A}")
    inbound(OPENID_A, "msg:1003", "image", PHOTO_A, "照片已附到工单GD20261122-0001")
    inbound(OPENID_A, "msg:1004", "voice", "我住3-2-1702 电话139 1234 5678", "好的", "other")
    inbound(OPENID_A, "msg:1005", "text", "孩子叫王子涵，三年级", "请问孩子读几年级？", "care_signup")
    inbound(OPENID_A, "msg:1006", "text", "我的地址改成1702室了", "地址已记下：3号楼2单元1702。")
    inbound(OPENID_A, f"evt:{OPENID_A}:1763776800:CLICK:PROGRESS", "event", "CLICK:PROGRESS",
            "您的工单…", "status_query")
    inbound("worker-g1", "msg:2001", "text", "借出 JY20261122-0001",
            f"已借出：JY20261122-0001 梯子×1，借给{ADDRESS_A} {PHONE_A}，11-25 20:00前归还。")
    inbound(OPENID_B, "msg:3001", "text", f"{ADDRESS_B} 楼道灯坏了 电话{PHONE_B}",
            "已为您登记报修工单：GD20261122-0002", "report_repair")
    session.flush()

    ticket_a = Ticket(number="GD20261122-0001", kind="repair", category="漏水",
                      description=f"{ADDRESS_A}，厨房漏水了 电话{PHONE_A}",
                      location=f"{PLACE_A} ({LAT_A},{LNG_A})", building_id=b3.id, unit=2,
                      room=ROOM_A, grid_id=b3.grid_id, assignee_id=worker.id, resident_id=a.id,
                      source_msg_id=first.id, status=TicketStatus.CLOSED,
                      resolution=f"已电话{PHONE_A}联系，更换水管", rating=4,
                      rating_comment=f"师傅很好，以后有事打{PHONE_A}", created_at=now,
                      accepted_at=now + timedelta(minutes=20),
                      resolved_at=now + timedelta(hours=3), closed_at=now + timedelta(hours=4))
    ticket_b = Ticket(number="GD20261122-0002", kind="repair", category="楼道灯",
                      description=f"{ADDRESS_B} 楼道灯坏了 电话{PHONE_B}", building_id=b3.id,
                      unit=4, room="602", grid_id=b3.grid_id, assignee_id=worker.id,
                      resident_id=b.id, status=TicketStatus.ASSIGNED, created_at=now)
    session.add_all([ticket_a, ticket_b])
    session.flush()
    actor_a, actor_w = f"resident:{a.id}", f"worker:{worker.id}"
    join_note = f"我家也是，{ADDRESS_A}，电话{PHONE_A}"
    session.add_all([
        TicketEvent(ticket_id=ticket_a.id, at=now, kind="created", actor=actor_a,
                    note=ticket_a.description),
        TicketEvent(ticket_id=ticket_a.id, at=now, kind="photo", actor=actor_a, note=PHOTO_A),
        TicketEvent(ticket_id=ticket_a.id, at=now, kind="location", actor=actor_a,
                    note=f"{PLACE_A} ({LAT_A},{LNG_A})"),
        TicketEvent(ticket_id=ticket_a.id, at=now, kind="resolved", actor=actor_w,
                    note=f"已电话{PHONE_A}联系，更换水管"),
        TicketEvent(ticket_id=ticket_a.id, at=now, kind="rated", actor=actor_a, note="4分"),
        TicketEvent(ticket_id=ticket_b.id, at=now, kind="created", actor=f"resident:{b.id}",
                    note=ticket_b.description),
        TicketEvent(ticket_id=ticket_b.id, at=now, kind="joined", actor=actor_a, note=join_note),
        TicketFollower(ticket_id=ticket_b.id, resident_id=a.id, note=join_note, created_at=now),
        Outbox(recipient_kind="staff", recipient_id=worker.id,
               openid=worker.openid, audience="worker", event="push_task_assigned",
               text=f"【新工单】GD20261122-0001 漏水\n地址：{ADDRESS_A}\n居民电话：{PHONE_A}",
               data={"keyword1": "GD20261122-0001", "keyword2": ADDRESS_A, "remark": PHONE_A},
               ticket_id=ticket_a.id, status=OutboxStatus.SENT),
        Outbox(recipient_kind="resident", recipient_id=a.id,
               openid=OPENID_A, audience="resident", event="ticket_accepted",
               text="您的工单GD20261122-0001已由网格员王芳接单，正在处理。联系电话：13800000001",
               ticket_id=ticket_a.id, status=OutboxStatus.SENT),
        Outbox(recipient_kind="resident", recipient_id=a.id,
               openid=OPENID_A, audience="resident", event="notice",
               text="停水通知：明天9:00-12:00停水", status=OutboxStatus.PENDING),
        Outbox(recipient_kind="staff", recipient_id=worker.id,
               openid=worker.openid, audience="worker", event="ticket_joined",
               text=f"GD20261122-0002 有居民加入跟进：{join_note}", ticket_id=ticket_b.id),
        Outbox(recipient_kind="resident", recipient_id=b.id,
               openid=OPENID_B, audience="resident", event="ticket_opened",
               text=f"您的工单GD20261122-0002（{ADDRESS_B}）已派给网格员王芳", ticket_id=ticket_b.id),
    ])
    session.flush()

    ladder = session.exec(select(LendItem).where(LendItem.name == "梯子")).one()
    drill = session.exec(select(LendItem).where(LendItem.name == "电钻")).one()
    loan = lending_actions.request(session, ladder.id, a, 1, now)
    lending_actions.hand_out(session, loan, worker.id, now)
    lending_actions.take_back(session, loan, worker.id, now + timedelta(days=1), damaged=True,
                      note=f"梯子脚坏了，已电话{PHONE_A}说明")
    other = lending_actions.request(session, drill.id, b, 1, now)
    assert isinstance(other, Loan)
    wait = lending_actions.request(session, drill.id, a, 1, now)
    assert isinstance(wait, LendWait)
    programme = care.programme_by_name(session, "四点半课堂")
    row = care.sessions(session, programme.id)[0]
    care_actions.enroll(session, row.id, a, Child(name=CHILD_A, guardian_phone=GUARDIAN_PHONE_A, grade=3,
                                          notes="花生过敏，奶奶来接"), now)
    session.flush()
    return {"resident_a": a.id, "resident_b": b.id, "ticket_a": ticket_a.id,
            "ticket_b": ticket_b.id}


def _rows_of_b(engine, ids: dict[str, int]) -> dict[str, list]:
    """B's own rows (not A's steps on B's ticket)."""
    data = dump(engine)
    actor_a = f"resident:{ids['resident_a']}"
    return {
        "resident": [r for r in data["resident"] if r["id"] == ids["resident_b"]],
        "inbound": [r for r in data["inboundmessage"] if r["openid"] == OPENID_B],
        "outbox": [r for r in data["outbox"] if r["openid"] == OPENID_B],
        "ticket": [r for r in data["ticket"] if r["resident_id"] == ids["resident_b"]],
        "events": [r for r in data["ticketevent"]
                   if r["ticket_id"] == ids["ticket_b"] and r["actor"] != actor_a],
        "loans": [r for r in data["lend_loan"] if r["resident_id"] == ids["resident_b"]],
    }


def test_forget_resident_leaves_nothing_of_them_in_any_table(services):  # noqa: F811
    engine = services
    with Session(engine, expire_on_commit=False) as s:
        ids = _history(s, START)
        s.commit()
    before = where_found(engine, NEEDLES_A)
    assert set(before) == set(NEEDLES_A), "the history must hold every needle to begin with"
    assert {"resident", "inboundmessage", "outbox", "ticket", "ticketevent", "ticketfollower",
            "lend_loan", "lend_event", "care_enrollment"} <= {
        place.split(".")[0] for places in before.values() for place in places}
    b_before = _rows_of_b(engine, ids)
    counts_before = {name: len(rows) for name, rows in dump(engine).items()}

    with Session(engine) as s:
        resident = s.get(Resident, ids["resident_a"])
        assert forget_resident(s, resident, START + timedelta(days=300))["sweep requested"] == 1
        s.commit()
    assert "privacy_sweep" in {place.split(".")[0] for places in where_found(engine, NEEDLES_A)
                               .values() for place in places}  # what the worker will look for
    _sweep(engine)

    assert where_found(engine, NEEDLES_A) == {}
    assert {name: len(rows) for name, rows in dump(engine).items()} == counts_before
    assert _rows_of_b(engine, ids) == b_before
    assert {"resident", "inboundmessage", "outbox"} <= tables_holding(engine, OPENID_B)
    assert {"resident", "inboundmessage", "ticket", "ticketevent"} <= tables_holding(engine, PHONE_B)

    with Session(engine) as s:
        a = s.get(Resident, ids["resident_a"])
        assert (a.openid, a.phone, a.unit, a.room, a.vulnerability, a.dialogue) == (None,) * 6
        assert not a.subscribed and a.anonymised_at is not None and a.building_id is not None
        ticket = s.get(Ticket, ids["ticket_a"])
        assert (ticket.kind, ticket.category, ticket.rating, ticket.status) == (
            "repair", "漏水", 4, TicketStatus.CLOSED)
        assert ticket.building_id == a.building_id and ticket.grid_id is not None
        assert ticket.resolved_at - ticket.created_at == timedelta(hours=3)
        assert ticket.description == f"{MASK}，厨房漏水了 电话{MASK}"
        assert ticket.unit is None and ticket.room is None and ticket.location is None
        kinds = [e.kind for e in s.exec(select(TicketEvent).where(
            TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id))]
        assert kinds == ["created", "photo", "location", "resolved", "rated"]
        inbound = s.exec(select(InboundMessage).where(
            InboundMessage.openid == marker(a.id)).order_by(InboundMessage.id)).all()
        assert [m.intent for m in inbound] == ["report_repair", None, None, "other", "care_signup",
                                               None, "status_query"]
        assert inbound[-1].dedup_key == f"evt:{marker(a.id)}:1763776800:CLICK:PROGRESS"
        pushes = s.exec(select(Outbox).where(Outbox.openid == marker(a.id))
                        .order_by(Outbox.id)).all()
        assert [(p.event, p.status) for p in pushes] == [("ticket_accepted", OutboxStatus.SENT),
                                                          ("notice", OutboxStatus.DEAD)]
        assert s.exec(select(TicketFollower)).one().resident_id == a.id
        enrollment = s.exec(select(Enrollment)).one()
        assert (enrollment.child_name, enrollment.guardian_phone, enrollment.notes,
                enrollment.grade) == (MASK, MASK, None, 3)
        assert s.exec(select(LendWait).where(LendWait.resident_id == a.id)).one().status == \
            "cancelled"
        loan = s.exec(select(Loan).where(Loan.resident_id == a.id)).one()
        assert (loan.status, loan.return_condition) == ("returned", "损坏")


def test_forgetting_twice_is_harmless(services):  # noqa: F811
    with Session(services, expire_on_commit=False) as s:
        ids = _history(s, START)
        s.commit()
    for _ in range(2):
        with Session(services) as s:
            forget_resident(s, s.get(Resident, ids["resident_a"]), START)
            s.commit()
        _sweep(services)
    assert where_found(services, NEEDLES_A) == {}


def _sweep(engine) -> None:
    """Pass 2, as the worker's ``privacy_sweep`` job runs it (bot/jobs_privacy.py)."""
    with Session(engine) as s:
        for sweep_id in pending_sweeps(s):
            assert run_sweep(s, sweep_id) is not None
        s.commit()
        assert pending_sweeps(s) == []


def test_forgetting_a_long_history_takes_a_bounded_number_of_statements(community):
    """Bulk statements: 1,200 messages cost a few more chunks, not a statement per row."""

    def statements_for(openid: str, messages: int) -> int:
        with Session(community) as s:
            resident = Resident(openid=openid, phone=PHONE_A)
            s.add(resident)
            s.flush()
            s.add_all([InboundMessage(dedup_key=f"msg:{openid}:{i}", openid=openid, msg_type="text",
                                      content=f"电话{PHONE_A} 第{i}条", reply="好的", received_at=START)
                       for i in range(messages)])
            s.add_all([Outbox(recipient_kind="resident", openid=openid, audience="resident", event="notice",
                              text=f"通知{i}", status=OutboxStatus.SENT) for i in range(messages)])
            s.commit()
            seen: list[str] = []

            def count(conn, cursor, statement, parameters, context, executemany):
                seen.append(statement)

            event.listen(community, "before_cursor_execute", count)
            try:
                forget_resident(s, resident, START)
                s.commit()
            finally:
                event.remove(community, "before_cursor_execute", count)
            return len(seen)

    small = statements_for("o-small-history-0000000000000", 10)
    large = statements_for("o-large-history-0000000000000", 1200)
    assert large - small <= 8, (small, large)  # (3 − 1 chunks) × (select + update) × 2 tables
    with Session(community) as s:
        assert not s.exec(select(InboundMessage).where(InboundMessage.content.contains(PHONE_A))).all()


@pytest.mark.parametrize(("text", "expected"), [
    ("3号楼2单元501，楼道灯坏了 电话13912345678", "***，楼道灯坏了 电话***"),
    ("5-3-402 厨房漏水 139 1234 5678", "*** 厨房漏水 ***"),
    ("我住五号楼三单元402室", "我住***"),
    ("联系电话：024-12345678", "联系电话：***"),
    ("孩子叫王子涵，三年级", "孩子叫***，三年级"),
    ("幸福新社区 (41.812345,123.456789)", "幸福新社区 (***)"),
    ("已为您登记报修工单：GD20261122-0001，已派给第一网格网格员王芳",
     "已为您登记报修工单：GD20261122-0001，已派给第一网格网格员王芳"),
    ("请在11-23 10:00前到驿站领取，借期3天，5分", "请在11-23 10:00前到驿站领取，借期3天，5分"),
    ("张阿姨家门口堆物", "***家门口堆物"),
    ("１３９１２３４５６７８", "***"),
    (None, None),
])
def test_scrub(text, expected):
    assert scrub(text, known=["张阿姨"]) == expected


@pytest.mark.parametrize("hostile", ["9" * 100_000, "1 " * 50_000, "1单元" * 25_000,
                                     "12-3-" * 20_000, "1.1," * 25_000, "叫" * 100_000])
def test_scrub_stays_linear_on_hostile_text(hostile):
    started = time.perf_counter()
    scrub(hostile)
    assert time.perf_counter() - started < 2.0  # quadratic would take minutes


def test_scrub_masks_a_huge_number_whole():
    assert scrub("电话" + "9" * 100_000) == "电话***"

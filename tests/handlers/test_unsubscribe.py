"""Unsubscribe over the webhook: a resident's whole history — reports with phone and address,
a photo and a location, a rating, joining a neighbour's ticket, a loan, a child's sign-up,
pushes — then 取消关注, then every table is searched for what identified them."""

from __future__ import annotations

from sqlmodel import Session, select

from bot.jobs_privacy import sweep_pending
from services.messages import msg
from services.privacy import MASK, marker
from storage.care import Enrollment
from storage.lending import Loan
from storage.models import InboundMessage, Outbox, Resident, Ticket, TicketFollower
from tests.privacy_support import dump, tables_holding, where_found
from tests.services_support import schat_fixture, services_fixture  # noqa: F401

A = "oXq7w1Kd3mZ0pA9bT4rC6yL2nV8sE5"  # OpenIDs are 28 characters
B = "oYh2j9Nc5uR7tG1eF3kW8qD6mP0zS4"
STAFF = "station-1"
A_NEEDLES = [A, "13912345678", "2单元1702", "3-2-1702", "王子涵", "13700001111", "137 0000 1111",
             "幸福路88号东门", "41.812345", "123.456789", "a-kitchen.jpg", "a-balcony.jpg", "花生过敏"]


def _a_lives_a_year(chat, clock) -> None:
    assert chat.event(A, "subscribe") == msg("welcome")
    assert "幸福路88号东门" in chat.send(chat.sim.location(A, 41.812345, 123.456789, "幸福路88号东门"))
    assert chat.send(chat.sim.image(A, "http://img.example/a-kitchen.jpg")) == msg("photo_kept")
    opened = chat.say(A, "3号楼2单元1702 厨房漏水了 电话13912345678")
    assert "GD20261122-0001" in opened
    clock.advance(600)
    chat.say("worker-g1", "接单 GD20261122-0001")
    chat.say("worker-g1", "办结 GD20261122-0001 已电话13912345678联系，更换水管")
    clock.advance(600)
    chat.say(A, "4")
    clock.advance(3600)
    assert "GD20261122-0002" in chat.say(B, "3号楼4单元602 楼道灯坏了 电话13655556666")
    clock.advance(600)
    assert "GD20261122-0002" in chat.say(A, "我家3-2-1702门口楼道灯也坏了，电话13912345678")
    assert "GD20261122-0002" in chat.say(A, "1")
    chat.say("worker-g1", "接单 GD20261122-0002")  # B and follower A are told
    clock.advance(600)
    chat.say(A, "想借个梯子")
    assert "JY20261122-0001" in chat.say(A, "确认")
    assert "13912345678" in chat.say(STAFF, "借出 JY20261122-0001")  # staff see address and phone
    clock.advance(600)
    assert chat.say(A, "孩子叫王子涵，三年级，想报四点半课堂，电话137 0000 1111").endswith(
        msg("care.ask_notes"))
    assert "花生过敏" in chat.say(A, "花生过敏，奶奶来接")
    assert "报名成功" in chat.say(A, "确认")
    chat.send(chat.sim.voice(A, "我住3-2-1702，有事打13912345678"))
    clock.advance(3600)
    # a photo and a place kept for the next report (dialogue state) at unsubscribe
    assert chat.send(chat.sim.image(A, "http://img.example/a-balcony.jpg")) == msg("photo_kept")
    chat.send(chat.sim.location(A, 41.812345, 123.456789, "幸福路88号东门"))


def _b_rows(chat, resident_a: int) -> dict[str, list]:
    data = dump(chat.engine)
    b = next(r for r in data["resident"] if r["openid"] == B)
    b_tickets = {t["id"] for t in data["ticket"] if t["resident_id"] == b["id"]}
    return {
        "resident": b,
        "inbound": [r for r in data["inboundmessage"] if r["openid"] == B],
        "outbox": [r for r in data["outbox"] if r["openid"] == B],
        "tickets": [r for r in data["ticket"] if r["id"] in b_tickets],
        "events": [r for r in data["ticketevent"] if r["ticket_id"] in b_tickets
                   and r["actor"] != f"resident:{resident_a}"],
    }


def test_unsubscribe_deletes_personal_data_from_every_table_and_keeps_statistics(schat, clock):
    chat = schat
    _a_lives_a_year(chat, clock)
    before = where_found(chat.engine, A_NEEDLES)
    assert set(before) == set(A_NEEDLES), "the history must hold every needle to begin with"
    assert {"resident", "inboundmessage", "outbox", "ticket", "ticketevent", "ticketfollower",
            "care_enrollment"} <= {p.split(".")[0] for places in before.values() for p in places}
    with Session(chat.engine) as s:
        resident_a = s.exec(select(Resident).where(Resident.openid == A)).one()
    assert resident_a.dialogue  # the waiting report
    tickets_before = _statistics(chat)
    intents_before = [m.intent for m in _inbound_of(chat, A)]
    b_before = _b_rows(chat, resident_a.id)
    rows_before = {table: len(rows) for table, rows in dump(chat.engine).items()}

    assert chat.event(A, "unsubscribe") == ""
    # others' rows (the station's staff were told A's phone) wait for the worker's sweep,
    # whose durable row lists what to look for
    waiting = {p.split(".")[0] for places in where_found(chat.engine, A_NEEDLES).values()
               for p in places}
    assert {"privacy_sweep", "inboundmessage"} <= waiting
    assert sweep_pending(chat.engine)["swept"] == 1

    assert where_found(chat.engine, A_NEEDLES) == {}
    anon = marker(resident_a.id)
    assert _statistics(chat) == tickets_before and len(tickets_before) == 2
    assert [m.intent for m in _inbound_of(chat, anon)] == intents_before + [None]
    rows_after = {table: len(rows) for table, rows in dump(chat.engine).items()}
    assert rows_after == {**rows_before, "inboundmessage": rows_before["inboundmessage"] + 1}
    assert _b_rows(chat, resident_a.id) == b_before
    assert tables_holding(chat.engine, B) == {"resident", "inboundmessage", "outbox"}
    for needle in ("13655556666", "4单元602"):
        assert {"inboundmessage", "ticket", "ticketevent"} <= tables_holding(chat.engine, needle)
    with Session(chat.engine) as s:
        a = s.get(Resident, resident_a.id)
        assert (a.openid, a.phone, a.room, a.dialogue, a.subscribed) == (None, None, None, None, False)
        assert a.anonymised_at is not None and a.building_id is not None
        own = s.exec(select(Ticket).where(Ticket.resident_id == a.id)).one()
        assert own.description.startswith(MASK) and "厨房漏水" in own.description
        assert s.exec(select(TicketFollower)).one().resident_id == a.id
        assert s.exec(select(Loan)).one().resident_id == a.id
        assert s.exec(select(Enrollment)).one().child_name == MASK
        assert {p.openid for p in s.exec(select(Outbox).where(Outbox.audience == "resident"))} \
            == {anon, B}


def test_following_again_starts_a_new_resident(schat, clock):
    chat = schat
    chat.say(A, "3号楼2单元1702 厨房漏水了 电话13912345678")
    chat.event(A, "unsubscribe")
    clock.advance(60)
    assert chat.event(A, "subscribe") == msg("welcome")
    with Session(chat.engine) as s:
        rows = s.exec(select(Resident).order_by(Resident.id)).all()
    assert [r.openid for r in rows] == [None, A] and rows[1].phone is None
    assert "几号楼" in chat.say(A, "厨房漏水了")  # the old address is not remembered


def _statistics(chat) -> list[tuple]:
    """What the monthly statistics read from each ticket."""
    return [(t.number, t.kind, t.category, t.grid_id, t.building_id, t.status, t.priority,
             t.rating, t.created_at, t.accepted_at, t.resolved_at, t.closed_at, t.response_met)
            for t in chat.tickets()]


def _inbound_of(chat, openid: str) -> list[InboundMessage]:
    with Session(chat.engine) as s:
        return list(s.exec(select(InboundMessage).where(InboundMessage.openid == openid)
                           .order_by(InboundMessage.id)))

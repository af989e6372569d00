"""Abuse and races at the inbox: the per-OpenID rate limit, a flood of reports becoming one
ticket thread, a new resident's first messages arriving at once, text over the length cap."""

from __future__ import annotations

import threading

from sqlalchemy import func
from sqlmodel import Session, select

from services.messages import msg
from storage.models import InboundMessage, Outbox, Resident, Ticket, TicketEvent


def _count(engine, model, *where) -> int:
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(model).where(*where)).one()


def test_rate_limit_answers_kindly_and_keeps_the_message(make_chat):
    chat = make_chat(rate_limit_burst=5, rate_limit_per_minute=1)
    replies = [chat.say("flooder", f"你好{n}") for n in range(8)]
    assert msg("rate_limited") not in replies[:5]
    assert replies[5:] == [msg("rate_limited")] * 3
    assert _count(chat.engine, InboundMessage, InboundMessage.openid == "flooder") == 8
    assert chat.retry_last() == msg("rate_limited")  # a retry takes no second token


def test_a_flood_of_reports_becomes_one_thread(make_chat):
    chat = make_chat()
    replies = [chat.say("flood-r", f"3号楼2单元501楼道灯坏了，第{n}次说了") for n in range(60)]
    tickets = chat.tickets()
    assert len(tickets) <= 3
    assert len(chat.pushes("worker-g1")) == len(tickets)  # one push per ticket, not per message
    kept = _count(chat.engine, InboundMessage, InboundMessage.openid == "flood-r")
    assert kept == 60  # every message kept
    supplements = _count(chat.engine, TicketEvent, TicketEvent.kind == "supplement")
    limited = replies.count(msg("rate_limited"))
    assert supplements + limited + len(tickets) == 60
    assert supplements > 0 and limited > 0


def test_reports_past_the_burst_cap_are_added_to_the_latest_ticket(make_chat):
    chat = make_chat(rate_limit_burst=100, report_burst_max=2)
    first = chat.say("burst-r", "5号楼1单元101 楼道灯坏了")
    second = chat.say("burst-r", "5号楼1单元101 电梯坏了")
    third = chat.say("burst-r", "5号楼1单元101 暖气也不热")
    tickets = chat.tickets()
    assert [t.number in r for t, r in zip(tickets, (first, second), strict=True)] == [True, True]
    assert len(tickets) == 2
    assert third.endswith(msg("report_added", no=tickets[1].number))
    with Session(chat.engine) as s:
        notes = s.exec(select(TicketEvent.note).where(TicketEvent.kind == "supplement")).all()
    assert notes == ["5号楼1单元101 暖气也不热"]


def test_urgent_reports_ignore_the_burst_cap(make_chat):
    chat = make_chat(rate_limit_burst=100, report_burst_max=1)
    chat.say("burst-u", "5号楼1单元101 楼道灯坏了")
    chat.say("burst-u", "5号楼1单元101 楼道里有很大的煤气味")
    assert len(chat.tickets()) == 2
    assert chat.tickets()[1].urgent


def test_a_new_residents_first_messages_at_once_make_one_resident(make_chat):
    chat = make_chat()
    deliveries = [chat.sim.text("brand-new", f"你好{n}") for n in range(8)]
    barrier = threading.Barrier(len(deliveries))
    statuses: list[int] = []

    def send(d) -> None:
        barrier.wait()
        statuses.append(chat.post(d).status_code)

    threads = [threading.Thread(target=send, args=(d,)) for d in deliveries]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 8
    assert _count(chat.engine, Resident, Resident.openid == "brand-new") == 1
    assert _count(chat.engine, InboundMessage, InboundMessage.openid == "brand-new") == 8


def test_text_over_the_cap_is_understood_cut_and_kept_whole(make_chat):
    chat = make_chat(max_text_chars=40)
    text = "3号楼2单元501楼道灯坏了" + "，真的很着急" * 2000
    reply = chat.say("long-r", text)
    assert "已为您登记" in reply
    with Session(chat.engine) as s:
        row = s.exec(select(InboundMessage).where(InboundMessage.openid == "long-r")).one()
        (ticket,) = s.exec(select(Ticket)).all()
    assert row.content == text
    assert len(ticket.description) <= 40
    assert not chat.pushes("long-r") or all(len(p.text) < 1000 for p in chat.pushes())
    assert _count(chat.engine, Outbox) >= 1

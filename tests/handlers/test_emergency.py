"""Emergencies over the webhook (三必到): the numbers that fit first, an urgent ticket to the
worker and the grid leader, a call-back number asked and kept, the home address untouched."""

from __future__ import annotations

import tomllib

from sqlmodel import Session, select

from intents.emergency import DEFAULT_EMERGENCY, SYMBOLIC_NUMBERS
from services.messages import catalogue, msg
from storage import org
from storage.models import Resident, TicketEvent

HOME = "3号楼2单元501 楼道灯坏了"  # a first report saves the household address (grid 1)


def _resident(chat, openid: str) -> Resident:
    with Session(chat.engine) as s:
        return s.exec(select(Resident).where(Resident.openid == openid)).one()


def _events(chat, ticket_id: int) -> list[TicketEvent]:
    with Session(chat.engine) as s:
        return list(s.exec(select(TicketEvent).where(TicketEvent.ticket_id == ticket_id)
                           .order_by(TicketEvent.id)))


def _building_id(chat, number: int) -> int:
    with Session(chat.engine) as s:
        return org.find_building(s, str(number)).id


def test_fall_at_home_names_120_only_and_reaches_worker_and_leader(chat):
    chat.say("r1", HOME)
    reply = chat.say("r1", "我老伴在家摔倒了起不来，怎么办")
    first, *rest = reply.split("\n")
    assert first == msg("emergency.call", numbers=msg("emergency.number_120"))
    assert not any(n in reply for n in ("119", "110", "96333", "96777"))
    assert reply.endswith(msg("emergency.ask_phone"))  # no phone on file yet
    _, ticket = chat.tickets()
    assert (ticket.kind, ticket.category, ticket.urgent, ticket.priority) == (
        "emergency", "急救", True, 0)  # never a 危树 repair
    assert ticket.building_id == _building_id(chat, 3) and ticket.sla_policy == "紧急险情"
    assert ticket.number in reply and "预计今天上午10:10前联系您" in reply
    assert "【紧急】" in chat.pushes("worker-g1")[-1].text
    leader = chat.pushes("leader-g1")
    assert [p.event for p in leader] == ["urgent_leader"] and ticket.number in leader[0].text


def test_call_back_number_is_asked_stored_and_passed_to_the_worker(chat):
    chat.say("r2", HOME)
    chat.say("r2", "快来人 我妈晕过去了")
    assert chat.say("r2", "我电话13912345678") == msg("emergency.phone_saved")
    assert _resident(chat, "r2").phone == "13912345678"
    ticket = chat.tickets()[-1]
    notes = [e.note for e in _events(chat, ticket.id) if e.kind == "supplement"]
    assert notes == [msg("emergency.phone_note", phone="13912345678")]
    assert chat.pushes("worker-g1")[-1].text == msg("emergency.push_phone", no=ticket.number,
                                                    phone="13912345678")
    assert chat.pushes("leader-g1")[-1].event == "emergency_update"
    # the next emergency does not ask again
    assert not chat.say("r2", "厨房里一股煤气味").endswith(msg("emergency.ask_phone"))


def test_lift_trapped_in_another_building_names_96333_and_keeps_the_home(chat):
    chat.say("r3", HOME)
    home_before = _resident(chat, "r3").building_id
    reply = chat.say("r3", "5号楼电梯里有人被困住了！")
    first = reply.split("\n")[0]
    assert "96333" in first and "物业024-88886666" in first
    assert not any(n in reply for n in ("120", "119", "110", "96777"))
    ticket = chat.tickets()[-1]
    assert (ticket.kind, ticket.category, ticket.urgent) == ("repair", "电梯", True)
    assert ticket.building_id == _building_id(chat, 5)
    assert ticket.assignee_id is not None and chat.pushes("worker-g2")[-1].ticket_id == ticket.id
    assert _resident(chat, "r3").building_id == home_before  # where it is ≠ where they live
    # a later report still goes home
    chat.say("r3", "楼道灯又坏了")
    assert chat.tickets()[-1].building_id == home_before


def test_told_again_goes_on_the_same_ticket(chat):
    chat.say("r4", HOME)
    chat.say("r4", "楼道里着火了")
    again = chat.say("r4", "火越来越大了 快点来人")
    assert again.split("\n")[0] == msg("emergency.call", numbers=msg("emergency.number_119"))
    tickets = chat.tickets()
    assert len(tickets) == 2 and msg("emergency.more", no=tickets[-1].number) in again
    assert "火越来越大了 快点来人" in [e.note for e in _events(chat, tickets[-1].id)]


def test_no_address_still_gets_numbers_and_a_ticket_then_where_is_asked(chat):
    reply = chat.say("r5", "有人晕倒了快来人")
    assert reply.split("\n")[0] == msg("emergency.call", numbers=msg("emergency.number_120"))
    assert reply.endswith(msg("emergency.ask_phone_where"))
    ticket, = chat.tickets()
    assert ticket.urgent and ticket.assignee_id is None
    assert chat.pushes("admin-1")[-1].event == "task_unassigned"
    answer = chat.say("r5", "13812345678 在东门")
    assert answer == "\n".join([msg("emergency.phone_saved"),
                                msg("emergency.where_saved", where="东门")])
    assert [e.note for e in _events(chat, ticket.id) if e.kind == "location"] == ["东门"]
    assert _resident(chat, "r5").building_id is None  # a place, not a home


def test_negation_past_and_drills_are_not_emergencies(chat):
    chat.say("r6", HOME)
    for text in ("没有着火，是楼下烧纸的味道", "上次着火的事物业给个说法",
                 "电梯困人演练几点开始", "如果家里燃气泄漏怎么办"):
        reply = chat.say("r6", text)
        assert not reply.startswith(msg("emergency.call", numbers="")[:2]), text
    assert not any(t.urgent for t in chat.tickets())


def test_every_number_in_the_emergency_file_has_wording():
    raw = tomllib.loads(DEFAULT_EMERGENCY.read_text(encoding="utf-8"))
    numbers = {n for kind in raw["kinds"].values() for n in kind["numbers"]}
    keys = catalogue()
    for number in numbers - set(SYMBOLIC_NUMBERS):
        assert f"emergency.number_{number}" in keys
    for kind in raw["kinds"]:
        assert f"emergency.advice_{kind}" in keys
    assert {"emergency.number_gas", "emergency.number_property"} <= set(keys)

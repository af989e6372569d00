"""催办, referrals, chit-chat and thanks, over the webhook. The messages are classified by the
lexicon's urge/referral/chitchat/thanks intents; the handlers never open a ticket."""

from __future__ import annotations

from sqlmodel import Session, select

from services.messages import msg
from services.promise import for_ticket
from services.tickets import NUDGE_EVERY_S
from storage.models import InboundMessage, TicketEvent


def _events(chat, ticket_id: int) -> list[TicketEvent]:
    with Session(chat.engine) as s:
        return list(s.exec(select(TicketEvent).where(TicketEvent.ticket_id == ticket_id)
                           .order_by(TicketEvent.id)))


def _kept_for_staff(chat) -> list[str]:
    with Session(chat.engine) as s:
        return [m.content for m in s.exec(select(InboundMessage)
                                          .where(InboundMessage.needs_staff))]


def test_urge_attaches_to_the_open_ticket_and_nudges_once(chat, clock):
    chat.say("r1", "3号楼2单元501 楼道灯坏了")
    clock.advance(3600)
    reply = chat.say("r1", "报修好几天了怎么还没人来")
    ticket = chat.tickets()[0]
    assert len(chat.tickets()) == 1  # never a second ticket
    assert ticket.number in reply and msg(f"status.{ticket.status}") in reply
    assert for_ticket(ticket, clock()) in reply  # its real deadline (on a Sunday: Monday 9:30)
    assert "明天上午9:30前联系您" in reply
    assert reply.endswith(msg("urge.nudged"))
    nudges = [p for p in chat.pushes("worker-g1") if p.event == "ticket_urged"]
    assert len(nudges) == 1 and ticket.number in nudges[0].text
    # asking again soon is recorded, but does not push again
    clock.advance(600)
    assert chat.say("r1", "催一下，上次报的灯怎么还没修").endswith(msg("urge.nudged_already"))
    assert len([p for p in chat.pushes("worker-g1") if p.event == "ticket_urged"]) == 1
    clock.advance(NUDGE_EVERY_S)
    chat.say("r1", "都这么久了还没人来修，麻烦催一下")
    assert len([p for p in chat.pushes("worker-g1") if p.event == "ticket_urged"]) == 2
    kinds = [e.kind for e in _events(chat, ticket.id)]
    assert kinds.count("urge") == 2 and kinds.count("urge_held") == 1
    assert "居民催办" in chat.say("r1", f"查询 {ticket.number}")


def test_urge_after_acceptance_promises_the_resolution_time(chat, clock):
    chat.say("r2", "3号楼2单元501 楼道灯坏了")
    no = chat.tickets()[0].number
    chat.say("worker-g1", f"接单 {no}")
    reply = chat.say("r2", "报修好几天了怎么还没人来")
    ticket = chat.tickets()[0]
    assert msg("urge.promise", promise=for_ticket(ticket, clock())) in reply
    assert "联系您" not in reply and "处理好" in reply  # responded: the resolution is promised


def test_urge_with_several_open_tickets_asks_which(chat):
    chat.say("r3", "3号楼2单元501 楼道灯坏了")
    chat.say("r3", "楼上天天半夜装修太吵了")
    first, second = chat.tickets()
    which = chat.say("r3", "报修好几天了怎么还没人来")
    assert which.startswith(msg("urge.which"))
    assert "1. 噪音" in which and "2. 楼道灯「楼道灯坏了」" in which  # newest first
    assert [p.event for p in chat.pushes("worker-g1")].count("ticket_urged") == 0
    reply = chat.say("r3", "2")
    assert first.number in reply and second.number not in reply
    assert [e.kind for e in _events(chat, first.id)][-1] == "urge"
    assert len(chat.tickets()) == 2
    assert chat.say("r3", "撤销 1") == msg("cancel_done", no=second.number)  # the list stays


def test_urge_with_no_open_ticket_offers_to_report(chat):
    assert chat.say("r4", "报修好几天了怎么还没人来") == msg("urge.none")
    assert chat.tickets() == []


def test_referral_names_the_office_keeps_the_message_and_opens_nothing(chat):
    reply = chat.say("r5", "请问我家的房产证什么时候能办下来，等了好久了")
    assert "不动产登记中心" in reply and "12345" in reply
    reply = chat.say("r5", "我的社保什么时候能到账")
    assert "社保" in reply
    # a matter with no office in handlers/referral.toml: the city hotline
    assert chat.say("r5", "这个政策什么时候出台") == msg("referral.hotline", hotline="12345")
    assert chat.tickets() == []
    assert len(_kept_for_staff(chat)) == 3


def test_chitchat_is_answered_friendly_and_never_a_ticket(chat):
    assert chat.say("r6", "你会唱歌吗") == msg("chitchat.reply")
    assert chat.say("r6", "帮我写作业") == msg("chitchat.reply")
    assert chat.tickets() == []


def test_thanks_gets_you_are_welcome_not_the_menu(chat):
    assert chat.say("r7", "谢谢") == msg("chitchat.thanks")
    chat.say("r7", "3号楼2单元501 楼道灯坏了")
    no = chat.tickets()[0].number
    chat.say("worker-g1", f"办结 {no} 已更换灯泡")
    assert chat.say("r7", "谢谢你们") == msg("chitchat.thanks_rate", no=no)

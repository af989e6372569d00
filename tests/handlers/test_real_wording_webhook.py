"""Issue 10 item 8 through the webhook: long, polite, real-style messages end as the right
ticket (or as no ticket), whoever caused the problem decides complaint or repair, outage
wording is a repair, and policy or administrative questions are referred, not filed."""

from __future__ import annotations

from sqlmodel import Session, select

from storage.models import InboundMessage


def _only_ticket(chat):
    tickets = chat.tickets()
    assert len(tickets) == 1, [(t.kind, t.category, t.description) for t in tickets]
    return tickets[0]


def test_a_long_polite_message_is_the_request_inside_it(chat):
    chat.say("w1", "您好，打扰一下。我是4号楼1单元的住户，房间是302。最近几天卫生间天花板一直往下"
                   "滴水，应该是楼上管子漏了，墙都泡软了。麻烦你们安排师傅来看看，谢谢！")
    ticket = _only_ticket(chat)
    assert (ticket.kind, ticket.category) == ("repair", "漏水")


def test_outage_wording_is_a_repair(chat):
    chat.say("w2", "6号楼3单元从昨天晚上开始就无水可用了，做饭洗漱都成问题")
    ticket = _only_ticket(chat)
    assert (ticket.kind, ticket.category) == ("repair", "供水")


def test_property_cutting_the_water_on_purpose_is_a_complaint_about_the_property(chat):
    chat.say("w3", "2号楼1单元401，物业说我家没交物业费，就擅自把我家的水给停了，老人孩子都在家，"
                   "这样做合理吗？")
    ticket = _only_ticket(chat)
    assert (ticket.kind, ticket.category) == ("complaint", "物业服务")


def test_a_burst_pipe_is_a_repair_even_when_the_property_is_named(chat):
    chat.say("w4", "7号楼2单元楼道里的水管爆了，水一直往外冒，物业电话打不通，快来人看看")
    ticket = _only_ticket(chat)
    assert ticket.kind == "repair"


def test_an_administrative_question_is_referred_and_kept_for_staff(chat):
    reply = chat.say("w5", "你好，我家的房产证申请交上去三个多月了，一直没有消息，想问一下大概什么时候"
                           "能办下来？谢谢")
    assert chat.tickets() == []
    assert "12345" in reply or "不动产" in reply
    with Session(chat.engine) as s:
        kept = s.exec(select(InboundMessage).where(InboundMessage.needs_staff)).all()
    assert any("房产证" in (m.content or "") for m in kept)


def test_chit_chat_never_opens_a_ticket(chat):
    for text in ("你能陪我聊聊天吗", "给我讲个故事吧"):
        chat.say("w6", text)
    assert chat.tickets() == []


def test_a_year_in_a_report_is_not_a_room(chat):
    chat.say("w7", "我们8号楼2单元601是2015年的老房子，厨房下水道堵了好几天了")
    ticket = _only_ticket(chat)
    assert ticket.category == "下水道堵塞"
    assert ticket.room == "601" and ticket.unit == 2

"""Residents and grid workers talking to the bot, as in WeChat (over the webhook)."""

from __future__ import annotations

from sqlmodel import Session, select

from services.messages import msg
from storage.models import InboundMessage, Resident, Ticket, TicketEvent


def test_report_asks_address_once_then_remembers_it(chat):
    assert chat.say("r1", "楼道灯坏了") == msg("ask_address")
    opened = chat.say("r1", "3号楼2单元501")
    assert "GD20261122-0001" in opened and "3号楼2单元501" in opened and "王芳" in opened
    # the second report does not ask again
    second = chat.say("r1", "楼上天天半夜装修太吵了")
    assert "GD20261122-0002" in second and "投诉" in second
    t1, t2 = chat.tickets()
    assert (t1.kind, t1.category, t1.status) == ("repair", "楼道灯", "assigned")
    assert t2.kind == "complaint" and t2.grid_id == t1.grid_id
    assert len(chat.pushes("worker-g1")) == 2


def test_address_in_the_first_message_goes_straight_to_the_right_grid(chat):
    reply = chat.say("r2", "家里厨房下水道又堵了能来人看看吗 9号楼3单元402")
    assert "第三网格" in reply and "张敏" in reply
    ticket = chat.tickets()[0]
    assert (ticket.unit, ticket.room) == (3, "402")
    push = chat.pushes("worker-g3")[0]
    assert ticket.number in push.text and "接单" in push.text


def test_unknown_building_is_asked_again(chat):
    assert chat.say("r3", "楼道灯坏了") == msg("ask_address")
    assert chat.say("r3", "88号楼1单元101") == msg("unknown_building", building=88)
    assert "GD20261122-0001" in chat.say("r3", "8号楼1单元101")


def test_resident_can_cancel_while_asked_for_address(chat):
    chat.say("r4", "电梯坏了")
    assert chat.say("r4", "取消") == msg("dialogue_cancelled")
    assert chat.tickets() == []


def test_garbled_address_twice_is_handed_to_staff(chat):
    chat.say("r5", "楼道灯坏了")
    assert chat.say("r5", "嗯嗯") == msg("ask_address_again")
    assert chat.say("r5", "不知道") == msg("gave_up")
    assert chat.tickets() == []
    with Session(chat.engine) as s:
        kept = s.exec(select(InboundMessage).where(InboundMessage.needs_staff)).all()
    assert [k.content for k in kept] == ["不知道"]


def test_worker_accepts_and_closes_and_resident_rates(chat):
    chat.say("r6", "3号楼2单元501，楼道灯坏了")
    no = chat.tickets()[0].number
    assert chat.say("worker-g1", "我的任务").count(no) == 1
    assert chat.say("worker-g1", f"接单 {no}") == msg("worker.accepted", no=no)
    accepted = chat.pushes("r6")[-1]
    assert accepted.event == "ticket_accepted" and "王芳" in accepted.text
    assert chat.say("worker-g1", f"办结 {no}") == msg("worker.need_note", no=no)
    assert chat.say("worker-g1", f"办结 {no} 已更换灯泡") == msg("worker.resolved", no=no)
    resolved = chat.pushes("r6")[-1]
    assert resolved.event == "ticket_resolved" and "已更换灯泡" in resolved.text
    assert "进度" not in chat.say("r6", "5") and chat.tickets()[0].status == "closed"
    ticket = chat.tickets()[0]
    assert ticket.rating == 5 and ticket.accepted_at and ticket.resolved_at and ticket.closed_at
    with Session(chat.engine) as s:
        kinds = [e.kind for e in s.exec(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)
                                        .order_by(TicketEvent.id))]
    assert kinds == ["submitted", "assigned", "accepted", "resolved", "closed"]
    assert chat.pushes("worker-g1")[-1].event == "ticket_rated"
    assert chat.say("r6", "满意") == msg("rating_nothing")


def test_unsatisfied_rating_is_recorded_and_kept_for_staff(chat):
    chat.say("r7", "5号楼1单元101 水管漏水")
    no = chat.tickets()[0].number
    chat.say("worker-g2", f"办结 {no} 已关阀门")
    assert chat.say("r7", "不满意") == msg("rating.ask_reason", score=1, no=no)
    assert chat.tickets()[0].rating is None  # not before the resident says what was wrong
    assert chat.say("r7", "还在滴水，阀门一开就漏") == msg("followup.rating_reopened",
                                                          score=1, no=no)
    assert chat.tickets()[0].rating == 1


def test_worker_of_another_grid_cannot_act(chat):
    chat.say("r8", "3号楼2单元501，楼道灯坏了")
    no = chat.tickets()[0].number
    assert chat.say("worker-g2", f"接单 {no}") == msg("worker.not_allowed", no=no)
    assert chat.say("worker-g1", "接单 GD20990101-0001") == msg("ticket_not_found",
                                                                no="GD20990101-0001")
    assert chat.say("worker-g1", "办结") == msg("worker.need_number", command="办结")
    assert chat.say("worker-g1", "在吗") == msg("worker.help")
    chat.say("worker-g1", f"接单 {no}")
    assert "不能接单" in chat.say("worker-g1", f"接单 {no}")


def test_progress_list_detail_and_other_peoples_tickets(chat):
    assert chat.say("r9", "查询") == msg("progress_none")
    chat.say("r9", "3号楼2单元501，楼道灯坏了")
    no = chat.tickets()[0].number
    listing = chat.say("r9", "我的报修到哪一步了")
    assert no in listing and "已派单" in listing
    detail = chat.say("r9", f"查询 {no}")
    assert "派单给网格员" in detail and "提交工单" in detail
    assert chat.say("r10", f"查询 {no}") == msg("ticket_not_yours", no=no)


def test_cancel_own_ticket_not_others(chat):
    chat.say("r11", "3号楼2单元501，楼道灯坏了")
    no = chat.tickets()[0].number
    assert chat.say("r12", f"撤销 {no}") == msg("ticket_not_yours", no=no)
    which = chat.say("r11", "撤销")
    assert which.startswith(msg("cancel_need_number")) and "1. 楼道灯「楼道灯坏了」" in which
    assert chat.say("r11", f"撤销 {no}") == msg("cancel_done", no=no)
    assert chat.tickets()[0].status == "cancelled"
    assert chat.pushes("worker-g1")[-1].event == "ticket_cancelled"
    assert "不能撤销" in chat.say("r11", f"撤销 {no}")


def test_voice_recognition_is_understood_like_text(chat):
    reply = chat.send(chat.sim.voice("r13", "三号楼二单元五零一楼道灯不亮了"))
    assert reply in (msg("ask_address"),) or "GD20261122-0001" in reply
    assert chat.send(chat.sim.voice("r13", "")) == msg("voice_unclear")


def test_photo_before_the_words_is_attached_to_the_ticket(chat):
    assert chat.send(chat.sim.image("r14", "http://img.example/1.jpg")) == msg("photo_kept")
    chat.say("r14", "3号楼2单元501 楼道堆满杂物")
    ticket = chat.tickets()[0]
    with Session(chat.engine) as s:
        photos = s.exec(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id,
                                                  TicketEvent.kind == "photo")).all()
    assert [p.note for p in photos] == ["http://img.example/1.jpg"]
    # a photo after the report goes onto that ticket only when picked from the list
    assert "回复1加到工单" + ticket.number in chat.send(
        chat.sim.image("r14", "http://img.example/2.jpg"))
    assert chat.say("r14", "1") == msg("photo_attached", no=ticket.number)


def test_location_is_kept_then_attached(chat):
    reply = chat.send(chat.sim.location("r15", 41.8, 123.4, "幸福新社区3号楼"))
    assert "幸福新社区3号楼" in reply
    chat.say("r15", "3号楼2单元501 楼道灯坏了")
    assert chat.tickets()[0].location and "41.8" in chat.tickets()[0].location


def test_subscribe_welcome_unsubscribe_anonymises_but_keeps_tickets(chat):
    assert chat.event("r16", "subscribe") == msg("welcome")
    chat.say("r16", "3号楼2单元501 楼道灯坏了 电话13912345678")
    assert chat.event("r16", "unsubscribe") == ""
    with Session(chat.engine) as s:
        resident = s.exec(select(Resident)).one()
        ticket = s.exec(select(Ticket)).one()
    assert resident.openid is None and resident.phone is None and resident.room is None
    assert resident.anonymised_at is not None and ticket.resident_id == resident.id


def test_menu_click_progress(chat):
    assert chat.event("r17", "CLICK", "PROGRESS") == msg("progress_none")
    assert chat.event("r17", "CLICK", "HELP") == msg("help")


def test_message_we_cannot_place_is_kept_for_staff(chat):
    reply = chat.say("r18", "阿巴阿巴")
    assert reply == msg("fallback")
    with Session(chat.engine) as s:
        kept = s.exec(select(InboundMessage).where(InboundMessage.openid == "r18")).one()
    assert kept.needs_staff and kept.intent == "other"


def test_urgent_danger_gets_emergency_numbers_and_top_priority(chat):
    reply = chat.say("r19", "3号楼2单元501 楼道里一股煤气味 好像燃气泄漏了")
    assert "119" in reply and "GD20261122-0001" in reply
    ticket = chat.tickets()[0]
    assert ticket.urgent and ticket.priority == 0
    assert "【紧急】" in chat.pushes("worker-g1")[0].text


def test_grid_queue_is_priority_then_age(chat, clock):
    chat.say("r20", "3号楼2单元501 楼道灯坏了")
    clock.advance(60)
    chat.say("r21", "2号楼1单元101 燃气泄漏了 快来人")
    clock.advance(60)
    chat.say("r22", "1号楼1单元101 楼道堆物")
    queue = chat.say("worker-g1", "我的任务")
    numbers = [line.split()[1] for line in queue.splitlines()[1:-1]]  # "1. GD… …", footer
    assert numbers == ["GD20261122-0002", "GD20261122-0001", "GD20261122-0003"]


def test_a_handler_failure_is_answered_politely_and_kept(chat, monkeypatch):
    from handlers import HANDLERS

    def broken(turn):
        raise RuntimeError("boom")

    monkeypatch.setitem(HANDLERS, "help", broken)
    assert chat.say("r23", "帮助") == msg("error")
    with Session(chat.engine) as s:
        kept = s.exec(select(InboundMessage).where(InboundMessage.openid == "r23")).one()
    assert kept.needs_staff and "boom" in kept.error


def test_unsure_with_two_likely_intents_asks_which(chat):
    from dataclasses import replace

    original = chat.client.app.state.inbox.classifier.classify

    def unsure(text, today=None):
        u = original(text, today=today)
        if text == "那个东西坏了又很吵":
            return replace(u, intent="repair", confidence=0.2,
                           alternatives=(("complaint", 0.18), ("other", 0.1)))
        return u

    chat.client.app.state.inbox.classifier.classify = unsure
    try:
        question = chat.say("r24", "那个东西坏了又很吵")
        assert "1. 报修" in question and "2. 投诉" in question
        assert chat.say("r24", "2") == msg("ask_address")
        assert "投诉" in chat.say("r24", "3号楼2单元501")
    finally:
        chat.client.app.state.inbox.classifier.classify = original


def test_unsure_without_alternatives_is_kept_for_staff_not_guessed(chat):
    from dataclasses import replace

    original = chat.client.app.state.inbox.classifier.classify

    def unsure(text, today=None):
        return replace(original(text, today=today), intent="complaint", confidence=0.15,
                       alternatives=())

    chat.client.app.state.inbox.classifier.classify = unsure
    try:
        assert chat.say("r25", "今天天气不错") == msg("fallback")
    finally:
        chat.client.app.state.inbox.classifier.classify = original
    assert chat.tickets() == []

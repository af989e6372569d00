"""Short references over the webhook: numbered lists that say what each ticket is about,
「接单 1」「办结 2 已修好」「撤销 1」「查询 2」, number tails (「接单 0002」), and a changed
list never making a number act on another ticket."""

from __future__ import annotations

from services.messages import msg


def _two_tickets(chat) -> tuple[str, str]:
    chat.say("r1", "3号楼2单元501，楼道灯坏了")
    chat.say("r2", "2号楼1单元101 下水道堵了，厨房的水下不去")
    first, second = chat.tickets()
    return first.number, second.number


def _line(listing: str, n: int) -> str:
    return next(line for line in listing.splitlines() if line.startswith(f"{n}. "))


def test_worker_list_is_numbered_and_says_what_each_is_about(chat):
    lamp, drain = _two_tickets(chat)
    listing = chat.say("worker-g1", "我的任务")
    assert lamp in _line(listing, 1) and "楼道灯「楼道灯坏了」" in _line(listing, 1)
    assert drain in _line(listing, 2) and "下水道堵了" in _line(listing, 2)
    assert listing.endswith(msg("worker.queue_footer"))
    assert chat.say("worker-g1", "接单 1") == msg("worker.accepted", no=lamp)
    assert chat.say("worker-g1", "办结 2 已疏通") == msg("worker.resolved", no=drain)
    tickets = {t.number: t for t in chat.tickets()}
    assert tickets[lamp].status == "accepted" and tickets[drain].status == "resolved"
    assert tickets[drain].resolution == "已疏通"


def test_bare_accept_lists_what_is_waiting(chat):
    lamp, drain = _two_tickets(chat)
    chat.say("worker-g1", f"接单 {lamp}")
    waiting = chat.say("worker-g1", "接单")
    assert waiting.startswith(msg("worker.takeable_header", count=1))
    assert drain in _line(waiting, 1) and lamp not in waiting
    assert chat.say("worker-g1", "接单 1") == msg("worker.accepted", no=drain)
    assert chat.say("worker-g1", "接单") == msg("worker.takeable_empty")


def test_number_tail_works_and_ambiguity_is_said(chat):
    lamp, drain = _two_tickets(chat)
    assert chat.say("worker-g1", f"接单 {drain[-4:]}") == msg("worker.accepted", no=drain)
    assert chat.say("worker-g1", "接单 9999") == msg("ticket_not_found", no="9999")


def test_a_changed_list_never_acts_on_another_ticket(chat):
    lamp, drain = _two_tickets(chat)
    chat.say("worker-g1", "我的任务")  # 1 = lamp, 2 = drain
    chat.say("r3", "1号楼1单元101 燃气泄漏了 快来人")  # urgent: first in a fresh list
    assert chat.say("r1", f"撤销 {lamp}") == msg("cancel_done", no=lamp)
    # 「1」 is still the lamp as shown, now cancelled: said, and nothing else is touched
    assert chat.say("worker-g1", "接单 1") == msg("worker.bad_state", no=lamp,
                                                  status=msg("status.cancelled"), action="接单")
    assert chat.say("worker-g1", "接单 3") == msg("shortref.out_of_range", n=3, count=2,
                                                  hint=msg("worker.list_hint"))
    assert all(t.status in ("assigned", "cancelled") for t in chat.tickets())
    fresh = chat.say("worker-g1", "我的任务")
    assert "燃气" in _line(fresh, 1)


def test_a_position_with_no_list_shown_asks_for_the_list(chat):
    _two_tickets(chat)
    assert chat.say("worker-g1", "接单 1") == msg("shortref.no_list",
                                                  hint=msg("worker.list_hint"))


def test_resident_list_is_numbered_and_cancel_and_query_by_position(chat):
    chat.say("r4", "3号楼2单元501，楼道灯坏了")
    chat.say("r4", "楼上天天半夜装修太吵了")
    lamp, noise = (t.number for t in chat.tickets())
    listing = chat.say("r4", "查询")
    assert "噪音「楼上天天半夜装修太吵了」" in _line(listing, 1) and noise in _line(listing, 1)
    assert "楼道灯「楼道灯坏了」" in _line(listing, 2)
    assert chat.say("r4", "查询 2").startswith(f"工单{lamp}")
    assert chat.say("r4", "撤销 1") == msg("cancel_done", no=noise)
    assert chat.say("r4", f"撤销 {lamp[-4:]}") == msg("cancel_done", no=lamp)
    assert {t.status for t in chat.tickets()} == {"cancelled"}


def test_bare_cancel_lists_the_open_tickets_numbered(chat):
    chat.say("r5", "3号楼2单元501，楼道灯坏了")
    chat.say("r5", "楼上天天半夜装修太吵了")
    lamp = chat.tickets()[0].number
    which = chat.say("r5", "撤销")
    assert which.startswith(msg("cancel_need_number")) and lamp in _line(which, 2)
    assert chat.say("r5", "撤销 2") == msg("cancel_done", no=lamp)


def test_a_workers_list_is_never_read_as_a_residents(chat):
    _two_tickets(chat)
    chat.say("worker-g1", "我的任务")
    assert chat.say("worker-g1", "撤销 1") == msg("shortref.no_list",
                                                  hint=msg("progress_list_hint"))
    assert {t.status for t in chat.tickets()} == {"assigned"}

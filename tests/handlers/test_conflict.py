"""Conflict of interest (回避): a complaint about grid staff never reaches the person it is
about — not when it is opened, not through a push, a queue or a transfer (over the webhook)."""

from __future__ import annotations

from services.messages import msg


def _texts(chat, openid: str) -> str:
    return "\n".join(p.text for p in chat.pushes(openid))


def test_complaint_naming_the_worker_goes_to_the_grid_leader(chat):
    reply = chat.say("r1", "3号楼2单元501 我要投诉网格员王芳，态度很差，说了几次都不管")
    ticket = chat.tickets()[0]
    assert ticket.kind == "complaint"
    assert "周杰" in reply and "王芳" not in reply
    assert chat.pushes("worker-g1") == []  # 王芳 gets nothing with the text
    assert "态度很差" in _texts(chat, "leader-g1")
    # not in her queue, and she may not act on it
    assert ticket.number not in chat.say("worker-g1", "我的任务")
    assert chat.say("worker-g1", f"接单 {ticket.number}") == msg("worker.not_allowed",
                                                                 no=ticket.number)
    assert ticket.number in chat.say("leader-g1", "我的任务")


def test_role_and_conduct_without_a_name_is_also_recused(chat):
    chat.say("r2", "2号楼1单元302 我要投诉，社区的工作人员态度恶劣，办事推三阻四")
    ticket = chat.tickets()[0]
    assert ticket.kind == "complaint" and ticket.assignee_id is not None
    assert chat.pushes("worker-g1") == []
    assert ticket.number in _texts(chat, "leader-g1")


def test_someone_elses_staff_is_no_conflict(chat):
    chat.say("r3", "3号楼2单元501 投诉物业工作人员态度太差，保洁不打扫")
    ticket = chat.tickets()[0]
    assert ticket.number in _texts(chat, "worker-g1")  # the grid worker handles it as usual


def test_transfer_never_hands_it_back_to_the_worker(chat):
    chat.say("r4", "3号楼2单元501 投诉网格员王芳推诿，一直不给办")
    no = chat.tickets()[0].number
    assert chat.say("leader-g1", f"转派 {no} 物业公司 先请物业核实").startswith("已转派")
    assert chat.say("dept-wy", f"转派 {no} G01 属网格事务")
    ticket = chat.tickets()[0]
    assert ticket.assignee_id is not None and chat.pushes("worker-g1") == []
    assert ticket.number in chat.say("leader-g1", "我的任务")


def test_a_complaint_about_the_leader_goes_to_the_community(chat):
    chat.say("r5", "3号楼2单元501 网格长周杰态度恶劣，还骂人")
    ticket = chat.tickets()[0]
    assert ticket.assignee_id is None
    assert chat.pushes("leader-g1") == []
    assert ticket.number in _texts(chat, "admin-1")

"""The console's queue (services.queue): what each member of staff sees, in which order,
filtered and searched, with SLA countdowns in colour."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session

from services import handover, questions, tickets
from services.errors import Invalid
from services.queue import (
    AMBER,
    GREEN,
    RED,
    QueueFilter,
    count_tickets,
    countdowns,
    grid_choices,
    list_tickets,
)
from storage.models import TicketStatus
from storage.times import as_utc
from tests.chat import START
from tests.staff_support import report, staff, street_fixture  # noqa: F401

S = TicketStatus


def numbers(rows) -> list[str]:
    return [r.ticket.number for r in rows]


def test_each_role_sees_its_own_part_of_the_street(street):
    with Session(street) as s:
        g1 = report(s, 2, "二号楼楼道灯坏了")  # 幸福新社区 G01
        g2 = report(s, 6, "六号楼水管漏水", category="水管")  # 幸福新社区 G02
        yg = report(s, 2, "阳光二号楼门禁坏了", community="阳光社区", category="门禁")
        seen = {openid: set(numbers(list_tickets(s, staff(s, openid), QueueFilter(), START)))
                for openid in ("worker-g1", "worker-g2", "leader-g1", "admin-1", "yg-admin",
                               "yg-worker-g1", "street-1", "dept-wy")}
        assert seen["worker-g1"] == {g1.number}
        assert seen["worker-g2"] == {g2.number}
        assert seen["leader-g1"] == {g1.number}
        assert seen["admin-1"] == {g1.number, g2.number}
        assert seen["yg-admin"] == {yg.number}
        assert seen["yg-worker-g1"] == {yg.number}
        assert seen["street-1"] == {g1.number, g2.number, yg.number}
        assert seen["dept-wy"] == set()  # nothing transferred to 物业公司 yet
        assert count_tickets(s, staff(s, "street-1"), QueueFilter(), START) == 3


def test_urgent_first_then_the_earliest_due(street):
    with Session(street) as s:
        late = report(s, 2, "楼道灯坏了", at=START)
        early = report(s, 3, "电梯坏了", category="电梯", at=START)  # 电梯: 8 h, not 24 h
        urgent = report(s, 4, "有人被困电梯", category="电梯", urgent=True,
                        at=START + timedelta(minutes=5))
        assert as_utc(early.resolve_due_at) < as_utc(late.resolve_due_at)
        rows = list_tickets(s, staff(s, "admin-1"), QueueFilter(), START + timedelta(minutes=6))
        assert numbers(rows) == [urgent.number, early.number, late.number]


def test_filters_narrow_the_queue(street):
    with Session(street) as s:
        admin = staff(s, "admin-1")
        light = report(s, 2, "楼道灯坏了")
        pipe = report(s, 6, "水管漏水", category="水管")
        noise = report(s, 7, "楼上装修太吵", kind="complaint", category="噪音")
        tickets.resolve(s, pipe, staff(s, "worker-g2"), "换了水管", START + timedelta(hours=1))
        now = START + timedelta(hours=2)

        def query(**kw):
            return set(numbers(list_tickets(s, admin, QueueFilter(**kw), now)))

        assert query() == {light.number, noise.number}  # open only, by default
        assert query(state="all") == {light.number, pipe.number, noise.number}
        assert query(state="done") == {pipe.number}
        assert query(state=S.RESOLVED) == {pipe.number}
        assert query(state="all", grid_id=pipe.grid_id) == {pipe.number, noise.number}
        assert query(kind="complaint") == {noise.number}
        assert query(category="楼道灯") == {light.number}
        with pytest.raises(Invalid):
            query(state="finished")
        with pytest.raises(Invalid):
            query(kind="praise")


def test_search_by_number_phone_tail_or_words(street):
    with Session(street) as s:
        admin = staff(s, "admin-1")
        light = report(s, 2, "三楼楼道灯坏了", phone="13700005678")
        pipe = report(s, 6, "厨房水管漏水", category="水管", phone="13900001111")

        def search(q):
            return set(numbers(list_tickets(s, admin, QueueFilter(q=q), START)))

        assert search(light.number) == {light.number}
        assert search(light.number.lower()) == {light.number}
        assert search(pipe.number[-4:]) == {pipe.number}  # the number's tail: 0002
        assert search("5678") == {light.number}  # the reporter's phone tail
        assert search("1111") == {pipe.number}
        assert search("水管") == {pipe.number}
        assert search("厨房 漏水") == {pipe.number}  # every word must match
        assert search("厨房 灯") == set()
        assert search("100%") == set()  # LIKE wildcards are searched as text
        assert search("楼道_") == set()


def test_countdowns_turn_amber_at_half_time_and_red_when_overdue(street):
    with Session(street) as s:
        t = report(s, 2)
        start = as_utc(t.created_at)
        response_due = as_utc(t.response_due_at)
        resolve_due = as_utc(t.resolve_due_at)
        response, resolve = countdowns(t, start + (response_due - start) * 0.4)
        assert (response.clock, response.colour, resolve.colour) == ("response", GREEN, GREEN)
        response, _ = countdowns(t, start + (response_due - start) * 0.6)
        assert response.colour == AMBER and response.seconds_left > 0
        late = response_due + timedelta(seconds=30)
        response, resolve = countdowns(t, late)
        assert (response.colour, response.seconds_left, response.overdue) == (RED, -30, True)
        row = list_tickets(s, staff(s, "admin-1"), QueueFilter(), late)[0]
        assert row.countdown == response and row.overdue
        # once answered, the response clock stops and the resolution clock is the one shown
        tickets.accept(s, t, staff(s, "worker-g1"), late)
        response, resolve = countdowns(t, late)
        assert response is None and resolve.seconds_left == int((resolve_due - late).total_seconds())
        assert list_tickets(s, staff(s, "admin-1"), QueueFilter(), late)[0].countdown == resolve


def test_a_paused_ticket_keeps_its_time_left(street):
    with Session(street) as s:
        worker = staff(s, "worker-g1")
        t = report(s, 2)
        asked = START + timedelta(minutes=10)
        questions.ask(s, t, worker, "是哪一层的灯？", asked)
        _, frozen = countdowns(t, asked)
        _, later = countdowns(t, asked + timedelta(days=3))
        assert later.paused and later.seconds_left == frozen.seconds_left > 0
        assert later.colour != RED


def test_overdue_shows_only_tickets_past_due(street):
    with Session(street) as s:
        admin = staff(s, "admin-1")
        light = report(s, 2)
        urgent = report(s, 3, "有人被困电梯", category="电梯", urgent=True)  # 10 min response
        now = START + timedelta(minutes=20)
        assert numbers(list_tickets(s, admin, QueueFilter(overdue=True), now)) == [urgent.number]
        tickets.accept(s, urgent, staff(s, "worker-g1"), now)
        assert numbers(list_tickets(s, admin, QueueFilter(overdue=True), now)) == []
        day_after = as_utc(light.resolve_due_at) + timedelta(minutes=1)
        assert set(numbers(list_tickets(s, admin, QueueFilter(overdue=True), day_after))) == {
            light.number, urgent.number}


def test_a_recused_worker_never_sees_the_complaint_about_them(street):
    with Session(street) as s:
        about = report(s, 2, "网格员王芳态度很差，推诿不办", kind="complaint", category="服务态度")
        assert about.assignee_id != staff(s, "worker-g1").id
        assert list_tickets(s, staff(s, "worker-g1"), QueueFilter(state="all"), START) == []
        assert numbers(list_tickets(s, staff(s, "leader-g1"), QueueFilter(), START)) == [about.number]


def test_pages(street):
    with Session(street) as s:
        made = [report(s, 2, f"楼道灯坏了{i}", at=START + timedelta(minutes=i)) for i in range(5)]
        admin = staff(s, "admin-1")
        first = list_tickets(s, admin, QueueFilter(), START, limit=2)
        rest = list_tickets(s, admin, QueueFilter(), START, limit=10, offset=2)
        assert numbers(first) + numbers(rest) == [t.number for t in made]
        with pytest.raises(Invalid):
            list_tickets(s, admin, QueueFilter(), START, offset=-1)


def test_the_grid_filter_offers_the_grids_in_scope(street):
    with Session(street) as s:
        assert [label for _, label in grid_choices(s, staff(s, "admin-1"))] == [
            "第一网格", "第二网格", "第三网格"]
        assert [label for _, label in grid_choices(s, staff(s, "worker-g2"))] == ["第二网格"]
        labels = [label for _, label in grid_choices(s, staff(s, "street-1"))]
        assert "阳光社区 · 阳光一网格" in labels and "幸福新社区 · 第一网格" in labels


def test_a_transferred_ticket_names_its_department(street):
    with Session(street) as s:
        t = report(s, 2)
        handover.transfer(s, t, staff(s, "worker-g1"), handover.find_target(s, "物业公司"),
                          "公共照明", START)
        row = list_tickets(s, staff(s, "dept-wy"), QueueFilter(), START)[0]
        assert (row.ticket.number, row.department_name, row.assignee_name) == (t.number,
                                                                              "物业公司", "")

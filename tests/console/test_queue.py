"""The queue page over HTTP (GET /console/, /console/tickets): scope, filters, search,
countdowns in colour, the htmx table, and who gets no queue."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlmodel import Session

from services import tickets
from tests.chat import START
from tests.console.conftest import login
from tests.staff_support import report, staff, street_fixture  # noqa: F401

ROW_NUMBER = re.compile(r'<a href="/console/tickets/(GD\d{8}-\d{4})">')


def numbers(page) -> list[str]:
    assert page.status_code == 200, page.text
    return ROW_NUMBER.findall(page.text)


def seeded(street) -> dict[str, str]:
    """Tickets: light (G01), pipe (G02, urgent), noise (G02 complaint), yg (阳光社区)."""
    with Session(street) as s:
        made = {
            "light": report(s, 2, "二号楼楼道灯坏了", phone="13700005678"),
            "pipe": report(s, 6, "六号楼水管爆了", category="水管", urgent=True),
            "noise": report(s, 7, "楼上装修太吵", kind="complaint", category="噪音"),
            "yg": report(s, 2, "阳光门禁坏了", community="阳光社区", category="门禁"),
        }
        s.commit()
        return {k: t.number for k, t in made.items()}


def test_the_queue_shows_the_tickets_in_scope_urgent_first(street, console):
    n = seeded(street)
    login(console, "admin-1")
    page = console.get("/console/")
    assert numbers(page) == [n["pipe"], n["light"], n["noise"]]  # urgent first; no 阳光社区
    assert "共 3 张工单" in page.text
    assert 'class="cd cd-green"' in page.text and "响应<b>剩" in page.text
    assert "紧急" in page.text and "/console/static/countdown.js" in page.text
    login(console, "yg-admin")
    assert numbers(console.get("/console/")) == [n["yg"]]
    login(console, "street-1")
    assert set(numbers(console.get("/console/"))) == set(n.values())
    assert "阳光社区 · 阳光一网格" in console.get("/console/").text  # grids named with community


def test_filters_and_search_in_the_query_string(street, console):
    n = seeded(street)
    with Session(street) as s:
        grid_g2 = staff(s, "worker-g2").grid_id
    login(console, "admin-1")

    def query(**params) -> set[str]:
        return set(numbers(console.get("/console/tickets", params=params)))

    assert query(grid=grid_g2) == {n["pipe"], n["noise"]}
    assert query(kind="complaint") == {n["noise"]}
    assert query(category="水管") == {n["pipe"]}
    assert query(q="5678") == {n["light"]}  # the reporter's phone tail
    assert query(q=n["noise"]) == {n["noise"]}
    assert query(q="装修") == {n["noise"]}
    assert query(overdue="1") == set()
    assert query(state="done") == set()
    bad = console.get("/console/tickets", params={"state": "nonsense"})
    assert bad.status_code == 422 and "填写的内容有误" in bad.text


def test_overdue_tickets_turn_red(street, console, clock):
    n = seeded(street)
    clock.advance(20 * 60)  # the urgent ticket's 10-minute response is overdue
    login(console, "admin-1")
    page = console.get("/console/tickets", params={"overdue": "1"})
    assert numbers(page) == [n["pipe"]]
    assert 'class="cd cd-red"' in page.text and "响应<b>超时10分</b>" in page.text


def test_htmx_gets_only_the_table(street, console):
    n = seeded(street)
    login(console, "admin-1")
    page = console.get("/console/tickets", params={"q": "水管"},
                       headers={"HX-Request": "true", "HX-Target": "queue"})
    assert numbers(page) == [n["pipe"]]
    assert "<html" not in page.text and "<table" in page.text


def test_a_closed_ticket_is_found_under_done(street, console):
    n = seeded(street)
    with Session(street) as s:
        ticket = tickets.repo.by_number(s, n["light"])
        tickets.resolve(s, ticket, staff(s, "worker-g1"), "换了灯泡", START + timedelta(hours=1))
        s.commit()
    login(console, "worker-g1")
    assert numbers(console.get("/console/")) == []
    assert numbers(console.get("/console/tickets", params={"state": "done"})) == [n["light"]]


def test_station_staff_have_no_queue(street, console):
    from tests.services_support import load_demo_services

    seeded(street)
    load_demo_services(street)
    login(console, "station-1")
    start = console.get("/console/")
    assert start.status_code == 200 and "工单号" not in start.text
    assert console.get("/console/tickets").status_code == 403


def test_the_queue_needs_a_login(street, console):
    page = console.get("/console/tickets", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/console/login")

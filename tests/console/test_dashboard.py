"""数据看板 over HTTP: the figures of `gridbot stats` in the page's table and in the JSON,
charts drawn from embedded JSON with the vendored Chart.js, scope per role, 403 without the
capability, 422 for a bad period."""

from __future__ import annotations

import json
import re

import pytest
from sqlmodel import Session, select

from storage.models import Community
from storage.stats import compute, period
from tests.chat import START
from tests.console.board_data import seed_street
from tests.console.conftest import login

DATA = re.compile(r'<script type="application/json" id="dashboard-data">(.*?)</script>', re.S)


@pytest.fixture
def street(community):
    """The demo 街道 with tickets and a street admin (``tests.console.board_data``)."""
    return seed_street(community)


def figures(page: str) -> dict[str, list[str]]:
    """The rows of the page's #figures table: name → the cell texts."""
    table = page.split('<table id="figures">', 1)[1].split("</table>", 1)[0]
    out = {}
    for row in re.findall(r"<tr class=\"[a-z]+\" data-scope=\"[a-z]+\"[^>]*>(.*?)</tr>", table, re.S):
        cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>",
                                                                        row, re.S)]
        out[cells[0]] = cells[1:]
    return out


def expected(engine, community: str | None = None):
    start, end = period(None, None, START, "Asia/Shanghai")
    with Session(engine) as s:
        return compute(s, start, end, START, community)


def test_community_staff_see_the_stats_of_their_community(console, street):
    login(console, "admin-1")
    page = console.get("/console/dashboard")
    assert page.status_code == 200, page.text
    rows = figures(page.text)
    stats = expected(street, "幸福新社区")
    assert list(rows) == [s.name for s in stats]  # 幸福新社区, then its grids; no 阳光社区
    for s in stats:
        assert rows[s.name][0] == str(s.tickets)
        assert rows[s.name][2:4] == [str(s.open), str(s.overdue)]
    assert rows["幸福新社区"][0] == "4" and rows["幸福新社区"][3] == "1"
    assert rows["G01 第一网格"][6] == "50%"  # 按时响应: 1 of 2
    assert "GD20261120-0003" in page.text and "GD20261120-0005" not in page.text  # overdue list
    # charts: the vendored Chart.js, never a CDN, drawing the embedded JSON
    assert '<script src="/console/static/chart.umd.min.js"' in page.text
    assert "cdn" not in page.text.lower()
    charts = json.loads(DATA.search(page.text).group(1))
    assert sum(sum(d["data"]) for d in charts["per_day"]) == 4
    assert charts["rows"] == ["G01 第一网格", "G02 第二网格", "G03 第三网格"]


def test_the_json_has_the_rows_of_gridbot_stats(console, street):
    login(console, "street-1")
    data = console.get("/console/dashboard.json").json()
    assert data["scopes"] == [s.row() for s in expected(street)]
    assert data["period"] == {"from": "2026-10-24", "to": "2026-11-22", "timezone": "Asia/Shanghai"}
    assert [o["number"] for o in data["overdue"]] == ["GD20261120-0005", "GD20261120-0003"]


def test_a_street_admin_sees_every_community_and_may_pick_one(console, street):
    login(console, "street-1")
    page = console.get("/console/dashboard").text
    rows = figures(page)
    assert "幸福新社区" in rows and "阳光社区" in rows and rows["合计"][0] == "5"
    charts = json.loads(DATA.search(page).group(1))
    assert "幸福新社区" in charts["rows"] and "阳光社区" in charts["rows"]  # per community
    with Session(street) as s:
        yg = s.exec(select(Community.id).where(Community.name == "阳光社区")).one()
    only = figures(console.get("/console/dashboard", params={"community": yg}).text)
    assert "阳光社区" in only and "幸福新社区" not in only


def test_a_grid_leader_sees_their_grid(console, street):
    login(console, "leader-g1")
    rows = figures(console.get("/console/dashboard").text)
    assert list(rows) == ["G01 第一网格"] and rows["G01 第一网格"][0] == "3"


def test_grid_workers_get_403(console, street):
    login(console, "worker-g1")
    assert console.get("/console/dashboard").status_code == 403
    assert console.get("/console/dashboard.json").status_code == 403


def test_periods(console, street):
    login(console, "admin-1")
    week = console.get("/console/dashboard", params={"days": 7})
    assert week.status_code == 200 and "2026-11-16 至 2026-11-22" in week.text
    assert figures(week.text)["幸福新社区"][0] == "3"  # the G02 ticket is 7 days old
    rng = console.get("/console/dashboard", params={"from": "2026-11-20", "to": "2026-11-20"})
    assert figures(rng.text)["幸福新社区"][0] == "3"
    assert console.get("/console/dashboard", params={"from": "2026-11-21",
                                                     "to": "2026-11-01"}).status_code == 422
    assert console.get("/console/dashboard", params={"from": "11/01"}).status_code == 422
    assert console.get("/console/dashboard", params={"days": 9}).status_code == 422
    bad = console.get("/console/dashboard", params={"days": "abc"})
    assert bad.status_code == 422 and "近7天" in bad.text  # a page, not FastAPI's JSON


def test_not_logged_in_goes_to_the_login(console, street):
    response = console.get("/console/dashboard", follow_redirects=False)
    assert response.status_code == 303 and "/console/login" in response.headers["location"]


def test_chart_js_is_served_from_the_package(console):
    script = console.get("/console/static/chart.umd.min.js")
    assert script.status_code == 200 and "Chart.js v4" in script.text[:200]
    assert "MIT" in console.get("/console/static/chart.js.LICENSE.txt").text
    assert "dashboard-data" in console.get("/console/static/dashboard.js").text


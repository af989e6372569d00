"""services.dashboard: the figures of `gridbot stats`, per staff scope, and what the charts draw."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from sqlmodel import Session
from typer.testing import CliRunner

from services import dashboard
from services.errors import NotAllowed
from storage.stats import compute, period
from tests.services.board_data import NOW, TZ, at, seed

NOVEMBER = (date(2026, 11, 1), date(2026, 11, 30))


@pytest.fixture
def board(session: Session):
    return seed(session)


def rows(stats) -> list[dict]:
    return [s.row() for s in stats]


def test_street_admin_sees_exactly_what_gridbot_stats_computes(session, board):
    start, end = period(*NOVEMBER, NOW, TZ)
    expected = compute(session, start, end, NOW)
    board_ = dashboard.for_staff(session, board.street_admin, NOW, TZ, first=NOVEMBER[0],
                                 last=NOVEMBER[1])
    assert rows(board_.scopes) == rows(expected)
    assert [s.name for s in board_.communities] == ["幸福新社区", "阳光社区"]  # per community
    assert board_.total.tickets == 8 and board_.total.overdue == 2


def test_the_dashboard_equals_the_stats_cli_csv(session, board, postgres_url, monkeypatch):
    from bot import cli_ops

    monkeypatch.setenv("GRIDBOT_DATABASE_URL", postgres_url)
    monkeypatch.setattr(cli_ops, "clock", lambda: NOW)
    result = CliRunner().invoke(cli_ops.ops_app, ["stats", "--from", "2026-11-01", "--to",
                                                  "2026-11-30", "--csv"])
    assert result.exit_code == 0, result.output
    printed = list(csv.DictReader(io.StringIO(result.output)))
    shown = dashboard.for_staff(session, board.street_admin, NOW, TZ, first=NOVEMBER[0],
                                last=NOVEMBER[1])
    assert [{k: "" if v is None else str(v) for k, v in s.row().items()} for s in shown.scopes] \
        == printed


def test_community_staff_see_their_community_and_its_grids(session, board):
    start, end = period(*NOVEMBER, NOW, TZ)
    shown = dashboard.for_staff(session, board.admin, NOW, TZ, first=NOVEMBER[0], last=NOVEMBER[1])
    assert rows(shown.scopes) == rows(compute(session, start, end, NOW, "幸福新社区"))
    assert [o.number for o in shown.overdue] == ["GD-0006", "GD-0004"]  # not 阳光社区's GD-0009
    with pytest.raises(NotAllowed):
        dashboard.for_staff(session, board.admin, NOW, TZ, community_id=board.c2.id)


def test_a_grid_leader_sees_their_grid_only_never_the_community_total(session, board):
    start, end = period(*NOVEMBER, NOW, TZ)
    shown = dashboard.for_staff(session, board.leader, NOW, TZ, first=NOVEMBER[0],
                                last=NOVEMBER[1])
    g1 = next(s for s in compute(session, start, end, NOW) if s.name == "G01 第一网格"
              and s.community == "幸福新社区")
    assert rows(shown.scopes) == [g1.row()]
    assert shown.communities == [] and shown.total.tickets == 5


def test_grid_workers_have_no_dashboard(session, board):
    with pytest.raises(NotAllowed):
        dashboard.for_staff(session, board.worker, NOW, TZ)


def test_a_street_admin_narrows_to_one_community(session, board):
    shown = dashboard.for_staff(session, board.street_admin, NOW, TZ, first=NOVEMBER[0],
                                last=NOVEMBER[1], community_id=board.c2.id)
    assert [s.name for s in shown.scopes] == ["阳光社区", "G01 阳光一网格"]
    assert [o.number for o in shown.overdue] == ["GD-0009"]


def test_days_are_local_and_the_series_add_up(session, board):
    shown = dashboard.for_staff(session, board.street_admin, NOW, TZ, first=NOVEMBER[0],
                                last=NOVEMBER[1])
    assert shown.days[0] == date(2026, 11, 1) and shown.days[-1] == date(2026, 11, 30)
    assert len(shown.days) == 30
    assert {k: sum(v) for k, v in shown.per_day.items()} == shown.total.by_kind == {
        "repair": 5, "complaint": 3}
    # GD-0002 was created 00:30 on 11-03 in Shanghai (16:30 UTC on 11-02): a 11-03 ticket
    assert shown.per_day["repair"][shown.days.index(date(2026, 11, 3))] == 1
    assert shown.per_day["repair"][shown.days.index(date(2026, 11, 2))] == 1


def test_the_default_period_is_the_last_30_local_days(session, board):
    shown = dashboard.for_staff(session, board.street_admin, NOW, TZ)
    assert (shown.first, shown.last) == (date(2026, 10, 22), date(2026, 11, 20))
    week = dashboard.for_staff(session, board.street_admin, NOW, TZ, days=7)
    assert (week.first, week.last, week.total.tickets) == (date(2026, 11, 14),
                                                           date(2026, 11, 20), 1)


def test_top_categories_per_grid(session, board):
    shown = dashboard.for_staff(session, board.street_admin, NOW, TZ, first=NOVEMBER[0],
                                last=NOVEMBER[1])
    top = dict(shown.top_categories)
    assert top["幸福新社区 G01 第一网格"] == [("楼道灯", 2), ("其他", 1), ("噪音", 1), ("漏水", 1)]
    assert top["阳光社区 G01 阳光一网格"] == [("噪音", 1)]


def test_the_overdue_list_includes_old_open_tickets_most_overdue_first(session, board):
    shown = dashboard.for_staff(session, board.street_admin, NOW, TZ, first=NOVEMBER[0],
                                last=NOVEMBER[1])
    assert [o.number for o in shown.overdue] == ["GD-0006", "GD-0004", "GD-0009"]
    old = shown.overdue[0]
    assert old.due_at == at("2026-10-23 09:00")  # resolution due 3 days after creation
    assert old.late_min == int((NOW - at("2026-10-23 09:00")).total_seconds() // 60)
    assert shown.overdue[1].due_at == at("2026-11-05 10:00")  # response due after 1 h
    assert shown.total.overdue == 2  # the figure counts the period's tickets, as the CLI


def test_first_after_last_is_refused(session, board):
    with pytest.raises(ValueError):
        dashboard.for_staff(session, board.street_admin, NOW, TZ, first=date(2026, 11, 5),
                            last=date(2026, 11, 1))

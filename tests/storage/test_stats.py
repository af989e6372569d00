"""`gridbot stats` figures against a hand-counted fixture (see the comments per ticket)."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import pytest
from sqlmodel import Session
from typer.testing import CliRunner

from bot.cli_ops import ops_app
from storage.models import Grid, Ticket
from storage.stats import compute, nearest_rank
from storage.times import SHANGHAI, as_utc
from tests.org_support import org


def at(text: str) -> datetime:
    return as_utc(datetime.fromisoformat(text).replace(tzinfo=SHANGHAI))


NOW = at("2026-11-20 12:00")


def make(s: Session, grid: Grid, n: int, kind: str, category: str | None, created: str,
         status: str, response_min: float | None = None, resolve_min: float | None = None,
         response_met: bool | None = None, resolve_met: bool | None = None,
         rating: int | None = None, auto_closed: bool = False,
         response_due: str | None = None, resolve_due: str | None = None) -> None:
    c = at(created)
    s.add(Ticket(
        number=f"GD-{n}", kind=kind, category=category, description="x", grid_id=grid.id,
        status=status, created_at=c,
        first_response_at=c + timedelta(minutes=response_min) if response_min is not None else None,
        responded_at=c + timedelta(minutes=response_min) if response_min is not None else None,
        resolved_at=c + timedelta(minutes=resolve_min) if resolve_min is not None else None,
        response_met=response_met, resolve_met=resolve_met, rating=rating, auto_closed=auto_closed,
        response_due_at=at(response_due) if response_due else c + timedelta(hours=1),
        resolve_due_at=at(resolve_due) if resolve_due else c + timedelta(days=3)))


@pytest.fixture
def fixture_db(session: Session) -> Session:
    town = org(session, {"幸福新社区": {"G01": [], "G02": []}})
    g1, g2 = town.grid("G01"), town.grid("G02")
    # G01
    make(session, g1, 1, "repair", "楼道灯", "2026-11-02 09:00", "closed", 10, 120, True, True, 5)
    make(session, g1, 2, "repair", "漏水", "2026-11-03 09:00", "closed", 30, 600, True, False, 2)
    make(session, g1, 3, "complaint", "噪音", "2026-11-04 09:00", "closed", 90, 1440, False, False,
         auto_closed=True)
    make(session, g1, 4, "repair", "楼道灯", "2026-11-05 09:00", "assigned")  # overdue: no response
    make(session, g1, 5, "complaint", None, "2026-11-06 09:00", "cancelled")
    # G02
    make(session, g2, 6, "repair", "电梯", "2026-11-10 09:00", "closed", 20, 200, True, True, 4)
    make(session, g2, 7, "repair", "电梯", "2026-11-19 09:00", "accepted", 5, None, True,
         resolve_due="2027-01-01 00:00")
    # outside the period
    make(session, g1, 8, "repair", "漏水", "2026-10-31 23:59", "closed", 1, 2, True, True, 5)
    make(session, g2, 9, "repair", "漏水", "2026-12-01 00:00", "closed", 1, 2, True, True, 5)
    session.commit()
    return session


def test_nearest_rank():
    assert nearest_rank([], 90) is None
    assert nearest_rank([3, 1, 2], 90) == 3
    assert nearest_rank(list(range(1, 11)), 90) == 9


def test_stats_match_the_hand_count(fixture_db):
    rows = compute(fixture_db, at("2026-11-01 00:00"), at("2026-12-01 00:00"), NOW)
    comm, g1, g2 = rows
    assert (comm.scope, comm.name, g1.name, g2.name) == ("community", "幸福新社区", "G01 第一网格",
                                                         "G02 第二网格")
    assert g1.tickets == 5 and g1.by_kind == {"repair": 3, "complaint": 2}
    assert g1.by_category == {"楼道灯": 2, "漏水": 1, "噪音": 1, "其他": 1}
    assert (g1.response_median_min, g1.response_p90_min) == (30, 90)
    assert (g1.resolve_median_min, g1.resolve_p90_min) == (600, 1440)
    assert (g1.response_met_pct, g1.resolve_met_pct) == (66.7, 33.3)
    assert (g1.rated, g1.avg_score, g1.default_satisfied, g1.satisfied_pct) == (2, 3.5, 1, 66.7)
    assert (g1.open, g1.overdue) == (1, 1)

    assert (g2.tickets, g2.response_median_min, g2.response_p90_min) == (2, 12.5, 20)
    assert (g2.resolve_median_min, g2.response_met_pct, g2.resolve_met_pct) == (200, 100.0, 100.0)
    assert (g2.rated, g2.avg_score, g2.satisfied_pct, g2.open, g2.overdue) == (1, 4, 100.0, 1, 0)

    assert comm.tickets == 7 and comm.by_kind == {"repair": 5, "complaint": 2}
    assert (comm.response_median_min, comm.response_p90_min) == (20, 90)
    assert (comm.resolve_median_min, comm.resolve_p90_min) == (400, 1440)
    assert (comm.response_met_pct, comm.resolve_met_pct) == (80.0, 50.0)
    assert (comm.rated, comm.avg_score, comm.default_satisfied, comm.satisfied_pct) == (3, 3.67, 1, 75.0)
    assert (comm.open, comm.overdue) == (2, 1)


def test_stats_cli_prints_csv_and_text(fixture_db, postgres_url, monkeypatch):
    monkeypatch.setenv("GRIDBOT_DATABASE_URL", postgres_url)
    runner = CliRunner()
    result = runner.invoke(ops_app, ["stats", "--from", "2026-11-01", "--to", "2026-11-30", "--csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert [(r["scope"], r["tickets"], r["response_met_pct"]) for r in rows] == [
        ("community", "7", "80.0"), ("grid", "5", "66.7"), ("grid", "2", "100.0")]
    assert rows[1]["by_category"] == "其他:1;噪音:1;楼道灯:2;漏水:1"
    assert rows[1]["by_status"] == "assigned:1;cancelled:1;closed:3"
    text = runner.invoke(ops_app, ["stats", "--from", "2026-11-01", "--to", "2026-11-30"])
    assert "幸福新社区：工单 7 件，在办 2 件，超时 1 件" in text.output
    assert "类型：报修 5、投诉 2" in text.output
    assert "响应用时：中位 20分钟，P90 1.5小时；办结用时：中位 6.7小时，P90 24小时" in text.output
    assert "满意率 75%（评价 3 件，均分 3.7分，默认满意 1 件）" in text.output
    bad = runner.invoke(ops_app, ["stats", "--from", "2026-13-01"])
    assert bad.exit_code != 0 and "YYYY-MM-DD" in bad.output

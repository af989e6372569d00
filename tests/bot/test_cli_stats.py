"""`gridbot stats`: the default period is counted in days of the configured time zone
(GRIDBOT_TIMEZONE), not the host's; figures are written for people."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest
from sqlmodel import Session
from typer.testing import CliRunner

import bot.cli_ops
from bot.cli import app
from storage.models import Grid, Ticket
from storage.times import SHANGHAI, FrozenClock, as_utc
from tests.org_support import org

NOW = as_utc(datetime(2026, 11, 22, 1, 0, tzinfo=SHANGHAI))  # 2026-11-21 17:00 UTC


@pytest.fixture
def utc_host(monkeypatch, postgres_url, redis_url):
    """A host whose clock zone is UTC, at NOW (gridbot's clock frozen)."""
    monkeypatch.setenv("GRIDBOT_DATABASE_URL", postgres_url)
    monkeypatch.setenv("GRIDBOT_REDIS_URL", redis_url)
    monkeypatch.delenv("GRIDBOT_TIMEZONE", raising=False)
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.setattr(bot.cli_ops, "clock", FrozenClock(NOW))
    yield
    monkeypatch.undo()
    time.tzset()


def ticket(s: Session, grid: Grid, no: str, kind: str, created_local: str,
           response_min: float | None = None, status: str = "accepted") -> None:
    created = as_utc(datetime.fromisoformat(created_local).replace(tzinfo=SHANGHAI))
    s.add(Ticket(number=no, kind=kind, category="漏水", description="x", grid_id=grid.id,
                 status=status, created_at=created,
                 first_response_at=None if response_min is None
                 else created + timedelta(minutes=response_min),
                 response_due_at=created + timedelta(days=9),
                 resolve_due_at=created + timedelta(days=9)))


@pytest.fixture
def grid(session: Session) -> Grid:
    g = org(session, {"幸福新社区": {"G01": []}}).grid("G01")
    session.commit()
    return g


def test_default_period_is_the_last_30_days_of_shanghai_not_of_the_host(utc_host, session, grid):
    ticket(session, grid, "1", "repair", "2026-11-22 00:30")  # today in Shanghai, yesterday in UTC
    ticket(session, grid, "2", "repair", "2026-11-21 23:00")
    ticket(session, grid, "3", "complaint", "2026-10-24 00:00")  # first day of the 30
    ticket(session, grid, "4", "complaint", "2026-10-23 23:59")  # the day before: left out
    session.commit()
    result = CliRunner().invoke(app, ["stats"])
    assert result.exit_code == 0, result.output
    assert "统计期间 2026-10-24 至 2026-11-22（Asia/Shanghai）" in result.output
    assert "幸福新社区：工单 3 件" in result.output


def test_the_configured_time_zone_decides_the_days(utc_host, session, grid, monkeypatch):
    monkeypatch.setenv("GRIDBOT_TIMEZONE", "UTC")  # a deployment that counts in UTC days
    ticket(session, grid, "1", "repair", "2026-11-22 00:30")  # 2026-11-21 16:30 UTC
    session.commit()
    result = CliRunner().invoke(app, ["stats", "--from", "2026-11-22", "--to", "2026-11-22"])
    assert result.exit_code == 0 and "工单 0 件" in result.output


def test_figures_are_rounded_with_units_and_kinds_in_chinese(utc_host, session, grid):
    ticket(session, grid, "1", "repair", "2026-11-20 09:00", response_min=1.2)
    ticket(session, grid, "2", "complaint", "2026-11-20 10:00", response_min=1.4)
    ticket(session, grid, "3", "repair", "2026-11-20 11:00", response_min=150)
    session.commit()
    out = CliRunner().invoke(app, ["stats"]).output
    assert "类型：报修 2、投诉 1" in out and "状态：网格员已接单，处理中 3" in out
    assert "响应用时：中位 1.4分钟，P90 2.5小时" in out
    assert "repair" not in out and "complaint" not in out and "accepted" not in out


def test_median_of_two_is_shown_with_one_decimal(utc_host, session, grid):
    ticket(session, grid, "1", "repair", "2026-11-20 09:00", response_min=1.2)
    ticket(session, grid, "2", "repair", "2026-11-20 10:00", response_min=1.4)
    session.commit()
    out = CliRunner().invoke(app, ["stats"]).output
    assert "中位 1.3分钟" in out and "1.2999" not in out
    csv_out = CliRunner().invoke(app, ["stats", "--csv"]).output
    assert ",1.3,1.4," in csv_out  # CSV: plain minutes


def test_bad_dates_are_usage_errors_in_chinese(utc_host, grid):
    bad = CliRunner().invoke(app, ["stats", "--from", "2026-13-01"])
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output and "2026-13-01" in bad.output
    reversed_ = CliRunner().invoke(app, ["stats", "--from", "2026-11-10", "--to", "2026-11-01"])
    assert reversed_.exit_code == 2 and "晚于" in reversed_.output

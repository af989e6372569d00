"""The demo's past (bot/demo_history.py): `gridbot serve --demo` starts with 30 days of tickets
made through the business layer, so the dashboard's figures are worth looking at, nothing
waits to be pushed, a second start adds nothing, and the same day gives the same history."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from bot.demo import seed
from bot.demo_history import CHANNEL, DAYS, WORDS_FILE, generate, words
from services import dashboard, exports
from storage.db import create_schema, make_engine
from storage.lending import Loan, LoanStatus
from storage.models import (
    Community,
    InboundMessage,
    Notice,
    Outbox,
    OutboxStatus,
    Resident,
    Ticket,
    TicketEvent,
    TicketStatus,
    TicketTimer,
)
from storage.stats import period
from storage.times import as_utc, local
from tests.conftest import _truncate

NOW = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)  # a Sunday, 11:00 in Shanghai
TZ = "Asia/Shanghai"


@pytest.fixture(scope="module")
def history(engine: Engine) -> Iterator[tuple[Engine, object]]:
    """The three demo communities with their history up to NOW (made once for the module)."""
    _truncate(engine)
    seed(engine)
    report = generate(engine, NOW, TZ)
    yield engine, report
    _truncate(engine)


def _board(engine: Engine) -> dashboard.Dashboard:
    with Session(engine) as s:
        start, end = period(None, None, NOW, TZ)
        return dashboard.build(s, start, end, NOW, TZ)


def test_the_dashboard_has_a_month_worth_showing(history):
    engine, report = history
    assert report is not None
    print(f"demo history: {report}")  # the time it took is in the report (seconds)
    assert 150 <= report.tickets <= 250
    board = _board(engine)
    total = board.total
    assert total.tickets == report.tickets  # every ticket has a grid, all within the period
    per_day = [sum(counts[i] for counts in board.per_day.values()) for i in range(DAYS)]
    assert len(per_day) == DAYS and sum(1 for n in per_day if n) >= DAYS - 4, per_day
    assert set(board.per_day) == {"repair", "complaint"}
    assert 0 < total.response_met_pct < 100 and 0 < total.resolve_met_pct < 100
    assert 3 < total.avg_score < 5
    assert total.default_satisfied > 0 and total.rated > 50
    assert total.overdue > 0 and board.overdue, "some tickets are left overdue"
    assert 0 < total.open < total.tickets // 5
    assert total.response_median_min is not None and total.resolve_median_min is not None
    assert {c.name for c in board.communities} == {"幸福新社区", "阳光社区", "和谐社区"}
    assert all(c.tickets > 10 for c in board.communities)
    top = sorted(total.by_category.items(), key=lambda kv: -kv[1])[:5]
    assert {"暖气", "楼道灯", "漏水"} & {name for name, _ in top}, top
    assert len(total.by_category) >= 12


def test_tickets_lived_their_lives_through_the_business_layer(history):
    engine, _ = history
    with Session(engine) as s:
        tickets = s.exec(select(Ticket)).all()
        kinds = set(s.exec(select(TicketEvent.kind).distinct()))
        last_event = as_utc(s.exec(select(func.max(TicketEvent.at))).one())
        descriptions = {t.description for t in tickets}
        residents = s.exec(select(Resident)).all()
    assert {"submitted", "assigned", "accepted", "resolved", "closed", "reopened", "rejected",
            "cancelled", "supervise", "waiting_resident", "escalated"} <= kinds, kinds
    assert last_event <= NOW
    statuses = {t.status for t in tickets}
    assert TicketStatus.CLOSED in statuses and statuses & set(TicketStatus.OPEN)
    reopened = [t for t in tickets if t.reopened_count]
    assert reopened and all(t.rating is None or t.rating >= 3 for t in reopened
                            if t.status == TicketStatus.CLOSED)
    ratings = [t.rating for t in tickets if t.rating is not None]
    assert sum(1 for r in ratings if r >= 4) / len(ratings) > 0.7
    assert any(t.auto_closed for t in tickets)
    assert any(t.department_id for t in tickets)  # 转派 to 物业公司
    assert any(t.escalation_level for t in tickets)  # 督办
    assert len(descriptions) > 0.6 * len(tickets)  # varied, not one sentence again and again
    assert all(r.openid.startswith("demo-") for r in residents)


def test_history_pushes_are_delivered_and_no_timer_is_overdue_at_start(history):
    engine, report = history
    with Session(engine) as s:
        statuses = dict(s.exec(select(Outbox.status, func.count()).group_by(Outbox.status)).all())
        channels = set(s.exec(select(Outbox.channel).distinct()))
        newest = as_utc(s.exec(select(func.max(Outbox.created_at))).one())
        due_now = s.exec(select(func.count()).select_from(TicketTimer)
                         .where(col(TicketTimer.due_at) <= NOW)).one()
    assert statuses == {OutboxStatus.SENT: report.pushes} and report.pushes > 500
    assert channels == {CHANNEL}
    assert newest <= NOW
    assert due_now == 0  # the worker's first sweep finds nothing of the past to fire


def test_tools_were_lent_and_brought_back_in_time(history):
    engine, _ = history
    with Session(engine) as s:
        loans = s.exec(select(Loan)).all()
    assert len(loans) >= 8
    assert {loan.status for loan in loans} <= {LoanStatus.RETURNED, LoanStatus.OUT}
    assert sum(1 for loan in loans if loan.status == LoanStatus.RETURNED) >= len(loans) - 3
    assert all(as_utc(loan.due_at) > NOW for loan in loans if loan.status == LoanStatus.OUT)
    assert all(as_utc(loan.returned_at) <= as_utc(loan.due_at) for loan in loans
               if loan.returned_at is not None)


def test_kept_messages_and_a_notice(history):
    engine, _ = history
    with Session(engine) as s:
        kept = s.exec(select(InboundMessage).where(InboundMessage.needs_staff)).all()
        notice = s.exec(select(Notice)).one()
    assert len(kept) == 3
    assert sum(1 for m in kept if m.handled_at is None) == 2
    assert [m.staff_reply for m in kept if m.handled_at is not None][0].startswith("您好")
    assert notice.title == "停水通知" and notice.recipients > 0
    assert local(notice.created_at, TZ).date() < local(NOW, TZ).date()


def test_the_exports_have_the_month(history):
    engine, report = history
    start, end = period(None, None, NOW, TZ)
    with Session(engine) as s:
        tickets = exports.tickets(s, exports.Filters(start, end), NOW, TZ)
        sent = exports.notices(s, exports.Filters(start, end), NOW, TZ)
    assert len(tickets.rows) == report.tickets
    assert exports.to_csv(tickets).startswith("\ufeff".encode())
    assert sent.rows and "演示记录（未实际发送）" in {
        row[sent.headers.index("推送渠道")] for row in sent.rows}


def test_a_second_start_adds_nothing(history):
    engine, _ = history
    with Session(engine) as s:
        before = s.exec(select(func.count()).select_from(Ticket)).one()
    assert generate(engine, NOW, TZ) is None
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(Ticket)).one() == before


def _fingerprint(engine: Engine) -> list[tuple]:
    with Session(engine) as s:
        return [(t.number, t.category, t.status, t.rating, as_utc(t.created_at).isoformat())
                for t in s.exec(select(Ticket).order_by(Ticket.number))]


def test_the_same_day_gives_the_same_history(history, tmp_path: Path):
    engine, report = history
    other = make_engine(f"sqlite:///{tmp_path / 'again.db'}")
    try:
        create_schema(other)
        seed(other)
        again = generate(other, NOW, TZ)
        assert again is not None
        assert (again.tickets, again.steps, again.timer_steps, again.pushes) == (
            report.tickets, report.steps, report.timer_steps, report.pushes)
        assert _fingerprint(other) == _fingerprint(engine)
    finally:
        other.dispose()


def test_no_community_no_history(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        create_schema(engine)
        assert generate(engine, NOW, TZ) is None
        with Session(engine) as s:
            assert s.exec(select(func.count()).select_from(Community)).one() == 0
    finally:
        engine.dispose()


def test_the_words_file_names_only_known_categories(tmp_path: Path):
    assert {c["name"] for c in words()["category"]} >= {"暖气", "楼道灯", "漏水", "停车"}
    bad = tmp_path / "words.toml"
    bad.write_text(WORDS_FILE.read_text(encoding="utf-8").replace('name = "暖气"',
                                                                  'name = "暖器"'),
                   encoding="utf-8")
    with pytest.raises(ValueError, match="暖器"):
        words(bad)


def test_serve_demo_makes_the_history_once(monkeypatch, tmp_path: Path):
    """`gridbot serve --demo` (server not started) on its own SQLite file: the history's line
    on the first start, none on the second; `--no-history` makes none."""
    import uvicorn

    import bot.app
    from bot.cli import app

    url = f"sqlite:///{tmp_path / 'demo.db'}"
    engine = make_engine(url)
    create_schema(engine)
    monkeypatch.setenv("GRIDBOT_DATABASE_URL", url)
    monkeypatch.setenv("GRIDBOT_REDIS_URL", "memory://demo-history-test")
    monkeypatch.setattr(bot.app, "create_app", lambda settings: None)
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)

    def serve(*extra: str) -> str:
        result = CliRunner().invoke(app, ["serve", "--demo", "--no-migrate", *extra])
        assert result.exit_code == 0, result.output
        return result.output

    try:
        first = serve()
        line = [x for x in first.splitlines() if x.startswith("已生成过去30天的演示记录")]
        assert line and "张工单" in line[0] and "不会真的发出" in line[0], first
        with Session(engine) as s:
            tickets = s.exec(select(func.count()).select_from(Ticket)).one()
            pending = s.exec(select(func.count()).select_from(Outbox)
                             .where(Outbox.status == OutboxStatus.PENDING)).one()
        assert tickets > 100 and pending == 0
        assert "演示记录" not in serve()
        with Session(engine) as s:
            assert s.exec(select(func.count()).select_from(Ticket)).one() == tickets
    finally:
        engine.dispose()


def test_no_history_leaves_the_demo_empty(monkeypatch, tmp_path: Path):
    import uvicorn

    import bot.app
    from bot.cli import app

    url = f"sqlite:///{tmp_path / 'demo.db'}"
    engine = make_engine(url)
    create_schema(engine)
    monkeypatch.setenv("GRIDBOT_DATABASE_URL", url)
    monkeypatch.setenv("GRIDBOT_REDIS_URL", "memory://demo-history-test-2")
    monkeypatch.setattr(bot.app, "create_app", lambda settings: None)
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)
    try:
        result = CliRunner().invoke(app, ["serve", "--demo", "--no-history", "--no-migrate"])
        assert result.exit_code == 0, result.output
        assert "演示记录" not in result.output
        with Session(engine) as s:
            assert s.exec(select(func.count()).select_from(Ticket)).one() == 0
    finally:
        engine.dispose()

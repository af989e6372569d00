"""Operations commands for staff: ``gridbot stats`` and ``gridbot notice``.

Registered by bot/cli.py as top-level commands::

    app.command("stats")(cli_ops.stats)
    app.command("notice")(cli_ops.notice)

Both read settings from GRIDBOT_* variables and use the database named there. Dates are
local (Asia/Shanghai) days; the period is [--from, --to] inclusive of both days.
"""

from __future__ import annotations

import csv
import sys
from datetime import date, datetime, timedelta
from typing import Annotated

import typer

ops_app = typer.Typer(help="Operations: statistics and notices.")


def _period(start: str | None, end: str | None, tz: str) -> tuple[datetime, datetime]:
    """[start 00:00, end+1 day 00:00) in ``tz`` as aware datetimes; default: the last 30 days."""
    from zoneinfo import ZoneInfo

    try:
        last = date.fromisoformat(end) if end else date.today()
        first = date.fromisoformat(start) if start else last - timedelta(days=29)
    except ValueError as exc:
        raise typer.BadParameter(f"dates are YYYY-MM-DD ({exc})") from None
    if first > last:
        raise typer.BadParameter("--from is after --to")
    zone = ZoneInfo(tz)
    return (datetime.combine(first, datetime.min.time(), zone),
            datetime.combine(last + timedelta(days=1), datetime.min.time(), zone))


COLUMNS = ("scope", "name", "community", "tickets", "by_kind", "by_category",
           "response_median_min", "response_p90_min", "resolve_median_min", "resolve_p90_min",
           "response_met_pct", "resolve_met_pct", "rated", "avg_score", "default_satisfied",
           "satisfied_pct", "open", "overdue")


def _fmt(value: object) -> str:
    return "-" if value is None else str(value)


@ops_app.command("stats")
def stats(
    start: Annotated[str | None, typer.Option("--from", help="First day, YYYY-MM-DD")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last day, YYYY-MM-DD")] = None,
    community: Annotated[str | None, typer.Option(help="Only this community")] = None,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV on stdout")] = False,
) -> None:
    """Tickets per community and grid: kinds, categories, response/resolution minutes
    (median, p90), SLA met %, satisfaction, open and overdue counts.

    Reads GRIDBOT_STATS_DATABASE_URL (a read replica) when set, else the main database."""
    import sqlalchemy.exc
    from sqlmodel import Session

    from bot.preflight import ConfigError, load_settings
    from storage.db import make_engine
    from storage.stats import compute
    from storage.times import utcnow

    settings = load_settings()
    first, after = _period(start, end, settings.timezone)
    engine = make_engine(settings.stats_url, connect_timeout_s=settings.db_connect_timeout_s)
    try:
        with Session(engine) as session:
            rows = compute(session, first, after, utcnow(), community)
    except sqlalchemy.exc.OperationalError as exc:
        if settings.stats_database_url is None:
            raise  # bot.preflight explains it (GRIDBOT_DATABASE_URL)
        reason = str(exc.orig or exc).strip().splitlines()[0]
        raise ConfigError(f"GRIDBOT_STATS_DATABASE_URL: cannot read the reporting database "
                          f"({reason}): start the replica, correct the URL, or unset it to "
                          "read the main database") from None
    finally:
        engine.dispose()
    if as_csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=COLUMNS)
        writer.writeheader()
        for r in rows:
            writer.writerow({k: ("" if v is None else v) for k, v in r.row().items()})
        return
    if not rows:
        typer.echo("没有数据（没有社区或网格）。")
        return
    typer.echo(f"统计期间 {first:%Y-%m-%d} 至 {(after - timedelta(days=1)):%Y-%m-%d}")
    for r in rows:
        indent = "" if r.scope == "community" else "  "
        typer.echo(f"{indent}{r.name}: 工单{r.tickets}件 在办{r.open} 超时{r.overdue}")
        typer.echo(f"{indent}  类型 {r.row()['by_kind'] or '-'}  类别 {r.row()['by_category'] or '-'}")
        typer.echo(f"{indent}  响应(分钟) 中位{_fmt(r.response_median_min)} P90 {_fmt(r.response_p90_min)}"
                   f"  办结(分钟) 中位{_fmt(r.resolve_median_min)} P90 {_fmt(r.resolve_p90_min)}")
        typer.echo(f"{indent}  按时响应{_fmt(r.response_met_pct)}%  按时办结{_fmt(r.resolve_met_pct)}%"
                   f"  满意率{_fmt(r.satisfied_pct)}% (评价{r.rated} 均分{_fmt(r.avg_score)}"
                   f" 默认满意{r.default_satisfied})")


@ops_app.command("notice")
def notice(
    title: Annotated[str, typer.Argument(help="标题, e.g. 停水通知")],
    text: Annotated[str, typer.Argument(help="正文")],
    community: Annotated[str | None, typer.Option(help="All residents of this community")] = None,
    grid: Annotated[str | None, typer.Option(help="Grid code or name")] = None,
    buildings: Annotated[str | None, typer.Option(help="Building numbers: 1,2,5-7")] = None,
    sender: Annotated[str | None, typer.Option(help="Who sends it (for the record)")] = None,
    status: Annotated[int | None, typer.Option(help="Show delivery counts of notice N instead")] = None,
) -> None:
    """Send a notice (停水停电通知, activities) to residents through the push outbox, and show
    the delivery counts (``--status N`` shows them again later)."""
    from sqlmodel import Session

    from bot.settings import Settings
    from storage import ImportFormatError, NotFound
    from storage.db import make_engine, session_scope
    from storage.importer import parse_buildings
    from storage.notices import audience, deliveries, send
    from storage.times import utcnow

    engine = make_engine(Settings().database_url)
    if status is not None:
        with Session(engine) as session:
            counts = deliveries(session, status)
        typer.echo(_counts(status, counts))
        return
    try:
        numbers = parse_buildings(buildings, "--buildings") if buildings else None
    except ImportFormatError as exc:
        raise typer.BadParameter(str(exc)) from None
    try:
        with session_scope(engine) as session:
            scope, residents = audience(session, community=community, grid=grid, buildings=numbers)
            row = send(session, title, text, residents, scope, utcnow(), sender)
            notice_id = row.id
            counts = deliveries(session, notice_id)
    except NotFound as exc:
        typer.echo(f"找不到：{exc}", err=True)
        raise typer.Exit(1) from None
    except ValueError as exc:
        typer.echo(f"参数有误：{exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"通知#{notice_id} 已排队发送给{scope}的{len(residents)}位居民。")
    typer.echo(_counts(notice_id, counts))


def _counts(notice_id: int, c: dict[str, int]) -> str:
    return f"通知#{notice_id} 送达情况：已发送{c['sent']} 待发送{c['pending']} 失败{c['dead']} 共{c['total']}"

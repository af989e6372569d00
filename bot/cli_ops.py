"""Operations commands for staff: ``gridbot stats`` and ``gridbot notice``.

Registered by bot/cli.py as top-level commands (the same command objects, help included)::

    app.registered_commands += cli_ops.ops_app.registered_commands

Both read settings from GRIDBOT_* variables and use the database named there. Dates are
local days of ``settings.timezone`` (GRIDBOT_TIMEZONE, Asia/Shanghai), whatever the host's
clock zone; the period is [--from, --to] inclusive of both days. ``clock`` gives "now"
(aware UTC); tests replace it. Help and output are for staff, in Chinese.
"""

from __future__ import annotations

import csv
import sys
from datetime import date, timedelta
from typing import Annotated

import typer

from storage.times import Clock, utcnow

ops_app = typer.Typer(help="统计与通知。", rich_markup_mode="markdown")
clock: Clock = utcnow
""""Now" for the default period (aware UTC)."""


def _day(text: str | None, option: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        raise typer.BadParameter(f"日期写作 YYYY-MM-DD，如 2026-11-01（收到「{text}」）",
                                 param_hint=option) from None


COLUMNS = ("scope", "name", "community", "tickets", "by_kind", "by_category", "by_status",
           "response_median_min", "response_p90_min", "resolve_median_min", "resolve_p90_min",
           "response_met_pct", "resolve_met_pct", "rated", "avg_score", "default_satisfied",
           "satisfied_pct", "open", "overdue")
"""CSV columns: codes and plain numbers (minutes, percent) for spreadsheets."""


def _number(value: float) -> str:
    """One decimal, without a trailing ".0": 1.2999999999999998 → "1.3", 20.0 → "20"."""
    return f"{value:.1f}".removesuffix(".0")


def duration(minutes: float | None) -> str:
    """Minutes for people: "-", "45分钟", "1.5小时" (from 60 min), "2.3天" (from 48 h)."""
    if minutes is None:
        return "-"
    if minutes < 60:
        return f"{_number(minutes)}分钟"
    if minutes < 48 * 60:
        return f"{_number(minutes / 60)}小时"
    return f"{_number(minutes / 1440)}天"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{_number(value)}%"


def _counts_by(counts: dict[str, int], table: str) -> str:
    """"报修 5、投诉 2" with labels from the catalogue's [kind]/[status] table (the code when
    the catalogue has none), largest first."""
    from services.messages import catalogue

    labels = catalogue()
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return "、".join(f"{labels.get(f'{table}.{k}', k) if table else k} {n}" for k, n in items) or "无"


@ops_app.command("stats", short_help="工单统计：数量、用时、按时率、满意率。", help=(
        "统计工单：每个社区及其网格的工单数（按类型、类别、状态），响应和办结用时（中位数、"
        "P90），按时响应率、按时办结率，满意率，在办和超时件数。不给日期时统计最近30天"
        "（按 GRIDBOT_TIMEZONE 时区的日期，默认北京时间）。设置了 GRIDBOT_STATS_DATABASE_URL"
        "（只读副本）时从副本读取。"))
def stats(
    start: Annotated[str | None, typer.Option("--from", metavar="YYYY-MM-DD", show_default=False,
                                              help="第一天（含），默认为最后一天往前29天。")] = None,
    end: Annotated[str | None, typer.Option("--to", metavar="YYYY-MM-DD", show_default=False,
                                            help="最后一天（含），默认今天。")] = None,
    community: Annotated[str | None, typer.Option(metavar="社区名", show_default=False,
                                                  help="只统计这个社区。")] = None,
    as_csv: Annotated[bool, typer.Option("--csv", help="输出CSV（用时为分钟，类型和状态为代码），"
                                                       "便于用表格软件打开。")] = False,
) -> None:
    """Tickets per community and grid for a period of local days (see storage.stats).

    Reads GRIDBOT_STATS_DATABASE_URL (a read replica) when set, else the main database."""
    import sqlalchemy.exc
    from sqlmodel import Session

    from bot.preflight import ConfigError, load_settings
    from services.messages import msg
    from storage.db import make_engine
    from storage.stats import compute, period

    settings = load_settings()
    now = clock()
    try:
        first, after = period(_day(start, "--from"), _day(end, "--to"), now, settings.timezone)
    except ValueError:
        raise typer.BadParameter("--from 晚于 --to", param_hint="--from") from None
    engine = make_engine(settings.stats_url, connect_timeout_s=settings.db_connect_timeout_s)
    try:
        with Session(engine) as session:
            rows = compute(session, first, after, now, community)
    except sqlalchemy.exc.OperationalError as exc:
        if settings.stats_database_url is None:
            raise  # bot.preflight explains it (GRIDBOT_DATABASE_URL)
        reason = str(exc.orig or exc).strip().splitlines()[0]
        raise ConfigError(msg("config_error.stats_db_unreachable", detail=reason)) from None
    finally:
        engine.dispose()
    if as_csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=COLUMNS)
        writer.writeheader()
        for r in rows:
            writer.writerow({k: ("" if v is None else v) for k, v in r.row().items()})
        return
    if not rows:
        typer.echo("没有数据（没有这个社区，或还没有导入社区和网格）。")
        return
    typer.echo(f"统计期间 {first:%Y-%m-%d} 至 {(after - timedelta(days=1)):%Y-%m-%d}"
               f"（{settings.timezone}）")
    for r in rows:
        typer.echo(_scope_text(r))


def _scope_text(r) -> str:
    """The lines of one scope (a ``storage.stats.ScopeStats``), grids indented."""
    indent = "" if r.scope == "community" else "  "
    head = f"{indent}{r.name}：工单 {r.tickets} 件，在办 {r.open} 件，超时 {r.overdue} 件"
    if not r.tickets:
        return head
    score = "-" if r.avg_score is None else f"{_number(r.avg_score)}分"
    lines = [
        f"  类型：{_counts_by(r.by_kind, 'kind')}",
        f"  类别：{_counts_by(r.by_category, '')}",
        f"  状态：{_counts_by(r.by_status, 'status')}",
        f"  响应用时：中位 {duration(r.response_median_min)}，P90 {duration(r.response_p90_min)}；"
        f"办结用时：中位 {duration(r.resolve_median_min)}，P90 {duration(r.resolve_p90_min)}",
        f"  按时响应 {_pct(r.response_met_pct)}，按时办结 {_pct(r.resolve_met_pct)}；"
        f"满意率 {_pct(r.satisfied_pct)}（评价 {r.rated} 件，均分 {score}，"
        f"默认满意 {r.default_satisfied} 件）",
    ]
    return "\n".join([head, *(indent + line for line in lines)])


NOTICE_EXAMPLE = 'gridbot notice 停水通知 "明天9:00-12:00停水" --grid G01'


@ops_app.command("notice", short_help="给居民发通知；--status 查看送达情况。", help=(
        "给居民发通知（停水停电、活动等），经推送队列由 worker 发出，并显示送达情况。"
        "发送范围三选一：--community 整个社区，--grid 一个网格，--buildings 若干楼栋（"
        "可同时用 --community 指明哪个社区）。"
        "只查看以前某条通知的送达情况：gridbot notice --status 通知号（不需要标题和正文）。"))
def notice(
    title: Annotated[str | None, typer.Argument(metavar="标题", show_default=False,
                                                help="通知标题，如 停水通知。")] = None,
    text: Annotated[str | None, typer.Argument(metavar="正文", show_default=False,
                                               help="通知正文；有空格时加引号。")] = None,
    community: Annotated[str | None, typer.Option(metavar="社区名", show_default=False,
                                                  help="发给这个社区的全体居民；与 --buildings "
                                                       "同用时指明楼栋所在的社区。")] = None,
    grid: Annotated[str | None, typer.Option(metavar="网格", show_default=False,
                                             help="发给这个网格的居民（网格代码如 G01，或网格名）。")]
    = None,
    buildings: Annotated[str | None, typer.Option(metavar="楼号", show_default=False,
                                                  help="发给这些楼栋的居民，如 1,3-5（也可写 "
                                                       "1，3至5号楼）。")] = None,
    sender: Annotated[str | None, typer.Option(metavar="姓名", show_default=False,
                                               help="发送人，记入通知记录。")] = None,
    status: Annotated[int | None, typer.Option(metavar="通知号", show_default=False,
                                               help="只查看第 N 号通知的送达情况，不发送。")] = None,
) -> None:
    """Send a notice to residents through the outbox, or (``--status N``) show how far the
    pushes of notice N got. Exit 1 for an unknown notice, grid, community or building;
    2 for a usage error (typer)."""
    if status is not None:
        given = [name for name, value in (("标题/正文", title or text), ("--community", community),
                                          ("--grid", grid), ("--buildings", buildings),
                                          ("--sender", sender)) if value]
        if given:
            raise typer.BadParameter(f"--status 只查看送达情况，不能同时给 {'、'.join(given)}",
                                     param_hint="--status")
        _show_status(status)
        return
    if not (title and title.strip() and text and text.strip()):
        raise typer.BadParameter(f"发送通知需要标题和正文，如：{NOTICE_EXAMPLE}；"
                                 "查看送达情况用 --status 通知号", param_hint="标题 正文")
    numbers = _buildings(buildings) if buildings is not None else None
    _send(title, text, community, grid, numbers, sender)


def _buildings(spec: str) -> list[int]:
    from storage.notices import BadBuildingList, parse_buildings

    try:
        return parse_buildings(spec)
    except BadBuildingList as exc:
        what = f"「{exc.item}」不是楼号或楼号范围" if exc.item else "没有写楼号"
        raise typer.BadParameter(f"{what}：写作 1,3-5 这样的楼号和从小到大的范围（楼号 1–9999）",
                                 param_hint="--buildings") from None


def _engine():
    from bot.preflight import open_engine

    return open_engine()


def _show_status(notice_id: int) -> None:
    from sqlmodel import Session

    from storage import NotFound
    from storage.notices import deliveries

    engine = _engine()
    try:
        with Session(engine) as session:
            counts = deliveries(session, notice_id)
    except NotFound:
        typer.echo(f"找不到通知#{notice_id}。", err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    typer.echo(_counts(notice_id, counts))


def _send(title: str, text: str, community: str | None, grid: str | None,
          buildings: list[int] | None, sender: str | None) -> None:
    from services.notices import send
    from storage import NotFound
    from storage.db import session_scope
    from storage.notices import audience, deliveries

    engine = _engine()
    try:
        with session_scope(engine) as session:
            scope, residents = audience(session, community=community, grid=grid,
                                        buildings=buildings)
            row = send(session, title, text, residents, scope, clock(), sender)
            notice_id = row.id
            counts = deliveries(session, notice_id)
    except NotFound as exc:
        typer.echo(f"找不到：{exc}", err=True)
        raise typer.Exit(1) from None
    except ValueError as exc:
        typer.echo(f"参数有误：{exc}；例如 {NOTICE_EXAMPLE}", err=True)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    typer.echo(f"通知#{notice_id} 已排队发送给{scope}的{len(residents)}位居民。")
    typer.echo(_counts(notice_id, counts))


def _counts(notice_id: int, c: dict[str, int]) -> str:
    """Delivery counts by outbox status, in words; in-flight and in-doubt only when present."""
    extra = "".join(f" {label}{c[key]}" for key, label in (("sending", "发送中"), ("unknown", "存疑"))
                    if c.get(key))
    return (f"通知#{notice_id} 送达情况：已发送{c['sent']} 待发送{c['pending']} 失败{c['dead']}"
            f"{extra} 共{c['total']}")

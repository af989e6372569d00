"""The `gridbot` command line (typer).

    gridbot serve [--host --port] [--demo [--no-history]] [--workers N]
                                             web app (and, embedded, the worker); --demo
                                             also makes 30 days of demo history once
    gridbot worker                           the worker process: pushes and timers
    gridbot import FILE [--dry-run]          load a community's structure and staff (all or
                                             nothing; --allow-moves to move between grids)
    gridbot chat [--openid ID]               talk to a running server as WeChat would
    gridbot db upgrade                       apply schema migrations
    gridbot review                           messages kept for staff
    gridbot stats [--from --to --csv]        tickets, response/resolution times, SLA, satisfaction
    gridbot notice TITLE BODY --grid …       push a notice (停水停电通知) to residents;
                                             --status N shows its delivery counts
    gridbot resident level REF LEVEL         a resident's care level (红橙黄蓝绿 or none)
    gridbot staff password|list|link|logout  console logins: passwords (argon2), staff, one-time
                                             login links, ending every session of someone
    gridbot qrcode [--buildings] [--out DIR] the communities' QR codes (scenes; PNGs via the API)
    gridbot intents classify|eval            the understanding of messages
    gridbot outbox list|retry                pushes that are dead or in doubt; re-send them
    gridbot station …  / gridbot care …      lending stations; after-school care programmes
    gridbot apikey create|list|revoke        Open311 API keys of client systems (12345 platform)

Settings come from GRIDBOT_* environment variables (bot/settings.py). A misconfiguration
(an invalid or unsafe setting, a database or Redis that cannot be reached, a database without
the schema) ends every command with one line on stderr naming the setting and the fix, and
exit code 2 (bot/preflight.py).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import click
import typer
from typer.core import TyperGroup

# Start-up: importing this module registers every command but loads neither the storage stack
# nor jieba (`gridbot --help` < 0.5 s); command bodies import what they use (bot/lazy.py).
from bot import cli_ops, cli_qrcode
from bot.cli_apikey import apikey_app
from bot.cli_chat import chat
from bot.cli_intents import app as intents_app
from bot.cli_outbox import outbox_app
from bot.cli_residents import resident_app
from bot.cli_services import care_app, station_app
from bot.cli_staff import staff_app
from bot.lazy import lazy_module

if TYPE_CHECKING:
    from bot.settings import Settings

logs = lazy_module("bot.logs")
preflight = lazy_module("bot.preflight")


def load_settings(**overrides: object) -> Settings:
    """``bot.preflight.load_settings`` (imported on first use)."""
    return preflight.load_settings(**overrides)


class _Commands(TyperGroup):
    """The root command group: a configuration error met by any command (bot.preflight.explain)
    becomes one line on stderr and exit code 2; anything else keeps its traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            error = preflight.explain(exc)
            if error is None:
                raise
            typer.echo(f"gridbot: {error}", err=True)
            raise typer.Exit(2) from None


app = typer.Typer(help="gridbot —— 网格化社区的微信公众号机器人。设置来自 GRIDBOT_ 开头的环境变量；"
                       "员工手册见 docs/staff-manual.md。", no_args_is_help=True,
                  cls=_Commands, rich_markup_mode="markdown")
db_app = typer.Typer(help="数据库结构（迁移）。", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(intents_app, name="intents")
app.add_typer(station_app, name="station")
app.add_typer(care_app, name="care")
app.add_typer(outbox_app, name="outbox")
app.add_typer(resident_app, name="resident")
app.add_typer(staff_app, name="staff")
app.add_typer(apikey_app, name="apikey")
app.command("chat", short_help="在终端里模拟微信对话（居民或网格员）。", help=(
    "在终端里以居民或网格员的身份和运行中的 gridbot 对话，就像微信那样；输入 /help 查看对话内命令。"))(chat)
app.registered_commands += cli_ops.ops_app.registered_commands  # stats, notice (with their help)
app.command("qrcode", short_help="社区（或楼栋）的带参数二维码：居民扫码即登记所在社区。", help=(
    "列出各社区的二维码场景值；加 --out 目录 则经微信接口生成二维码并保存图片。居民扫了哪个社区"
    "（或楼栋）的码，就登记为住在哪个社区。"))(cli_qrcode.qrcode)


def _logging(settings: Settings | None = None) -> None:
    """Log INFO and up to stderr, secrets masked (bot.logs)."""
    logs.configure(settings, logging.INFO)


@app.command(help="启动服务：在 /wechat 接收微信消息（Redis 为 memory:// 时 worker 也在同一进程里运行）。")
def serve(
    host: Annotated[str, typer.Option(help="监听的网络地址。")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP 端口。")] = 8000,
    demo: Annotated[bool, typer.Option(help="导入演示社区并启用微信接口沙盒"
                                            "（不需要联网和公众号）。")] = False,
    migrate: Annotated[bool, typer.Option(help="启动前先升级数据库结构。")] = True,
    workers: Annotated[int, typer.Option(min=1, help="共用端口的 Web 进程数；大于 1 时需要 "
                                                     "PostgreSQL 和 Redis。")] = 1,
    history: Annotated[bool, typer.Option(help="与 --demo 一起用：首次启动时生成过去30天的演示工单、"
                                               "评价和督办记录（看板和导出有数据可看）。")] = True,
) -> None:
    """Serve the webhook at /wechat (with the embedded worker when Redis is memory://).

    With ``--workers N`` uvicorn starts N processes; each builds its own app, engine, Redis
    clients and classifier from the environment (``bot.app:create_app`` as a factory), so
    the ``--demo`` overrides are passed to them as GRIDBOT_ variables.
    """
    import uvicorn

    from bot.app import create_app
    from storage import migrate as migrations

    overrides: dict[str, object] = {}
    if demo:
        base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/sandbox"
        overrides = {"sandbox": True, "wechat_api_base_url": f"{base}/cgi-bin/",
                     "wecom_api_base_url": f"{base}/wecom/cgi-bin/"}
    settings = load_settings(**overrides)
    preflight.check_workers(settings, workers)
    _logging(settings)
    preflight.check_services(settings, schema=not migrate)  # before uvicorn: one line, exit 2
    if migrate:
        migrations.upgrade(settings.database_url)
    if demo:
        from bot import import_report
        from bot.demo import DEMO_ADMIN_LOGIN, DEMO_FILES, DEMO_PASSWORD, console_logins, open311_key, seed
        from services.messages import msg
        from storage.db import make_engine
        from storage.times import utcnow

        engine = make_engine(settings.database_url)
        for path, report in zip(DEMO_FILES, seed(engine), strict=False):
            typer.echo(import_report.summary(report, path.name))
        if history:
            from bot.demo_history import DAYS, generate

            made = generate(engine, utcnow(), settings.timezone)
            if made is not None:
                typer.echo(msg("demo.history", days=DAYS, tickets=made.tickets,
                               residents=made.residents, seconds=f"{made.seconds:.1f}"))
        console_logins(engine)
        api_key = open311_key(engine, utcnow())
        engine.dispose()
        typer.echo(f"控制台：http://127.0.0.1:{port}/console/ 账号 {DEMO_ADMIN_LOGIN} 密码 {DEMO_PASSWORD}"
                   "（其他演示员工：账号为手机号，密码相同）")
        open311_url = f"{base.removesuffix('/sandbox')}/open311/v2/"
        typer.echo(msg("demo.open311", url=open311_url, key=api_key) if api_key
                   else msg("demo.open311_revoked", url=open311_url))
        typer.echo(msg("demo.sandbox", url=overrides["wechat_api_base_url"],
                       base=f"http://127.0.0.1:{port}"))
    log_config = logs.uvicorn_log_config(settings)  # applied again in every worker process
    if workers == 1:
        uvicorn.run(create_app(settings), host=host, port=port, log_level="info", log_config=log_config)
        return
    os.environ.update({f"GRIDBOT_{name.upper()}": str(value).lower() if isinstance(value, bool)
                       else str(value) for name, value in overrides.items()})
    uvicorn.run("bot.app:create_app", factory=True, workers=workers, host=host, port=port,
                log_level="info", log_config=log_config)


@app.command(help="运行 worker 进程：经微信发送推送，执行超时提醒、督办等定时任务。")
def worker(
    burst: Annotated[bool, typer.Option(help="把排队的任务做完就退出。")] = False,
) -> None:
    """Run the worker: relay pushes through WeChat and run timed jobs."""
    import asyncio

    from bot import worker as worker_mod

    settings = load_settings()  # services are not checked: the worker waits for them
    _logging(settings)
    if burst:
        async def once() -> None:
            w = await worker_mod.build_worker(settings, worker_mod.build_context(settings), burst=True)
            await w.main()
            await w.close()

        asyncio.run(once())
        return
    asyncio.run(worker_mod.run(settings))


@app.command("import", short_help="导入社区的网格、楼栋和工作人员。",
             help="从 YAML 或 CSV 文件导入社区的街道、网格、楼栋和工作人员：全部正确才写入（一个事务），"
                  "否则列出文件里的每一个问题（带行号）。新数据库请先运行 gridbot db upgrade。")
def import_(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True,
                                         metavar="文件", help="YAML 或 CSV 文件。")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="只检查并列出全部问题和将要做的改动，"
                                                            "不写入数据库。")] = False,
    allow_moves: Annotated[bool, typer.Option("--allow-moves", help="允许把楼栋、地点或工作人员"
                                                                    "调到别的网格（默认拒绝）。")] = False,
) -> None:
    """Load a community's streets, grids, buildings and staff from YAML or CSV, all or nothing.

    Every problem is printed (file and line) and the exit code is 1; a file that cannot be
    read at all, or a configuration error, gives one line and exit code 2.
    """
    from bot import import_report
    from services.org_import import import_org
    from storage import ImportFormatError
    from storage.db import make_engine, session_scope
    from storage.importer import ImportProblems
    from storage.times import utcnow

    settings = load_settings()
    preflight.check_services(settings, redis_=False)
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as session, _progress_bar() as progress:
            report = import_org(session, file, utcnow(), dry_run=dry_run,
                                allow_moves=allow_moves, progress=progress)
    except ImportProblems as exc:
        for problem in exc.problems:
            typer.echo(import_report.problem_line(problem), err=True)
        typer.echo(import_report.refused_line(len(exc.problems)), err=True)
        raise typer.Exit(1) from None
    except ImportFormatError as exc:
        typer.echo(import_report.error_line(exc), err=True)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    typer.echo(import_report.summary(report, str(file)))
    if not dry_run:
        _announce_org_change(settings)


PROGRESS_FROM_RECORDS = 500
"""Files with at least this many records (grids, buildings, staff …) show a progress bar."""


@contextlib.contextmanager
def _progress_bar() -> Iterator[Callable[[int, int], None]]:
    """progress(done, total) drawing a rich progress bar on stderr for large files (nothing
    on a terminal-less stderr or for small files)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    bar = Progress("导入", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=Console(stderr=True), transient=True)
    task = None

    def progress(done: int, total: int) -> None:
        nonlocal task
        if total < PROGRESS_FROM_RECORDS:
            return
        if task is None:
            bar.start()
            task = bar.add_task("import", total=total)
        bar.update(task, completed=done)

    try:
        yield progress
    finally:
        if task is not None:
            bar.stop()


def _announce_org_change(settings: Settings) -> None:
    """Make every web process drop its organisation cache (``storage.orgcache``)."""
    from redis.exceptions import RedisError

    from storage.orgcache import bump_generation
    from storage.redis import sync_client

    try:
        bump_generation(sync_client(settings.redis_url, settings.redis_timeout_s))
    except RedisError:
        from services.messages import msg

        typer.echo(msg("import_report.redis_down", seconds=f"{settings.org_cache_ttl_s:.0f}"),
                   err=True)


@db_app.command("upgrade", help="把数据库结构升级到指定版本（默认最新）。")
def db_upgrade(revision: Annotated[str, typer.Argument(
        metavar="版本", help="迁移版本号，默认 head（最新）。")] = "head") -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    from storage import migrate as migrations

    settings = load_settings()
    preflight.check_services(settings, schema=False, redis_=False)
    migrations.upgrade(settings.database_url, revision)
    typer.echo("database is up to date")


@app.command(help="列出留给工作人员看的最新消息（机器人没看懂的，或处理出错的）；"
                  "已在控制台「待人工处理」回复或转为工单的不再列出。")
def review(limit: Annotated[int, typer.Option(min=1, help="最多列出几条。")] = 20) -> None:
    """List the latest messages kept for staff (not understood, or failed) that nobody
    handled yet in the console (``services.kept``)."""
    from sqlmodel import Session, col, select

    from storage.db import make_engine
    from storage.models import InboundMessage
    from storage.times import show

    settings = load_settings()
    preflight.check_services(settings, redis_=False)
    with Session(make_engine(settings.database_url)) as session:
        rows = session.exec(
            select(InboundMessage).where(InboundMessage.needs_staff,
                                         col(InboundMessage.handled_at).is_(None))
            .order_by(col(InboundMessage.received_at).desc()).limit(limit)
        ).all()
    if not rows:
        typer.echo("没有留给工作人员的消息")
    for row in rows:
        reason = f" error={row.error}" if row.error else ""
        typer.echo(f"{show(row.received_at)} {row.openid} [{row.msg_type}/{row.intent}] "
                   f"{row.content!r}{reason}")

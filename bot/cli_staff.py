"""`gridbot staff …` — console accounts of staff (员工控制台).

    gridbot staff password WHO [--login NAME] [--stdin]   set a console password
    gridbot staff list                                    staff, roles, logins
    gridbot staff link WHO [--url URL]                    push a one-time login link
    gridbot staff logout WHO [--no-password]              end their console sessions

WHO is a console login, a phone number or an OpenID. The password is asked twice (hidden)
unless ``--stdin`` reads it from one line of standard input (scripts). Setting a password
ends the worker's open console sessions and writes an audit row ("password_set"). Exit 1
when nobody or several people match WHO, or the password is refused (too short, login taken).

Registered by bot/cli.py: ``app.add_typer(staff_app, name="staff")``.
"""

from __future__ import annotations

import getpass
import sys
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:  # imported lazily at run time: `gridbot --help` stays fast
    from sqlmodel import Session

    from storage.models import GridWorker

staff_app = typer.Typer(help="员工控制台账号：设置登录密码，查看员工名单。", no_args_is_help=True)


@staff_app.command("password", help=(
        "为员工设置（或重设）控制台登录密码，至少8位。员工可用登录名、手机号或 OpenID 指明；"
        "登录名默认为手机号。设置后该员工已登录的浏览器全部退出，并记入审计日志。"))
def password(
    who: Annotated[str, typer.Argument(metavar="员工", show_default=False,
                                       help="登录名、手机号或 OpenID。")],
    login: Annotated[str | None, typer.Option(metavar="登录名", show_default=False,
                                              help="同时设置登录名（默认沿用原登录名，没有则用手机号）。")]
    = None,
    stdin: Annotated[bool, typer.Option(help="从标准输入读一行作为密码（用于脚本），不再询问。")] = False,
) -> None:
    """Set a worker's console password (asked twice, hidden)."""

    from bot.preflight import open_engine
    from services import accounts
    from services.errors import Invalid
    from storage.accounts import AuditEntry
    from storage.db import session_scope

    engine = open_engine()
    try:
        with session_scope(engine) as session:
            worker = _one_worker(session, who)
            if stdin:
                secret = sys.stdin.readline().rstrip("\r\n")
            else:
                secret = typer.prompt(f"{worker.name} 的新密码", hide_input=True,
                                      confirmation_prompt="再输入一次")
            try:
                accounts.set_password(session, worker, secret, login=login)
            except Invalid as exc:
                typer.echo(_invalid_text(str(exc)), err=True)
                raise typer.Exit(1) from None
            session.add(AuditEntry(worker_id=None, action="password_set", target_kind="worker",
                                   target_id=str(worker.id),
                                   detail={"by": f"cli:{getpass.getuser()}", "login": worker.login}))
            name, login_name = worker.name, worker.login
    finally:
        engine.dispose()
    typer.echo(f"已为 {name} 设置控制台密码，登录名：{login_name}")


@staff_app.command("link", help=(
        "给员工的微信推送一个员工控制台的一次性登录链接（10分钟内有效，只能用一次），"
        "适合忘记密码或还没有密码的员工。控制台地址来自 GRIDBOT_CONSOLE_URL 或 --url。"))
def link(
    who: Annotated[str, typer.Argument(metavar="员工", show_default=False,
                                       help="登录名、手机号或 OpenID。")],
    url: Annotated[str | None, typer.Option(metavar="地址", show_default=False,
                                            help="控制台的公网地址，如 https://gridbot.example.org/console/"
                                                 "（默认取 GRIDBOT_CONSOLE_URL）。")] = None,
) -> None:
    """Push a one-time console login link to a worker through the outbox."""
    from urllib.parse import quote

    from bot.preflight import load_settings, open_engine
    from services import accounts
    from services.messages import msg
    from storage.db import session_scope
    from storage.outbox import Recipient, add_push
    from storage.times import utcnow

    settings = load_settings()
    base = (url or settings.console_url or "").strip()
    if not base.startswith(("http://", "https://")):
        typer.echo("请用 --url 或 GRIDBOT_CONSOLE_URL 给出控制台的公网地址"
                   "（http:// 或 https:// 开头）。", err=True)
        raise typer.Exit(1)
    base = base.rstrip("/")
    if not base.endswith("/console"):
        base += "/console"
    engine = open_engine(settings)
    try:
        with session_scope(engine) as session:
            worker = _one_worker(session, who, active_only=True)
            token = accounts.issue_login_link(session, worker, utcnow(), by=f"cli:{getpass.getuser()}")
            text = msg("console.push_login_link", name=worker.name, minutes=accounts.LINK_TTL_S // 60,
                       url=f"{base}/login/link?token={quote(token)}")
            add_push(session, to=Recipient.staff(worker), event="console.push_login_link", text=text)
            name = worker.name
    finally:
        engine.dispose()
    typer.echo(f"已把登录链接推送给 {name}（{accounts.LINK_TTL_S // 60}分钟内有效）。")


@staff_app.command("logout", help=(
        "让员工在所有浏览器上退出员工控制台（如手机丢失）；可加 --no-password 同时取消其密码，"
        "之后只能重新设置密码或用登录链接登录。记入审计日志。"))
def logout(
    who: Annotated[str, typer.Argument(metavar="员工", show_default=False,
                                       help="登录名、手机号或 OpenID。")],
    password: Annotated[bool, typer.Option("--password/--no-password",
                                           help="保留密码（默认）；--no-password 同时取消密码。")] = True,
) -> None:
    """End every console session of a worker (and optionally remove their password)."""
    from sqlmodel import func, select

    from bot.preflight import open_engine
    from services import accounts
    from storage.accounts import AuditEntry, ConsoleSession
    from storage.db import session_scope

    engine = open_engine()
    try:
        with session_scope(engine) as session:
            worker = _one_worker(session, who)
            count = session.exec(select(func.count()).select_from(ConsoleSession).where(
                ConsoleSession.worker_id == worker.id)).one()
            accounts.end_sessions_of(session, worker)
            if not password:
                worker.password_hash = None
                session.add(worker)
            session.add(AuditEntry(worker_id=None, action="sessions_ended", target_kind="worker",
                                   target_id=str(worker.id),
                                   detail={"by": f"cli:{getpass.getuser()}", "sessions": count,
                                           "password_removed": not password}))
            name = worker.name
    finally:
        engine.dispose()
    typer.echo(f"{name} 的 {count} 个控制台登录已退出" + ("" if password else "，密码已取消") + "。")


def _one_worker(session: Session, who: str, active_only: bool = False) -> GridWorker:
    """The one GridWorker whose login, phone or OpenID is ``who`` (active ones only when
    ``active_only``); otherwise says why in Chinese (none, or several: naming them with their
    OpenIDs) and exits with code 1."""
    from sqlmodel import or_, select

    from storage.models import GridWorker

    query = select(GridWorker).where(or_(
        GridWorker.login == who, GridWorker.phone == who, GridWorker.openid == who))
    if active_only:
        query = query.where(GridWorker.active)
    found = list(session.exec(query))
    if len(found) == 1:
        return found[0]
    if not found:
        typer.echo(f"找不到{'在职' if active_only else ''}员工「{who}」（可用登录名、手机号或 OpenID）。",
                   err=True)
    else:
        typer.echo(f"「{who}」对应多位员工，请改用 OpenID："
                   + "、".join(f"{w.name}（{w.openid}）" for w in found), err=True)
    raise typer.Exit(1)


def _invalid_text(message: str) -> str:
    """The Chinese line for ``services.accounts.set_password``'s Invalid messages."""
    from services.accounts import MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS

    if message.startswith("password"):
        return f"密码需要 {MIN_PASSWORD_CHARS}–{MAX_PASSWORD_CHARS} 个字符。"
    if "another worker" in message:
        return "这个登录名已被其他员工使用，请用 --login 另选一个。"
    return "登录名不能为空。"


@staff_app.command("list", help="列出员工：姓名、身份、社区、网格、控制台登录名、是否已设密码、是否在职。")
def list_staff() -> None:
    """Print every member of staff with their role and console login."""
    from sqlmodel import Session, select

    from bot.preflight import open_engine
    from services.messages import role_name
    from storage.models import Community, Grid, GridWorker

    engine = open_engine()
    try:
        with Session(engine) as session:
            communities = {c.id: c.name for c in session.exec(select(Community))}
            grids = {g.id: g for g in session.exec(select(Grid))}
            rows = list(session.exec(select(GridWorker).order_by(GridWorker.community_id, GridWorker.id)))
    finally:
        engine.dispose()
    typer.echo("编号\t姓名\t身份\t社区\t网格\t登录名\t密码\t状态")
    for w in rows:
        grid = grids.get(w.grid_id)
        community = communities.get(w.community_id or (grid.community_id if grid else None), "-")
        typer.echo("\t".join([str(w.id), w.name, role_name(w.role), community,
                              grid.code if grid else "-", w.login or "-",
                              "已设" if w.password_hash else "未设", "在职" if w.active else "离职"]))

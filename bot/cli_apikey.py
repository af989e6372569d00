"""`gridbot apikey` — the Open311 API keys of client systems (a city's 12345 platform, a
dashboard) that POST service requests to /open311/v2/requests.

    gridbot apikey create NAME [--community 社区名]   prints the key once
    gridbot apikey list [--all]
    gridbot apikey revoke ID|NAME

The logic is ``services.api_keys``; this module parses and prints. Exit 1 for an unknown
community, a name in use or an unknown key. Registered by bot/cli.py:
``app.add_typer(apikey_app, name="apikey")``.
"""

from __future__ import annotations

from typing import Annotated

import typer

apikey_app = typer.Typer(help="Open311 接口密钥（api_key）：发给 12345 平台等外部系统，用来提交工单。",
                         no_args_is_help=True)


@apikey_app.command("create", help="发放一个新密钥；密钥只显示这一次，请马上交给对方保存。")
def create(
    name: Annotated[str, typer.Argument(metavar="名称", show_default=False,
                                        help="使用方的名称，如「市12345平台」；出现在工单记录里。")],
    community: Annotated[str | None, typer.Option(metavar="社区名", show_default=False,
                                                  help="只允许提交这个社区的工单（默认不限）。")] = None,
) -> None:
    """Issue a key and print it once."""
    from bot.preflight import open_engine
    from services import api_keys
    from services.errors import Invalid, NotFound
    from storage import org
    from storage.db import session_scope
    from storage.times import utcnow

    engine = open_engine()
    try:
        with session_scope(engine) as session:
            community_id = None
            if community is not None:
                found = next((c for c in org.communities(session) if c.name == community), None)
                if found is None:
                    typer.echo(f"找不到社区「{community}」。", err=True)
                    raise typer.Exit(1)
                community_id = found.id
            try:
                row, plain = api_keys.issue(session, name, utcnow(), community_id)
            except (Invalid, NotFound) as exc:
                typer.echo(f"不能发放：{exc}", err=True)
                raise typer.Exit(1) from None
            key_id = row.id
    finally:
        engine.dispose()
    typer.echo(f"#{key_id} {name}" + (f"（仅限{community}）" if community else ""))
    typer.echo(plain)
    typer.echo("密钥只显示这一次；丢失后请撤销并重新发放。", err=True)


@apikey_app.command("list", help="列出密钥（不显示密钥本身）：编号、名称、社区限制、发放时间。")
def list_(
    all_: Annotated[bool, typer.Option("--all", help="也列出已撤销的密钥。")] = False,
) -> None:
    """One line per key."""
    from bot.preflight import open_engine
    from services import api_keys
    from storage import org
    from storage.db import session_scope
    from storage.times import show

    engine = open_engine()
    try:
        with session_scope(engine) as session:
            names = {c.id: c.name for c in org.communities(session)}
            for row in api_keys.listing(session, include_revoked=all_):
                limit = names.get(row.community_id, "?") if row.community_id else "全部社区"
                revoked = f" 已撤销 {show(row.revoked_at)}" if row.revoked_at else ""
                typer.echo(f"#{row.id} {row.name} {limit} 发放 {show(row.created_at)}{revoked}")
    finally:
        engine.dispose()


@apikey_app.command("revoke", help="撤销一个密钥（按编号或名称）；之后用它提交会被拒绝（403）。")
def revoke(
    ref: Annotated[str, typer.Argument(metavar="编号或名称", show_default=False,
                                       help="list 显示的编号（如 3），或密钥名称。")],
) -> None:
    """Revoke a key."""
    from bot.preflight import open_engine
    from services import api_keys
    from services.errors import NotFound
    from storage.db import session_scope
    from storage.times import utcnow

    engine = open_engine()
    try:
        with session_scope(engine) as session:
            try:
                row = api_keys.revoke(session, ref.lstrip("#"), utcnow())
            except NotFound:
                typer.echo(f"没有这个有效的密钥：{ref}", err=True)
                raise typer.Exit(1) from None
            typer.echo(f"已撤销 #{row.id} {row.name}")
    finally:
        engine.dispose()

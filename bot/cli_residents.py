"""`gridbot resident …` — staff keep residents' care levels (红橙黄蓝绿).

    gridbot resident level REF LEVEL [--community C] [--by NAME] [--note TEXT]

REF is an OpenID, the tail of a phone number or an address "3-2-501"; LEVEL is 红 橙 黄 蓝 绿
or none. The lookup and the change are ``storage.vulnerability``; every change is written to
the audit log (logger ``gridbot.audit``, INFO, on stderr): who, which resident, old → new,
and the note. Exit 1 when the resident cannot be found or is ambiguous; 2 for a bad level.

Registered by bot/cli.py: ``app.add_typer(resident_app, name="resident")``.
"""

from __future__ import annotations

import getpass
import logging
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:  # storage loads only when a command runs (`gridbot --help` stays fast)
    from storage.models import Resident

resident_app = typer.Typer(help="居民信息：设置重点人群的照护等级（红橙黄蓝绿）。",
                           no_args_is_help=True)
audit = logging.getLogger("gridbot.audit")

LEVEL_HELP = "红 橙 黄 蓝 绿 之一（红最需要照顾；红、橙、黄的报事优先处理），或 none 清除。"


@resident_app.command("level", help=(
        "设置或清除一位居民的照护等级。居民可用 OpenID、手机号后几位（至少4位）或门牌"
        "（楼号-单元-室，如 3-2-501）指明；找到多位时会列出，请换用 OpenID。"
        "每次修改都记入审计日志（谁、何时、原等级、新等级、备注）。"))
def level(
    ref: Annotated[str, typer.Argument(metavar="居民", show_default=False,
                                       help="OpenID、手机号后4位以上，或门牌 3-2-501。")],
    new_level: Annotated[str, typer.Argument(metavar="等级", show_default=False, help=LEVEL_HELP)],
    community: Annotated[str | None, typer.Option(metavar="社区名", show_default=False,
                                                  help="门牌所在的社区（有多个社区时需要）。")] = None,
    by: Annotated[str | None, typer.Option(metavar="姓名", show_default=False,
                                           help="谁做的修改，记入审计日志；默认为当前系统用户。")]
    = None,
    note: Annotated[str | None, typer.Option(metavar="备注", show_default=False,
                                             help="原因，如 独居老人、孕产妇，记入审计日志。")] = None,
) -> None:
    """Set or clear one resident's care level and write an audit log line."""
    from bot import logs
    from bot.preflight import load_settings, open_engine
    from storage import NotFound
    from storage.db import session_scope
    from storage.vulnerability import AmbiguousResident, BadLevel, find_resident, parse_level, set_level

    try:
        wanted = parse_level(new_level)
    except BadLevel:
        raise typer.BadParameter(f"「{new_level}」不是照护等级：{LEVEL_HELP}",
                                 param_hint="等级") from None
    settings = load_settings()
    logs.configure(settings, logging.INFO)
    engine = open_engine(settings)
    who = by or getpass.getuser()
    candidates: list[str] = []
    try:
        with session_scope(engine) as session:
            try:
                resident = find_resident(session, ref, community)
            except AmbiguousResident as exc:
                candidates = [_describe(session, r) for r in exc.candidates]
                raise
            previous = set_level(session, resident, wanted)
            label = _describe(session, resident)
            resident_id = resident.id
    except NotFound as exc:
        typer.echo(f"找不到：{exc}（居民可用 OpenID、手机号后4位以上或门牌 3-2-501 指明）", err=True)
        raise typer.Exit(1) from None
    except AmbiguousResident:
        typer.echo(f"「{ref}」对应多位居民，请换用 OpenID 或加 --community：", err=True)
        for line in candidates:
            typer.echo("  " + line, err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    audit.info("resident %s care level %s -> %s by %s%s", resident_id, previous or "none",
               wanted or "none", who, f" ({note})" if note else "")
    typer.echo(f"{label} 照护等级：{previous or '无'} → {wanted or '无'}")


def _describe(session, resident: Resident) -> str:
    """"居民#12 幸福新社区3号楼2单元501 手机尾号1234 OpenID o…" for staff."""
    from storage.models import Building, Community

    parts = [f"居民#{resident.id}"]
    building = session.get(Building, resident.building_id) if resident.building_id else None
    if building is not None:
        community = session.get(Community, building.community_id)
        parts.append(f"{community.name if community else ''}{building.number}号楼"
                     + (f"{resident.unit}单元" if resident.unit else "") + (resident.room or ""))
    if resident.phone:
        parts.append(f"手机尾号{resident.phone[-4:]}")
    parts.append(f"OpenID {resident.openid}")
    return " ".join(parts)

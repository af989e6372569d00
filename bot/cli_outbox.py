"""`gridbot outbox` — staff look at pushes that were not delivered, and send them again.

    gridbot outbox list [--status dead|unknown|pending|sending|sent] [--limit N]
    gridbot outbox retry ID… | --all-dead

"unknown" pushes are in doubt: their last attempt may have reached the recipient (the
worker died mid-send, WeChat did not answer in time …; see bot/relay.py). Check with the
recipient before re-queueing one, or they may get it twice. Re-queued pushes are sent by
the worker's next sweep (every 10 s). The logic is in ``storage.outbox`` (``list_rows``,
``requeue``); this module only parses and prints.

Registered by bot/cli.py: ``app.add_typer(outbox_app, name="outbox")``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:  # storage loads only when a command runs (`gridbot --help` stays fast)
    from storage.models import Outbox

outbox_app = typer.Typer(help="推送队列：查看没有送达的推送，重新发送。",
                         no_args_is_help=True)

TEXT_CHARS = 40
"""Characters of a push's text shown by `list`."""


def recipient(row) -> str:
    """The person a row is for and the address of record: "resident#12:oXYZ", "staff#3:oABC"
    ("resident#?:…" for an old row whose OpenID matched nobody), plus "via <channel>" once
    sent."""
    who = f"{row.recipient_kind}#{row.recipient_id if row.recipient_id is not None else '?'}"
    return f"{who}:{row.openid}" + (f" via {row.channel}" if row.channel else "")


def _line(row: Outbox) -> str:
    """One row: id, status, attempts, last attempt (Asia/Shanghai), recipient, event, text,
    last error."""
    from storage.times import show

    when = show(row.last_attempt_at) if row.last_attempt_at else "-"
    text = row.text if len(row.text) <= TEXT_CHARS else row.text[:TEXT_CHARS] + "…"
    line = (f"#{row.id} {row.status} attempts={row.attempts} last={when} "
            f"{recipient(row)} [{row.event}] {text!r}")
    return line + (f" error={row.last_error}" if row.last_error else "")


@outbox_app.command("list", help=(
    "列出没有（确认）送达的推送，最新的在前。状态：dead 发送失败，unknown 存疑（可能已送达，"
    "重发前先向收件人确认），pending 待发送，sending 发送中，sent 已发送。"))
def list_(
    status: Annotated[list[str] | None, typer.Option(
        metavar="状态", show_default=False,
        help="只看这个状态（可重复给出）：dead、unknown、pending、sending、sent；"
             "默认除 sent 以外的全部。")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="最多列出几条（最新的在前）。")] = 50,
) -> None:
    """List pushes that are not (known to be) delivered, newest first."""
    from sqlmodel import Session

    from storage.models import OutboxStatus
    from storage.outbox import list_rows

    STATUSES = (OutboxStatus.DEAD, OutboxStatus.UNKNOWN, OutboxStatus.PENDING,  # noqa: N806
                OutboxStatus.SENDING, OutboxStatus.SENT)
    bad = [s for s in status or [] if s not in STATUSES]
    if bad:
        raise typer.BadParameter(f"unknown status {', '.join(bad)}; use one of {', '.join(STATUSES)}",
                                 param_hint="--status")
    from bot.preflight import open_engine

    with Session(open_engine()) as session:
        rows = list_rows(session, status or None, limit)
    if not rows:
        typer.echo("没有符合条件的推送")
    for row in rows:
        typer.echo(_line(row))


@outbox_app.command("retry", help=(
    "重新发送推送（失败、存疑或待发送的）；worker 几秒内发出。有指定的推送没能重排时退出码为 1。"))
def retry(
    ids: Annotated[list[int] | None, typer.Argument(
        metavar="推送号", help="推送编号（见 gridbot outbox list），可写多个。", show_default=False)] = None,
    all_dead: Annotated[bool, typer.Option("--all-dead", help="全部发送失败的推送。")] = False,
) -> None:
    """Queue pushes again (dead, unknown or pending); the worker sends them within seconds.

    Exit code 1 when a named push could not be re-queued (missing, in flight or sent).
    """
    from sqlmodel import Session

    from storage.outbox import requeue
    from storage.times import utcnow

    if not ids and not all_dead:
        raise typer.BadParameter("name outbox ids or give --all-dead")
    from bot.preflight import open_engine

    with Session(open_engine(), expire_on_commit=False) as session:
        done, skipped = requeue(session, utcnow(), ids=ids or (), all_dead=all_dead,
                                by="gridbot outbox retry")
        session.commit()
    for row in done:
        typer.echo(f"#{row.id} 已重新排队（{recipient(row)} [{row.event}]）")
    for outbox_id, why in sorted(skipped.items()):
        typer.echo(f"#{outbox_id} 未重新排队：{why}", err=True)
    typer.echo(f"重新排队 {len(done)} 条，未排队 {len(skipped)} 条")
    if skipped:
        raise typer.Exit(1)

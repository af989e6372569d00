"""Progress queries (查询/进度): the resident's latest tickets, or one ticket's timeline."""

from __future__ import annotations

from handlers import handles, shortref
from handlers.turn import Turn
from services.messages import msg
from services.notify import describe
from services.promise import inline
from storage import NotFound, tickets
from storage.times import show


@handles("status_query")
def progress(turn: Turn) -> str:
    """List up to five latest tickets, or the timeline of the ``ticket_no`` slot."""
    resident = turn.resident
    number = turn.understanding.slots.get("ticket_no") if turn.understanding else None
    tz = turn.settings.timezone
    ref = None if number else shortref.find_ref(turn.text, turn.settings.ticket_prefix)
    if ref is not None:  # 「查询 1」「查询 0007」
        recent = tickets.of_resident(turn.session, resident.id, shortref.RESIDENT_LOOKED_AT)
        number, refusal = shortref.lookup(turn, ref, recent, msg("progress_list_hint"),
                                          shortref.MINE)
        if refusal is not None:
            return refusal
    if number:
        try:
            ticket = tickets.by_number(turn.session, number)
        except NotFound:
            return msg("ticket_not_found", no=number)
        if ticket.resident_id != resident.id:
            return msg("ticket_not_yours", no=ticket.number)
        steps = "\n".join(
            msg("progress_step", time=show(e.at, tz), event=msg(f"event.{e.kind}"))
            for e in tickets.timeline(turn.session, ticket)
            if f"event.{e.kind}" in _EVENT_KEYS
        )
        fields = describe(turn.session, ticket)
        fields["status"] += inline(ticket, turn.now)  # 「，预计明天上午9:30前联系您」
        return msg("progress_detail", steps=steps, **fields)
    mine = tickets.of_resident(turn.session, resident.id)
    if not mine:
        return msg("progress_none")
    lines = [msg("progress_header")]
    for n, t in enumerate(mine, start=1):
        f = describe(turn.session, t)
        f["status"] += inline(t, turn.now)
        lines.append(msg("progress_line", time=show(t.created_at, tz), **shortref.line(n, t),
                         **f))
    lines.append(msg("progress_footer"))  # 「查询 2」「撤销 1」 refer to this list
    shortref.remember(turn, mine, shortref.MINE)
    return "\n".join(lines)


def _event_keys() -> set[str]:
    from services.messages import catalogue

    return {k for k in catalogue() if k.startswith("event.")}


_EVENT_KEYS = _event_keys()

"""Cancelling: 「撤销 工单号」 withdraws a ticket; 「取消」 inside a dialogue ends it;
「取消预约」/「退出排队」 go to tool lending, 「取消报名」/「放弃名额」 to care sign-up."""

from __future__ import annotations

from handlers import care_signup, handles, lend_tool, shortref
from handlers.turn import Turn
from services.errors import NotAllowed, WrongState
from services.messages import msg
from services.notify import describe
from services.tickets import cancel as cancel_ticket
from storage import NotFound, tickets
from storage.models import TicketStatus
from storage.times import show


@handles("cancel")
def cancel(turn: Turn) -> str:
    """Cancel the ticket named by ``ticket_no``, or end the current dialogue."""
    number = turn.understanding.slots.get("ticket_no") if turn.understanding else None
    if number is None:
        if (service := _service_cancel(turn)) is not None:
            return service
        open_ones = [t for t in tickets.of_resident(turn.session, turn.resident.id,
                                                    shortref.RESIDENT_LOOKED_AT)
                     if t.status in TicketStatus.OPEN]
        # 「撤销 1」「撤销 0007」
        if (ref := shortref.find_ref(turn.text, turn.settings.ticket_prefix)) is not None:
            number, refusal = shortref.lookup(turn, ref, open_ones, msg("progress_list_hint"),
                                              shortref.MINE)
            if refusal is not None:
                return refusal
    if number is None:
        if set(turn.state or {}) - {shortref.SHOWN}:  # a dialogue, not just a list shown
            turn.finish()
            return msg("dialogue_cancelled")
        if not open_ones:
            return msg("cancel_nothing")
        lines = [msg("cancel_need_number")]
        lines += [msg("progress_line", time=show(t.created_at, turn.settings.timezone),
                      **shortref.line(n, t), **describe(turn.session, t))
                  for n, t in enumerate(open_ones, start=1)]
        shortref.remember(turn, open_ones, shortref.MINE)
        return "\n".join(lines)
    try:
        ticket = tickets.by_number(turn.session, number, for_update=True)
    except NotFound:
        return msg("ticket_not_found", no=number)
    try:
        cancel_ticket(turn.session, ticket, turn.resident, turn.now)
    except NotAllowed:
        return msg("ticket_not_yours", no=ticket.number)
    except WrongState:
        return msg("cancel_not_allowed", no=ticket.number, status=msg(f"status.{ticket.status}"))
    return msg("cancel_done", no=ticket.number)


CARE_WORDS = ("报名", "候补", "名额", "托管", "课堂")
LENDING_WORDS = ("预约", "排队", "借")


def _service_cancel(turn: Turn) -> str | None:
    """The reply when the resident cancels a sign-up or a loan reservation, else None."""
    text = turn.text
    if any(word in text for word in CARE_WORDS):
        if "名额" in text and not any(w in text for w in ("报名", "候补")):
            return care_signup.decline_offer(turn)
        return care_signup.cancel(turn, text)
    if any(word in text for word in LENDING_WORDS):
        return lend_tool.cancel(turn, text)
    return None

"""Telling people about a ticket: the fields they read, and pushes to staff, to the first
owner (首问负责) and to the residents concerned, queued in the outbox in the caller's
transaction (``storage.outbox.add_push``; ``bot.push`` delivers them).

Words come from the message catalogue (``services.messages``); staff recused from a ticket
(``services.conflict``) are never told about it. ``message_resident`` is the one staff action
here: a staff member's own words to a ticket's reporter (the console's 「给居民留言」).
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from services import conflict, permissions
from services.errors import Invalid
from services.messages import msg
from services.people import COMMUNITY_LEVEL
from storage import org as org_repo
from storage import tickets as repo
from storage.models import (
    Department,
    GridWorker,
    Outbox,
    Resident,
    Ticket,
    TicketFollower,
    TicketStatus,
)
from storage.outbox import Recipient, add_push
from storage.times import show

S = TicketStatus


def describe(session: Session, ticket: Ticket) -> dict[str, str]:
    """Fields people see: no, kind, category, address, status (Chinese), text."""
    building = org_repo.building(session, ticket.building_id) if ticket.building_id else None
    place = org_repo.place(session, ticket.place_id) if ticket.place_id else None
    address = (org_repo.format_address(building.name, ticket.unit, ticket.room) if building
               else place.name if place else ticket.location or msg("text.no_address"))
    return {
        "no": ticket.number,
        "kind": msg(f"kind.{ticket.kind}"),
        "category": ticket.category or msg("text.other_category"),
        "address": address,
        "status": status_text(session, ticket),
        "text": ticket.description,
    }


def status_text(session: Session, ticket: Ticket) -> str:
    """The status as people read it, hand-overs included: 「已转交物业公司，待接单」 after a
    转派 to a department, and 「（社区已介入）」 added while an open ticket is escalated to
    the community (上报, or the 督办 ladder's level 2 and up)."""
    text = msg(f"status.{ticket.status}")
    if ticket.department_id is not None and ticket.status == S.ASSIGNED:
        department = session.get(Department, ticket.department_id)
        text = msg("handover.status_department", department=department.name if department
                   else "-")
    if ticket.escalation_level >= COMMUNITY_LEVEL and ticket.status in S.OPEN:
        text += msg("handover.status_escalated")
    return text


def template_data(fields: dict[str, str], now: datetime, remark: str = "") -> dict[str, str]:
    """Template message data (first/keyword1…/remark) for a ticket push; ``fields`` as
    ``describe`` gives them."""
    return {"first": msg("push.template_first", kind=fields["kind"]), "keyword1": fields["no"],
            "keyword2": fields["status"], "keyword3": show(now), "remark": remark}


def tell_staff(session: Session, people: list[GridWorker], ticket: Ticket, event: str,
               text: str, skip: GridWorker | None = None) -> int:
    """Push ``text`` to each distinct person (not ``skip``, nor anyone recused from the
    ticket: ``services.conflict``); returns how many were told."""
    seen: set[int] = {skip.id} if skip is not None else set()
    recused = conflict.recused_ids(session, ticket)
    for person in people:
        if person.id in seen or person.id in recused:
            continue
        seen.add(person.id)
        add_push(session, to=Recipient.staff(person), event=event, text=text,
                 ticket_id=ticket.id)
    return len(seen) - (1 if skip is not None else 0)


def tell_owner(session: Session, ticket: Ticket, event: str, text: str,
               skip: GridWorker | None = None) -> None:
    """首问负责: keep the first owner informed when someone else works the ticket."""
    owner = org_repo.staff(session, ticket.first_owner_id) if ticket.first_owner_id else None
    if owner is not None and owner.active and owner.id != ticket.assignee_id:
        tell_staff(session, [owner], ticket, event, text, skip=skip)


def tell_resident(session: Session, ticket: Ticket, event: str, text: str, now: datetime,
                  remark: str = "") -> None:
    """Push to the reporting resident and to every follower (joined duplicates); residents
    with no OpenID (anonymised, or reported through another door) are skipped."""
    ids = [ticket.resident_id] if ticket.resident_id else []
    ids += list(session.exec(select(TicketFollower.resident_id)
                             .where(TicketFollower.ticket_id == ticket.id)
                             .order_by(TicketFollower.id)))
    data = template_data(describe(session, ticket), now, remark)
    for resident_id in dict.fromkeys(ids):
        push_resident(session, resident_id, event, text, data, ticket_id=ticket.id)


def push_resident(session: Session, resident_id: int | None, event: str, text: str,
                  data: dict[str, str], ticket_id: int | None = None) -> bool:
    """Stage a push of ``text`` (template fields ``data``) to resident ``resident_id``;
    False, and nothing staged, when there is nobody to tell (no id, anonymised after
    unsubscribing, or added by staff without an account)."""
    resident = session.get(Resident, resident_id) if resident_id else None
    if resident is None or not resident.openid:
        return False
    add_push(session, to=Recipient.resident(resident), event=event, text=text, data=data,
             ticket_id=ticket_id)
    return True


STAFF_MESSAGE = "staff_message"
"""TicketEvent.kind and Outbox.event of a staff member's message to the reporter."""
STAFF_MESSAGE_MAX_CHARS = 500
"""The longest message staff may send (a customer-service text message holds 2048 bytes;
the catalogue's frame and a Chinese text at 3 bytes a character stay inside it)."""


def message_resident(session: Session, ticket: Ticket, by: GridWorker, text: str,
                     now: datetime) -> Outbox:
    """A staff message to the ticket's reporter (``push.staff_message``), queued in the outbox:
    the relay sends it as a customer-service message (客服消息) inside WeChat's 48-hour window
    and as a template message (模板消息, ``template_data`` with the text as remark) outside it
    (``bot.push``). Recorded on the timeline as a ``STAFF_MESSAGE`` event with the text.
    Returns the staged outbox row.

    Raises NotAllowed (``by`` may not act on the ticket: ``permissions`` action "message"),
    Invalid (empty or longer than ``STAFF_MESSAGE_MAX_CHARS`` characters, or a reporter with
    no WeChat account to reach: reported through another door, or forgotten).
    """
    permissions.require(session, by, "message", ticket)
    text = text.strip()
    if not text:
        raise Invalid("a message needs text")
    if len(text) > STAFF_MESSAGE_MAX_CHARS:
        raise Invalid(f"a message holds at most {STAFF_MESSAGE_MAX_CHARS} characters")
    resident = session.get(Resident, ticket.resident_id) if ticket.resident_id else None
    if resident is None or not resident.openid:
        raise Invalid(f"{ticket.number}: the reporter has no WeChat account to message")
    row = add_push(session, to=Recipient.resident(resident), event=STAFF_MESSAGE,
                   text=msg("push.staff_message", no=ticket.number, who=by.name, text=text),
                   data=template_data(describe(session, ticket), now, text[:100]),
                   ticket_id=ticket.id)
    repo.record(session, ticket, STAFF_MESSAGE, f"worker:{by.id}", now, text)
    return row

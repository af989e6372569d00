"""Telling people about a ticket: the fields they read, and pushes to staff, to the first
owner (首问负责) and to the residents concerned, queued in the outbox in the caller's
transaction (``storage.outbox.add_push``; ``bot.push`` delivers them).

Words come from the message catalogue (``services.messages``); staff recused from a ticket
(``services.conflict``) are never told about it.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from services import conflict
from services.messages import msg
from services.people import COMMUNITY_LEVEL
from storage import org as org_repo
from storage.models import (
    Department,
    GridWorker,
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
               else place.name if place else ticket.location or "未填写")
    return {
        "no": ticket.number,
        "kind": msg(f"kind.{ticket.kind}"),
        "category": ticket.category or "其他",
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
    return {"first": f"{fields['kind']}工单进度", "keyword1": fields["no"],
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

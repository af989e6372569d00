"""One ticket as staff read it on the console's ticket page: its timeline (every step and
every push with its delivery), its photos, where it is, who has it and its SLA countdowns.

``ticket_detail(session, ticket, worker, now)`` reads only; it first checks that ``worker``
may see the ticket (``can_view``). Entries are merged by time: a step at ``TicketEvent.at``,
a push at ``Outbox.created_at`` (the real clock when it was staged). Names are given as data
(``actor_kind`` "worker", "resident", "system" or another door's label such as
"open311:<client>"); the console's templates put them in words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from services import conflict, permissions
from services.errors import NotAllowed
from services.notify import describe
from services.queue import Countdown, countdowns
from services.scope import scope_of, ticket_filter
from services.tickets import LOCATION, PHOTO
from storage import org as org_repo
from storage import tickets as repo
from storage.models import (
    Building,
    Community,
    Department,
    GridWorker,
    Outbox,
    Resident,
    Ticket,
    TicketEvent,
)
from storage.phones import masked
from storage.times import as_utc


@dataclass(frozen=True)
class Entry:
    """One line of the timeline: a step (``event``) or a push (``push``: recipient, channel,
    status, sent_at, last_error, attempts are the outbox row's), never both. ``at`` is aware
    UTC. ``actor_kind``/``actor_name``: who took the step — "worker" and the staff member's
    name, "resident" and "", "system" and "", or another door's label as both; for a push:
    the recipient ("worker" with the name, or "resident")."""

    at: datetime
    event: TicketEvent | None = None
    push: Outbox | None = None
    actor_kind: str = "system"
    actor_name: str = ""
    text: str = ""
    """The step's note or the push's text, with phone numbers masked (``mask_phones``)."""

    @property
    def kind(self) -> str:
        """The step's kind (TicketEvent.kind) or the push's catalogue event (Outbox.event)."""
        return self.event.kind if self.event is not None else self.push.event


@dataclass(frozen=True)
class Photo:
    """A picture sent with or after the report: its URL (WeChat's PicUrl; only http(s) URLs
    are listed), when (aware UTC), and who sent it (an actor label)."""

    url: str
    at: datetime
    actor: str


@dataclass(frozen=True)
class Location:
    """Where the problem is: the ticket's community, grid, building (name, unit, room) or
    public place, the location text, coordinates (WGS-84 degrees) and the later points sent
    (their labels); ``buildings``: (building id, number, name) of every building of the grid,
    by number, so the page can show the ticket's building on the grid's building list."""

    address: str
    community: str | None
    grid: str | None
    building_id: int | None
    building: str | None
    unit: int | None
    room: str | None
    place: str | None
    text: str | None
    latitude: float | None
    longitude: float | None
    points: tuple[str, ...]
    buildings: tuple[tuple[int, int, str], ...]


@dataclass(frozen=True)
class TicketDetail:
    """What the ticket page shows. ``fields`` as ``services.notify.describe``; names are ""
    when nobody; ``reporter_phone`` masked (``storage.phones.masked``: 「138****0001」) or
    None; ``reporter_reachable``: the reporter has a WeChat account a message can go to;
    ``response``/``resolve`` as ``services.queue.countdowns``."""

    ticket: Ticket
    fields: dict[str, str]
    assignee_name: str
    first_owner_name: str
    department_name: str
    reporter_phone: str | None
    reporter_reachable: bool
    entries: list[Entry]
    photos: list[Photo]
    location: Location
    response: Countdown | None
    resolve: Countdown | None


def can_view(session: Session, worker: GridWorker, ticket: Ticket) -> bool:
    """Whether ``worker`` may see ``ticket``: within their scope (``services.scope``) or one
    they may act on (``permissions`` action "view"), never when recused from it."""
    if permissions.allowed(session, worker, "view", ticket):
        return True
    if worker.id in conflict.recused_ids(session, ticket):
        return False
    found = session.exec(select(Ticket.id).where(Ticket.id == ticket.id,
                                                 ticket_filter(scope_of(session, worker))))
    return found.first() is not None


def ticket_detail(session: Session, ticket: Ticket, worker: GridWorker,
                  now: datetime) -> TicketDetail:
    """The ticket page of ``ticket`` for ``worker`` at ``now`` (aware UTC).
    Raises NotAllowed("view", number) when ``can_view`` says no."""
    if not can_view(session, worker, ticket):
        raise NotAllowed("view", ticket.number)
    events = repo.timeline(session, ticket)
    pushes = list(session.exec(select(Outbox).where(Outbox.ticket_id == ticket.id)
                               .order_by(col(Outbox.id))))
    names = _staff_names(session, events, pushes, ticket)
    entries = [Entry(as_utc(e.at), event=e, text=mask_phones(e.note or ""),
                     **_actor(e.actor, names)) for e in events]
    entries += [Entry(as_utc(p.created_at), push=p, text=mask_phones(p.text),
                      actor_kind="worker" if p.recipient_kind == "staff" else "resident",
                      actor_name=names.get(p.recipient_id, "") if p.recipient_kind == "staff"
                      else "") for p in pushes]
    entries.sort(key=lambda e: (e.at, e.push is not None,
                                (e.event or e.push).id))
    resident = session.get(Resident, ticket.resident_id) if ticket.resident_id else None
    department = session.get(Department, ticket.department_id) if ticket.department_id else None
    response, resolve = countdowns(ticket, now)
    return TicketDetail(
        ticket=ticket, fields=describe(session, ticket),
        assignee_name=names.get(ticket.assignee_id, "") if ticket.assignee_id else "",
        first_owner_name=names.get(ticket.first_owner_id, "") if ticket.first_owner_id else "",
        department_name=department.name if department else "",
        reporter_phone=masked(resident.phone) if resident and resident.phone else None,
        reporter_reachable=bool(resident and resident.openid),
        entries=entries,
        photos=[Photo(e.note, as_utc(e.at), e.actor) for e in events
                if e.kind == PHOTO and e.note and e.note.startswith(("https://", "http://"))],
        location=_location(session, ticket, events),
        response=response, resolve=resolve)


_MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def mask_phones(text: str) -> str:
    """``text`` with every mobile number in it masked as ``storage.phones.masked`` does
    (「居民电话：13712345678」 → 「居民电话：137****5678」): the timeline repeats what the
    pushes said, and the page shows the reporter's phone masked only."""
    return _MOBILE.sub(lambda m: masked(m.group(0)), text)


def _staff_names(session: Session, events: list[TicketEvent], pushes: list[Outbox],
                 ticket: Ticket) -> dict[int, str]:
    ids = {int(e.actor.removeprefix("worker:")) for e in events
           if e.actor.startswith("worker:") and e.actor[7:].isdigit()}
    ids |= {p.recipient_id for p in pushes if p.recipient_kind == "staff" and p.recipient_id}
    ids |= {i for i in (ticket.assignee_id, ticket.first_owner_id) if i}
    if not ids:
        return {}
    return dict(session.exec(select(GridWorker.id, GridWorker.name)
                             .where(col(GridWorker.id).in_(ids))).all())


def _actor(label: str, names: dict[int, str]) -> dict[str, str]:
    kind, _, rest = label.partition(":")
    if kind == "worker" and rest.isdigit():
        return {"actor_kind": "worker", "actor_name": names.get(int(rest), label)}
    if kind in ("resident", "system"):
        return {"actor_kind": kind, "actor_name": ""}
    return {"actor_kind": label, "actor_name": label}


def _location(session: Session, ticket: Ticket, events: list[TicketEvent]) -> Location:
    building = org_repo.building(session, ticket.building_id) if ticket.building_id else None
    place = org_repo.place(session, ticket.place_id) if ticket.place_id else None
    grid = org_repo.grid(session, ticket.grid_id) if ticket.grid_id else None
    community_id = grid.community_id if grid else building.community_id if building else None
    community = session.get(Community, community_id) if community_id else None
    buildings: tuple[tuple[int, int, str], ...] = ()
    if grid is not None:
        buildings = tuple(session.exec(
            select(Building.id, Building.number, Building.name)
            .where(Building.grid_id == grid.id).order_by(Building.number)).all())
    return Location(
        address=describe(session, ticket)["address"],
        community=community.name if community else None,
        grid=grid.name if grid else None,
        building_id=building.id if building else None,
        building=building.name if building else None,
        unit=ticket.unit, room=ticket.room,
        place=place.name if place else None,
        text=ticket.location, latitude=ticket.latitude, longitude=ticket.longitude,
        points=tuple(e.note for e in events if e.kind == LOCATION and e.note),
        buildings=tuple(tuple(b) for b in buildings))

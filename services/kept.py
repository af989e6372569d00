"""「待人工处理」: the messages the bot kept for staff, and what staff do with them.

A message is kept when the bot could not place it (``InboundMessage.needs_staff``) or failed
on it (``InboundMessage.error``). Staff deal with it once, in one of two ways, and it is then
handled (``handled_at``/``handled_by_id``):

- ``answer``: a sentence goes to the resident through the outbox (the relay sends a
  客服消息 inside WeChat's 48-hour window, a 模板消息 otherwise) and is kept as
  ``staff_reply``;
- ``to_ticket``: the message becomes a ticket routed like a chat report
  (``services.tickets.open_ticket``); the resident is pushed its number
  (``handled_ticket_id`` keeps it).

Who sees a kept message (``visible``): the sender's community comes from the resident row
(its ``community_id``, else its building's). A 街道管理员 (scope over all communities)
sees every message; others see the messages of residents in their scope
(``services.scope``: their communities, or their grids for grid-level staff). A sender
whose community is unknown is shown to the staff of a community only when the account has
one community (then it can only be theirs). Capability "kept" (``services.permissions``)
decides who works this list at all.

Errors: NotFound (no such kept message, or not in the worker's scope — not told apart, so
nobody learns what exists elsewhere), NotAllowed (no "kept" capability), WrongState (already
handled), Invalid (empty answer, unknown kind/category/building, or the resident is
anonymised and cannot be told).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, case, cast, false, func, or_, text, true
from sqlmodel import Session, col, select

from intents.slots import UNIT_MAX, is_room_number
from services import scope as scopes
from services.errors import Invalid, NotFound, WrongState
from services.messages import msg
from services.notify import STAFF_MESSAGE_MAX_CHARS, describe, push_resident, template_data
from services.permissions import may, require_may
from services.promise import for_ticket
from services.tickets import NewTicket, Reporter, open_ticket
from storage import categories, org
from storage.models import KEPT_SQL, Building, GridWorker, InboundMessage, Resident, Ticket
from storage.numbers import DEFAULT_TICKET_PREFIX
from storage.phones import masked
from storage.times import as_utc, show

CAPABILITY = "kept"
"""The ``services.permissions.may`` capability of this list."""
ANSWER_MAX_CHARS = STAFF_MESSAGE_MAX_CHARS
"""Longest staff answer: as long as a staff message about a ticket (``services.notify``)."""
SERVICE_WINDOW_S = 48 * 3600
"""WeChat's customer-service window: 客服消息 reach a follower within 48 h of their last
message; later the relay falls back to a 模板消息 (``bot.push``)."""
ANON_PREFIX = "anon:"
"""``services.privacy.marker``: the OpenID column of an anonymised resident's messages."""

_ANON_ID = case((col(InboundMessage.openid).startswith(ANON_PREFIX),
                 cast(func.substr(InboundMessage.openid, len(ANON_PREFIX) + 1), Integer)),
                else_=None)
"""The resident id in an anonymised message's "anon:<id>" (NULL for any other OpenID)."""
_RESIDENT_JOIN = or_(Resident.openid == InboundMessage.openid, Resident.id == _ANON_ID)
"""The sender of a message: the resident with its OpenID, or the anonymised one it names
(both sides index lookups: resident.openid, resident.id)."""
_COMMUNITY = func.coalesce(Resident.community_id, Building.community_id)
"""The sender's community: their own, else their building's (None: unknown)."""


@dataclass(frozen=True)
class KeptRow:
    """One kept message as staff read it.

    ``phone`` is masked (「137****0000」); ``address`` is the home as people write it
    (None: unknown); ``community`` the community's name (None: unknown); ``anonymised``:
    the resident unsubscribed and was forgotten (nobody to answer). ``received_at`` and
    ``handled_at`` are aware UTC; ``confidence`` 0–1 of the ``intent`` guess; ``in_window``:
    the resident wrote within ``SERVICE_WINDOW_S`` of ``now`` (an answer goes as a 客服消息;
    else as a 模板消息).
    """

    id: int
    content: str | None
    msg_type: str
    received_at: datetime
    reply: str | None
    intent: str | None
    confidence: float | None
    error: str | None
    resident_id: int | None
    phone: str | None
    address: str | None
    community_id: int | None
    community: str | None
    anonymised: bool
    handled_at: datetime | None
    handled_by: str | None
    staff_reply: str | None
    ticket_id: int | None
    ticket_number: str | None
    in_window: bool = False
    home_unit: int | None = None
    """The resident's registered 单元 (None: unknown), to prefill the to-ticket form."""
    home_room: str | None = None
    """The resident's registered 房号 (None: unknown)."""


def _kept():
    """Messages kept for staff (not placed, or failed on): ``storage.models.KEPT_SQL`` written
    into the SQL as the partial index ``ix_inboundmessage_kept_open`` has it, so that
    PostgreSQL uses the index for the unhandled ones."""
    return text(KEPT_SQL)


def _scope_clause(session: Session, worker: GridWorker):
    """WHERE clause over (resident, building) keeping the senders ``worker`` may see
    (see the module doc)."""
    scope = scopes.scope_of(session, worker)
    if scope.everything:
        return true()
    parts = []
    if scope.community_ids:
        parts.append(_COMMUNITY.in_(sorted(scope.community_ids)))
    if scope.grid_ids:
        parts.append(col(Building.grid_id).in_(sorted(scope.grid_ids)))
    if scope.gridless and len(org.communities(session)) == 1:
        parts.append(_COMMUNITY.is_(None))  # one community: a sender of no known one is its
    return or_(*parts) if parts else false()


def _query(session: Session, worker: GridWorker, include_handled: bool):
    query = (select(InboundMessage, Resident, Building)
             .outerjoin(Resident, _RESIDENT_JOIN)
             .outerjoin(Building, Building.id == Resident.building_id)
             .where(_kept(), _scope_clause(session, worker)))
    if not include_handled:
        query = query.where(col(InboundMessage.handled_at).is_(None))
    return query


def list_kept(session: Session, worker: GridWorker, now: datetime,
              include_handled: bool = False, limit: int = 50, offset: int = 0
              ) -> list[KeptRow]:
    """The kept messages ``worker`` may see, oldest first (received_at, id); handled ones
    too when ``include_handled``; ``in_window`` as of ``now`` (aware UTC). Raises NotAllowed
    without the "kept" capability."""
    require_may(session, worker, CAPABILITY)
    rows = session.exec(_query(session, worker, include_handled)
                        .order_by(col(InboundMessage.received_at), col(InboundMessage.id))
                        .limit(limit).offset(offset)).all()
    return [_row(session, message, resident, building, now)
            for message, resident, building in rows]


def count_kept(session: Session, worker: GridWorker) -> int:
    """How many unhandled kept messages ``worker`` may see (the nav badge); 0 for staff
    without the "kept" capability."""
    if not may(session, worker, CAPABILITY):
        return 0
    inner = _query(session, worker, include_handled=False).with_only_columns(InboundMessage.id)
    return session.exec(select(func.count()).select_from(inner.subquery())).one()


def get_kept(session: Session, message_id: int, worker: GridWorker,
             now: datetime | None = None) -> KeptRow:
    """One kept message ``worker`` may see (``in_window`` as of ``now``, aware UTC; False
    without it). Raises NotAllowed (no "kept" capability), NotFound (no such kept message,
    or outside the worker's scope)."""
    require_may(session, worker, CAPABILITY)
    found = session.exec(_query(session, worker, include_handled=True)
                         .where(InboundMessage.id == message_id)).first()
    if found is None:
        raise NotFound(f"kept message {message_id}")
    return _row(session, *found, now)


def answer(session: Session, message_id: int, worker: GridWorker, text: str,
           now: datetime) -> InboundMessage:
    """Send staff's ``text`` to the resident who wrote kept message ``message_id`` and mark
    it handled (``staff_reply`` = the text). ``now`` is aware UTC. Returns the message row.

    Raises NotAllowed, NotFound (see ``get_kept``), WrongState (already handled), Invalid
    (empty text or longer than ``ANSWER_MAX_CHARS``; the resident is anonymised or has no
    resident row to push to).
    """
    text = (text or "").strip()
    if not text:
        raise Invalid(msg("kept.answer_empty"))
    if len(text) > ANSWER_MAX_CHARS:
        raise Invalid(msg("kept.answer_too_long", max=ANSWER_MAX_CHARS))
    message, resident = _lock_open(session, message_id, worker)
    fields = {"text": text, "asked": _excerpt(message)}
    data = {"first": msg("kept.template_first"), "keyword1": fields["asked"],
            "keyword2": text, "keyword3": show(now), "remark": ""}
    if not push_resident(session, resident.id, "kept.push_answer",
                         msg("kept.push_answer", **fields), data):
        raise Invalid(msg("kept.resident_gone"))
    _mark(message, worker, now, staff_reply=text)
    return message


def to_ticket(session: Session, message_id: int, worker: GridWorker, kind: str,
              category: str | None, now: datetime, building_id: int | None = None,
              unit: int | None = None, room: str | None = None, place_id: int | None = None,
              prefix: str = DEFAULT_TICKET_PREFIX) -> Ticket:
    """Turn kept message ``message_id`` into a ticket, routed like a chat report: where the
    problem is (``building_id`` + unit/room, or ``place_id``; neither: the resident's home)
    decides the grid and its worker is pushed the task (``services.tickets.open_ticket``).
    ``unit`` (1–``UNIT_MAX``) and ``room`` (3–4 digits, as the chat reads them) go with a
    building; at home they replace the registered ones (None keeps the registered value);
    a place has none (ignored). Checked only where used (a home left as registered is not).
    The resident is pushed the ticket number; the message is marked handled with
    ``handled_ticket_id``. ``kind`` is a ``storage.categories.KINDS`` kind, ``category`` a
    category name of that kind (None: 其他); ``now`` aware UTC. Returns the ticket.

    Raises NotAllowed (see ``get_kept``; or the building or place is in a community out of
    the worker's reach), NotFound (see ``get_kept``), WrongState (already handled: a second
    click makes no second ticket), Invalid (unknown kind, category, building or place; the
    resident is anonymised; a unit or room out of those rules; a unit or room at home when the
    resident's home building is unknown).
    """
    if kind not in categories.KINDS:
        raise Invalid(msg("kept.unknown_kind", kind=kind))
    if category is not None and category not in categories.load().names(kind):
        raise Invalid(msg("kept.unknown_category", category=category))
    message, resident = _lock_open(session, message_id, worker)
    if building_id is None and place_id is None:
        building_id, unit, room = _at_home(resident, unit, room)
    if building_id is not None:
        check_unit_room(unit, room)
    where = _where(session, worker, building_id, unit, room, place_id)
    photo = message.msg_type == "image" and bool(message.content)
    report = NewTicket(
        kind=kind, category=category, urgent=kind == "emergency",
        description=msg("kept.photo_description") if photo else message.content or "-",
        photos=(message.content,) if photo else (), source_msg_id=message.id, **where)
    ticket = open_ticket(session, Reporter.of(resident), report, now, prefix)
    fields = describe(session, ticket)
    assignee = org.staff(session, ticket.assignee_id) if ticket.assignee_id else None
    if assignee is not None:
        opened = msg("ticket_opened", grid=org.get_grid(session, ticket.grid_id).name,
                     worker=assignee.name, promise=for_ticket(ticket, now), **fields)
    else:
        opened = msg("ticket_opened_unassigned", promise=for_ticket(ticket, now), **fields)
    push_resident(session, resident.id, "kept.push_ticket_opened",
                  msg("kept.push_ticket_opened", asked=_excerpt(message), opened=opened),
                  template_data(fields, now), ticket_id=ticket.id)
    _mark(message, worker, now, ticket_id=ticket.id)
    return ticket


def where_choices(session: Session, worker: GridWorker, row: KeptRow
                  ) -> list[tuple[str, int, str]]:
    """Where staff may say the problem of kept message ``row`` is, for ``to_ticket``:
    ``("building", id, label)`` and ``("place", id, label)`` of the sender's community (of
    the communities in the worker's scope when it is unknown), buildings by number then
    places; the label names the community too when the account has several."""
    seen = scopes.community_ids_seen(session, scopes.scope_of(session, worker))
    several = len(org.communities(session)) > 1
    names = {c.id: c.name for c in org.communities(session)}
    ids = ([row.community_id] if row.community_id is not None
           else [c for c in names if seen is None or c in seen])
    choices: list[tuple[str, int, str]] = []
    for community_id in ids:
        prefix = names.get(community_id, "") if several else ""
        for b in session.exec(select(Building).where(Building.community_id == community_id)
                              .order_by(col(Building.number), col(Building.id))):
            choices.append(("building", b.id, prefix + b.name))
    for community_id in ids:
        prefix = names.get(community_id, "") if several else ""
        choices += [("place", p.id, prefix + p.name) for p in org.places(session, community_id)]
    return choices


def _lock_open(session: Session, message_id: int, worker: GridWorker
               ) -> tuple[InboundMessage, Resident]:
    """The unhandled kept message (row-locked until commit) and its living resident.
    Raises NotAllowed, NotFound, WrongState, Invalid (see ``answer``)."""
    get_kept(session, message_id, worker)  # capability and scope
    message = session.exec(select(InboundMessage).where(InboundMessage.id == message_id)
                           .with_for_update()
                           .execution_options(populate_existing=True)).one()
    if message.handled_at is not None:
        raise WrongState(msg("kept.already_handled"))
    resident = _sender(session, message)
    if resident is None or not resident.openid:
        raise Invalid(msg("kept.resident_gone"))
    return message, resident


def _sender(session: Session, message: InboundMessage) -> Resident | None:
    """The resident who sent ``message`` (anonymised ones included), or None."""
    return session.exec(select(Resident).where(_RESIDENT_JOIN,
                                               InboundMessage.id == message.id)).first()


def _where(session: Session, worker: GridWorker, building_id: int | None, unit: int | None,
           room: str | None, place_id: int | None) -> dict:
    """``NewTicket`` location fields ({}: the reporter's home, as ``open_ticket`` takes it).
    A building or place named must exist (Invalid) in a community within the worker's
    reach (NotAllowed: nobody files a ticket into another community's grid)."""
    if building_id is not None:
        found = org.building(session, building_id)
        if found is None:
            raise Invalid(msg("kept.unknown_building"))
        require_may(session, worker, CAPABILITY, found.community_id)
        return {"building_id": building_id, "unit": unit, "room": room or None}
    if place_id is not None:
        spot = org.place(session, place_id)
        if spot is None:
            raise Invalid(msg("kept.unknown_place"))
        require_may(session, worker, CAPABILITY, spot.community_id)
        return {"place_id": place_id}
    return {}


def check_unit_room(unit: int | None, room: str | None) -> None:
    """Raises Invalid unless ``unit`` is None or 1–``UNIT_MAX`` and ``room`` is None or 3–4
    ASCII digits, not all zeros (the chat's rules: ``intents.slots``)."""
    if unit is not None and not 1 <= unit <= UNIT_MAX:
        raise Invalid(msg("kept.bad_unit", max=UNIT_MAX))
    if room is not None and not is_room_number(room):
        raise Invalid(msg("kept.bad_room"))


def _at_home(resident: Resident, unit: int | None, room: str | None
             ) -> tuple[int | None, int | None, str | None]:
    """(building_id, unit, room) of a ticket at the resident's home: (None, None, None) —
    ``open_ticket`` takes the home as registered — unless staff gave a unit or room that
    differs from it; then the home building with those (a None one kept from the home).
    Raises Invalid (a unit or room given but the home building is unknown)."""
    if unit is None and room is None:
        return None, None, None
    if resident.building_id is None:
        raise Invalid(msg("kept.home_unknown"))
    unit = unit if unit is not None else resident.unit
    room = room if room is not None else resident.room
    if (unit, room) == (resident.unit, resident.room):
        return None, None, None
    return resident.building_id, unit, room


def _mark(message: InboundMessage, worker: GridWorker, now: datetime, *,
          staff_reply: str | None = None, ticket_id: int | None = None) -> None:
    message.handled_at = now
    message.handled_by_id = worker.id
    message.staff_reply = staff_reply
    message.handled_ticket_id = ticket_id


EXCERPT_CHARS = 20


def _excerpt(message: InboundMessage) -> str:
    """The first ``EXCERPT_CHARS`` characters of a text message (「…」 after a cut), or a
    word for a picture, voice or other message."""
    if message.msg_type in ("text", "voice") and message.content:
        text = message.content.strip()
        return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + "…"
    return msg("kept.excerpt_other")


def _row(session: Session, message: InboundMessage, resident: Resident | None,
         building: Building | None, now: datetime | None) -> KeptRow:
    community_id = (resident.community_id if resident and resident.community_id
                    else building.community_id if building else None)
    community = next((c for c in org.communities(session) if c.id == community_id), None)
    handler = org.staff(session, message.handled_by_id) if message.handled_by_id else None
    ticket = session.get(Ticket, message.handled_ticket_id) if message.handled_ticket_id else None
    return KeptRow(
        id=message.id, content=message.content, msg_type=message.msg_type,
        received_at=message.received_at, reply=message.reply, intent=message.intent,
        confidence=message.confidence, error=message.error,
        resident_id=resident.id if resident else None,
        phone=masked(resident.phone) if resident and resident.phone else None,
        address=org.address_of(session, resident) if resident else None,
        community_id=community_id, community=community.name if community else None,
        anonymised=resident is None or resident.openid is None,
        handled_at=message.handled_at, handled_by=handler.name if handler else None,
        staff_reply=message.staff_reply, ticket_id=ticket.id if ticket else None,
        ticket_number=ticket.number if ticket else None,
        in_window=bool(now and resident and resident.openid and resident.last_message_at
                       and (now - as_utc(resident.last_message_at)).total_seconds()
                       < SERVICE_WINDOW_S),
        home_unit=resident.unit if resident and resident.building_id else None,
        home_room=resident.room if resident and resident.building_id else None,
    )

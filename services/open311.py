"""Open311 GeoReport v2, read side: the service list and what anyone may read about tickets.

GeoReport v2 (wiki.open311.org/GeoReport_v2) names things so; here they are:

- a **service** is a ticket category of ``storage/categories.toml``: ``service_code`` is the
  category's ``code``, ``service_name`` its (Chinese) name, ``group`` its kind (报修 / 投诉),
  ``type`` "realtime" (a POST makes the ticket at once), ``keywords`` the category's strongest
  words of the intent lexicon, ``metadata`` false (no extra attributes). Emergency categories
  (急救, 治安 …) are not offered: GeoReport is for non-emergency issues, and a resident in
  danger is told to call 110/119/120 first (the chat does that). Nor are emergency tickets
  ever read through GET (an ambulance call is health data of an address): unknown there;
- a **service request** is a ticket; ``service_request_id`` is its number (GD20261122-0007),
  the same one residents and staff read.

What a request shows (``request_fields``) — GET is public in GeoReport, so it carries no
personal data: no reporter name, phone, unit or room; ``description`` and ``status_notes`` go
through ``services.public_text`` (phones, addresses, rooms, coordinates, e-mail and WeChat
accounts, names masked: stricter than ``services.privacy.scrub``); ``address`` is the
community and the building or public place (「幸福新社区3号楼」), never the flat; ``lat`` /
``long`` the building's or place's coordinates, else the ticket's point rounded to about
100 m (``public_point``: a resident's shared location is their home); ``media_url``
only a picture the Open311 client itself posted (residents' WeChat photos stay inside).
``status`` is "open" while the ticket is in ``TicketStatus.OPEN``, else "closed" (resolved
counts as closed: the work is done; a 不满意 reopens it). ``agency_responsible`` is the
department it was transferred to (转派), else the community and grid. Datetimes are W3C
(ISO 8601) with the offset of the people-facing zone (``+08:00`` for Asia/Shanghai).

The write side (POST) is ``services.open311_intake``; the HTTP door is ``bot.open311``.
Errors are ``services.errors``: NotFound (unknown service, request or jurisdiction_id: the
spec's 404), Invalid (a bad filter: 400);
their messages are the Chinese sentences of the ``[open311]`` catalogue table.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import Session, col, select

from intents.lexicon import load_lexicon
from services.errors import Invalid, NotFound
from services.messages import msg
from services.public_text import public_text
from storage import categories as category_file
from storage import org
from storage.models import Community, Department, Grid, Ticket, TicketEvent, TicketStatus
from storage.times import as_utc, local

SPEC = "http://wiki.open311.org/GeoReport_v2"
KINDS = ("repair", "complaint")
"""Category kinds offered as services (emergencies are not: see the module docstring)."""
DEFAULT_SPAN_DAYS = 90
"""GET requests without dates covers this many days back from now; no span may be longer."""
MAX_RESULTS = 1000
"""At most this many requests per GET (newest first), as the spec suggests."""
KEYWORDS_PER_SERVICE = 6
PHOTO_EVENT = "photo"
"""``services.tickets.PHOTO`` (TicketEvent.kind of a picture; note: its URL)."""
OPEN311_ACTOR = "open311:"
"""Start of the timeline actor of everything an Open311 client did ("open311:<key name>")."""
STATUSES = ("open", "closed")
_PLUS_AS_SPACE = re.compile(r" (\d{2}:?\d{2})$")
"""An offset whose "+" arrived unencoded in a query string (read as a space)."""


@dataclass(frozen=True)
class Service:
    """One GeoReport service (a ticket category); fields as the spec names them."""

    service_code: str
    service_name: str
    description: str
    metadata: bool
    type: str
    keywords: str
    group: str

    def fields(self) -> dict[str, Any]:
        """The spec's field dict, in the spec's order."""
        return {"service_code": self.service_code, "service_name": self.service_name,
                "description": self.description, "metadata": self.metadata,
                "type": self.type, "keywords": self.keywords, "group": self.group}


def services() -> list[Service]:
    """Every service offered, in the categories file's order."""
    return [_service(c) for c in category_file.load().items if c.kind in KINDS]


def service(code: str) -> Service:
    """The service ``code``. Raises NotFound (unknown code, or an emergency category)."""
    found = category_file.load().by_code(code)
    if found is None or found.kind not in KINDS:
        raise NotFound(msg("open311.error_service_not_found", code=code))
    return _service(found)


def definition(code: str) -> dict[str, Any]:
    """GET services/{code}: ``{"service_code", "attributes": []}`` — our services ask for no
    attributes beyond the standard fields (``metadata`` is false). Raises NotFound."""
    return {"service_code": service(code).service_code, "attributes": []}


def _service(category: category_file.Category) -> Service:
    kind = msg(f"kind.{category.kind}")
    return Service(service_code=category.code, service_name=category.name,
                   description=msg("open311.service_description", kind=kind,
                                   name=category.name),
                   metadata=False, type="realtime",
                   keywords=", ".join(_keywords().get(category.name, ())), group=kind)


@cache
def _keywords() -> dict[str, tuple[str, ...]]:
    """{category name: its strongest lexicon keywords}, from the packaged lexicon."""
    strongest: dict[str, list[tuple[float, str]]] = {}
    for entry in load_lexicon().entries.values():
        if entry.category is not None:
            strongest.setdefault(entry.category, []).append((entry.weight, entry.keyword))
    return {name: tuple(word for _, word in sorted(words, key=lambda w: (-w[0], w[1]))
                        [:KEYWORDS_PER_SERVICE]) for name, words in strongest.items()}


# ------------------------------------------------------------------------------ reading
@dataclass(frozen=True)
class Query:
    """GET requests filters. ``ids``: ticket numbers (when given, every other filter is
    ignored, as the spec says); ``codes``: service codes (empty: all); ``start``/``end``:
    aware UTC bounds on ``requested_datetime``; ``statuses``: subset of ("open", "closed")
    (empty: both); ``community_id``: only tickets of that community (jurisdiction_id)."""

    ids: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    statuses: tuple[str, ...] = ()
    community_id: int | None = None


def parse_query(session: Session, params: Mapping[str, str], now: datetime,
                tz: str = "Asia/Shanghai") -> Query:
    """The filters of a GET requests query string (the spec's parameter names:
    service_request_id, service_code — both comma-separated —, start_date, end_date (W3C
    datetimes; a bare date is local midnight in ``tz``), status (open, closed or both,
    comma-separated), jurisdiction_id (a community's id or name)).

    Without dates the last ``DEFAULT_SPAN_DAYS`` days up to ``now``; with one, the other is
    ``DEFAULT_SPAN_DAYS`` days away (end capped at ``now``). Raises Invalid (a bad date or
    status, an empty or over-long span), NotFound (an unknown jurisdiction_id)."""
    ids = _split(params.get("service_request_id"))
    statuses = tuple(s.lower() for s in _split(params.get("status")))
    if bad := [s for s in statuses if s not in STATUSES]:
        raise Invalid(msg("open311.error_status", value=",".join(bad)))
    start = _parse_date(params.get("start_date"), "start_date", tz)
    end = _parse_date(params.get("end_date"), "end_date", tz)
    span = timedelta(days=DEFAULT_SPAN_DAYS)
    if start is None and end is None:
        end = as_utc(now)
        start = end - span
    elif start is None:
        start = end - span
    elif end is None:
        end = min(start + span, max(as_utc(now), start))
    if end < start:
        raise Invalid(msg("open311.error_dates_reversed"))
    if end - start > span:
        raise Invalid(msg("open311.error_span", days=DEFAULT_SPAN_DAYS))
    return Query(ids=ids, codes=_split(params.get("service_code")), start=start, end=end,
                 statuses=statuses, community_id=jurisdiction(session,
                                                              params.get("jurisdiction_id")))


def jurisdiction(session: Session, value: str | None) -> int | None:
    """The community a jurisdiction_id names (its id or its name); None when not given.
    Raises NotFound (no such community: the spec answers 404)."""
    value = (value or "").strip()
    if not value:
        return None
    for community in org.communities(session):
        if value in (str(community.id), community.name):
            return community.id
    raise NotFound(msg("open311.error_jurisdiction", value=value))


def find(session: Session, query: Query, tz: str = "Asia/Shanghai") -> list[dict[str, Any]]:
    """The requests matching ``query``, newest first, at most ``MAX_RESULTS``, each as
    ``request_fields`` gives it."""
    stmt = select(Ticket).where(col(Ticket.kind).in_(KINDS))  # never emergencies (health, safety)
    if query.ids:
        stmt = stmt.where(col(Ticket.number).in_(query.ids))
    else:
        if query.start is not None:
            stmt = stmt.where(col(Ticket.created_at) >= query.start)
        if query.end is not None:
            stmt = stmt.where(col(Ticket.created_at) <= query.end)
        if query.codes:
            items = category_file.load()
            names = [c.name for code in query.codes if (c := items.by_code(code))]
            stmt = stmt.where(col(Ticket.category).in_(names))
        if set(query.statuses) == {"open"}:
            stmt = stmt.where(col(Ticket.status).in_(TicketStatus.OPEN))
        elif set(query.statuses) == {"closed"}:
            stmt = stmt.where(col(Ticket.status).not_in(TicketStatus.OPEN))
        if query.community_id is not None:
            grids = select(Grid.id).where(Grid.community_id == query.community_id)
            stmt = stmt.where(col(Ticket.grid_id).in_(grids))
    tickets = list(session.exec(stmt.order_by(col(Ticket.created_at).desc(),
                                              col(Ticket.id).desc()).limit(MAX_RESULTS)))
    return _fields_of(session, tickets, tz)


def request(session: Session, number: str, tz: str = "Asia/Shanghai") -> dict[str, Any]:
    """GET requests/{id}: the request whose ``service_request_id`` (ticket number) is
    ``number``. Raises NotFound."""
    ticket = session.exec(select(Ticket).where(Ticket.number == number.strip(),
                                               col(Ticket.kind).in_(KINDS))).first()
    if ticket is None:
        raise NotFound(msg("open311.error_request_not_found", id=number))
    return _fields_of(session, [ticket], tz)[0]


def request_fields(session: Session, ticket: Ticket, tz: str = "Asia/Shanghai"
                   ) -> dict[str, Any]:
    """One ticket as a GeoReport request: the spec's fields in the spec's order (values None
    when we have nothing: zipcode, service_notice), free of personal data (module
    docstring)."""
    return _fields_of(session, [ticket], tz)[0]


def _fields_of(session: Session, tickets: list[Ticket], tz: str) -> list[dict[str, Any]]:
    ids = [t.id for t in tickets]
    updated: dict[int, datetime] = {}
    media: dict[int, str] = {}
    if ids:
        updated = dict(session.exec(  # type: ignore[arg-type]
            select(TicketEvent.ticket_id, func.max(TicketEvent.at))
            .where(col(TicketEvent.ticket_id).in_(ids)).group_by(TicketEvent.ticket_id)).all())
        for ticket_id, url in session.exec(
                select(TicketEvent.ticket_id, TicketEvent.note)
                .where(col(TicketEvent.ticket_id).in_(ids), TicketEvent.kind == PHOTO_EVENT,
                       col(TicketEvent.actor).startswith(OPEN311_ACTOR))
                .order_by(col(TicketEvent.id))):
            if url:
                media.setdefault(ticket_id, url)
    return [_fields(session, t, updated.get(t.id) or t.created_at, media.get(t.id), tz)
            for t in tickets]


def _fields(session: Session, ticket: Ticket, updated_at: datetime, media_url: str | None,
            tz: str) -> dict[str, Any]:
    category = category_file.load().get(ticket.category)
    building = org.building(session, ticket.building_id) if ticket.building_id else None
    place = org.place(session, ticket.place_id) if ticket.place_id else None
    latitude, longitude = public_point(ticket, building or place)
    return {
        "service_request_id": ticket.number,
        "status": "open" if ticket.status in TicketStatus.OPEN else "closed",
        "status_notes": status_notes(session, ticket),
        "service_name": category.name if category else ticket.category or msg("open311.other"),
        "service_code": category.code if category else None,
        "description": public_text(ticket.description),
        "agency_responsible": agency(session, ticket),
        "service_notice": None,
        "requested_datetime": w3c(ticket.created_at, tz),
        "updated_datetime": w3c(updated_at, tz),
        "expected_datetime": w3c(ticket.resolve_due_at, tz) if ticket.resolve_due_at else None,
        "address": _address(session, ticket, building, place),
        "address_id": f"b{building.id}" if building else f"p{place.id}" if place else None,
        "zipcode": None,
        "lat": latitude,
        "long": longitude,
        "media_url": media_url,
    }


PUBLIC_POINT_DECIMALS = 3
"""A ticket's own point is shown rounded to this many decimals (about 100 m): a resident's
shared WeChat location is where they live."""


def public_point(ticket: Ticket, spot: Any) -> tuple[float | None, float | None]:
    """(lat, long) anyone may read: the building's or public place's own coordinates when it
    has them, else the ticket's point rounded to ``PUBLIC_POINT_DECIMALS``, else Nones."""
    if spot is not None and spot.latitude is not None and spot.longitude is not None:
        return spot.latitude, spot.longitude
    if ticket.latitude is None or ticket.longitude is None:
        return None, None
    return (round(ticket.latitude, PUBLIC_POINT_DECIMALS),
            round(ticket.longitude, PUBLIC_POINT_DECIMALS))


def status_notes(session: Session, ticket: Ticket) -> str:
    """What happened, in public words: the status (「已派单，待网格员接单」, 「已转交物业公司」),
    then the resolution or the 驳回 reason when there is one (scrubbed)."""
    status = msg(f"open311.status_{ticket.status}")
    if ticket.department_id is not None and ticket.status in TicketStatus.OPEN:
        department = session.get(Department, ticket.department_id)
        if department is not None:
            status = msg("open311.status_department", status=status, department=department.name)
    if ticket.resolution:
        return msg("open311.status_notes", status=status, note=public_text(ticket.resolution))
    return status


def agency(session: Session, ticket: Ticket) -> str | None:
    """agency_responsible: the department the ticket was transferred to, else the
    community and grid (「幸福新社区第一网格」); None for a ticket with no grid."""
    if ticket.department_id is not None:
        department = session.get(Department, ticket.department_id)
        if department is not None:
            return department.name
    grid = org.grid(session, ticket.grid_id) if ticket.grid_id else None
    if grid is None:
        return None
    community = session.get(Community, grid.community_id)
    return msg("open311.agency_grid", community=community.name if community else "",
               grid=grid.name)


def _address(session: Session, ticket: Ticket, building: Any, place: Any) -> str | None:
    """The community and the building or public place; else the ticket's own location text
    (scrubbed); never unit or room."""
    spot = building or place
    if spot is None:
        return public_text(ticket.location) if ticket.location else None
    community = session.get(Community, spot.community_id)
    return msg("open311.address", community=community.name if community else "",
               where=spot.name)


def w3c(at: datetime, tz: str = "Asia/Shanghai") -> str:
    """``at`` as a W3C datetime in ``tz`` with its offset: "2026-11-22T10:00:00+08:00"."""
    return local(at, tz).isoformat(timespec="seconds")


def _parse_date(value: str | None, name: str, tz: str) -> datetime | None:
    """A W3C datetime (any offset, or Z; no offset: local in ``tz``) or a bare date (local
    midnight) as aware UTC; None when not given. Raises Invalid."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(_PLUS_AS_SPACE.sub(r"+\1", value))
    except ValueError:
        raise Invalid(msg("open311.error_date", name=name, value=value)) from None
    if len(value) == 10:  # a bare date
        parsed = datetime.combine(parsed.date(), time(0), ZoneInfo(tz))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(tz))
    return as_utc(parsed)


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())

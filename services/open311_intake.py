"""Open311 GeoReport v2, write side: a POSTed service request becomes a ticket, routed as a
chat report is — to the grid covering the building or public place where the problem is —
through ``services.tickets.open_ticket``, with the SLA's due times.

Where the problem is, first found wins (the spec's three ways, all optional but one needed):

1. ``address_id``: "b<id>" (a building) or "p<id>" (a public place), as GET requests gives
   them back;
2. ``address_string``: read with the chat's address reader (``intents.slots.extract_address``:
   「幸福新社区3号楼2单元501」 → building 3, unit 2, room 501; unit and room are kept on the ticket
   for staff, never published) and ``storage.org.find_building``; else a public place whose
   name or alias it contains (「东门」);
3. ``lat``/``long`` (WGS-84 degrees): the nearest building or place with coordinates within
   ``services.places.nearest_max_m`` metres. The point is kept on the ticket in any case.

Which community: the key's (``ApiKey.community_id``), else ``jurisdiction_id``, else an
estate or community named in ``address_string`` (``storage.estates.named_in``), else the
only one; on an account with several, a point is matched against all of them, and an
address naming none is refused as ambiguous. A location that matches nothing is refused
(400), so every Open311 ticket lands in a grid's queue (nothing waits unrouted).

The reporter is no WeChat resident: ``Reporter(name, phone, source="open311:<key name>")``,
so the timeline's first event names the client and the contact given (staff read it; GET
never shows it). A ``media_url`` is recorded as the ticket's photo. Errors, as the spec
answers them: NotFound (404: an unknown service_code or jurisdiction_id), Invalid (400: a
missing or bad parameter), NotAllowed (403: a key limited to another community than
``jurisdiction_id``), with the
Chinese sentences of the ``[open311]`` catalogue table.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlmodel import Session

from intents.slots import extract_address
from services import places, promise
from services.errors import Invalid, NotAllowed, NotFound
from services.messages import msg
from services.open311 import KINDS, OPEN311_ACTOR, agency, jurisdiction
from services.tickets import NewTicket, Reporter, open_ticket
from storage import categories as category_file
from storage import estates, org
from storage.accounts import ApiKey
from storage.models import Building, Place, Ticket
from storage.numbers import DEFAULT_TICKET_PREFIX

MAX_DESCRIPTION_CHARS = 4000
"""The spec's limit on ``description``."""
MAX_FIELD_CHARS = 100
"""Names, phone, e-mail, address_id."""
MAX_ADDRESS_CHARS = 300
MAX_URL_CHARS = 1000
_ADDRESS_ID = re.compile(r"^(?P<kind>[bp])(?P<id>[1-9][0-9]{0,9})$")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def submit(session: Session, key: ApiKey, form: Mapping[str, str], now: datetime,
           prefix: str = DEFAULT_TICKET_PREFIX) -> tuple[Ticket, dict[str, Any]]:
    """POST requests: open the ticket a form (the spec's field names) asks for.

    Returns (the ticket, the spec's response ``{"service_request_id", "service_notice",
    "account_id"}``; the notice says who has it and when it is due: 「已派给幸福新社区第一网格，
    预计明天上午10:00前处理好」). Raises NotFound (an unknown or emergency service_code, an
    unknown jurisdiction_id), Invalid, NotAllowed (module docstring).
    """
    code = _field(form, "service_code", MAX_FIELD_CHARS)
    if not code:
        raise Invalid(msg("open311.error_service_code_missing"))
    category = category_file.load().by_code(code)
    if category is None or category.kind not in KINDS:  # the spec: 404 for an unknown code
        raise NotFound(msg("open311.error_service_code", code=code))
    description = (form.get("description") or "").strip()
    if len(description) > MAX_DESCRIPTION_CHARS:
        raise Invalid(msg("open311.error_too_long", name="description",
                          n=MAX_DESCRIPTION_CHARS))
    media_url = _field(form, "media_url", MAX_URL_CHARS)
    if media_url and not media_url.lower().startswith(("http://", "https://")):
        raise Invalid(msg("open311.error_media_url"))
    address = _field(form, "address_string", MAX_ADDRESS_CHARS)
    where = locate(session, key, form, address)
    reporter = Reporter(name=_name(form), phone=_field(form, "phone", MAX_FIELD_CHARS) or None,
                        source=OPEN311_ACTOR + key.name)
    report = NewTicket(kind=category.kind, category=category.name,
                       description=description or category.name, location=address or None,
                       photos=(media_url,) if media_url else (), **where)
    ticket = open_ticket(session, reporter, report, now, prefix)
    notice = msg("open311.service_notice", agency=agency(session, ticket) or "-",
                 promise=promise.when(ticket.resolve_due_at, now)
                 if ticket.resolve_due_at else "")
    return ticket, {"service_request_id": ticket.number, "service_notice": notice,
                    "account_id": None}


def locate(session: Session, key: ApiKey, form: Mapping[str, str],
           address: str | None = None) -> dict[str, Any]:
    """``NewTicket`` location fields for the form's address_id / address_string / lat+long
    (module docstring): ``building_id`` (+ ``unit``, ``room``) or ``place_id``, plus
    ``latitude``/``longitude`` when a point was given. Raises Invalid (none given, a bad
    value, nothing matched, an ambiguous address), NotFound (an unknown jurisdiction_id),
    NotAllowed (jurisdiction_id outside the
    key's community)."""
    address = address if address is not None else _field(form, "address_string",
                                                          MAX_ADDRESS_CHARS)
    address_id = _field(form, "address_id", MAX_FIELD_CHARS)
    point = _point(form)
    if not (address_id or address or point):
        raise Invalid(msg("open311.error_location_missing"))
    communities = _communities(session, key, form, address)
    fields: dict[str, Any] = {}
    if point is not None:
        fields.update(latitude=point[0], longitude=point[1])
    if address_id:
        return {**fields, **_by_address_id(session, address_id, communities)}
    if address:
        found = _by_address(session, address, communities)
        if found is not None:
            return {**fields, **found}
    if point is not None:
        found = _nearest(session, point, communities)
        if found is not None:
            return {**fields, **found}
    said = address or (f"{point[0]},{point[1]}" if point else address_id)
    raise Invalid(msg("open311.error_location_unknown", where=said))


def _communities(session: Session, key: ApiKey, form: Mapping[str, str],
                 address: str | None) -> list[int]:
    """Community ids to look in (module docstring). Raises NotAllowed, NotFound."""
    named = jurisdiction(session, form.get("jurisdiction_id"))
    if key.community_id is not None:
        if named is not None and named != key.community_id:
            raise NotAllowed("open311_jurisdiction")
        return [key.community_id]
    if named is not None:
        return [named]
    if address:
        estate = estates.named_in(session, address, extract_address(address).get("estate"))
        if estate is not None:
            return [estate.community_id]
    return [c.id for c in org.communities(session)]


def _by_address_id(session: Session, address_id: str, communities: list[int]
                   ) -> dict[str, Any]:
    match = _ADDRESS_ID.match(address_id)
    row: Building | Place | None = None
    if match:
        model = Building if match["kind"] == "b" else Place
        row = session.get(model, int(match["id"]))
    if row is None or row.community_id not in communities:
        raise Invalid(msg("open311.error_address_id", value=address_id))
    if isinstance(row, Building):
        return {"building_id": row.id, "unit": None, "room": None}
    return {"place_id": row.id}


def _by_address(session: Session, address: str, communities: list[int]
                ) -> dict[str, Any] | None:
    """A building (with unit and room) or public place the address names; None when it
    names none. Raises Invalid when the address names no estate and a building number or a
    place name fits several communities (ambiguous)."""
    slots = extract_address(address)
    if "building" in slots:
        if len(communities) > 1:
            raise Invalid(msg("open311.error_ambiguous"))
        building = org.find_building(session, str(slots["building"]), communities[0],
                                     _building_label)
        if building is not None:
            return {"building_id": building.id, "unit": slots.get("unit"),
                    "room": slots.get("room")}
    text = _norm(address)
    best: dict[int, tuple[int, int]] = {}  # community id: (length of the name matched, place id)
    for community_id in communities:
        for place in org.places(session, community_id):
            for name in (place.name, *place.aliases):
                form = _norm(name)
                if form and form in text and len(form) > best.get(community_id, (0, 0))[0]:
                    best[community_id] = (len(form), place.id)
    if not best:
        return None
    longest = max(length for length, _ in best.values())
    winners = [place_id for length, place_id in best.values() if length == longest]
    if len(winners) > 1:  # 东门 of two communities
        raise Invalid(msg("open311.error_ambiguous"))
    return {"place_id": winners[0]}


def _nearest(session: Session, point: tuple[float, float], communities: list[int]
             ) -> dict[str, Any] | None:
    """The nearest building or place of ``communities`` within ``places.nearest_max_m``."""
    best: tuple[float, str, int] | None = None
    for community_id in communities:
        for kind, row_id, lat, lng in org.located(session, community_id):
            d = places.distance_m(point[0], point[1], lat, lng)
            if d <= places.nearest_max_m() and (best is None or d < best[0]):
                best = (d, kind, row_id)
    if best is None:
        return None
    if best[1] == "building":
        return {"building_id": best[2], "unit": None, "room": None}
    return {"place_id": best[2]}


def _point(form: Mapping[str, str]) -> tuple[float, float] | None:
    """(lat, long) in WGS-84 degrees, or None when neither is given. Raises Invalid (one
    without the other, not a number, out of range)."""
    lat, lng = (form.get("lat") or "").strip(), (form.get("long") or "").strip()
    if not lat and not lng:
        return None
    try:
        point = (float(lat), float(lng))
    except ValueError:
        raise Invalid(msg("open311.error_lat_long")) from None
    if not all(map(math.isfinite, point)) or abs(point[0]) > 90 or abs(point[1]) > 180:
        raise Invalid(msg("open311.error_lat_long"))
    return point


def _name(form: Mapping[str, str]) -> str | None:
    """The reporter's name as written in their language (张三: family name first), with the
    e-mail address in brackets; None when none is given."""
    first = _field(form, "first_name", MAX_FIELD_CHARS)
    last = _field(form, "last_name", MAX_FIELD_CHARS)
    email = _field(form, "email", MAX_FIELD_CHARS)
    name = (last + first if _CJK.search(last + first) else f"{first} {last}".strip())
    if email:
        return msg("open311.reporter_email", name=name or "-", email=email)
    return name or None


def _field(form: Mapping[str, str], name: str, max_chars: int) -> str:
    value = (form.get(name) or "").strip()
    if len(value) > max_chars:
        raise Invalid(msg("open311.error_too_long", name=name, n=max_chars))
    return value


def _building_label(name: str) -> str | None:
    """The label residents write for a building named ``name`` (「A座」 → "A")."""
    return extract_address(name).get("building")


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower().replace(" ", "")

"""Where a report is, from what any door knows: a building, a public place, or a point
(WGS-84 degrees: a WeChat location message, Open311's lat/long). A point becomes the
community's nearest building or place with imported coordinates within ``nearest_max_m``
metres (``places.toml``); farther, it stays coordinates and text for staff.

The chat reads buildings and places out of words (``handlers.location``) and hands the
result here as a "where" dict; ``ticket_fields`` turns it into ``NewTicket`` fields.
"""

from __future__ import annotations

import math
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

from sqlmodel import Session

from storage import org

SETTINGS_FILE = Path(__file__).with_name("places.toml")
EARTH_RADIUS_M = 6_371_000.0


@cache
def nearest_max_m(path: Path = SETTINGS_FILE) -> float:
    """How far (metres) a point may be from a building or place to be placed there.
    Raises tomllib.TOMLDecodeError, KeyError."""
    return float(tomllib.loads(path.read_text(encoding="utf-8"))["nearest_max_m"])


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle (haversine) distance in metres between two WGS-84 points in degrees."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def nearest(session: Session, latitude: float, longitude: float,
            community_id: int | None = None) -> dict[str, Any] | None:
    """The "where" of the community's (default: the account's first) building or place with
    imported coordinates nearest to the point, within ``nearest_max_m`` metres; None when
    none is that near."""
    max_m = nearest_max_m()
    best: tuple[float, str, int] | None = None
    for kind, row_id, lat, lng in org.located(session, community_id):
        d = distance_m(latitude, longitude, lat, lng)
        if d <= max_m and (best is None or d < best[0]):
            best = (d, kind, row_id)
    if best is None:
        return None
    return {"building_id": best[2], "unit": None, "room": None} if best[1] == "building" else {
        "place_id": best[2]}


def ticket_fields(session: Session, where: dict[str, Any] | None,
                  shared_location: dict[str, Any] | None = None,
                  community_id: int | None = None) -> dict[str, Any]:
    """``services.tickets.NewTicket`` location fields for a "where" (None: the reporter's
    home): ``{"building_id", "unit", "room"}``, ``{"place_id"}`` or
    ``{"latitude", "longitude", "label"}`` (WGS-84 degrees).

    A shared location — the "where" itself, or ``shared_location`` sent along with a report
    that names its place — is kept on the ticket (coordinates, and label as text for staff).
    As the "where" it becomes the nearest building or place with imported coordinates;
    when none is near, the ticket has only the coordinates (and goes to the home grid).
    """
    fields: dict[str, Any] = {}
    point = where if where and "latitude" in where else shared_location
    if point:
        fields.update(latitude=point["latitude"], longitude=point["longitude"],
                      location=f"{point['label']} ({point['latitude']},{point['longitude']})")
    if where and "latitude" in where:
        where = nearest(session, where["latitude"], where["longitude"], community_id)
    if where and "building_id" in where:
        fields.update(building_id=where["building_id"], unit=where.get("unit"),
                      room=where.get("room"))
    elif where and "place_id" in where:
        fields["place_id"] = where["place_id"]
    return fields

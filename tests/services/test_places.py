"""Where a report is, from a point (``services.places``): the demo's building 12 and 北门
have coordinates."""

from __future__ import annotations

from sqlmodel import Session, select

from services import places
from storage.models import Building, Place


def test_nearest_known_point_within_range(community):
    with Session(community) as s:
        assert places.nearest(s, 41.80295, 123.43205) == {
            "building_id": s.exec(select(Building).where(Building.number == 12)).one().id,
            "unit": None, "room": None}
        assert places.nearest(s, 41.81, 123.45) is None
    assert 1100 < places.distance_m(41.80, 123.43, 41.81, 123.43) < 1120


def test_a_point_becomes_ticket_fields(community):
    with Session(community) as s:
        gate = s.exec(select(Place).where(Place.name == "北门")).one()
        near_gate = {"latitude": 41.80401, "longitude": 123.43001, "label": "北门外"}
        assert places.ticket_fields(s, near_gate) == {
            "latitude": 41.80401, "longitude": 123.43001, "place_id": gate.id,
            "location": "北门外 (41.80401,123.43001)"}
        far = {"latitude": 41.9, "longitude": 123.5, "label": "远处"}
        assert places.ticket_fields(s, far) == {
            "latitude": 41.9, "longitude": 123.5, "location": "远处 (41.9,123.5)"}
        home = {"building_id": 7, "unit": 2, "room": "301"}
        assert places.ticket_fields(s, home) == {"building_id": 7, "unit": 2, "room": "301"}

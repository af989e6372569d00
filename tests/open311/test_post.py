"""POST requests: the spec's example request (form fields + api_key), adapted to the demo
community, lands in the right grid's queue with an SLA expected time; the spec's errors."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from services import api_keys
from services.open311 import w3c
from storage import org
from storage import tickets as ticket_repo
from storage.db import session_scope
from storage.models import Building, Community, Outbox, Ticket, TicketEvent, TicketStatus
from tests.chat import START
from tests.open311.conftest import BASE, CLIENT_NAME, issue, xml_rows


def post(o311, api_key, fmt="json", **fields):
    return o311.post(f"{BASE}/requests.{fmt}", data={"api_key": api_key, **fields})


def ticket_of(engine, number: str) -> Ticket:
    with Session(engine) as session:
        return session.exec(select(Ticket).where(Ticket.number == number)).one()


def test_a_posted_request_is_routed_to_the_buildings_grid_with_its_sla(o311, api_key, community):
    response = post(o311, api_key, service_code="stairwell_light",
                    address_string="幸福新社区3号楼2单元501", description="楼道灯坏了好几天了",
                    first_name="三", last_name="张", phone="13912345678",
                    email="zhang@example.cn", media_url="https://img.example.cn/a.jpg")
    assert response.status_code == 201, response.text
    [answer] = response.json()
    assert list(answer) == ["service_request_id", "service_notice", "account_id"]
    assert answer["account_id"] is None
    number = answer["service_request_id"]
    assert number.startswith("GD20261122-")
    assert answer["service_notice"].startswith("已派给幸福新社区第一网格，预计")
    ticket = ticket_of(community, number)
    with Session(community) as session:
        building = session.get(Building, ticket.building_id)
        grid = org.grid(session, ticket.grid_id)
        worker = org.worker_by_openid(session, "worker-g1")
        queue = ticket_repo.grid_queue(session, grid.id)
        events = ticket_repo.timeline(session, ticket)
        pushes = session.exec(select(Outbox).where(Outbox.ticket_id == ticket.id)).all()
    assert (building.number, ticket.unit, ticket.room) == (3, 2, "501")
    assert grid.code == "G01" and ticket.id in [t.id for t in queue]
    assert ticket.status == TicketStatus.ASSIGNED and ticket.assignee_id == worker.id
    assert ticket.kind == "repair" and ticket.category == "楼道灯"
    assert ticket.resolve_due_at is not None and ticket.response_due_at is not None
    assert [p.openid for p in pushes] == ["worker-g1"]  # the grid worker is told at once
    submitted = events[0]
    assert submitted.actor == f"open311:{CLIENT_NAME}"
    assert "张三（zhang@example.cn）" in submitted.note and "13912345678" in submitted.note
    assert [e.note for e in events if e.kind == "photo"] == ["https://img.example.cn/a.jpg"]
    # read back: the SLA's expected time, in +08:00
    [read] = o311.get(f"{BASE}/requests/{number}.json").json()
    assert read["expected_datetime"] == w3c(ticket.resolve_due_at)
    assert read["expected_datetime"].endswith("+08:00")
    assert read["requested_datetime"] == "2026-11-22T10:00:00+08:00"
    assert read["media_url"] == "https://img.example.cn/a.jpg"


def test_post_xml_by_lat_long_near_a_public_place(o311, api_key, community):
    response = post(o311, api_key, fmt="xml", service_code="sanitation",
                    lat="41.80102", long="123.43398", description="东门垃圾没人清")
    assert response.status_code == 201, response.text
    [answer] = xml_rows(response.text, "service_requests", "request")
    assert list(answer) == ["service_request_id", "service_notice", "account_id"]
    assert answer["account_id"] is None
    ticket = ticket_of(community, answer["service_request_id"])
    with Session(community) as session:
        place = org.place(session, ticket.place_id)
        grid = org.grid(session, ticket.grid_id)
    assert place.name == "东门" and grid.code == "G01"
    assert (ticket.latitude, ticket.longitude) == (41.80102, 123.43398)


def test_lat_long_near_a_building_with_coordinates(o311, api_key, community):
    [answer] = post(o311, api_key, service_code="lift", lat="41.8030",
                    long="123.4320").json()
    ticket = ticket_of(community, answer["service_request_id"])
    with Session(community) as session:
        assert session.get(Building, ticket.building_id).number == 12
        assert org.grid(session, ticket.grid_id).code == "G03"
    assert ticket.description == "电梯"  # no description: the service's name


def test_address_id_as_get_gives_it_back(o311, api_key, community):
    with Session(community) as session:
        building = session.exec(select(Building).where(Building.number == 6)).one()
    [answer] = post(o311, api_key, service_code="leak", address_id=f"b{building.id}",
                    description="楼顶漏水").json()
    assert ticket_of(community, answer["service_request_id"]).building_id == building.id


def error_of(response, status):
    assert response.status_code == status, response.text
    [error] = response.json()
    assert error["code"] == status
    return error["description"]


@pytest.mark.parametrize("key", [None, "", "g311_not-a-key"])
def test_a_missing_or_bad_api_key_is_403(o311, community, key):
    data = {"service_code": "lift", "address_string": "3号楼"}
    if key is not None:
        data["api_key"] = key
    response = o311.post(f"{BASE}/requests.json", data=data)
    assert "api_key" in error_of(response, 403)
    with Session(community) as session:
        assert session.exec(select(Ticket)).all() == []


def test_a_revoked_key_is_403_in_xml_too(o311, api_key, community):
    with session_scope(community) as session:
        api_keys.revoke(session, CLIENT_NAME, START)
    response = post(o311, api_key, fmt="xml", service_code="lift", address_string="3号楼")
    assert response.status_code == 403
    [error] = xml_rows(response.text, "errors", "error")
    assert error["code"] == "403" and "api_key" in error["description"]


@pytest.mark.parametrize(("fields", "says"), [
    ({"address_string": "3号楼"}, "缺少 service_code"),
    ({"service_code": "lift"}, "缺少位置"),
    ({"service_code": "lift", "address_string": "99号楼"}, "99号楼"),
    ({"service_code": "lift", "address_string": "火车站对面"}, "火车站对面"),
    ({"service_code": "lift", "lat": "41.9", "long": "123.9"}, "41.9,123.9"),
    ({"service_code": "lift", "lat": "north", "long": "123.4"}, "经纬度"),
    ({"service_code": "lift", "lat": "41.8"}, "经纬度"),
    ({"service_code": "lift", "address_id": "b999999"}, "address_id"),
    ({"service_code": "lift", "address_id": "x1"}, "address_id"),
    ({"service_code": "lift", "address_string": "3号楼", "media_url": "file:///etc/passwd"},
     "media_url"),
    ({"service_code": "lift", "address_string": "3号楼", "description": "长" * 4001},
     "description"),
])
def test_bad_requests_are_400_with_a_chinese_description(o311, api_key, community, fields, says):
    assert says in error_of(post(o311, api_key, **fields), 400)
    with Session(community) as session:
        assert session.exec(select(Ticket)).all() == []


@pytest.mark.parametrize(("fields", "says"), [
    ({"service_code": "potholes", "address_string": "3号楼"}, "service_code=potholes"),
    ({"service_code": "first_aid", "address_string": "3号楼"}, "service_code=first_aid"),
    ({"service_code": "lift", "address_string": "3号楼", "jurisdiction_id": "不存在社区"},
     "jurisdiction_id"),
])
def test_an_unknown_service_code_or_jurisdiction_is_404(o311, api_key, community, fields, says):
    assert says in error_of(post(o311, api_key, **fields), 404)
    with Session(community) as session:
        assert session.exec(select(Ticket)).all() == []


@pytest.fixture
def several(community):
    """The demo's 阳光社区 (buildings 1–6, estates 阳光小区/阳光花园) beside 幸福新社区."""
    from bot.demo import MORE_COMMUNITY_FILES
    from storage.importer import import_file

    with session_scope(community) as session:
        import_file(session, MORE_COMMUNITY_FILES[0])
    with Session(community) as session:
        return {c.name: c.id for c in session.exec(select(Community))}


def grid_and_community(engine, number):
    ticket = ticket_of(engine, number)
    with Session(engine) as session:
        grid = org.grid(session, ticket.grid_id)
        return grid.name, session.get(Community, grid.community_id).name


def test_on_several_communities_an_estate_or_jurisdiction_picks_one(o311, api_key, community,
                                                                    several):
    refused = post(o311, api_key, service_code="lift", address_string="3号楼")
    assert "地址不明确" in error_of(refused, 400)
    assert "地址不明确" in error_of(post(o311, api_key, service_code="lift",
                                        address_string="东门"), 400)
    [by_estate] = post(o311, api_key, service_code="lift",
                       address_string="阳光花园3号楼").json()
    assert grid_and_community(community, by_estate["service_request_id"]) == (
        "阳光一网格", "阳光社区")
    [by_id] = post(o311, api_key, service_code="lift", address_string="5号楼",
                   jurisdiction_id=str(several["幸福新社区"])).json()
    assert grid_and_community(community, by_id["service_request_id"]) == (
        "第二网格", "幸福新社区")


def test_a_key_limited_to_a_community_reports_only_there(o311, community, several):
    key = issue(community, "阳光社区大屏", several["阳光社区"])
    [answer] = post(o311, key, service_code="lift", address_string="3号楼").json()
    assert grid_and_community(community, answer["service_request_id"]) == (
        "阳光一网格", "阳光社区")
    elsewhere = post(o311, key, service_code="lift", address_string="3号楼",
                     jurisdiction_id=str(several["幸福新社区"]))
    assert "jurisdiction_id" in error_of(elsewhere, 403)
    # building 12 (with coordinates) is 幸福新社区's: not near anything of 阳光社区
    assert "41.803" in error_of(post(o311, key, service_code="lift", lat="41.803",
                                     long="123.432"), 400)
    with Session(community) as session:
        assert len(session.exec(select(TicketEvent).where(
            TicketEvent.actor == "open311:阳光社区大屏")).all()) >= 1

"""GET requests (the spec's filters) and GET requests/{id}: JSON and XML, statuses open /
closed with status_notes, and no personal data in what anyone may read."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, select

from services import tickets
from services.tickets import NewTicket, Reporter
from storage import org
from storage.db import session_scope
from storage.models import Building, Ticket
from tests.chat import START
from tests.open311.conftest import BASE, xml_rows

SPEC_REQUEST_FIELDS = [
    "service_request_id", "status", "status_notes", "service_name", "service_code",
    "description", "agency_responsible", "service_notice", "requested_datetime",
    "updated_datetime", "expected_datetime", "address", "address_id", "zipcode", "lat",
    "long", "media_url"]


def post(o311, api_key, **fields) -> str:
    response = o311.post(f"{BASE}/requests.json", data={"api_key": api_key, **fields})
    assert response.status_code == 201, response.text
    return response.json()[0]["service_request_id"]


def resolve(engine, number: str, note: str, now) -> None:
    with session_scope(engine) as session:
        ticket = session.exec(select(Ticket).where(Ticket.number == number)).one()
        worker = org.worker_by_openid(session, "worker-g1")
        tickets.resolve(session, ticket, worker, note, now)


def numbers(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [r["service_request_id"] for r in response.json()]


def test_a_request_reads_as_the_spec_example_and_closes_with_status_notes(
        o311, api_key, community, clock):
    number = post(o311, api_key, service_code="stairwell_light", address_string="2号楼1单元302",
                  description="楼道灯不亮，联系13912345678")
    [open_] = o311.get(f"{BASE}/requests/{number}.json").json()
    assert list(open_) == SPEC_REQUEST_FIELDS
    with Session(community) as session:
        building = session.exec(select(Building).where(Building.number == 2)).one()
    assert open_ | {"expected_datetime": None} == {
        "service_request_id": number, "status": "open", "status_notes": "已派单，待网格员接单",
        "service_name": "楼道灯", "service_code": "stairwell_light",
        "description": "楼道灯不亮，联系***", "agency_responsible": "幸福新社区第一网格",
        "service_notice": None, "requested_datetime": "2026-11-22T10:00:00+08:00",
        "updated_datetime": "2026-11-22T10:00:00+08:00", "expected_datetime": None,
        "address": "幸福新社区2号楼", "address_id": f"b{building.id}", "zipcode": None,
        "lat": None, "long": None, "media_url": None}
    assert open_["expected_datetime"] > open_["requested_datetime"]
    clock.advance(3600)
    resolve(community, number, "已更换灯泡，工人电话13700001111", clock())
    [closed] = o311.get(f"{BASE}/requests/{number}.json").json()
    assert closed["status"] == "closed"
    assert closed["status_notes"] == "已办结，待评价：已更换灯泡，工人电话***"
    assert closed["updated_datetime"] == "2026-11-22T11:00:00+08:00"


def test_request_by_id_in_xml_and_unknown_id_404(o311, api_key):
    number = post(o311, api_key, service_code="noise", address_string="广场",
                  description="广场舞太吵")
    response = o311.get(f"{BASE}/requests/{number}.xml")
    [row] = xml_rows(response.text, "service_requests", "request")
    assert list(row) == SPEC_REQUEST_FIELDS
    assert row["service_request_id"] == number and row["status"] == "open"
    assert row["address"] == "幸福新社区广场" and row["agency_responsible"] == "幸福新社区第二网格"
    assert row["zipcode"] is None
    missing = o311.get(f"{BASE}/requests/GD20000101-0001.json")
    assert missing.status_code == 404
    assert missing.json() == [{"code": 404, "description": "没有这个工单：GD20000101-0001。"}]
    xml = o311.get(f"{BASE}/requests/GD20000101-0001.xml")
    assert xml_rows(xml.text, "errors", "error")[0]["code"] == "404"


def test_get_requests_filters(o311, api_key, community, clock):
    light = post(o311, api_key, service_code="stairwell_light", address_string="1号楼")
    clock.advance(86400)
    lift = post(o311, api_key, service_code="lift", address_string="5号楼")
    clock.advance(86400)
    noise = post(o311, api_key, service_code="noise", address_string="9号楼")
    resolve(community, light, "已修好", clock())
    url = f"{BASE}/requests.json"
    assert numbers(o311.get(url)) == [noise, lift, light]  # newest first
    assert numbers(o311.get(url, params={"status": "open"})) == [noise, lift]
    assert numbers(o311.get(url, params={"status": "closed"})) == [light]
    assert numbers(o311.get(url, params={"status": "open,closed"})) == [noise, lift, light]
    assert numbers(o311.get(f"{url}?service_code=lift&service_code=noise")) == [noise, lift]
    assert numbers(o311.get(url, params={"service_code": "lift,noise"})) == [noise, lift]
    assert numbers(o311.get(url, params={"service_request_id": f"{light},{noise}",
                                         "status": "open"})) == [noise, light]  # ids win
    window = {"start_date": "2026-11-23T00:00:00+08:00", "end_date": "2026-11-23T23:59:59+08:00"}
    assert numbers(o311.get(url, params=window)) == [lift]
    assert numbers(o311.get(url, params={"start_date": "2026-11-24"})) == [noise]
    assert numbers(o311.get(url, params={"end_date": "2026-11-22T02:00:00Z"})) == [light]
    assert numbers(o311.get(url, params={"jurisdiction_id": "幸福新社区"})) == [noise, lift, light]
    rows = xml_rows(o311.get(f"{BASE}/requests.xml", params={"status": "closed"}).text,
                    "service_requests", "request")
    assert [(r["service_request_id"], r["status"]) for r in rows] == [(light, "closed")]


def test_without_dates_only_the_last_90_days(o311, api_key, community, clock):
    old_day = START - timedelta(days=100)
    with session_scope(community) as session:
        old = tickets.open_ticket(session, Reporter(source="system"), NewTicket(
            kind="repair", category="电梯", description="电梯坏了",
            building_id=session.exec(select(Building).where(Building.number == 5)).one().id),
            old_day).number
    recent = post(o311, api_key, service_code="lift", address_string="5号楼")
    url = f"{BASE}/requests.json"
    assert numbers(o311.get(url)) == [recent]
    assert numbers(o311.get(url, params={"start_date": "2026-08-01",
                                         "end_date": "2026-09-01"})) == [old]


def test_bad_filters_are_400(o311):
    url = f"{BASE}/requests.json"
    cases = [({"status": "pending"}, "status"), ({"start_date": "yesterday"}, "start_date"),
             ({"start_date": "2026-01-01", "end_date": "2026-11-01"}, "90"),
             ({"start_date": "2026-11-02", "end_date": "2026-11-01"}, "早于")]
    for params, says in cases:
        response = o311.get(url, params=params)
        assert response.status_code == 400, params
        [error] = response.json()
        assert error["code"] == 400 and says in error["description"], (params, error)
    unknown = o311.get(url, params={"jurisdiction_id": "999"})
    assert unknown.status_code == 404 and "jurisdiction_id" in unknown.json()[0]["description"]


def test_a_residents_wechat_ticket_shows_nothing_personal(o311, chat, community):
    reply = chat.say("resident-1", "3号楼2单元501，楼道灯坏了，电话13812345678")
    [ticket] = chat.tickets()
    assert ticket.number in reply
    photo = "http://mmbiz.qpic.cn/resident-photo.jpg"
    with session_scope(community) as session:
        tickets.attach(session, session.get(Ticket, ticket.id), None, START, photos=[photo])
    response = o311.get(f"{BASE}/requests/{ticket.number}.json")
    text = response.text
    assert response.status_code == 200
    for personal in ("13812345678", "501", "resident-1", "2单元", photo):
        assert personal not in text, personal
    [row] = response.json()
    assert row["address"] == "幸福新社区3号楼" and row["media_url"] is None
    assert row["service_code"] == "stairwell_light"


def test_dates_in_the_forms_clients_send(community):
    from datetime import UTC, datetime

    from services.open311 import parse_query

    with Session(community) as session:
        def start_of(value):
            return parse_query(session, {"start_date": value}, START).start

        expected = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
        assert start_of("2026-11-22T10:00:00+08:00") == expected
        assert start_of("2026-11-22T10:00:00 08:00") == expected  # "+" decoded as a space
        assert start_of("2026-11-22T02:00:00Z") == expected
        assert start_of("2026-11-22T10:00:00") == expected  # no offset: Asia/Shanghai
        assert start_of("2026-11-22") == datetime(2026, 11, 21, 16, 0, tzinfo=UTC)
        query = parse_query(session, {}, START)
        assert (query.start, query.end) == (START - timedelta(days=90), START)

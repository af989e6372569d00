"""Open311 as an attacker reads it: the public GET shows no names, phones, rooms, e-mail or
WeChat accounts of real-looking descriptions; XML stays well-formed whatever a resident typed;
error bodies say nothing internal."""

from __future__ import annotations

import pytest

from services.public_text import public_text
from tests.open311.conftest import BASE, xml_rows

PERSONAL = [
    ("我是3号楼2单元501的张三，电话13812345678，楼道灯坏了",
     ("501", "张三", "13812345678")),
    ("我叫李四，住5栋1单元302室，手机138 1234 5678，微信 zhangsan_88",
     ("李四", "302", "138 1234 5678", "zhangsan_88")),
    ("联系人：王五，座机010-87654321，邮箱 wangwu@example.com",
     ("王五", "87654321", "wangwu@example.com")),
    ("楼上502的刘阿姨家漏水，找张先生，电话１３８１２３４５６７８",
     ("502", "刘阿姨", "张先生", "１３８１２３４５６７８")),
    ("已电话联系3号楼501的张三（13812345678），明天上门", ("501", "张三", "13812345678")),
    ("门牌号7号楼六零一，电话一三八一二三四五六七八，qq:12345678",
     ("六零一", "一三八一二三四五六七八", "12345678")),
]


@pytest.mark.parametrize(("text", "secrets"), PERSONAL)
def test_public_text_masks_names_phones_rooms_and_accounts(text, secrets):
    shown = public_text(text)
    for secret in secrets:
        assert secret not in shown, (secret, shown)


def test_public_text_keeps_what_is_not_personal():
    assert public_text("我是业主，楼道灯坏了两天了，黄色的灯罩也掉了。") == (
        "我是业主，楼道灯坏了两天了，黄色的灯罩也掉了。")
    assert public_text(None) is None and public_text("") == ""


@pytest.mark.parametrize(("text", "secrets"), PERSONAL)
def test_get_shows_none_of_it_in_json_or_xml(o311, api_key, text, secrets):
    posted = o311.post(f"{BASE}/requests.json", data={
        "api_key": api_key, "service_code": "stairwell_light", "address_string": "2号楼",
        "description": text})
    assert posted.status_code == 201, posted.text
    number = posted.json()[0]["service_request_id"]
    for url in (f"{BASE}/requests/{number}.json", f"{BASE}/requests/{number}.xml",
                f"{BASE}/requests.json", f"{BASE}/requests.xml"):
        body = o311.get(url).text
        assert number in body
        for secret in secrets:
            assert secret not in body, (url, secret)


def test_xml_stays_well_formed_with_control_characters_and_markup(o311, api_key):
    posted = o311.post(f"{BASE}/requests.json", data={
        "api_key": api_key, "service_code": "stairwell_light", "address_string": "2号楼",
        "description": "灯坏了\x01\x0b</description><x>&amp;]]>"})
    assert posted.status_code == 201, posted.text
    number = posted.json()[0]["service_request_id"]
    response = o311.get(f"{BASE}/requests/{number}.xml")
    [row] = xml_rows(response.text, "service_requests", "request")  # parses: well-formed
    assert row["description"].startswith("灯坏了") and "</description><x>" in row["description"]


def test_error_bodies_are_the_specs_and_name_nothing_internal(o311, api_key):
    for response in (o311.get(f"{BASE}/requests/NOPE'--.json"),
                     o311.get(f"{BASE}/requests.json", params={"start_date": "x' OR 1=1"}),
                     o311.post(f"{BASE}/requests.json", data={"api_key": "g311_guess"}),
                     o311.post(f"{BASE}/requests.json", data={
                         "api_key": api_key, "service_code": "stairwell_light",
                         "jurisdiction_id": "<script>", "address_string": "2号楼"})):
        assert response.status_code in (400, 403, 404), response.text
        [error] = response.json()
        assert set(error) == {"code", "description"}
        assert not any(word in error["description"] for word in
                       ("Traceback", "sqlalchemy", "SELECT", "api_key_hash", "key_hash"))


def test_emergency_tickets_are_never_read_through_get(o311, community):
    from sqlmodel import Session

    from tests.staff_support import report

    with Session(community) as s:
        ticket = report(s, 3, "3号楼老人摔倒了，昏迷不醒", kind="emergency", category="急救",
                        urgent=True)
        s.commit()
        number = ticket.number
    assert o311.get(f"{BASE}/requests/{number}.json").status_code == 404
    for url in (f"{BASE}/requests.json", f"{BASE}/requests.xml",
                f"{BASE}/requests.json?service_request_id={number}"):
        response = o311.get(url)
        assert response.status_code == 200 and number not in response.text, url


def test_discovery_names_the_configured_site_whatever_the_host_header(settings, community, clock,
                                                                      classifier):
    from fastapi.testclient import TestClient

    from bot.app import create_app

    app = create_app(settings.model_copy(update={"console_url": "https://grid.example.org/console/"}),
                     clock=clock, classifier=classifier)
    with TestClient(app) as client:
        body = client.get("/open311/discovery.json", headers={"Host": "evil.example"}).json()
    assert body["endpoints"][0]["url"] == "https://grid.example.org/open311/v2/"


def test_a_residents_shared_location_is_never_shown_precisely(o311, chat, community):
    from services import tickets
    from storage.db import session_scope
    from storage.models import Ticket
    from tests.chat import START

    chat.say("resident-1", "3号楼楼道灯坏了")
    [ticket] = chat.tickets()
    with session_scope(community) as session:
        tickets.attach(session, session.get(Ticket, ticket.id), None, START,
                       point=(41.8012345, 123.4345678, "我家"))
    response = o311.get(f"{BASE}/requests/{ticket.number}.json")
    assert response.status_code == 200
    assert "41.8012345" not in response.text and "123.4345678" not in response.text
    [row] = response.json()
    assert row["lat"] is None or abs(row["lat"] - 41.8012345) > 1e-4 or row["lat"] == 41.801


ODD = ["-1", "0", "99999999999999999999", "abc", "'--", "é", "2026-13-45", "<x>", "", "1e309",
       "nan", "b99999999999999999999", "p-1"]


def test_odd_values_are_never_a_server_error(o311, api_key):
    failures = []
    for name in ("service_request_id", "service_code", "start_date", "end_date", "status",
                 "jurisdiction_id"):
        for value in ODD:
            response = o311.get(f"{BASE}/requests.json", params={name: value})
            if response.status_code >= 500:
                failures.append(("GET", name, value, response.status_code))
    for name in ("lat", "long", "address_id", "address_string", "jurisdiction_id", "media_url",
                 "email", "phone", "device_id", "account_id"):
        for value in ODD:
            fields = {"api_key": api_key, "service_code": "lift", "address_string": "2号楼",
                      "lat": "41.8", "long": "123.4", name: value}
            response = o311.post(f"{BASE}/requests.json", data=fields)
            if response.status_code >= 500:
                failures.append(("POST", name, value, response.status_code))
    assert failures == [], "\n".join(map(str, failures))

"""GET services and GET services/{service_code}: the spec's examples, with our categories
(storage/categories.toml) as services."""

from __future__ import annotations

from storage import categories
from tests.open311.conftest import BASE, xml_rows

SPEC_SERVICE_FIELDS = ["service_code", "service_name", "description", "metadata", "type",
                       "keywords", "group"]


def test_services_json_lists_repair_and_complaint_categories_as_the_spec_shapes_them(o311):
    response = o311.get(f"{BASE}/services.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    services = response.json()
    offered = [c.code for c in categories.load().items if c.kind in ("repair", "complaint")]
    assert [s["service_code"] for s in services] == offered
    assert all(list(s) == SPEC_SERVICE_FIELDS for s in services)
    light = next(s for s in services if s["service_code"] == "stairwell_light")
    assert light["service_name"] == "楼道灯"
    assert light["group"] == "报修"
    assert light["description"] == "报修：楼道灯"
    assert light["metadata"] is False and light["type"] == "realtime"
    assert "楼道灯" in light["keywords"].split(", ")
    noise = next(s for s in services if s["service_code"] == "noise")
    assert noise["group"] == "投诉"


def test_emergency_categories_are_not_offered(o311):
    codes = {s["service_code"] for s in o311.get(f"{BASE}/services.json").json()}
    assert "first_aid" not in codes and "public_security" not in codes
    response = o311.get(f"{BASE}/services/first_aid.json")
    assert response.status_code == 404


def test_services_xml_follows_the_spec_example(o311):
    response = o311.get(f"{BASE}/services.xml")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    rows = xml_rows(response.text, "services", "service")
    assert [list(r) for r in rows] == [SPEC_SERVICE_FIELDS] * len(rows)
    lift = next(r for r in rows if r["service_code"] == "lift")
    assert lift["service_name"] == "电梯" and lift["metadata"] == "false"
    assert lift["type"] == "realtime" and lift["group"] == "报修"


def test_format_follows_the_accept_header_without_an_extension(o311):
    as_xml = o311.get(f"{BASE}/services", headers={"Accept": "text/xml"})
    assert as_xml.headers["content-type"].startswith("text/xml")
    assert xml_rows(as_xml.text, "services", "service")
    as_json = o311.get(f"{BASE}/services", headers={"Accept": "application/json"})
    assert isinstance(as_json.json(), list)


def test_an_unknown_format_is_a_400_error(o311):
    response = o311.get(f"{BASE}/services.csv")
    assert response.status_code == 400
    assert response.json() == [{"code": 400, "description": "只支持 json 和 xml 两种格式。"}]


def test_service_definition_json_and_xml(o311):
    response = o311.get(f"{BASE}/services/stairwell_light.json")
    assert response.status_code == 200
    assert response.json() == {"service_code": "stairwell_light", "attributes": []}
    xml = o311.get(f"{BASE}/services/stairwell_light.xml")
    assert xml.status_code == 200
    assert xml.text.startswith('<?xml version="1.0" encoding="utf-8"?>')
    assert "<service_definition>" in xml.text
    assert "<service_code>stairwell_light</service_code>" in xml.text
    assert "<attributes />" in xml.text


def test_unknown_service_definition_is_404_in_the_spec_error_shape(o311):
    response = o311.get(f"{BASE}/services/potholes.json")
    assert response.status_code == 404
    [error] = response.json()
    assert error["code"] == 404 and "potholes" in error["description"]
    xml = o311.get(f"{BASE}/services/potholes.xml")
    assert xml.status_code == 404
    assert xml_rows(xml.text, "errors", "error") == [
        {"code": "404", "description": "没有这个服务类别：potholes。"}]


def test_discovery_names_the_endpoint_and_formats(o311):
    body = o311.get("/open311/discovery.json").json()
    [endpoint] = body["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2/")
    assert endpoint["formats"] == ["text/xml", "application/json"]
    xml = o311.get("/open311/discovery.xml").text
    assert "<format>text/xml</format>" in xml

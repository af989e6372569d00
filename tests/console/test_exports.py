"""导出 over HTTP: the page, CSV (BOM, CRLF, Chinese intact) and XLSX files with a Chinese
file name (RFC 5987), the audit log, scope and phone masking per role, 403 without the
capability."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from urllib.parse import quote

import pytest
from openpyxl import load_workbook
from sqlmodel import Session, select

from storage.accounts import AuditEntry
from storage.models import Community
from tests.console.board_data import seed_street
from tests.console.conftest import login


@pytest.fixture
def street(community):
    """The demo 街道 with tickets and a street admin (``tests.console.board_data``)."""
    return seed_street(community)


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def rows_of_csv(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def test_the_page_lists_the_four_exports(console, street):
    login(console, "admin-1")
    page = console.get("/console/exports")
    assert page.status_code == 200
    for name, title in (("tickets", "工单"), ("loans", "工具借用"), ("care", "托管名单"),
                        ("notices", "通知送达")):
        assert f'formaction="/console/exports/{name}.csv"' in page.text
        assert f'formaction="/console/exports/{name}.xlsx"' in page.text
        assert title in page.text
    assert "第一网格" in page.text and "阳光一网格" not in page.text  # grids of the own community
    assert "完整号码" in page.text


def test_csv_opens_in_excel_with_chinese_intact(console, street):
    login(console, "admin-1")
    response = console.get("/console/exports/tickets.csv")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="tickets_2026-10-24_2026-11-22.csv"')
    assert f"filename*=UTF-8''{quote('工单_2026-10-24_2026-11-22.csv')}" in disposition
    body = response.content
    assert body.startswith(b"\xef\xbb\xbf") and b"\r\n" in body
    rows = rows_of_csv(body)
    assert rows[0][:4] == ["工单号", "类型", "类别", "状态"]
    numbers = [r[0] for r in rows[1:]]
    assert numbers == ["GD20261120-0004", "GD20261120-0001", "GD20261120-0002",
                       "GD20261120-0003"]  # 幸福新社区's only, oldest first
    first = dict(zip(rows[0], rows[2], strict=True))
    assert first["类型"] == "报修" and first["问题描述"] == "楼道灯坏了"
    assert first["居民电话"] == "13812345678"  # community staff get full phones
    assert first["提交时间"] == "2026-11-20 10:00"  # Beijing time


def test_xlsx_opens_with_openpyxl(console, street):
    login(console, "street-1")
    response = console.get("/console/exports/tickets.xlsx")
    assert response.status_code == 200 and response.headers["content-type"] == XLSX
    assert quote("工单_") in response.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(response.content)).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][0] == "工单号" and sheet.cell(row=1, column=1).font.bold
    assert len(values) == 6  # header + every community's 5 tickets
    created = values[0].index("提交时间")
    assert isinstance(values[1][created], datetime)


def test_filters_and_masking_for_a_grid_leader(console, street):
    login(console, "leader-g1")
    rows = rows_of_csv(console.get("/console/exports/tickets.csv").content)
    assert [r[0] for r in rows[1:]] == ["GD20261120-0001", "GD20261120-0002", "GD20261120-0003"]
    phone = dict(zip(rows[0], rows[1], strict=True))["居民电话"]
    assert phone == "138****5678"
    assert "已隐去" in console.get("/console/exports").text


def test_a_street_admin_picks_a_community_and_a_period(console, street):
    login(console, "street-1")
    with Session(street) as s:
        yg = s.exec(select(Community.id).where(Community.name == "阳光社区")).one()
    rows = rows_of_csv(console.get("/console/exports/tickets.csv",
                                   params={"community": yg}).content)
    assert [r[0] for r in rows[1:]] == ["GD20261120-0005"]
    week = rows_of_csv(console.get("/console/exports/tickets.csv",
                                   params={"from": "2026-11-16", "to": "2026-11-22"}).content)
    assert len(week) == 5  # the 11-15 ticket is left out
    other = console.get("/console/exports/loans.xlsx", params={"from": "2026-11-01"})
    assert other.status_code == 200
    assert "loans_2026-11-01_2026-11-22.xlsx" in other.headers["content-disposition"]


def test_every_export_is_audited(console, street):
    me = login(console, "admin-1")
    for what in ("tickets", "loans", "care", "notices"):
        assert console.get(f"/console/exports/{what}.csv").status_code == 200
    with Session(street) as s:
        entries = s.exec(select(AuditEntry).where(AuditEntry.action.startswith("export."))
                         .order_by(AuditEntry.id)).all()
    assert [(e.action, e.worker_id, e.target_id) for e in entries] == [
        (f"export.{w}", me.id, w) for w in ("tickets", "loans", "care", "notices")]
    assert entries[0].detail["rows"] == 4 and entries[0].detail["format"] == "csv"


def test_refusals(console, street):
    login(console, "worker-g1")
    assert console.get("/console/exports").status_code == 403
    assert console.get("/console/exports/tickets.csv").status_code == 403
    login(console, "admin-1")
    assert console.get("/console/exports/residents.csv").status_code == 404
    assert console.get("/console/exports/tickets.pdf").status_code == 404
    with Session(street) as s:
        yg = s.exec(select(Community.id).where(Community.name == "阳光社区")).one()
    assert console.get("/console/exports/tickets.csv",
                       params={"community": yg}).status_code == 403  # not their community
    assert console.get("/console/exports/tickets.csv",
                       params={"from": "2026-11-30", "to": "2026-11-01"}).status_code == 422

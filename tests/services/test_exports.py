"""services.exports: the four exports, their scope and phone masking, and the CSV/XLSX writers."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

import pytest
from openpyxl import load_workbook
from sqlmodel import Session

from services import exports
from services.errors import Invalid, NotAllowed
from storage.care import CareAttendance, CareSession, Enrollment, Programme
from storage.lending import LendItem, Loan, Station
from storage.models import Notice, NoticeDelivery, Outbox, Resident
from storage.stats import period
from tests.services.board_data import NOW, TZ, at, seed

NOVEMBER = exports.Filters(*period(date(2026, 11, 1), date(2026, 11, 30), NOW, TZ))


@pytest.fixture
def board(session: Session):
    b = seed(session)
    other = Resident(openid="res-2", community_id=b.c2.id, building_id=b.b3.id, room="101",
                     phone="13900001111")
    session.add(other)
    session.flush()
    # lending: one station per community
    s1 = Station(community_id=b.c1.id, name="幸福驿站")
    s2 = Station(community_id=b.c2.id, name="阳光驿站")
    session.add_all([s1, s2])
    session.flush()
    ladder = LendItem(station_id=s1.id, name="梯子", total=2, available=1)
    cart = LendItem(station_id=s2.id, name="手推车", total=1, available=1)
    session.add_all([ladder, cart])
    session.flush()
    session.add_all([
        Loan(number="JY-0001", item_id=ladder.id, resident_id=b.resident.id, status="out",
             created_at=at("2026-11-10 09:00"), out_at=at("2026-11-10 10:00"),
             due_at=at("2026-11-17 20:00")),  # overdue at NOW
        Loan(number="JY-0002", item_id=cart.id, resident_id=other.id, status="returned",
             created_at=at("2026-11-11 09:00"), returned_at=at("2026-11-12 09:00")),
        Loan(number="JY-0003", item_id=ladder.id, resident_id=b.resident.id, status="returned",
             created_at=at("2026-10-01 09:00")),  # before the period
    ])
    # care: a term running through November, and one that ended in October
    prog = Programme(community_id=b.c1.id, name="四点半课堂")
    session.add(prog)
    session.flush()
    autumn = CareSession(programme_id=prog.id, name="2026秋季学期", starts_on=date(2026, 9, 1),
                         ends_on=date(2027, 1, 15), taken=1)
    summer = CareSession(programme_id=prog.id, name="2026暑期班", starts_on=date(2026, 7, 1),
                         ends_on=date(2026, 8, 31))
    session.add_all([autumn, summer])
    session.flush()
    kid = Enrollment(number="BM-0001", session_id=autumn.id, resident_id=b.resident.id,
                     child_name="小明", grade=3, guardian_phone="13812345678", status="enrolled",
                     created_at=at("2026-08-20 09:00"), enrolled_at=at("2026-08-20 09:00"),
                     first_session_on=date(2026, 9, 1))
    old = Enrollment(number="BM-0002", session_id=summer.id, child_name="小红",
                     guardian_phone="13700000000", status="enrolled",
                     created_at=at("2026-06-20 09:00"))
    session.add_all([kid, old])
    session.flush()
    session.add_all([CareAttendance(enrollment_id=kid.id, on_date=date(2026, 11, d), present=d != 4,
                                    at=at(f"2026-11-0{d} 18:00")) for d in (2, 3, 4)])
    # a notice to both residents
    notice = Notice(title="停水通知", text="明天停水", scope="社区:全部", sender="社区张",
                    created_at=at("2026-11-15 08:00"), recipients=2)
    session.add(notice)
    session.flush()
    for who, status in ((b.resident, "sent"), (other, "dead")):
        push = Outbox(recipient_kind="resident", recipient_id=who.id, openid=who.openid,
                      audience="resident", event="push_notice", text="明天停水", status=status,
                      channel="custom" if status == "sent" else None,
                      sent_at=at("2026-11-15 08:01") if status == "sent" else None,
                      last_error=None if status == "sent" else "43004 unsubscribed")
        session.add(push)
        session.flush()
        session.add(NoticeDelivery(notice_id=notice.id, outbox_id=push.id, resident_id=who.id))
    session.commit()
    return b


def column(table: exports.Table, header: str) -> list:
    i = table.headers.index(header)
    return [row[i] for row in table.rows]


def test_every_column_has_a_chinese_header():
    for name, columns in (("tickets", exports.TICKET_COLUMNS), ("loans", exports.LOAN_COLUMNS),
                          ("care", exports.CARE_COLUMNS), ("notices", exports.NOTICE_COLUMNS)):
        words = exports.labels()[name]
        assert set(columns) | {"title"} == set(words), name


def test_tickets_of_the_period_for_a_street_admin(session, board):
    table = exports.for_staff(session, board.street_admin, "tickets", NOVEMBER, NOW, TZ)
    assert table.title == "工单"
    assert column(table, "工单号") == [f"GD-000{n}" for n in (1, 2, 3, 4, 5, 7, 9, 8)]  # by time
    assert column(table, "类型")[:3] == ["报修", "报修", "投诉"]
    assert column(table, "状态")[0] == "已关闭"
    assert column(table, "居民电话")[0] == "13812345678"  # street admins see full phones
    assert column(table, "当前超时") == [False, False, False, True, False, False, True, False]
    assert column(table, "社区")[6] == "阳光社区" and column(table, "网格")[6] == "G01 阳光一网格"


def test_community_staff_get_their_community_with_full_phones(session, board):
    table = exports.for_staff(session, board.admin, "tickets", NOVEMBER, NOW, TZ)
    assert column(table, "工单号") == [f"GD-000{n}" for n in (1, 2, 3, 4, 5, 7, 8)]
    assert column(table, "居民电话")[0] == "13812345678"
    with pytest.raises(NotAllowed):
        exports.for_staff(session, board.admin, "tickets",
                          exports.Filters(NOVEMBER.start, NOVEMBER.end, community_id=board.c2.id),
                          NOW, TZ)


def test_a_grid_leader_gets_their_grid_with_masked_phones(session, board):
    table = exports.for_staff(session, board.leader, "tickets", NOVEMBER, NOW, TZ)
    assert column(table, "工单号") == [f"GD-000{n}" for n in (1, 2, 3, 4, 5)]
    assert column(table, "居民电话")[0] == "138****5678"
    roster = exports.for_staff(session, board.leader, "care", NOVEMBER, NOW, TZ)
    assert column(roster, "家长电话") == ["138****5678"]  # the family lives in the leader's grid


def test_grid_workers_may_not_export_and_unknown_exports_are_invalid(session, board):
    with pytest.raises(NotAllowed):
        exports.for_staff(session, board.worker, "tickets", NOVEMBER, NOW, TZ)
    with pytest.raises(Invalid):
        exports.for_staff(session, board.street_admin, "residents", NOVEMBER, NOW, TZ)


def test_filters_by_grid(session, board):
    only_g2 = exports.Filters(NOVEMBER.start, NOVEMBER.end, grid_id=board.g2.id)
    table = exports.for_staff(session, board.admin, "tickets", only_g2, NOW, TZ)
    assert column(table, "工单号") == ["GD-0007", "GD-0008"]


def test_loans_by_station_scope(session, board):
    everything = exports.for_staff(session, board.street_admin, "loans", NOVEMBER, NOW, TZ)
    assert column(everything, "借用单号") == ["JY-0001", "JY-0002"]
    assert column(everything, "状态") == ["借出中", "已归还"]
    assert column(everything, "逾期未还") == [True, False]
    assert column(everything, "驿站") == ["幸福驿站", "阳光驿站"]
    mine = exports.for_staff(session, board.other_admin, "loans", NOVEMBER, NOW, TZ)
    assert column(mine, "借用单号") == ["JY-0002"]
    assert column(mine, "借用人电话") == ["13900001111"]
    assert exports.for_staff(session, board.leader, "loans", NOVEMBER, NOW, TZ).rows == []


def test_care_roster_of_sessions_running_in_the_period(session, board):
    roster = exports.for_staff(session, board.admin, "care", NOVEMBER, NOW, TZ)
    assert column(roster, "报名号") == ["BM-0001"]  # the summer class ended in August
    assert column(roster, "孩子姓名") == ["小明"]
    assert (column(roster, "出勤次数"), column(roster, "缺勤次数")) == ([2], [1])
    assert column(roster, "状态") == ["已报名"]
    assert exports.for_staff(session, board.other_admin, "care", NOVEMBER, NOW, TZ).rows == []


def test_notice_deliveries_per_recipient(session, board):
    table = exports.for_staff(session, board.street_admin, "notices", NOVEMBER, NOW, TZ)
    assert column(table, "推送状态") == ["已发送", "发送失败"]
    assert column(table, "推送渠道") == ["客服消息", None]
    assert column(table, "失败原因") == [None, "43004 unsubscribed"]
    assert column(table, "社区") == ["幸福新社区", "阳光社区"]
    theirs = exports.for_staff(session, board.other_admin, "notices", NOVEMBER, NOW, TZ)
    assert column(theirs, "楼栋") == ["阳光1号楼"]


def test_limits_phone_masks_like_every_staff_list():
    masking = exports.Limits(full_phones=False)
    assert masking.phone("13812345678") == "138****5678"
    assert masking.phone("024-12345678") == "024-****5678"  # storage.phones.masked
    assert masking.phone("96333") == "***33"
    assert masking.phone(None) is None
    assert exports.Limits(full_phones=True).phone("13812345678") == "13812345678"


def test_csv_has_a_bom_crlf_and_round_trips_chinese(session, board):
    table = exports.for_staff(session, board.street_admin, "tickets", NOVEMBER, NOW, TZ)
    data = exports.to_csv(table)
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.split(b"\r\n")[0].decode("utf-8-sig").startswith("工单号,类型,类别,状态")
    assert b"\n" not in data.replace(b"\r\n", b"")
    read = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert read[0] == table.headers
    assert len(read) == len(table.rows) + 1
    first = dict(zip(read[0], read[1], strict=True))
    assert first["问题描述"] == "楼道灯坏了" and first["类型"] == "报修"
    assert first["提交时间"] == "2026-11-02 09:00"  # Shanghai time, not UTC
    assert first["紧急"] == "否" and first["按时响应"] == "是"
    second = dict(zip(read[0], read[2], strict=True))
    assert second["问题描述"] == "'=HYPERLINK(\"http://x\")厨房漏水"  # never a formula
    assert second["提交时间"] == "2026-11-03 00:30"


def test_xlsx_opens_with_real_datetimes_and_a_bold_header(session, board):
    table = exports.for_staff(session, board.street_admin, "tickets", NOVEMBER, NOW, TZ)
    book = load_workbook(io.BytesIO(exports.to_xlsx(table)))
    sheet = book.active
    assert sheet.title == "工单"
    values = list(sheet.iter_rows(values_only=True))
    assert list(values[0]) == table.headers and len(values) == len(table.rows) + 1
    assert sheet.cell(row=1, column=1).font.bold
    header = {h: i for i, h in enumerate(values[0])}
    created = values[1][header["提交时间"]]
    assert isinstance(created, datetime) and created == datetime(2026, 11, 2, 9, 0)
    assert values[2][header["问题描述"]] == "=HYPERLINK(\"http://x\")厨房漏水"
    assert sheet.cell(row=3, column=header["问题描述"] + 1).data_type == "s"
    assert values[1][header["紧急"]] == "否"
    assert sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["A"].width >= len("GD-0001")


def test_xlsx_of_an_empty_export_keeps_its_headers(session, board):
    empty = exports.for_staff(session, board.leader, "loans", NOVEMBER, NOW, TZ)
    sheet = load_workbook(io.BytesIO(exports.to_xlsx(empty))).active
    assert [c.value for c in sheet[1]] == empty.headers and sheet.max_row == 1
    assert exports.to_csv(empty).decode("utf-8-sig") == ",".join(empty.headers) + "\r\n"


def test_dates_in_xlsx_are_dates(session, board):
    roster = exports.for_staff(session, board.admin, "care", NOVEMBER, NOW, TZ)
    sheet = load_workbook(io.BytesIO(exports.to_xlsx(roster))).active
    i = roster.headers.index("首次上课日") + 1
    assert sheet.cell(row=2, column=i).value == datetime(2026, 9, 1)  # Excel stores dates as datetimes
    assert sheet.cell(row=2, column=i).number_format == exports.DATE_FORMAT

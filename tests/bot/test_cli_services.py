"""Staff commands `gridbot station …` and `gridbot care …` against the real database."""

from __future__ import annotations

import csv

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from bot.cli_services import care_app, station_app
from services import care as care_actions
from storage import care
from storage.lending import LendItem
from storage.models import Outbox, Resident
from storage.times import utcnow

runner = CliRunner()


@pytest.fixture
def db(monkeypatch, postgres_url, community):
    monkeypatch.setenv("GRIDBOT_DATABASE_URL", postgres_url)
    return community


def run(app, *args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_station_items_stock_and_loans(db):
    assert "驿站 #1 东区驿站 已保存" in run(station_app, "add", "东区驿站", "--hours", "每天 9:00–17:00",
                                          "--address", "3号楼底商")
    line = run(station_app, "item", "东区驿站", "轮椅", "--count", "2", "--loan-days", "14",
               "--deposit", "200", "--id")
    assert "轮椅: 可借 2/2" in line and "押金200元" in line and "需身份证" in line
    assert "轮椅: 可借 3/3" in run(station_app, "stock", "东区驿站", "轮椅", "3")
    listing = run(station_app, "list")
    assert "东区驿站" in listing and "每天 9:00–17:00" in listing and "借期14天" in listing
    assert run(station_app, "loans").strip() == "没有记录"
    bad = runner.invoke(station_app, ["stock", "东区驿站", "飞机", "1"])
    assert bad.exit_code == 1 and "飞机" in bad.output
    bad = runner.invoke(station_app, ["stock", "东区驿站", "轮椅", "--", "-1"])
    assert bad.exit_code == 1
    with Session(db) as s:
        assert s.exec(select(LendItem)).one().total == 3


def test_programme_session_roster_attendance_notice_and_cancel(db, tmp_path):
    run(care_app, "programme", "四点半课堂", "--grades", "1-6", "--location", "活动室")
    saved = run(care_app, "session", "四点半课堂", "秋季班", "--weekdays", "1-5", "--time",
                "16:30-18:00", "--capacity", "2")
    assert "0/2" in saved
    with Session(db) as s:
        parents = [Resident(openid="p1"), Resident(openid="p2"), Resident(openid="p3")]
        s.add_all(parents)
        s.flush()
        for p, (name, phone) in zip(parents, [("王一一", "13800000001"), ("李二二", "13800000002"),
                                              ("赵三三", "13800000003")], strict=True):
            care_actions.enroll(s, 1, p, care_actions.Child(name, phone, grade=2, notes="花生过敏"), utcnow())
        s.commit()
    assert "2/2  候补1" in run(care_app, "list")
    out = tmp_path / "roster.csv"
    assert "已导出 2 人" in run(care_app, "roster", "1", "--csv", str(out))
    rows = list(csv.reader(out.open(encoding="utf-8-sig")))
    assert rows[0][:3] == ["编号", "状态", "孩子"] and [r[2] for r in rows[1:]] == ["王一一", "李二二"]
    assert "赵三三" in run(care_app, "roster", "1", "--waiting")
    marked = run(care_app, "attend", "1", "王一一", "--date", "2026-11-23")
    assert "到 1 人，缺 0 人，未记 1 人" in marked
    marked = run(care_app, "attend", "1", "李二二", "--date", "2026-11-23", "--absent",
                 "--note", "病假")
    assert "到 1 人，缺 1 人" in marked
    assert runner.invoke(care_app, ["attend", "1", "赵三三"]).exit_code == 1  # only waiting
    assert "已发送给 2 个家庭" in run(care_app, "notice", "1", "明天停课一天。")
    cancelled = run(care_app, "cancel", _first_number(db))
    assert "已通知 1 个候补家庭" in cancelled
    with Session(db) as s:
        events = [(o.openid, o.event) for o in s.exec(select(Outbox).order_by(Outbox.id))]
    assert events == [("p1", "care.push_notice"), ("p2", "care.push_notice"),
                      ("p3", "care.push_offer")]


def _first_number(engine) -> str:
    with Session(engine) as s:
        return care.roster(s, 1)[0].number


def test_desk_enrollment_follows_the_same_rules(db):
    run(care_app, "programme", "四点半课堂", "--grades", "1-6")
    run(care_app, "session", "四点半课堂", "秋季班", "--capacity", "1")
    assert "已报名" in run(care_app, "enroll", "1", "王一一", "--phone", "13800000001", "--grade", "2")
    assert "候补第1位" in run(care_app, "enroll", "1", "李二二", "--phone", "13800000002",
                              "--age", "8")
    refused = runner.invoke(care_app, ["enroll", "1", "赵三三", "--phone", "1", "--grade", "8"])
    assert refused.exit_code == 1 and "grade 8" in refused.output

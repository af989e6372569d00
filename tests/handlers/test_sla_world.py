"""A small community for the SLA, escalation, hand-over and rating tests, driven through the
real inbox (signed WeChat XML → handlers → PostgreSQL, Redis) with a frozen clock.

Grid G01 (1–4号楼): 网格员 王芳 (oW1), 网格长 李强 (oL1). Grid G02 (5–8号楼): 网格员 张伟
(oW2). 社区 赵敏 (oA1). Departments: 物业公司 (孙工 oD1), 住建 (周工 oD2).
Other test modules import ``world_fixture`` (the ``world`` fixture) and ``World`` from here.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache

import pytest
from sqlmodel import Session, select

from bot.devtools.simulator import WeChatSimulator
from bot.inbox import Inbox
from bot.settings import Settings
from intents.classify import Classifier
from services.escalation import due_timer_ids, fire
from storage import tickets
from storage.calendar import Calendar
from storage.models import (
    Department,
    DepartmentMember,
    GridWorker,
    Outbox,
    Resident,
    Role,
    Ticket,
    TicketEvent,
)
from storage.sla import load
from storage.times import SHANGHAI, FrozenClock, as_utc, local
from tests.org_support import org


def at(text: str) -> datetime:
    """Shanghai wall time "2026-11-27 17:00" as aware UTC."""
    return as_utc(datetime.fromisoformat(text).replace(tzinfo=SHANGHAI))


def wall(dt: datetime) -> str:
    return local(dt).strftime("%Y-%m-%d %H:%M")


@cache
def classifier() -> Classifier:
    return Classifier.load()


class World:
    def __init__(self, engine, redis, postgres_url: str, redis_url: str, start: str) -> None:
        self.engine = engine
        self.clock = FrozenClock(at(start))
        self.settings = Settings(_env_file=None, database_url=postgres_url, redis_url=redis_url)
        self.sim = WeChatSimulator(self.settings.wechat_token, self.settings.wechat_app_id,
                                   now=lambda: self.clock().timestamp())
        self.inbox = Inbox(self.settings, engine, redis, classifier(), self.clock)
        self._seen_outbox = 0
        self._seed()

    def _seed(self) -> None:
        with Session(self.engine) as s:
            town = org(s, {"幸福新社区": {"G01": [1, 2, 3, 4], "G02": [5, 6, 7, 8]}})
            community, g1, g2 = town.community(), town.grid("G01"), town.grid("G02")
            people = [
                GridWorker(openid="oW1", name="王芳", phone="13800000001", grid_id=g1.id,
                           community_id=community.id),
                GridWorker(openid="oL1", name="李强", role=Role.GRID_LEADER, grid_id=g1.id,
                           community_id=community.id),
                GridWorker(openid="oW2", name="张伟", grid_id=g2.id, community_id=community.id),
                GridWorker(openid="oA1", name="赵敏", role=Role.COMMUNITY_ADMIN,
                           community_id=community.id),
                GridWorker(openid="oD1", name="孙工", role=Role.DEPARTMENT, community_id=community.id),
                GridWorker(openid="oD2", name="周工", role=Role.DEPARTMENT, community_id=community.id),
            ]
            s.add_all(people)
            s.flush()
            for name, member in (("物业公司", people[4]), ("住建", people[5])):
                dept = Department(name=name, community_id=community.id)
                s.add(dept)
                s.flush()
                s.add(DepartmentMember(department_id=dept.id, worker_id=member.id))
            s.commit()

    # -- talking ------------------------------------------------------------------------
    def say(self, openid: str, text: str) -> str:
        delivery = self.sim.text(openid, text)
        answer = self.inbox.process(delivery.params, delivery.body)
        return self.sim.reply_text(answer.body)

    def report(self, openid: str, text: str = "3号楼2单元501，楼道灯坏了") -> Ticket:
        reply = self.say(openid, text)
        assert "工单" in reply, reply
        return self.latest()

    # -- looking --------------------------------------------------------------------------
    def latest(self) -> Ticket:
        with Session(self.engine) as s:
            return s.exec(select(Ticket).order_by(Ticket.id.desc())).first()

    def ticket(self, number: str) -> Ticket:
        with Session(self.engine) as s:
            return tickets.by_number(s, number)

    def events(self, number: str, kind: str | None = None) -> list[TicketEvent]:
        with Session(self.engine) as s:
            rows = tickets.timeline(s, tickets.by_number(s, number))
        return [e for e in rows if kind is None or e.kind == kind]

    def pushes(self, openid: str | None = None) -> list[tuple[str, str]]:
        """(openid, text) of pushes staged since the last call (all recipients, or one)."""
        with Session(self.engine) as s:
            rows = list(s.exec(select(Outbox).where(Outbox.id > self._seen_outbox)
                               .order_by(Outbox.id)))
        if rows:
            self._seen_outbox = rows[-1].id
        return [(r.openid, r.text) for r in rows if openid is None or r.openid == openid]

    def resident(self, openid: str) -> Resident:
        with Session(self.engine) as s:
            return s.exec(select(Resident).where(Resident.openid == openid)).one()

    # -- time -----------------------------------------------------------------------------
    def go(self, when: str) -> None:
        self.clock.now = at(when)

    def sweep(self) -> list[str]:
        """Fire every due timer as the worker's sweep does; returns the steps fired (a
        ticket has one timer row that may fire several due steps at once, so steps are
        counted, not rows)."""
        fired: list[str] = []
        for ticket_id in due_timer_ids(self.engine, self.clock()):
            fired += fire(self.engine, ticket_id, self.clock)
        return fired


@pytest.fixture(name="world")
def world_fixture(clean_db, redis, postgres_url, redis_url) -> World:
    """The community on Monday 2026-11-23 09:00 (Asia/Shanghai)."""
    return World(clean_db, redis, postgres_url, redis_url, "2026-11-23 09:00")


def office() -> Calendar:
    return load().calendars["office"]


# -- the policies file and the calendar ---------------------------------------------------------

def test_policy_file_loads_and_matches_by_category_urgency_and_priority():
    cfg = load()
    assert cfg.default.response_s == 3600 and cfg.default.resolve_s == 24 * 3600
    # 1小时响应 in office hours, 24小时处置 in calendar hours
    assert cfg.default.response_calendar.name == "office"
    assert cfg.default.resolve_calendar.always
    urgent = Ticket(number="x", kind="repair", category="漏水", description="", urgent=True)
    assert cfg.policy_for(urgent).name == "紧急险情"
    assert cfg.policy_for(urgent).response_calendar.always
    assert cfg.policy_for(urgent).resolve_calendar.always
    lift = Ticket(number="x", kind="repair", category="电梯", description="")
    assert (cfg.policy_for(lift).response_s, cfg.policy_for(lift).department) == (1800, "物业公司")
    vulnerable = Ticket(number="x", kind="complaint", category="噪音", description="", priority=1)
    assert cfg.policy_for(vulnerable).name == "重点人群"
    assert [s.to for s in cfg.steps] == ["grid_leader", "community_admin", "department"]


def test_working_minutes_skip_nights_lunch_weekends_and_holidays():
    cal = office()
    assert wall(cal.add(at("2026-11-27 17:00"), 3600)) == "2026-11-30 09:00"  # Fri → Mon
    assert wall(cal.add(at("2026-11-23 11:30"), 3600)) == "2026-11-23 14:00"  # over lunch
    assert wall(cal.add(at("2026-11-22 03:00"), 0)) == "2026-11-23 08:30"  # Sunday night
    assert wall(cal.add(at("2026-09-30 17:00"), 3600)) == "2026-10-08 09:00"  # 国庆
    assert wall(cal.add(at("2026-10-09 17:00"), 3600)) == "2026-10-10 09:00"  # 调休 Saturday
    assert cal.between(at("2026-11-27 17:00"), at("2026-11-30 09:00")) == 3600
    assert cal.back(at("2026-11-30 09:00"), 12 * 60, at("2026-11-27 17:00")) == at("2026-11-30 08:48")


def test_bad_policy_files_are_refused_with_the_entry_named():
    from storage.sla import parse

    with pytest.raises(ValueError, match="unknown calendar"):
        parse({"default": {"calendar": "nope"}})
    with pytest.raises(ValueError, match="positive"):
        parse({"policy": [{"name": "x", "kind": "repair", "response_minutes": 0}],
               "calendars": {"office": {}}})
    with pytest.raises(ValueError, match="bad time"):
        parse({"calendars": {"office": {"hours": [["8点", "17:00"]]}}})
    with pytest.raises(ValueError, match="'to'"):
        parse({"calendars": {"office": {}}, "escalation": {"steps": [{"level": 1, "to": "boss"}]}})


def test_each_target_takes_its_own_calendar_key_then_calendar_then_the_default():
    from storage.sla import parse

    cfg = parse({
        "default": {"response_calendar": "office", "resolve_calendar": "24x7"},
        "policy": [
            {"name": "all-round", "urgent": True, "calendar": "24x7"},
            {"name": "office-fix", "kind": "repair", "calendar": "24x7",
             "resolve_calendar": "office"},
            {"name": "inherits", "kind": "complaint"},
        ],
        "calendars": {"office": {}},
    })
    names = {p.name: (p.response_calendar.name, p.resolve_calendar.name)
             for _, p in cfg.rules}
    assert names == {"all-round": ("24x7", "24x7"), "office-fix": ("24x7", "office"),
                     "inherits": ("office", "24x7")}
    assert (cfg.default.response_calendar.name, cfg.default.resolve_calendar.name) == (
        "office", "24x7")
    with pytest.raises(ValueError, match="unknown calendar 'nope' \\(resolve_calendar\\)"):
        parse({"default": {"resolve_calendar": "nope"}, "calendars": {"office": {}}})


def test_resolution_is_never_due_before_the_response():
    from storage.sla import start_clocks

    friday = Ticket(number="x", kind="repair", category="楼道灯", description="")
    start_clocks(friday, at("2026-11-27 18:00"))  # office closed: answered on Monday
    assert wall(friday.response_due_at) == wall(friday.resolve_due_at) == "2026-11-30 09:30"
    monday = Ticket(number="y", kind="repair", category="楼道灯", description="")
    start_clocks(monday, at("2026-11-23 09:00"))
    assert (wall(monday.response_due_at), wall(monday.resolve_due_at)) == (
        "2026-11-23 10:00", "2026-11-24 09:00")

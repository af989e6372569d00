"""A past for the demo: `gridbot serve --demo` starts with 30 days of work already done, so
the console's queue, dashboard and exports show what they are for.

``generate(engine, now)`` runs once, on a database with the demo communities and no ticket
yet (a second start adds nothing). It makes demo followers (residents with fake OpenIDs
"demo-<community id>-<n>", homes in the demo buildings) and lets them report about 200
problems over the last ``DAYS`` local days, each reported, accepted, asked about, transferred
(转派 to 物业公司), escalated (上报), rejected (驳回), cancelled, resolved and rated through
the business layer (``services.tickets``, ``services.handover``, ``services.questions``,
``services.kept``, ``services.notices``, ``services.lending`` for a few tool loans) at its
own past ``now``: a clock walks forward
through every step of every ticket in time order. Before each step the SLA timers due by
then fire (``services.escalation.fire`` at each timer's own due time), so warnings, 督办,
met and missed targets and 默认满意 auto-closes are the real thing; a few tickets are left
stuck past their due times (overdue), the latest ones still open. Categories are those of
``storage/categories.toml``, weighted as a northern community's November reports are
(heating, stairwell lights, leaks, parking …); what residents write and staff answer is data
in ``bot/demo_history.toml`` (varied resident Chinese, beside the demo_*.yaml files).

Pushes. Every step stages its pushes as usual (the ticket page lists them), and the history
marks them delivered at the moment they were staged (status "sent", ``sent_at`` = the step's
time, channel ``CHANNEL``): the relay finds nothing pending at start-up, so the sandbox is not
flooded with a month of old messages, and no resident or worker would be told of a past
event now. Timer steps due before ``now`` have all fired in the history; only later ones
remain for the worker.

Deterministic: a seeded ``random.Random`` plans everything from the local dates alone, so
the same ``now`` gives the same history (the time of day only decides how much of today's
plan has happened yet). One transaction: about 4 s on SQLite and 9 s on PostgreSQL on a
busy 2-core machine (``HistoryReport.seconds``; the business layer's timer planning is most
of it).
"""

from __future__ import annotations

import heapq
import logging
import random
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, update
from sqlmodel import Session, col, or_, select

from services import escalation, handover, kept, lending, notices, questions
from services import tickets as life
from services.errors import ServiceError
from services.messages import msg
from services.tickets import NewTicket, Reporter
from storage import categories, sla
from storage import lending as lending_repo
from storage import notices as notice_repo
from storage.db import session_scope
from storage.lending import LendItem, Loan, Station
from storage.models import (
    Building,
    Community,
    Department,
    DepartmentMember,
    Grid,
    GridWorker,
    InboundMessage,
    Outbox,
    OutboxStatus,
    Place,
    Resident,
    Role,
    Ticket,
    TicketTimer,
)
from storage.times import as_utc
from storage.vulnerability import LEVELS

log = logging.getLogger("gridbot.demo_history")

DAYS = 30
"""Local days of history, today included (the dashboard's default period)."""
SEED = 20261122
CHANNEL = "demo"
"""``Outbox.channel`` of the history's pushes: marked delivered, never sent."""
OPENID_PREFIX = "demo-"
PER_DAY = (4, 9)
"""Reports per local day: uniform in this range (weekends one fewer)."""
OTHER_RESIDENTS, OTHER_SHARE = 20, 0.1
"""Demo followers and share of the reports of a community ``WORDS_FILE`` does not name."""
WORDS_FILE = Path(__file__).with_name("demo_history.toml")
"""What the demo's residents report and staff answer (data, like the demo_*.yaml files)."""


@cache
def words(path: Path = WORDS_FILE) -> dict[str, Any]:
    """The parsed ``WORDS_FILE`` (see its comments). Raises ValueError naming a category
    that storage/categories.toml does not have, OSError, tomllib.TOMLDecodeError."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    known = categories.load()
    for entry in data["category"]:
        known.require(entry["name"], where=path.name)
    return data


@dataclass
class HistoryReport:
    """What ``generate`` made: counts, and how long it took (seconds, wall clock)."""

    residents: int = 0
    tickets: int = 0
    steps: int = 0
    timer_steps: int = 0
    pushes: int = 0
    seconds: float = 0.0


@dataclass
class _Org:
    """The demo organisation, as ids (rows are loaded in each step's own session)."""

    community_id: int
    name: str
    buildings: list[tuple[int, int]]  # (id, number)
    places: list[tuple[int, str]]
    department_ids: dict[str, int]
    admin_id: int | None


def generate(engine: Engine, now: datetime, tz: str = "Asia/Shanghai", *, days: int = DAYS,
             seed: int = SEED) -> HistoryReport | None:
    """Make the demo's past ``days`` local days (in ``tz``) up to ``now`` (aware UTC), in one
    transaction; None (nothing done) when a ticket or a demo follower exists already, there
    is no community with buildings, or the business layer refused a step (logged as a
    warning; nothing is kept). See the module doc. Raises what the database raises."""
    began = time.perf_counter()
    now = as_utc(now)
    rng = random.Random(seed)
    report = HistoryReport()
    timers_log = logging.getLogger(escalation.log.name)
    level = timers_log.level
    timers_log.setLevel(logging.WARNING)  # not one INFO line per past 督办 step at start-up
    try:
        with session_scope(engine) as session:
            if session.exec(select(Ticket.id).limit(1)).first() is not None or session.exec(
                    select(Resident.id).where(col(Resident.openid).startswith(OPENID_PREFIX))
                    .limit(1)).first() is not None:
                return None
            orgs = _orgs(session)
            if not orgs:
                return None
            sim = _Sim(session, now, report)
            homes = _residents(session, orgs, rng, now, days, report)
            for plan in _plans(orgs, homes, rng, now, tz, days):
                sim.schedule(plan)
            sim.run()
            _extras(sim, orgs, homes, rng, now, tz)
            sim.fire_until(now)
    except ServiceError as exc:
        log.warning("demo history not made: %s", exc)
        return None
    finally:
        timers_log.setLevel(level)
    report.seconds = round(time.perf_counter() - began, 2)
    log.info("demo history: %d tickets, %d steps, %d timer steps, %d pushes in %.1f s",
             report.tickets, report.steps, report.timer_steps, report.pushes, report.seconds)
    return report


def _orgs(session: Session) -> list[_Org]:
    out = []
    for community in session.exec(select(Community).order_by(Community.id)):
        buildings = [(b.id, b.number) for b in session.exec(
            select(Building).where(Building.community_id == community.id).order_by(Building.number))]
        if not buildings:
            continue
        places = [(p.id, p.name) for p in session.exec(
            select(Place).where(Place.community_id == community.id).order_by(Place.id))]
        departments = {d.name: d.id for d in session.exec(
            select(Department).where(Department.community_id == community.id))
            if session.exec(select(DepartmentMember.id).where(
                DepartmentMember.department_id == d.id)).first() is not None}
        admin = session.exec(select(GridWorker.id).where(
            GridWorker.community_id == community.id, GridWorker.role == Role.COMMUNITY_ADMIN,
            GridWorker.active).order_by(GridWorker.id)).first()
        out.append(_Org(community.id, community.name, buildings, places, departments, admin))
    return out


def _residents(session: Session, orgs: list[_Org], rng: random.Random, now: datetime,
               days: int, report: HistoryReport) -> dict[int, list[Home]]:
    """Demo followers per community id, with their homes."""
    homes: dict[int, list[Home]] = {}
    numbers = {}
    for org in orgs:
        numbers.update(dict(org.buildings))
        rows = []
        count = words()["communities"].get(org.name, {}).get("residents", OTHER_RESIDENTS)
        for n in range(1, count + 1):
            building_id, _ = rng.choice(org.buildings)
            floor = rng.randint(1, 6)
            rows.append(Resident(
                openid=f"{OPENID_PREFIX}{org.community_id}-{n:03d}",
                community_id=org.community_id, building_id=building_id,
                unit=rng.randint(1, 3), room=f"{floor}0{rng.randint(1, 2)}",
                phone=f"139{rng.randint(0, 99999999):08d}",
                vulnerability=rng.choices((None, *LEVELS[:4]), (40, 1, 1, 2, 2))[0],
                created_at=now - timedelta(days=days + rng.randint(10, 300))))
        session.add_all(rows)
        session.flush()
        homes[org.community_id] = [Home(r.id, numbers[r.building_id], r.unit, r.room)
                                   for r in rows]
        report.residents += len(rows)
    return homes


# -- the plan ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Home:
    """A demo follower: resident id and home (building number, unit, room)."""

    resident_id: int
    building: int
    unit: int
    room: str


Step = tuple[datetime, str, dict]
"""(when, action name, arguments) of one step of a ticket."""


@dataclass
class _Plan:
    at: datetime
    community: _Org
    resident_id: int
    report: NewTicket
    steps: list[Step]


def _hour(rng: random.Random) -> float:
    """A local hour of day at which residents report (evenings and mornings busiest)."""
    hour = rng.choices(range(24), (1, 0, 0, 0, 0, 1, 2, 5, 8, 10, 10, 8, 5, 5, 7, 8, 8, 7, 9, 10,
                                   9, 6, 3, 2))[0]
    return hour + rng.random()


def _plans(orgs: list[_Org], homes: dict[int, list[Home]], rng: random.Random, now: datetime,
           tz: str, days: int) -> list[_Plan]:
    zone = ZoneInfo(tz)
    today = now.astimezone(zone).date()
    office = sla.load().calendars.get("office") or sla.load().default.response_calendar
    table = words()
    names = [c["name"] for c in table["category"]]
    weights = [c["weight"] for c in table["category"]]
    keep = table["keep_new"]
    shares = [table["communities"].get(o.name, {}).get("share", OTHER_SHARE) for o in orgs]
    known = categories.load()
    plans = []
    for back in range(days - 1, -1, -1):
        day = today - timedelta(days=back)
        count = rng.randint(*PER_DAY) - (1 if day.weekday() >= 5 else 0)
        for _ in range(count):
            at = datetime.combine(day, datetime.min.time(), zone) + timedelta(hours=_hour(rng))
            org = rng.choices(orgs, shares)[0]
            category = rng.choices(names, weights)[0]
            if (org.name, category) == (keep["community"], keep["category"]) and (
                    back < keep["days"]):
                category = keep["instead"]
            home = rng.choice(homes[org.community_id])
            kind = known.require(category).kind
            plans.append(_plan(rng, as_utc(at), day, today, org, home, category, kind,
                               categories.is_public(category), office, zone))
    return [p for p in plans if p.at <= now]


def _say(rng: random.Random, building: int, unit: int, room: str, place: str,
         template: str) -> str:
    """What a resident writes: ``template`` filled in, an opener and a closer around it."""
    said = words()["words"]
    address = said["address"].format(b=building, u=unit, room=room)
    text = template.format(addr=address if rng.random() < 0.6 else "", b=building, u=unit,
                           f=rng.randint(2, 6), place=place)
    return rng.choice(said["openers"]) + text + rng.choice(said["closers"])


def _plan(rng: random.Random, at: datetime, day: date, today: date, org: _Org, home: Home,
          category: str, kind: str, public: bool, office, zone: ZoneInfo) -> _Plan:
    """One ticket's report and its steps (wall-clock times; the fate drawn here). A problem
    at home is filed at the reporter's home; a public one at a place or a building."""
    resident_id = home.resident_id
    table = words()
    said = table["words"]
    entry = next(c for c in table["category"] if c["name"] == category)
    template = rng.choice(entry["says"])
    building_id, number = rng.choice(org.buildings)
    unit, room = home.unit, home.room
    where: dict = {}
    place = said["downstairs"].format(b=number)
    if not public:
        number = home.building
    elif "{place}" in template and org.places:
        place_id, place = rng.choice(org.places)
        where = {"place_id": place_id}
    else:
        unit = rng.randint(1, 3)
        where = {"building_id": building_id}
    description = _say(rng, number, unit, room, place, template)
    report = NewTicket(kind=kind, category=category, description=description, **where)
    steps: list[Step] = []
    age_days = (today - day).days
    fate = rng.random()
    # first response: office seconds (median ~20 min, some over the hour); out of hours a
    # worker often answers at once anyway
    respond_s = rng.lognormvariate(7.1, 0.8)
    answer_at = office.add(at, respond_s)
    if answer_at - at > timedelta(hours=2) and rng.random() < 0.5:  # evenings, weekends
        answer_at = at + timedelta(minutes=rng.uniform(5, 40))
    if fate < 0.03 and rng.random() < 0.9:  # withdrawn before anyone answered
        steps.append((at + timedelta(minutes=rng.uniform(10, 50)), "cancel", {}))
        return _Plan(at, org, resident_id, report, steps)
    stuck = 1 <= age_days <= 6 and rng.random() < 0.12
    steps.append((answer_at, "accept", {}))
    t = answer_at
    if entry.get("reject") and rng.random() < 0.4:
        steps.append((t + timedelta(minutes=rng.uniform(20, 120)), "reject",
                      {"reason": entry["reject"]}))
        return _Plan(at, org, resident_id, report, steps)
    if rng.random() < 0.45:
        t += timedelta(minutes=rng.uniform(15, 90))
        steps.append((t, "start", {}))
    if rng.random() < 0.08:
        t += timedelta(minutes=rng.uniform(5, 60))
        steps.append((t, "ask", {"question": rng.choice(said["asks"])}))
        t += timedelta(hours=rng.uniform(0.5, 6))
        steps.append((t, "answer", {"text": rng.choice(said["answers"])}))
    transfer = table["transfer"]
    if kind == "repair" and transfer["department"] in org.department_ids and rng.random() < 0.12:
        t += timedelta(minutes=rng.uniform(10, 90))
        steps.append((t, "transfer", dict(transfer)))
        t += timedelta(minutes=rng.uniform(20, 120))
        steps.append((t, "accept", {}))
    if rng.random() < 0.04:
        t += timedelta(minutes=rng.uniform(30, 240))
        steps.append((t, "call_in", {"reason": rng.choice(said["call_ins"])}))
    if stuck:  # still open past its due times: the overdue list
        return _Plan(at, org, resident_id, report, steps)
    hours = rng.lognormvariate(1.3, 0.9) + (12 if rng.random() < 0.08 else 0)
    t = _daytime(t + timedelta(hours=hours), rng, zone)
    done = entry.get("done") or [said["done"]]
    steps.append((t, "resolve", {"note": rng.choice(done)}))
    mood = rng.random()
    if mood < 0.36:  # no rating: 默认满意 after the rating window (the timer closes it)
        return _Plan(at, org, resident_id, report, steps)
    t += timedelta(minutes=rng.uniform(10, 360))
    if mood < 0.43:
        steps.append((t, "rate", {"score": rng.choice((1, 2)), "comment": rng.choice(said["unhappy"])}))
        t = _daytime(t + timedelta(hours=rng.uniform(1, 4)), rng, zone)
        steps.append((t, "accept", {}))
        t = _daytime(t + timedelta(hours=rng.uniform(2, 10)), rng, zone)
        steps.append((t, "resolve", {"note": said["again"] + rng.choice(done)}))
        t += timedelta(minutes=rng.uniform(30, 600))
        steps.append((t, "rate", {"score": rng.choice((3, 4, 4, 5)), "comment": None}))
    else:
        score = rng.choices((5, 4, 3), (62, 28, 10))[0]
        steps.append((t, "rate", {"score": score, "comment": rng.choice(said["happy"]) or None}))
    return _Plan(at, org, resident_id, report, steps)


def _daytime(t: datetime, rng: random.Random, zone: ZoneInfo) -> datetime:
    """``t``, or the next morning (local 08:00–10:00 in ``zone``) when it falls in the night."""
    here = t.astimezone(zone)
    if 7 <= here.hour < 22:
        return t
    morning = here.replace(hour=8, minute=0, second=0, microsecond=0)
    if here.hour >= 22:
        morning += timedelta(days=1)
    return as_utc(morning) + timedelta(minutes=rng.uniform(0, 120))


# -- the walk through time --------------------------------------------------------------------

class _Sim:
    """Runs steps in time order in one session, firing the SLA timers due before each one
    (``services.escalation.fire_in``, each at its own due time)."""

    def __init__(self, session: Session, now: datetime, report: HistoryReport):
        self.session = session
        self.now = now
        self.report = report
        self.mark = session.exec(select(func.max(Outbox.id))).one() or 0
        self.queue: list[tuple[datetime, int, Callable[[Session, datetime], None]]] = []
        self.seq = 0

    def at(self, when: datetime, action: Callable[[Session, datetime], None]) -> None:
        """Run ``action(session, when)`` in its turn (dropped when after ``now``)."""
        if when <= self.now:
            self.seq += 1
            heapq.heappush(self.queue, (when, self.seq, action))

    def schedule(self, plan: _Plan) -> None:
        """Queue the report of ``plan`` and each of its steps."""
        box: dict[str, int] = {}

        def report(session: Session, when: datetime) -> None:
            resident = session.get(Resident, plan.resident_id)
            resident.last_message_at = when
            box["id"] = life.open_ticket(session, Reporter.of(resident), plan.report, when).id
            self.report.tickets += 1

        self.at(plan.at, report)
        for when, name, args in plan.steps:
            self.at(max(when, plan.at), self._step(box, plan, name, args))

    def _step(self, box: dict[str, int], plan: _Plan, name: str, args: dict):
        def step(session: Session, when: datetime) -> None:
            ticket = session.get(Ticket, box["id"])
            resident = session.get(Resident, plan.resident_id)
            _act(session, ticket, resident, name, args, when, plan.community)
            self.report.steps += 1
        return step

    def run(self) -> None:
        """Run every queued step (and the timers due before it)."""
        while self.queue:
            when, _, action = heapq.heappop(self.queue)
            self.fire_until(when)
            action(self.session, when)
            self._delivered(when)

    def fire_until(self, until: datetime) -> None:
        """Fire every timer step due at or before ``until``, each at its own due time."""
        while True:
            due = self.session.exec(select(TicketTimer.ticket_id, TicketTimer.due_at)
                                    .where(col(TicketTimer.due_at) <= until)
                                    .order_by(TicketTimer.due_at, TicketTimer.ticket_id)
                                    .limit(1)).first()
            if due is None:
                return
            ticket_id, due_at = due[0], as_utc(due[1])
            fired = escalation.fire_in(self.session, ticket_id, lambda at=due_at: at)
            self.report.timer_steps += len(fired)
            self._delivered(due_at)
            if not fired:  # cannot happen (a due step fires); never loop on it
                self.session.exec(update(TicketTimer).where(TicketTimer.ticket_id == ticket_id)
                                  .values(due_at=None, step=None))

    def _delivered(self, when: datetime) -> None:
        """Mark the pushes staged since the last call delivered at ``when`` (every pending
        row newer than the history's start: ``ix_outbox_due`` holds only pending ones)."""
        self.session.flush()
        result = self.session.exec(update(Outbox).where(
            col(Outbox.id) > self.mark, Outbox.status == OutboxStatus.PENDING).values(
            status=OutboxStatus.SENT, channel=CHANNEL, created_at=when, next_attempt_at=when,
            sent_at=when, attempts=1).execution_options(synchronize_session=False))
        self.report.pushes += result.rowcount or 0


def _act(session: Session, ticket: Ticket, resident: Resident, name: str, args: dict,
         when: datetime, org: _Org) -> None:
    """One step of a ticket by the person who would take it."""
    if name == "cancel":
        life.cancel(session, ticket, resident, when)
    elif name == "rate":
        life.rate(session, ticket, resident, args["score"], when, args["comment"])
        resident.last_message_at = when
    elif name == "answer":
        questions.answer(session, ticket, resident, args["text"], when)
        resident.last_message_at = when
    else:
        worker = _worker(session, ticket)
        if name == "accept":
            life.accept(session, ticket, worker, when)
        elif name == "start":
            life.start(session, ticket, worker, when)
        elif name == "resolve":
            life.resolve(session, ticket, worker, args["note"], when)
        elif name == "ask":
            questions.ask(session, ticket, worker, args["question"], when)
        elif name == "reject":
            handover.reject(session, ticket, worker, args["reason"], when)
        elif name == "call_in":
            handover.call_in(session, ticket, worker, args["reason"], when)
        elif name == "transfer":
            target = session.get(Department, org.department_ids[args["department"]])
            handover.transfer(session, ticket, worker, target, args["reason"], when)
        else:  # pragma: no cover - a typo in the plan
            raise ValueError(f"unknown step {name}")


def _worker(session: Session, ticket: Ticket) -> GridWorker:
    """Who acts on ``ticket`` now: its assignee, else a member of its department, else its
    grid's worker."""
    if ticket.assignee_id is not None:
        return session.get(GridWorker, ticket.assignee_id)
    if ticket.department_id is not None:
        member = session.exec(select(DepartmentMember.worker_id).where(
            DepartmentMember.department_id == ticket.department_id)
            .order_by(DepartmentMember.id)).first()
        if member is not None:
            return session.get(GridWorker, member)
    return session.exec(select(GridWorker).where(
        GridWorker.grid_id == ticket.grid_id, GridWorker.role == Role.GRID_WORKER,
        GridWorker.active).order_by(GridWorker.id)).first()


# -- the rest: a notice and the messages kept for staff ---------------------------------------

def _extras(sim: _Sim, orgs: list[_Org], homes: dict[int, list[Home]], rng: random.Random,
            now: datetime, tz: str) -> None:
    """A 停水 notice to one grid ten days ago and the ``[kept]`` messages the bot kept for
    staff (the oldest answered by the community's admin, the others waiting in 待人工处理)."""
    table = words()
    first = orgs[0]
    session = sim.session
    grid = session.exec(select(Grid).where(Grid.community_id == first.community_id)
                        .order_by(Grid.code).offset(1)).first() or session.exec(
        select(Grid).where(Grid.community_id == first.community_id)).first()
    admin_name = session.get(GridWorker, first.admin_id).name if first.admin_id else None

    def notice(session: Session, when: datetime) -> None:
        scope, residents = notice_repo.audience(session, grid=grid.code,
                                                community=first.name)
        if residents:
            notices.send(session, table["notice"]["title"],
                         table["notice"]["text"].format(grid=grid.name), residents, scope, when,
                         sender=admin_name)

    box: dict[str, int] = {}

    def message(n: int, text: str, resident_id: int):
        def keep(session: Session, when: datetime) -> None:
            resident = session.get(Resident, resident_id)
            resident.last_message_at = when
            row = InboundMessage(dedup_key=f"{OPENID_PREFIX}history:{n}",
                                 openid=resident.openid, msg_type="text", content=text,
                                 received_at=when, intent="unknown", confidence=0.2,
                                 reply=msg("fallback"), needs_staff=True)
            session.add(row)
            session.flush()
            box[f"kept{n}"] = row.id
        return keep

    def answer(n: int, text: str):
        def reply(session: Session, when: datetime) -> None:
            staff = session.get(GridWorker, first.admin_id)
            kept.answer(session, box[f"kept{n}"], staff, text, when)
            sim.report.steps += 1
        return reply

    local = now.astimezone(ZoneInfo(tz))
    morning = local.replace(hour=9, minute=20, second=0, microsecond=0)
    if grid is not None:
        sim.at(as_utc(morning - timedelta(days=10)), notice)
    people = homes[first.community_id]
    messages = table["kept"]["messages"]
    for n, text in enumerate(messages):
        when = as_utc(morning - timedelta(days=len(messages) - 1 - n, hours=rng.uniform(-1, 8)))
        when = min(when, now - timedelta(minutes=30))
        sim.at(when, message(n, text, people[(n * 7) % len(people)].resident_id))
        if n == 0 and first.admin_id:
            sim.at(when + timedelta(hours=2), answer(n, table["kept"]["answer"]))
    _loans(sim, first, people, rng, now, tz)
    sim.run()


LOANS = 16
"""Tool loans (工具借用) at the first community's station over the period."""


def _loans(sim: _Sim, org: _Org, people: list[Home], rng: random.Random, now: datetime,
           tz: str) -> None:
    """``LOANS`` requests at the community's lending station through ``services.lending``,
    each handed out a few hours later by its station staff and brought back before it is
    due (a request for an item that is all out is not made: no waiting lists, no holds
    left to expire at start-up)."""
    session = sim.session
    staff = session.exec(select(GridWorker.id).where(
        GridWorker.role == Role.STATION_STAFF, GridWorker.active,
        or_(GridWorker.community_id == org.community_id, col(GridWorker.community_id).is_(None)))
        .order_by(GridWorker.id)).first()
    items = [(i.id, i.loan_days) for i in session.exec(
        select(LendItem).join(Station, Station.id == LendItem.station_id)
        .where(Station.community_id == org.community_id, Station.active)
        .order_by(LendItem.id))]
    if staff is None or not items:
        return
    zone = ZoneInfo(tz)
    for n in range(LOANS):
        item_id, days = rng.choice(items)
        day = now.astimezone(zone).date() - timedelta(days=rng.randint(1, DAYS - 2))
        at = as_utc(datetime.combine(day, datetime.min.time(), zone)
                    + timedelta(hours=rng.uniform(8.5, 14)))  # the station's hours
        out = at + timedelta(hours=rng.uniform(0.5, 3))
        back = out + timedelta(days=rng.randint(0, max(days - 1, 0)), hours=rng.uniform(1, 3))
        box: dict[str, int] = {}
        resident_id = people[(n * 11 + 3) % len(people)].resident_id

        def ask(session: Session, when: datetime, item_id=item_id, resident_id=resident_id,
                box=box) -> None:
            resident = session.get(Resident, resident_id)
            item = session.get(LendItem, item_id)
            if item.available < 1 or lending_repo.open_units(session, resident_id) >= 1:
                return
            loan = lending.request(session, item_id, resident, 1, when)
            box["loan"] = loan.id
            sim.report.steps += 1

        def hand(kind: str, box=box):
            def step(session: Session, when: datetime) -> None:
                if "loan" not in box:
                    return
                loan = session.get(Loan, box["loan"])
                if kind == "out":
                    lending.hand_out(session, loan, staff, when, tz)
                else:
                    lending.take_back(session, loan, staff, when)
                sim.report.steps += 1
            return step

        sim.at(at, ask)
        sim.at(out, hand("out"))
        sim.at(back, hand("back"))

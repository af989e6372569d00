"""A past for the demo: `gridbot serve --demo` starts with 30 days of work already done, so
the console's queue, dashboard and exports show what they are for.

``generate(engine, now)`` runs once, on a database with the demo communities and no ticket
yet (a second start adds nothing). It makes demo followers (residents with fake OpenIDs
"demo-<community id>-<n>", homes in the demo buildings) and lets them report about 200
problems over the last ``DAYS`` local days, each reported, accepted, asked about, transferred
(转派 to 物业公司), escalated (上报), rejected (驳回), cancelled, resolved and rated through
the business layer (``services.tickets``, ``services.handover``, ``services.questions``,
``services.kept``, ``services.notices``) at its own past ``now``: a clock walks forward
through every step of every ticket in time order. Before each step the SLA timers due by
then fire (``services.escalation.fire`` at each timer's own due time), so warnings, 督办,
met and missed targets and 默认满意 auto-closes are the real thing; a few tickets are left
stuck past their due times (overdue), the latest ones still open. Categories are those of
``storage/categories.toml``, weighted as a northern community's November reports are
(heating, stairwell lights, leaks, parking …), the descriptions varied resident Chinese.

Pushes. Every step stages its pushes as usual (the ticket page lists them), and the history
marks them delivered at the moment they were staged (status "sent", ``sent_at`` = the step's
time, channel ``CHANNEL``): the relay finds nothing pending at start-up, so the sandbox is not
flooded with a month of old messages, and no resident or worker would be told of a past
event now. Timer steps due before ``now`` have all fired in the history; only later ones
remain for the worker.

Deterministic: a seeded ``random.Random`` plans everything from the local dates alone, so
the same ``now`` gives the same history (the time of day only decides how much of today's
plan has happened yet). Takes about two seconds on SQLite (measured in the tests).
"""

from __future__ import annotations

import heapq
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, update
from sqlmodel import Session, col, select

from services import escalation, handover, kept, notices, questions
from services import tickets as life
from services.errors import ServiceError
from services.messages import msg
from services.tickets import NewTicket, Reporter
from storage import categories, sla
from storage import notices as notice_repo
from storage.db import session_scope
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

log = logging.getLogger("gridbot.demo_history")

DAYS = 30
"""Local days of history, today included (the dashboard's default period)."""
SEED = 20261122
CHANNEL = "demo"
"""``Outbox.channel`` of the history's pushes: marked delivered, never sent."""
OPENID_PREFIX = "demo-"
RESIDENTS = {"幸福新社区": 90, "阳光社区": 40, "和谐社区": 30}
"""Demo followers per community (others: 20)."""
SHARE = {"幸福新社区": 0.58, "阳光社区": 0.25, "和谐社区": 0.17}
"""Each community's share of the reports."""
PER_DAY = (4, 9)
"""Reports per local day: uniform in this range (weekends one fewer)."""

# -- what residents report ----------------------------------------------------------------------

WEIGHTS = {
    "暖气": 13, "楼道灯": 12, "漏水": 10, "噪音": 9, "停车": 9, "环境卫生": 8, "下水道堵塞": 8,
    "电梯": 7, "楼道堆物": 6, "宠物扰民": 5, "公共设施": 5, "门窗": 4, "物业服务": 4,
    "供水": 3, "飞线充电": 3, "邻里纠纷": 3, "违章搭建": 2, "高空抛物": 1, "危树": 1, "供电": 2,
}
"""Relative frequency of each category (names of storage/categories.toml)."""

SAYS: dict[str, tuple[str, ...]] = {
    "暖气": ("{addr}暖气不热，屋里才十五六度", "家里暖气上热下不热，是不是得放气",
           "{b}号楼{u}单元这两天暖气温度明显不够，老人孩子都冻感冒了",
           "卧室那组暖气片一点都不热，别的屋还行", "暖气阀门那漏气滋滋响，温度也上不来"),
    "楼道灯": ("{addr}楼道灯坏了，晚上黑漆漆的上下楼不方便", "我们单元{f}楼的感应灯不亮了",
            "楼梯间的灯一直不亮，老人晚上出门害怕", "楼道里的声控灯时亮时不亮，麻烦来看看",
            "{b}号楼{u}单元一楼大厅的灯闪个不停"),
    "漏水": ("{addr}卫生间顶上往下滴水，应该是楼上漏的", "家里厨房水管接口漏水，地上全湿了",
           "楼上邻居家渗水到我家天花板了，墙皮都泡起来了",
           "{b}号楼{u}单元楼道里的水管漏水，地面结冰了很滑", "水表前面的阀门漏水，关不严"),
    "噪音": ("楼上天天晚上十一点以后还在剁东西、拖椅子，实在睡不着",
           "{b}号楼附近有人晚上九点多还在装修，电钻声特别大", "楼下饭店的排风机太吵了，一直嗡嗡响",
           "早上五点多就有人在楼下放音乐锻炼，声音太大", "隔壁天天半夜唱歌打麻将，说了也不听"),
    "停车": ("{place}有辆车占了消防通道好几天了", "有车堵在{b}号楼单元门口，出不去也进不来",
           "{place}乱停车太严重了，救护车都开不进来", "{place}有人用地锁占公共车位",
           "有辆没牌子的旧车在{place}停了快一个月了"),
    "环境卫生": ("{place}的垃圾好几天没人清了，都堆到路边了", "{place}附近有人乱倒建筑垃圾",
             "垃圾桶满了没人收，味道很大", "{place}地上都是狗粪，希望管一管",
             "{place}那块的落叶和塑料袋堆了一地"),
    "下水道堵塞": ("{addr}厨房下水道堵了，水下不去", "卫生间地漏返味还堵，自己通了好几次不管用",
              "{b}号楼{u}单元下水管堵了，一楼返水", "洗菜池下水特别慢，一池子水半天下不去"),
    "电梯": ("{b}号楼{u}单元电梯又停了，楼上老人下不来", "电梯门关不严，运行的时候咣当咣当响",
           "{b}号楼电梯按钮坏了，按了没反应", "电梯里有股焦糊味，大家都不敢坐了",
           "电梯停层不准，每次都差一小截台阶"),
    "楼道堆物": ("{addr}楼道里堆了好多纸箱子和旧家具，着火了怎么办", "邻居把鞋柜和杂物放在楼梯口，过都过不去",
             "{b}号楼{u}单元楼道里有人堆放自行车和旧沙发"),
    "宠物扰民": ("楼上的狗白天黑天地叫，家里有老人受不了", "有人遛狗不拴绳，孩子被吓哭了",
             "{b}号楼有人在楼道里养猫，味道特别大"),
    "公共设施": ("{place}的健身器材坏了一个，孩子玩容易受伤", "{place}的路灯不亮了，晚上太黑",
             "{place}有个井盖松动了，走上去咯噔响", "{place}的长椅断了一条腿"),
    "门窗": ("{b}号楼{u}单元的单元门关不上了，门禁也坏了", "楼道窗户玻璃碎了，风呼呼往里灌",
           "单元门的闭门器坏了，门一甩特别响"),
    "物业服务": ("物业电话一直打不通，报修也没人来", "小区保洁好几天没来了，楼道没人打扫",
             "物业费涨了也没公示，想问问怎么回事"),
    "供水": ("{b}号楼今天一早就停水了，也没看到通知", "自来水出来是黄的，能不能查一下",
           "家里水压太低，楼上几户都这样"),
    "飞线充电": ("{b}号楼有人从窗户拉电线给电动车充电，太危险了", "有人把电动车推进楼道充电，晚上也不拔"),
    "邻里纠纷": ("楼上邻居家装修把我家墙弄裂了，沟通不了", "邻居在公共走廊装了个门，把过道占了"),
    "违章搭建": ("{place}旁边有人私自搭了个棚子", "一楼住户把院子围起来盖了个小房"),
    "高空抛物": ("{b}号楼有人往楼下扔垃圾，差点砸到人",),
    "危树": ("{place}那棵大杨树歪了，刮风怕倒",),
    "供电": ("{b}号楼{u}单元整个单元都停电了", "家里一开电暖气就跳闸，楼道电表箱那边的问题"),
}
"""What residents write, per category: {addr} home address, {b} building, {u} unit, {f} floor,
{place} a public place."""

OPENERS = ("", "", "", "你好，", "您好，", "麻烦问一下，", "社区你好，")
CLOSERS = ("", "", "。", "，谢谢", "，麻烦尽快处理", "，已经好几天了", "，希望尽快解决！", "，谢谢网格员")

DONE = {
    "暖气": ("已联系供热公司上门排气，室温恢复到20度", "已更换暖气阀门，试热正常"),
    "楼道灯": ("已更换灯泡，恢复照明", "已更换感应开关，灯正常了"),
    "漏水": ("已联系物业更换水管接口，漏水已止住", "已协调楼上住户维修防水"),
    "噪音": ("已上门劝导，对方表示以后注意", "已约谈商户，排风机加装了减震"),
    "停车": ("已联系车主挪车", "已拆除地锁，张贴了文明停车提示"),
    "环境卫生": ("已安排保洁清理完毕", "已清运垃圾并增加了收运次数"),
    "下水道堵塞": ("已疏通下水管道", "已用疏通机清理主管道"),
    "电梯": ("已通知电梯维保单位维修，恢复运行", "维保人员已更换门机皮带"),
    "楼道堆物": ("已清理楼道堆放物",),
    "宠物扰民": ("已与养犬户沟通，承诺拴绳遛狗", "已上门宣传文明养犬"),
    "公共设施": ("已维修完毕", "已更换井盖"),
    "门窗": ("已更换闭门器", "已换好玻璃"),
    "物业服务": ("已转达物业并督促整改",),
    "供水": ("已联系自来水公司检修，供水恢复",),
    "飞线充电": ("已劝导并拆除飞线，告知到充电桩充电",),
    "邻里纠纷": ("已组织双方调解，达成一致",),
    "违章搭建": ("已联系城管拆除",),
    "高空抛物": ("已逐户宣传并张贴提示",),
    "危树": ("已联系园林修剪加固",),
    "供电": ("已联系供电所抢修，恢复供电",),
}
ASKS = ("请问具体是哪个位置？方便什么时候上门看看？", "请问是从什么时候开始的？家里下午有人吗？",
        "麻烦拍张照片发一下，我们好准备材料")
ANSWERS = ("下午两点以后家里有人", "就在卫生间靠窗那边", "前天晚上开始的，明天上午都在家")
REJECTS = {
    "物业服务": "物业收费属于物业服务合同事项，请联系物业公司或拨打12345市民热线反映",
    "邻里纠纷": "涉及财产损失赔偿，请向辖区派出所或人民调解委员会申请调解",
    "违章搭建": "该处属于市政道路范围，请拨打12345由城管部门处理",
}
CALL_INS = ("涉及整栋楼主管道，需要社区协调物业和住建", "多次劝导无效，请社区出面协调")
HAPPY = (None, None, None, "很及时，谢谢网格员", "处理得挺好", "态度很好")
UNHAPPY = ("问题没解决，还是老样子", "修完第二天又坏了")
KEPT = ("我家老人想申请居家养老服务，需要准备什么材料？", "社区能帮忙开居住证明吗，要带什么",
        "下周社区有没有免费体检活动")


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
        for n in range(1, RESIDENTS.get(org.name, 20) + 1):
            building_id, _ = rng.choice(org.buildings)
            floor = rng.randint(1, 6)
            rows.append(Resident(
                openid=f"{OPENID_PREFIX}{org.community_id}-{n:03d}",
                community_id=org.community_id, building_id=building_id,
                unit=rng.randint(1, 3), room=f"{floor}0{rng.randint(1, 2)}",
                phone=f"139{rng.randint(0, 99999999):08d}",
                vulnerability=rng.choices((None, "红", "橙", "黄", "蓝"), (40, 1, 1, 2, 2))[0],
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
    names = list(WEIGHTS)
    shares = [SHARE.get(o.name, 0.1) for o in orgs]
    known = categories.load()
    plans = []
    for back in range(days - 1, -1, -1):
        day = today - timedelta(days=back)
        count = rng.randint(*PER_DAY) - (1 if day.weekday() >= 5 else 0)
        for _ in range(count):
            at = datetime.combine(day, datetime.min.time(), zone) + timedelta(hours=_hour(rng))
            org = rng.choices(orgs, shares)[0]
            category = rng.choices(names, [WEIGHTS[n] for n in names])[0]
            home = rng.choice(homes[org.community_id])
            kind = known.require(category).kind
            plans.append(_plan(rng, as_utc(at), day, today, org, home, category, kind,
                               categories.is_public(category), office, zone))
    return [p for p in plans if p.at <= now]


def _say(rng: random.Random, category: str, building: int, unit: int, room: str,
         place: str, template: str) -> str:
    text = template.format(addr=f"{building}号楼{unit}单元{room}" if rng.random() < 0.6 else "",
                           b=building, u=unit, f=rng.randint(2, 6), place=place)
    return rng.choice(OPENERS) + text + rng.choice(CLOSERS)


def _plan(rng: random.Random, at: datetime, day: date, today: date, org: _Org, home: Home,
          category: str, kind: str, public: bool, office, zone: ZoneInfo) -> _Plan:
    """One ticket's report and its steps (wall-clock times; the fate drawn here). A problem
    at home is filed at the reporter's home; a public one at a place or a building."""
    resident_id = home.resident_id
    template = rng.choice(SAYS[category])
    building_id, number = rng.choice(org.buildings)
    unit, room = home.unit, home.room
    where: dict = {}
    place = f"{number}号楼楼下"
    if not public:
        number = home.building
    elif "{place}" in template and org.places:
        place_id, place = rng.choice(org.places)
        where = {"place_id": place_id}
    else:
        unit = rng.randint(1, 3)
        where = {"building_id": building_id}
    description = _say(rng, category, number, unit, room, place, template)
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
    if category in REJECTS and rng.random() < 0.4:
        steps.append((t + timedelta(minutes=rng.uniform(20, 120)), "reject",
                      {"reason": REJECTS[category]}))
        return _Plan(at, org, resident_id, report, steps)
    if rng.random() < 0.45:
        t += timedelta(minutes=rng.uniform(15, 90))
        steps.append((t, "start", {}))
    if rng.random() < 0.08:
        t += timedelta(minutes=rng.uniform(5, 60))
        steps.append((t, "ask", {"question": rng.choice(ASKS)}))
        t += timedelta(hours=rng.uniform(0.5, 6))
        steps.append((t, "answer", {"text": rng.choice(ANSWERS)}))
    if kind == "repair" and "物业公司" in org.department_ids and rng.random() < 0.12:
        t += timedelta(minutes=rng.uniform(10, 90))
        steps.append((t, "transfer", {"department": "物业公司",
                                      "reason": "属于物业维修范围，请物业派人处理"}))
        t += timedelta(minutes=rng.uniform(20, 120))
        steps.append((t, "accept", {}))
    if rng.random() < 0.04:
        t += timedelta(minutes=rng.uniform(30, 240))
        steps.append((t, "call_in", {"reason": rng.choice(CALL_INS)}))
    if stuck:  # still open past its due times: the overdue list
        return _Plan(at, org, resident_id, report, steps)
    hours = rng.lognormvariate(1.3, 0.9) + (12 if rng.random() < 0.08 else 0)
    t = _daytime(t + timedelta(hours=hours), rng, zone)
    steps.append((t, "resolve", {"note": rng.choice(DONE.get(category, ("已处理完毕",)))}))
    mood = rng.random()
    if mood < 0.36:  # no rating: 默认满意 after the rating window (the timer closes it)
        return _Plan(at, org, resident_id, report, steps)
    t += timedelta(minutes=rng.uniform(10, 360))
    if mood < 0.43:
        steps.append((t, "rate", {"score": rng.choice((1, 2)), "comment": rng.choice(UNHAPPY)}))
        t = _daytime(t + timedelta(hours=rng.uniform(1, 4)), rng, zone)
        steps.append((t, "accept", {}))
        t = _daytime(t + timedelta(hours=rng.uniform(2, 10)), rng, zone)
        steps.append((t, "resolve", {"note": "已重新上门处理：" + rng.choice(
            DONE.get(category, ("已处理完毕",)))}))
        t += timedelta(minutes=rng.uniform(30, 600))
        steps.append((t, "rate", {"score": rng.choice((3, 4, 4, 5)), "comment": None}))
    else:
        score = rng.choices((5, 4, 3), (62, 28, 10))[0]
        steps.append((t, "rate", {"score": score, "comment": rng.choice(HAPPY)}))
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
    """A 停水 notice to one grid ten days ago and ``KEPT`` messages the bot kept for staff
    (the oldest answered by the community's admin, the others waiting in 待人工处理)."""
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
            notices.send(session, "停水通知", f"因管网维修，{grid.name}各楼栋明天9:00-15:00停水，"
                         "请提前储水。", residents, scope, when, sender=admin_name)

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
    for n, text in enumerate(KEPT):
        when = as_utc(morning - timedelta(days=len(KEPT) - 1 - n, hours=rng.uniform(-1, 8)))
        when = min(when, now - timedelta(minutes=30))
        sim.at(when, message(n, text, people[(n * 7) % len(people)].resident_id))
        if n == 0 and first.admin_id:
            sim.at(when + timedelta(hours=2), answer(n, "您好，需要带户口本和身份证到社区一楼"
                                                     "服务大厅办理，工作日8:30-17:30都可以。"))
    sim.run()

"""Benchmark of ``POST /wechat``: gridbot on PostgreSQL + Redis against a bare XML endpoint.

Usage::

    python bench/webhook.py [--requests N] [--concurrency C] [--safe-mode] [--quick]
                            [--database-url URL] [--redis-url URL]

What one run does, all on loopback and bounded in count and time:

1. Storage. Creates a private PostgreSQL database on 127.0.0.1:5432 (through the admin
   database ``--pg-admin-url``, trust auth) and claims a free Redis logical database 1–15
   with the same ``gridbot-test-claim:<db>`` lock keys as ``tests/conftest.py``; both are
   dropped/flushed and released afterwards. ``--database-url``/``--redis-url`` use existing
   ones instead (left in place; tickets are counted as a difference). Imports a demo
   community (3 grids, buildings 1–12, one grid worker each) with
   ``storage.importer.import_file``.
2. Servers. Each app runs alone in its own ``uvicorn`` process (1 worker, access log off) on
   a free loopback port, so client and server do not share a GIL: first the *baseline*, a
   bare FastAPI ``POST /wechat`` that parses the body with ``xmltodict`` and answers
   ``success`` (in safe mode it parses the outer, encrypted envelope only), then gridbot,
   ``create_app(Settings(database_url=..., redis_url=..., embedded_worker=False))``.
3. Load. The same plan drives both apps: many residents (one OpenID each) each play a short
   script, in order, from ``--concurrency`` threads with an ``httpx.Client`` each. The mix,
   in share of requests: 35 % reports with an address (「3号楼2单元501，楼道灯坏了」), 15 %
   a report without address followed by the address answer, 15 % 查询, 10 % greetings and
   help, 10 % tool lending / after-school care, 5 % ``subscribe`` events, 5 % WeChat retries
   (same MsgId, re-signed) of an earlier report, 5 % unclassifiable text. Each resident
   has one home address. When gridbot offers to join an open ticket of the same kind in the
   building (handlers/duplicates.py), the resident answers 「1」 (join) or 「2」 (a ticket of
   their own), half each — extra requests the baseline never gets. Requests are signed — and
   with ``--safe-mode`` encrypted — by ``bot.simulator.WeChatSimulator``, the way WeChat's
   server does. A few greetings warm each server up first (not measured).
4. Report. One table: requests, errors (non-200 or transport failure), requests/s,
   p50/p90/p99 latency (ms, measured by the client around each request) and the client's own
   CPU share (near 100 % means the client, not the server, is the limit); then the ratio
   gridbot/baseline of requests/s and p50, gridbot's p50 per message kind, the number of
   tickets created against the distinct report deliveries sent less those that joined a
   duplicate (OK/MISMATCH; retries must create nothing), and whether every retry got the
   reply of its original.

``main(argv)`` returns a ``BenchReport``; the script exits 1 unless ``report.ok``.
Latencies depend on the machine; only the invariants (no errors, ticket count, retry replies)
are checked.

Sources: developers.weixin.qq.com/doc/offiaccount/Message_Management/Receiving_standard_messages.html
(MsgId, retries after 5 s, up to three times), bot/simulator.py (signing and encryption).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import queue
import random
import re
import secrets
import signal
import string
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

SCRIPT = Path(__file__).resolve()
if sys.path and Path(sys.path[0] or ".").resolve() == SCRIPT.parent:
    # Run as `python bench/webhook.py`: bench/ is sys.path[0] and its sibling scripts (e.g.
    # bench/intents.py) would shadow the project's packages; look in the project root instead.
    sys.path[0] = str(SCRIPT.parent.parent)

import httpx  # noqa: E402
import psycopg  # noqa: E402
import redis as redis_lib  # noqa: E402
import xmltodict  # noqa: E402
from fastapi import FastAPI, Request, Response  # noqa: E402
from sqlalchemy import func  # noqa: E402
from sqlmodel import Session, select  # noqa: E402

from bot.settings import Settings  # noqa: E402
from bot.simulator import Delivery, WeChatSimulator  # noqa: E402
from handlers.messages import catalogue  # noqa: E402
from storage.db import create_schema, make_engine, session_scope  # noqa: E402
from storage.importer import import_file  # noqa: E402
from storage.models import Ticket  # noqa: E402

PG_ADMIN_URL = os.environ.get("GRIDBOT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_BASE_URL = os.environ.get("GRIDBOT_TEST_REDIS", "redis://127.0.0.1:6379")
CLAIM_PREFIX = "gridbot-test-claim:"
"""Redis db-0 lock keys shared with tests/conftest.py, so test runs and benchmarks never share
a logical database."""

DEMO_COMMUNITY_YAML = """\
street: 和平街道
community: 幸福新社区
phone: 024-12345678
grids:
  - code: G01
    name: 第一网格
    buildings: ["1-4"]
    workers: [{name: 王芳, openid: oBenchWorkerG01, phone: "13800000001"}]
  - code: G02
    name: 第二网格
    buildings: ["5-8"]
    workers: [{name: 李强, openid: oBenchWorkerG02, phone: "13800000002"}]
  - code: G03
    name: 第三网格
    buildings: ["9-12"]
    workers: [{name: 赵敏, openid: oBenchWorkerG03, phone: "13800000003"}]
"""
"""The demo community: buildings 1–12 over 3 grids, one grid worker each (importer YAML)."""

PROBLEMS = (
    "楼道灯坏了", "厨房水管漏水了", "电梯又坏了", "楼上天天半夜装修太吵了", "下水道堵了",
    "单元门禁坏了打不开", "楼下烧烤油烟太大", "小区门口垃圾堆了好几天没人清理", "暖气不热",
    "楼道里堆满了杂物", "家里停水了", "有人占消防通道停车",
)
"""Repair and complaint texts, each classified as repair/complaint above the threshold."""
ADDRESS_FORMS = ("{addr}，{problem}", "我住{addr}，{problem}", "{problem}，{addr}", "{addr} {problem}")
ANSWER_FORMS = ("{addr}", "我家是{addr}", "{addr}室")
QUERIES = ("查询", "进度", "我的报修到哪一步了", "我的工单处理了吗", "查一下进度")
GREETINGS = ("你好", "在吗", "帮助", "您好，请问怎么用", "谢谢", "早上好", "有人吗")
SERVICES = ("想借个梯子", "能借个电钻吗", "借一下打气筒", "孩子想报名四点半课堂", "想给孩子报名托管")
UNCLASSIFIABLE = ("明天几点开会", "asdfgh", "哈哈哈", "1234", "你是机器人吗", "👍")

MIX = {
    "report": 0.35, "report_then_address": 0.15, "query": 0.15, "greeting": 0.10,
    "service": 0.10, "subscribe": 0.05, "retry": 0.05, "unclassifiable": 0.05,
}
"""Share of requests per kind; a report_then_address conversation is two requests."""

JOIN_SHARE = 0.5
"""Share of residents who, offered to join an open duplicate, join it (the rest answer 「2」)."""



def _offer_marker() -> str | None:
    """Last line of the offer to join an open duplicate (「回复2：仍为您新建工单。」, no
    fields), from the message catalogue; None when there is no such offer."""
    lines = catalogue().get("followup.duplicate_offer", "").strip().splitlines()
    return lines[-1] if lines else None


OFFER_MARKER = _offer_marker()

QUICK_REQUESTS = 200
DEFAULT_REQUESTS = 2000
DEFAULT_CONCURRENCY = 16
REQUEST_TIMEOUT_S = 15.0
STARTUP_TIMEOUT_S = 60.0


# -- the plan ------------------------------------------------------------------------------
@dataclass(eq=False)
class Step:
    """One request of a resident's script.

    ``kind`` is the MIX kind (``address`` for the answer in report_then_address,
    ``duplicate_answer`` for 「1」/「2」); ``text`` the message content (None for the
    subscribe event); ``makes_ticket`` marks the delivery that should open a ticket (or draw
    the offer to join a duplicate); ``retry_of`` the earlier step WeChat re-sends.
    """

    kind: str
    text: str | None = None
    makes_ticket: bool = False
    retry_of: Step | None = None
    joins_duplicate: bool = False
    """Offered to join an open ticket of the same kind in the building, the resident answers
    「1」 (join, no new ticket) rather than 「2」 (a ticket of their own)."""


@dataclass
class Script:
    """The requests of one resident (``openid``), sent in order, one at a time."""

    openid: str
    steps: list[Step] = field(default_factory=list)


@dataclass
class Plan:
    """All scripts of a run; the same plan drives the baseline and gridbot."""

    scripts: list[Script]

    @property
    def requests(self) -> int:
        return sum(len(s.steps) for s in self.scripts)


def _address(rng: random.Random) -> str:
    building, unit = rng.randint(1, 12), rng.randint(1, 4)
    return f"{building}号楼{unit}单元{rng.randint(1, 18)}0{rng.randint(1, 4)}"


def build_plan(requests: int, seed: int = 1, tag: str = "") -> Plan:
    """A script per resident, ``requests`` requests in all, in the MIX proportions.

    ``tag`` goes into every OpenID so repeated runs against one database stay apart.
    Each resident has one home address, used in all of its reports. It subscribes at most
    once, first (event deliveries are told apart by OpenID
    and CreateTime only). A report_then_address conversation comes next, at most one per
    resident, so the bot does not know the address yet and asks for it.
    """
    rng = random.Random(seed)
    counts = {kind: round(share * requests) for kind, share in MIX.items()}
    counts["report_then_address"] //= 2  # conversations of two requests
    counts["unclassifiable"] = 0
    used = sum(counts.values()) + counts["report_then_address"]
    counts["unclassifiable"] = max(0, requests - used)

    residents = max(1, round(requests / 2.5))
    homes = [_address(rng) for _ in range(residents)]
    groups: list[list[list[Step]]] = [[] for _ in range(residents)]

    def joins() -> bool:
        return rng.random() < JOIN_SHARE

    for _ in range(counts["report"]):
        i = rng.randrange(residents)
        text = rng.choice(ADDRESS_FORMS).format(addr=homes[i], problem=rng.choice(PROBLEMS))
        groups[i].append([Step("report", text, makes_ticket=True, joins_duplicate=joins())])
    openers: dict[int, list[Step]] = {}
    for i in rng.sample(range(residents), min(residents, counts["report_then_address"])):
        answer = rng.choice(ANSWER_FORMS).format(addr=homes[i])
        openers[i] = [Step("report_then_address", rng.choice(PROBLEMS)),
                      Step("address", answer, makes_ticket=True, joins_duplicate=joins())]
    for kind, texts in (("query", QUERIES), ("greeting", GREETINGS), ("service", SERVICES),
                        ("unclassifiable", UNCLASSIFIABLE)):
        for _ in range(counts[kind]):
            groups[rng.randrange(residents)].append([Step(kind, rng.choice(texts))])

    scripts = [Script(f"oBench{tag}{i:06d}".ljust(28, "x")[:28]) for i in range(residents)]
    for i, (script, resident_groups) in enumerate(zip(scripts, groups, strict=True)):
        rng.shuffle(resident_groups)
        script.steps = openers.get(i, []) + [step for group in resident_groups for step in group]
    for i in rng.sample(range(residents), min(residents, counts["subscribe"])):
        scripts[i].steps.insert(0, Step("subscribe"))

    reports = [(script, step) for script in scripts for step in script.steps
               if step.kind in ("report", "report_then_address", "address")]
    for script, original in (rng.choice(reports) for _ in range(counts["retry"] if reports else 0)):
        after = script.steps.index(original) + 1
        script.steps.insert(rng.randint(after, len(script.steps)), Step("retry", retry_of=original))
    return Plan([s for s in scripts if s.steps])


# -- storage -------------------------------------------------------------------------------
@dataclass
class Storage:
    """The database and Redis URLs the gridbot server uses."""

    database_url: str
    redis_url: str


@contextlib.contextmanager
def private_database(admin_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database (SQLAlchemy psycopg URL), dropped on exit."""
    name = f"gridbot_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


_CLAIM_EMPTY = """
if redis.call('DBSIZE') == 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', 3600)
  return 1
end
return 0
"""


@contextlib.contextmanager
def claimed_redis_db(base_url: str) -> Iterator[str]:
    """URL of an *empty* Redis logical database (1–15), claimed atomically by writing an
    owner key into it, emptied and released on exit. A database holding any key (someone
    else's data, another run's claim) is never touched.

    Raises RuntimeError when none of the 15 is empty.
    """
    token = uuid.uuid4().hex
    for db in range(1, 16):
        client = redis_lib.Redis.from_url(f"{base_url}/{db}")
        if client.eval(_CLAIM_EMPTY, 1, f"{CLAIM_PREFIX}owner", token):
            break
        client.close()
    else:
        raise RuntimeError("no empty Redis logical database (1-15) to claim")
    url = f"{base_url}/{db}"
    try:
        yield url
    finally:
        if client.get(f"{CLAIM_PREFIX}owner") == token.encode():
            client.flushdb()  # everything in it was written by this benchmark
        client.close()


@contextlib.contextmanager
def bench_storage(database_url: str | None, redis_url: str | None,
                  pg_admin_url: str = PG_ADMIN_URL) -> Iterator[Storage]:
    """The given URLs, or a private database / claimed Redis db for the run."""
    with contextlib.ExitStack() as stack:
        db = database_url or stack.enter_context(private_database(pg_admin_url))
        rd = redis_url or stack.enter_context(claimed_redis_db(REDIS_BASE_URL))
        yield Storage(db, rd)


def import_demo_community(database_url: str) -> None:
    """Create the schema and import DEMO_COMMUNITY_YAML (idempotent)."""
    engine = make_engine(database_url)
    try:
        create_schema(engine)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "community.yaml"
            path.write_text(DEMO_COMMUNITY_YAML, encoding="utf-8")
            with session_scope(engine) as session:
                import_file(session, path)
    finally:
        engine.dispose()


def count_tickets(database_url: str) -> int:
    """Rows in the ticket table."""
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            return int(session.exec(select(func.count()).select_from(Ticket)).one())
    finally:
        engine.dispose()


# -- servers -------------------------------------------------------------------------------
def settings_overrides(storage: Storage | None, aes_key: str | None) -> dict:
    """Settings fields both the server and the client's simulator use (JSON-able)."""
    # The scripted residents compress days of use into a minute: the abuse limits (rate
    # limit, burst → one ticket thread) would fold their reports, so they are lifted here;
    # the benchmark measures the cost of handling every report.
    overrides: dict = {"wechat_aes_key": aes_key, "embedded_worker": False,
                       "rate_limit_burst": 1_000_000, "report_burst_max": 1_000_000}
    if storage is not None:
        overrides |= {"database_url": storage.database_url, "redis_url": storage.redis_url}
    return overrides


def baseline_app() -> FastAPI:
    """A bare FastAPI ``POST /wechat``: parse the XML body, answer ``success``."""
    app = FastAPI(title="baseline")

    @app.post("/wechat")
    async def wechat(request: Request) -> Response:
        xmltodict.parse(await request.body())
        return Response("success", media_type="text/plain")

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def serve(kind: str, port: int, overrides: dict) -> None:
    """Run one app with uvicorn on 127.0.0.1:``port`` until SIGINT/SIGTERM (server process)."""
    import uvicorn

    if kind == "gridbot":
        from bot.app import create_app
        app = create_app(Settings(**overrides))
    else:
        app = baseline_app()
    uvicorn.run(app, host="127.0.0.1", port=port, workers=1, log_level="warning",
                access_log=False, lifespan="on")


def free_port() -> int:
    """A loopback TCP port that was free a moment ago."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def server_process(kind: str, overrides: dict, log_path: Path) -> Iterator[str]:
    """Start ``python bench/webhook.py --serve KIND`` and yield its base URL once /healthz
    answers; stop it (SIGINT, then SIGKILL after 15 s) on exit. Server stderr goes to
    ``log_path``. Raises RuntimeError if it does not start within STARTUP_TIMEOUT_S."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, str(SCRIPT), "--serve", kind, "--port", str(port),
           "--settings-json", json.dumps(overrides)]
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{kind} server exited with {proc.returncode}:\n{_tail(log_path)}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/healthz", timeout=1.0, trust_env=False).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{kind} server did not start:\n{_tail(log_path)}")
            time.sleep(0.1)
        yield url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# -- load ----------------------------------------------------------------------------------
@dataclass
class RunStats:
    """What the client saw of one app: latencies in ms (successful requests only)."""

    app: str
    requests: int = 0
    errors: Counter = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    latency_by_kind_ms: dict[str, list[float]] = field(default_factory=dict)
    wall_s: float = 0.0
    client_cpu_s: float = 0.0
    ticket_steps_sent: int = 0
    offers: int = 0
    """Ticket-making steps answered with the offer to join an open duplicate."""
    joined: int = 0
    """Offers the resident accepted (「1」): no ticket of their own."""
    replies: dict[Step, bytes] = field(default_factory=dict)
    """Response bodies of retries and their originals."""
    outcomes: dict[Step, bytes] = field(default_factory=dict)
    """Final response body of each ticket-making step (after 「1」/「2」 to an offer)."""
    truncated: bool = False

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def rps(self) -> float:
        return self.requests / self.wall_s if self.wall_s else 0.0

    def pct(self, p: float) -> float:
        return percentile(self.latencies_ms, p)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile ``p`` (0–100) of ``values``; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def drive(url: str, plan: Plan, simulator, concurrency: int, time_limit_s: float,
          app: str) -> RunStats:
    """Send every script of ``plan`` to ``url``/wechat from ``concurrency`` threads, each with
    its own keep-alive connection (``httpx.Client``), one resident's script at a time.

    Threads rather than asyncio: with this httpx/httpcore, ``AsyncClient`` spends about three
    times the client CPU per request (it retries a failing ``import sniffio`` on every
    request and scans the pool), which would cap the baseline. Stops issuing requests after
    ``time_limit_s`` seconds (``truncated``).
    """
    stats = RunStats(app)
    lock = threading.Lock()
    scripts: queue.SimpleQueue[Script] = queue.SimpleQueue()
    for script in plan.scripts:
        scripts.put(script)
    keep = {s.retry_of for script in plan.scripts for s in script.steps if s.retry_of is not None}
    crashes: list[BaseException] = []
    _warm_up(url, simulator, concurrency)
    started, cpu0 = time.perf_counter(), time.process_time()
    deadline = started + time_limit_s

    def resident() -> None:
        sent: dict[Step, Delivery] = {}
        try:
            with httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT_S, trust_env=False) as client:
                while True:
                    try:
                        script = scripts.get_nowait()
                    except queue.Empty:
                        return
                    for step in script.steps:
                        if time.perf_counter() > deadline:
                            stats.truncated = True
                            return
                        body = _send(client, simulator, script.openid, step, sent, stats, lock)
                        if body is None:
                            continue
                        if step in keep or step.retry_of is not None:
                            stats.replies[step] = body
                        if step.makes_ticket:
                            outcome = _answer_offer(client, simulator, script.openid, step, body,
                                                    sent, stats, lock)
                            if outcome is not None:
                                stats.outcomes[step] = outcome
        except BaseException as exc:  # re-raised in the main thread below
            crashes.append(exc)

    threads = [threading.Thread(target=resident, name=f"bench-client-{i}", daemon=True)
               for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stats.wall_s = time.perf_counter() - started
    stats.client_cpu_s = time.process_time() - cpu0
    if crashes:
        raise crashes[0]
    return stats


def _send(client: httpx.Client, simulator, openid: str, step: Step, sent: dict[Step, Delivery],
          stats: RunStats, lock: threading.Lock) -> bytes | None:
    """Build (sign, encrypt) and POST one step; the response body when it was a 200.

    ``sent`` maps the steps this thread sent to their deliveries (a retry re-signs its
    original, which comes earlier in the same script).
    """
    if step.retry_of is not None:
        delivery = simulator.retry(sent[step.retry_of])
    elif step.kind == "subscribe":
        delivery = simulator.event(openid, "subscribe")
    else:
        delivery = simulator.text(openid, step.text)
    sent[step] = delivery
    t0 = time.perf_counter()
    error = None
    try:
        response = client.post("/wechat", params=delivery.params, content=delivery.body)
        if response.status_code != 200:
            error = f"HTTP {response.status_code}"
    except httpx.HTTPError as exc:
        error = type(exc).__name__
    elapsed_ms = (time.perf_counter() - t0) * 1000
    with lock:
        stats.requests += 1
        stats.ticket_steps_sent += step.makes_ticket
        if error is not None:
            stats.errors[error] += 1
            return None
        stats.latencies_ms.append(elapsed_ms)
        stats.latency_by_kind_ms.setdefault(step.kind, []).append(elapsed_ms)
    return response.content


def _answer_offer(client: httpx.Client, simulator, openid: str, step: Step, body: bytes,
                  sent: dict[Step, Delivery], stats: RunStats, lock: threading.Lock) -> bytes | None:
    """When ``body`` offers to join an open duplicate, answer 「1」 or 「2」 as the resident
    would (``step.joins_duplicate``); the final reply body (None if the answer failed)."""
    if OFFER_MARKER is None or OFFER_MARKER not in simulator.reply_text(body):
        return body
    answer = Step("duplicate_answer", "1" if step.joins_duplicate else "2")
    with lock:
        stats.offers += 1
        stats.joined += step.joins_duplicate
    return _send(client, simulator, openid, answer, sent, stats, lock)


def _warm_up(url: str, simulator, concurrency: int) -> None:
    """A few greetings from extra residents (no tickets), not measured."""
    tag = secrets.token_hex(3)
    with httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT_S, trust_env=False) as client:
        for i in range(2 * concurrency):
            delivery = simulator.text(f"oWarm{tag}{i:04d}", "你好")
            client.post("/wechat", params=delivery.params, content=delivery.body)


# -- report --------------------------------------------------------------------------------
@dataclass
class BenchReport:
    """The outcome of one benchmark run."""

    baseline: RunStats
    gridbot: RunStats
    tickets_created: int
    tickets_expected: int
    retries_checked: int
    retries_mismatched: int
    unopened: list[str] = field(default_factory=list)
    """"text → reply" of report conversations that should have opened a ticket and whose last
    reply names none."""

    @property
    def tickets_ok(self) -> bool:
        return self.tickets_created == self.tickets_expected

    @property
    def retries_ok(self) -> bool:
        return self.retries_mismatched == 0

    @property
    def ok(self) -> bool:
        return (self.tickets_ok and self.retries_ok and not self.baseline.error_count
                and not self.gridbot.error_count and not self.gridbot.truncated)

    def render(self) -> str:
        """The compact table and checks printed at the end of a run."""
        head = (f"{'app':<10}{'requests':>9}{'errors':>8}{'req/s':>9}{'p50 ms':>9}{'p90 ms':>9}"
                f"{'p99 ms':>9}{'client CPU':>12}")
        lines = [head, "-" * len(head)]
        for s in (self.baseline, self.gridbot):
            cpu = s.client_cpu_s / s.wall_s * 100 if s.wall_s else 0.0
            lines.append(f"{s.app:<10}{s.requests:>9}{s.error_count:>8}{s.rps:>9.1f}"
                         f"{s.pct(50):>9.1f}{s.pct(90):>9.1f}{s.pct(99):>9.1f}{cpu:>11.0f}%")
        b, g = self.baseline, self.gridbot
        rps_ratio = g.rps / b.rps if b.rps else float("nan")
        p50_ratio = g.pct(50) / b.pct(50) if b.latencies_ms else float("nan")
        lines.append(f"gridbot/baseline: req/s x{rps_ratio:.3f}, p50 x{p50_ratio:.1f}")
        kinds = ", ".join(f"{k} {percentile(v, 50):.1f}"
                          for k, v in sorted(g.latency_by_kind_ms.items(), key=lambda kv: kv[0]))
        lines.append(f"gridbot p50 ms by kind: {kinds}")
        for s in (b, g):
            if s.errors:
                lines.append(f"{s.app} errors: {dict(s.errors)}")
            if s.truncated:
                lines.append(f"{s.app}: time limit reached, plan not finished")
        verdict = "OK" if self.tickets_ok else "MISMATCH"
        lines.append(f"tickets: {self.tickets_created} created; expected {self.tickets_expected} = "
                     f"{g.ticket_steps_sent} distinct report deliveries - {g.joined} that joined an "
                     f"open duplicate ({g.offers} offered) -> {verdict}")
        if self.unopened:
            lines.append(f"  {len(self.unopened)} report replies name no ticket, e.g.:")
            lines.extend(f"    {example}" for example in self.unopened[:5])
        verdict = "OK" if self.retries_ok else f"MISMATCH ({self.retries_mismatched})"
        lines.append(f"retries: {self.retries_checked} answered like their original -> {verdict}")
        return "\n".join(lines)


TICKET_NUMBER = re.compile(r"[A-Z]+\d{8}-\d{4}")


def check_replies(stats: RunStats, simulator: WeChatSimulator) -> tuple[int, int, list[str]]:
    """(retries checked, retries whose reply text differs from their original's, examples
    "sent text → last reply" of report conversations that should have opened a ticket and
    whose last reply names no ticket number)."""
    texts = {step: simulator.reply_text(body) for step, body in stats.replies.items()}
    pairs = [(texts[s.retry_of], texts[s]) for s in texts
             if s.retry_of is not None and s.retry_of in texts]
    unopened = []
    for step, body in stats.outcomes.items():
        text = simulator.reply_text(body)
        if not step.joins_duplicate and not TICKET_NUMBER.search(text):
            unopened.append(f"{step.text} → {text.splitlines()[0] if text else '(empty)'}")
    return len(pairs), sum(a != b for a, b in pairs), unopened


# -- entry point ---------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=None,
                        help=f"requests per app (default {DEFAULT_REQUESTS}; --quick {QUICK_REQUESTS})")
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY,
                        help="concurrent connections (default %(default)s)")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_REQUESTS} requests")
    parser.add_argument("--safe-mode", action="store_true",
                        help="encrypted messages (安全模式, EncodingAESKey)")
    parser.add_argument("--database-url", help="use this database (default: a private one)")
    parser.add_argument("--redis-url", help="use this Redis db (default: a claimed free one)")
    parser.add_argument("--pg-admin-url", default=PG_ADMIN_URL,
                        help="admin database for creating the private one (default %(default)s)")
    parser.add_argument("--time-limit", type=float, default=300.0,
                        help="seconds of load per app before stopping (default %(default)s)")
    parser.add_argument("--seed", type=int, default=1, help="plan seed (default %(default)s)")
    parser.add_argument("--serve", choices=("gridbot", "baseline"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--settings-json", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.requests is None:
        args.requests = QUICK_REQUESTS if args.quick else DEFAULT_REQUESTS
    if args.requests < 1 or args.concurrency < 1:
        parser.error("--requests and --concurrency must be at least 1")
    return args


def main(argv: list[str] | None = None) -> BenchReport | None:
    """Run the benchmark (or, with the internal ``--serve``, one server) and print the report."""
    args = parse_args(argv)
    if args.serve:
        serve(args.serve, args.port, json.loads(args.settings_json))
        return None

    aes_key = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(43)) \
        if args.safe_mode else None
    plan = build_plan(args.requests, args.seed, tag=secrets.token_hex(3))
    mode = "safe mode (encrypted)" if args.safe_mode else "plaintext"
    print(f"POST /wechat: {plan.requests} requests from {len(plan.scripts)} residents, "
          f"concurrency {args.concurrency}, {mode}", flush=True)

    with bench_storage(args.database_url, args.redis_url, args.pg_admin_url) as storage, \
            tempfile.TemporaryDirectory(prefix="gridbot-bench-") as tmp:
        overrides = settings_overrides(storage, aes_key)
        settings = Settings(**overrides)
        import_demo_community(storage.database_url)
        tickets_before = count_tickets(storage.database_url)
        results: dict[str, RunStats] = {}
        for app in ("baseline", "gridbot"):
            log_path = Path(tmp) / f"{app}.log"
            simulator = WeChatSimulator(settings.wechat_token, settings.wechat_app_id, aes_key)
            with server_process(app, overrides, log_path) as url:
                results[app] = drive(url, plan, simulator, args.concurrency, args.time_limit, app)
            if results[app].error_count:
                print(f"--- {app} server log (tail) ---\n{_tail(log_path)}", flush=True)
        gridbot = results["gridbot"]
        retries_checked, retries_mismatched, unopened = check_replies(gridbot, simulator)
        report = BenchReport(
            baseline=results["baseline"], gridbot=gridbot,
            tickets_created=count_tickets(storage.database_url) - tickets_before,
            tickets_expected=gridbot.ticket_steps_sent - gridbot.joined,
            retries_checked=retries_checked, retries_mismatched=retries_mismatched,
            unopened=unopened,
        )
    print(report.render(), flush=True)
    return report


if __name__ == "__main__":
    result = main()
    sys.exit(0 if result is None or result.ok else 1)

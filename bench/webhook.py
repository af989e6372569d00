"""Benchmark of ``POST /wechat``: gridbot on PostgreSQL + Redis beside a bare endpoint, with a
load generator that is not the bottleneck (wrk).

Usage::

    python bench/webhook.py [--quick] [--duration S] [--connections 1,16,64] [--processes 1,2]
                            [--modes plain,safe] [--client wrk|python] [--no-half] [--floor]
                            [--database-url URL] [--redis-url URL]

What one run does, all on loopback:

1. Storage. A private PostgreSQL database (created through ``--pg-admin-url``, dropped after)
   and an *empty* Redis logical database 1–15 claimed with an owner key (``claimed_redis_db``;
   a database holding any key is never touched), emptied and released after. A community of
   ``RESIDENTS`` (500) buildings in 10 grids (one grid worker each) is imported. Each resident
   lives in a building of their own: the static request lists cannot answer the offer to join
   a neighbour's open ticket of the same kind (handlers/duplicates.py), so no report may draw
   one — every report opens exactly one ticket; the same residents (and homes) speak in
   every load point, so their open tickets pile up as the run goes on. The abuse limits
   (rate limit, burst → one ticket thread) are lifted: the scripted residents compress days
   of use into seconds.
2. Push path. A WeChat API sandbox (bot/devtools/sandbox.py) and one arq worker (``bot.worker.run``)
   run in their own processes for the whole benchmark, so pushes are relayed under load as in
   production; the worker competes with the web processes for the 2 cores.
3. Servers, one app at a time, each in ``--processes`` uvicorn processes sharing one port
   with SO_REUSEPORT (the kernel spreads connections; access log off): *bare* — a FastAPI
   ``POST /wechat`` doing what gridbot does before its own work (signature and timestamp
   check, decryption in safe mode, ``wechatpy.parse_message`` through ``bot.protocol``) and
   answering ``success`` — then, with ``--floor``, *floor* (the bare work plus one Redis
   round trip and one committed PostgreSQL INSERT: the least any design that keeps a message
   durable before replying must do) — then *gridbot* (``bot.app.create_app``, no embedded
   worker).
4. Load. Just before each load point, the requests are built with ``bot.devtools.simulator`` (so their
   timestamps are inside the webhook's unchanged 300 s window when sent; the build age is
   printed) into one file per connection: a mix of 50 % reports with an address, 20 % 查询,
   20 % greetings and 10 % WeChat retries (an earlier report of the same resident re-signed,
   same MsgId), over ``RESIDENTS`` residents, unique MsgIds, signed (plaintext mode) or
   encrypted (safe mode) as WeChat's server does. A resident's messages all go over one
   connection, in order, as WeChat sends one user's messages. ``wrk`` (Debian's 4.1, one
   thread per connection so that each response belongs to the request before it) runs
   ``webhook.lua``: it sends the pre-built requests, logs every response (index, status,
   body) and, for half load, paces each connection to a constant rate (wrk's ``delay()``
   hook; Debian's wrk has no wrk2 ``-R``). Load points: ``--connections`` flat out, then
   "half": 16 connections at half the req/s that app reached at 16 connections. The bare
   endpoint cycles through its list; gridbot's list is sized from the bare endpoint's
   rate and never repeats a delivery (a run that exhausts it is refused).
5. Honesty. The client's CPU time (wrk's rusage) is divided by the wall time; above
   ``CLIENT_CPU_LIMIT`` (80 % of one core) the figures of that load point are REFUSED, with
   the reason — the client, not the server, would be the limit. The machine's load average
   is printed before and after every app (the machine may be shared).
6. Checks (gridbot, every load point): requests wrk had sent when the run ended without an
   answer are re-sent once as WeChat's retry; then tickets created == distinct report
   deliveries sent, every retry got its original's reply text, every report reply names a
   ticket, no non-200 answer. After all load points the worker is given time to drain: every
   new ticket has exactly one push to its grid worker, all sent, the sandbox received as
   many as were sent (none lost or doubled), and "ticket → worker push" latency (outbox
   ``created_at`` → ``sent_at``) is given as p50/p99 per load point.

``--client python`` (the default when wrk is not installed) drives the same lists from threads
in this process: fine for the correctness checks (tests/bench), but it measures itself, and
its figures are refused whenever its CPU exceeds the limit. ``main(argv)`` returns a
``BenchReport``; the script exits 1 unless ``report.ok`` (the checks; timings are never
judged).

Sources: developers.weixin.qq.com/doc/offiaccount/Message_Management/Receiving_standard_messages.html
(MsgId, retries after 5 s, up to three times), bot/devtools/simulator.py (signing and encryption),
github.com/wg/wrk SCRIPTING (setup/init/delay/request/response/done).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
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
from urllib.parse import urlencode

SCRIPT = Path(__file__).resolve()
if sys.path and Path(sys.path[0] or ".").resolve() == SCRIPT.parent:
    # Run as `python bench/webhook.py`: bench/ is sys.path[0] and its sibling scripts (e.g.
    # bench/intents.py) would shadow the project's packages; look in the project root instead.
    sys.path[0] = str(SCRIPT.parent.parent)

import httpx  # noqa: E402
import psycopg  # noqa: E402
import redis as redis_lib  # noqa: E402

from bot.devtools.sandbox import free_port  # noqa: E402
from bot.devtools.simulator import Delivery, WeChatSimulator  # noqa: E402
from bot.settings import Settings  # noqa: E402

PG_ADMIN_URL = os.environ.get("GRIDBOT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_BASE_URL = os.environ.get("GRIDBOT_TEST_REDIS", "redis://127.0.0.1:6379")
CLAIM_PREFIX = "gridbot-test-claim:"
"""Owner key written into a claimed Redis database (shared with tests/conftest.py)."""

RESIDENTS = 500
GRIDS = 10
MIX = {"report": 0.50, "query": 0.20, "greeting": 0.20, "retry": 0.10}
"""Share of requests per kind (a retry re-sends an earlier report of the same resident)."""

PROBLEMS = (
    "楼道灯坏了", "厨房水管漏水了", "电梯又坏了", "楼上天天半夜装修太吵了", "下水道堵了",
    "单元门禁坏了打不开", "楼上邻居家的狗天天叫", "楼上漏水把我家天花板泡了", "暖气不热",
    "楼道里堆满了杂物", "家里停水了", "隔壁邻居天天半夜吵架",
)
"""Repair and complaint texts, each classified as repair/complaint above the threshold, all
about the resident's own building: a public category (停车, 环境卫生 …) with no place named
rightly draws 「问题在哪里？」 instead of a ticket (handlers/report.py)."""
REPORT_FORMS = ("{addr}，{problem}", "我住{addr}，{problem}", "{problem}，{addr}", "{addr} {problem}")
QUERIES = ("查询", "进度", "我的报修到哪一步了", "我的工单处理了吗", "查一下进度")
GREETINGS = ("你好", "在吗", "帮助", "您好，请问怎么用", "谢谢", "早上好", "有人吗")

CLIENT_CPU_LIMIT = 0.80
"""Client CPU time / wall time above which a load point's figures are refused."""
HALF_LOAD_CONNECTIONS = 16
WRK_TIMEOUT_S = 10
REQUEST_TIMEOUT_S = 15.0
STARTUP_TIMEOUT_S = 60.0
DRAIN_TIMEOUT_S = 180.0
WINDOW_S = 300
"""The webhook's timestamp window (Settings.timestamp_window_s, left at its default)."""
TICKET_NUMBER = re.compile(r"[A-Z]+\d{8}-\d{4}")
LUA = SCRIPT.with_name("webhook.lua")


# -- storage -------------------------------------------------------------------------------
@dataclass
class Storage:
    """The database and Redis URLs the gridbot server, worker and sandbox use."""

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


def community_yaml(residents: int) -> str:
    """Importer YAML: buildings 1..``residents`` over GRIDS grids, one grid worker each."""
    per = -(-residents // GRIDS)
    lines = ["street: 和平街道", "community: 幸福新社区", "phone: 024-12345678", "grids:"]
    for g in range(GRIDS):
        lo, hi = g * per + 1, min(residents, (g + 1) * per)
        if lo > hi:
            break
        lines += [f"  - code: G{g + 1:02d}", f"    name: 第{g + 1}网格", f'    buildings: ["{lo}-{hi}"]',
                  f'    workers: [{{name: 网格员{g + 1}, openid: oBenchWorkerG{g + 1:02d}, '
                  f'phone: "138000000{g + 1:02d}"}}]']
    return "\n".join(lines) + "\n"


def import_community(database_url: str, residents: int) -> None:
    """Create the schema and import ``community_yaml(residents)``."""
    from storage.db import create_schema, make_engine, session_scope
    from storage.importer import import_file

    engine = make_engine(database_url)
    try:
        create_schema(engine)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "community.yaml"
            path.write_text(community_yaml(residents), encoding="utf-8")
            with session_scope(engine) as session:
                import_file(session, path)
    finally:
        engine.dispose()


def _scalar(database_url: str, sql: str, **params) -> object:
    from sqlalchemy import text

    from storage.db import make_engine

    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()
    finally:
        engine.dispose()


def max_ticket_id(database_url: str) -> int:
    return int(_scalar(database_url, "SELECT coalesce(max(id), 0) FROM ticket"))


def count_tickets(database_url: str, after_id: int, upto_id: int) -> int:
    return int(_scalar(database_url, "SELECT count(*) FROM ticket WHERE id > :a AND id <= :b",
                       a=after_id, b=upto_id))


# -- servers -------------------------------------------------------------------------------
def settings_overrides(storage: Storage, aes_key: str | None, sandbox_url: str) -> dict:
    """Settings of the servers, the worker and the client's simulator (JSON-able)."""
    # The scripted residents compress days of use into seconds: the abuse limits (rate
    # limit, burst → one ticket thread) would fold their reports, so they are lifted here.
    return {"wechat_aes_key": aes_key, "embedded_worker": False,
            "rate_limit_burst": 1_000_000, "report_burst_max": 1_000_000,
            "database_url": storage.database_url, "redis_url": storage.redis_url,
            "wechat_api_base_url": f"{sandbox_url}/sandbox/cgi-bin/",
            "wecom_api_base_url": f"{sandbox_url}/sandbox/wecom/cgi-bin/"}


def bare_app(settings: Settings):
    """The bare endpoint: what gridbot does before its own work (bot.protocol: signature,
    timestamp window, decryption, wechatpy parse), then ``success``."""
    from fastapi import FastAPI, Request, Response

    from bot.protocol import Protocol, ProtocolError

    protocol = Protocol(settings)
    app = FastAPI(title="bare")

    @app.post("/wechat")
    async def wechat(request: Request) -> Response:
        try:
            protocol.open(dict(request.query_params), await request.body())
        except ProtocolError:
            return Response("refused", status_code=403)
        return Response("success", media_type="text/plain")

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


FLOOR_TABLE = "bench_floor"


def floor_app(settings: Settings):
    """The floor of any design that keeps a message durable before its passive reply (the
    design's decision 1): the bare endpoint's work, then one Redis round trip (a retry claim,
    ``SET NX EX``) and one committed PostgreSQL INSERT of the message through the same
    engine, driver and threadpool as gridbot — no classification, routing or ticket. Its
    req/s bounds what gridbot could reach on this machine however lean its own work became."""
    from fastapi import FastAPI, Request, Response
    from fastapi.concurrency import run_in_threadpool
    from sqlalchemy import text

    from bot.database import service_engine
    from bot.protocol import Protocol, ProtocolError
    from storage.redis import sync_client

    protocol = Protocol(settings)
    engine = service_engine(settings)
    redis = sync_client(settings.redis_url)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE IF NOT EXISTS {FLOOR_TABLE} (id bigserial PRIMARY KEY, "
                          "msg_id text UNIQUE, body text)"))
    insert = text(f"INSERT INTO {FLOOR_TABLE} (msg_id, body) VALUES (:m, :b) "
                  "ON CONFLICT (msg_id) DO NOTHING")
    app = FastAPI(title="floor")

    def keep(msg_id: str, body: str) -> None:
        redis.set(f"gridbot:bench:floor:{msg_id}", 1, nx=True, ex=60)
        with engine.begin() as conn:
            conn.execute(insert, {"m": msg_id, "b": body})

    @app.post("/wechat")
    async def wechat(request: Request) -> Response:
        try:
            message = protocol.open(dict(request.query_params), await request.body())
        except ProtocolError:
            return Response("refused", status_code=403)
        msg_id = f"{getattr(message, 'id', None)}:{secrets.token_hex(4)}"
        await run_in_threadpool(keep, msg_id, getattr(message, "content", "") or "")
        return Response("success", media_type="text/plain")

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def sandbox_app(settings: Settings):
    """The WeChat API sandbox alone, at /sandbox."""
    from fastapi import FastAPI

    from bot.devtools.sandbox import sandbox_router
    from storage.redis import sync_client

    app = FastAPI(title="sandbox")
    app.include_router(sandbox_router(sync_client(settings.redis_url)), prefix="/sandbox")

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def serve(kind: str, port: int, overrides: dict) -> None:
    """Run one server process on 127.0.0.1:``port`` (SO_REUSEPORT, so several processes
    share it) until SIGINT/SIGTERM; ``kind`` "worker" runs the arq worker instead."""
    import asyncio

    import uvicorn

    settings = Settings(**overrides)
    if kind == "worker":
        from bot import worker

        asyncio.run(worker.run(settings))
        return
    if kind == "gridbot":
        from bot.app import create_app
        app = create_app(settings)
    elif kind == "sandbox":
        app = sandbox_app(settings)
    elif kind == "floor":
        app = floor_app(settings)
    else:
        app = bare_app(settings)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                            backlog=2048, timeout_keep_alive=60)
    uvicorn.Server(config).run(sockets=[sock])


@contextlib.contextmanager
def servers(kind: str, processes: int, overrides: dict, log_path: Path) -> Iterator[str]:
    """``processes`` × ``python bench/webhook.py --serve KIND`` on one port; yields the base
    URL once /healthz answers (kind "worker": at once, no port). Stops them (SIGINT, then
    SIGKILL after 15 s) on exit. Raises RuntimeError if one exits or does not start within
    STARTUP_TIMEOUT_S."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, str(SCRIPT), "--serve", kind, "--port", str(port),
           "--settings-json", json.dumps(overrides)]
    with open(log_path, "ab") as log:
        procs = [subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
                 for _ in range(processes)]
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while kind != "worker":
            if any(p.poll() is not None for p in procs):
                raise RuntimeError(f"{kind} server exited:\n{_tail(log_path)}")
            if _listeners(port) >= processes:  # uvicorn listens once its app has started
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{url}/healthz", timeout=1.0, trust_env=False).status_code == 200:
                        break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{kind} server did not start:\n{_tail(log_path)}")
            time.sleep(0.1)
        yield url
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _listeners(port: int) -> int:
    """Listening TCP sockets on 127.0.0.1:``port`` (/proc/net/tcp; one per process with
    SO_REUSEPORT)."""
    wanted = f"0100007F:{port:04X}"
    with open("/proc/net/tcp") as f:
        return sum(1 for line in f if line.split()[1:2] == [wanted] and line.split()[3] == "0A")


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# -- request lists -------------------------------------------------------------------------
@dataclass
class Item:
    """One request of a connection's list: ``kind`` (MIX), the resident, the delivery, the
    text sent, and for a retry the index of its original in the same list."""

    kind: str
    openid: str
    delivery: Delivery
    text: str = ""
    retry_of: int | None = None


def resident_openid(tag: str, i: int) -> str:
    return f"oBench{tag}{i:04d}".ljust(28, "x")[:28]


def build_lists(simulator: WeChatSimulator, connections: int, per_connection: int, residents: int,
                rng: random.Random, tag: str) -> list[list[Item]]:
    """``connections`` request lists of ``per_connection`` items in the MIX proportions.

    Resident i (OpenID from ``tag`` and i; the same ``tag`` gives the same residents and
    homes) lives alone in building i + 1 and talks over connection i % connections only. A
    retry re-signs a recent report of the same list.
    """
    kinds, weights = zip(*MIX.items(), strict=True)
    homes = [f"{i + 1}号楼{i % 4 + 1}单元{i % 18 + 1}0{i % 3 + 1}" for i in range(residents)]
    lists: list[list[Item]] = []
    for k in range(connections):
        mine = list(range(k, residents, connections)) or [k % residents]
        items: list[Item] = []
        reports: list[int] = []
        for _ in range(per_connection):
            kind = rng.choices(kinds, weights)[0]
            i = rng.choice(mine)
            openid = resident_openid(tag, i)
            if kind == "retry" and reports:
                j = rng.choice(reports[-50:])
                original = items[j]
                items.append(Item("retry", original.openid, simulator.retry(original.delivery),
                                  original.text, retry_of=j))
                continue
            if kind in ("report", "retry"):
                kind = "report"
                text = rng.choice(REPORT_FORMS).format(addr=homes[i], problem=rng.choice(PROBLEMS))
                reports.append(len(items))
            else:
                text = rng.choice(QUERIES if kind == "query" else GREETINGS)
            items.append(Item(kind, openid, simulator.text(openid, text), text))
        lists.append(items)
    return lists


def http_request(delivery: Delivery) -> bytes:
    """The raw HTTP/1.1 request WeChat's server would send for ``delivery``."""
    head = (f"POST /wechat?{urlencode(delivery.params)} HTTP/1.1\r\nHost: bench\r\n"
            f"Content-Type: text/xml\r\nContent-Length: {len(delivery.body)}\r\n\r\n")
    return head.encode() + delivery.body


def write_lists(lists: list[list[Item]], directory: Path) -> None:
    """``req.<n>`` (n = 1..connections, wrk's thread ids): per request "<length>\\n<bytes>"."""
    for n, items in enumerate(lists, start=1):
        with open(directory / f"req.{n}", "wb") as f:
            for item in items:
                raw = http_request(item.delivery)
                f.write(b"%d\n" % len(raw) + raw)


# -- load ----------------------------------------------------------------------------------
@dataclass
class LoadPoint:
    """What one load point measured (latencies in ms) and what the client answered."""

    app: str
    label: str
    connections: int
    duration_s: float = 0.0
    completed: int = 0
    errors: Counter = field(default_factory=Counter)
    p50: float = float("nan")
    p90: float = float("nan")
    p99: float = float("nan")
    p999: float = float("nan")
    client_cpu_s: float = 0.0
    target_rps: float | None = None
    refused: str | None = None
    build_age_s: float = 0.0
    """Seconds between building the first request and starting the load (timestamps)."""
    answers: dict[tuple[int, int], tuple[int, bytes]] = field(default_factory=dict, repr=False)
    """(connection, index) → (HTTP status, body) of every answered request."""
    sent: list[int] = field(default_factory=list)
    """Per connection: how many of its list were sent (a repeating list: 0)."""
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @property
    def rps(self) -> float:
        return self.completed / self.duration_s if self.duration_s else 0.0

    @property
    def client_cpu(self) -> float:
        """Client CPU time / wall time (1.0 = one core busy)."""
        return self.client_cpu_s / self.duration_s if self.duration_s else 0.0


def judge_client(point: LoadPoint) -> None:
    """Refuse ``point``'s figures when the client used more than CLIENT_CPU_LIMIT of a core."""
    if point.client_cpu > CLIENT_CPU_LIMIT and not point.refused:
        point.refused = (f"client used {point.client_cpu:.0%} of a core "
                         f"(> {CLIENT_CPU_LIMIT:.0%}): it, not the server, is the limit")


def lua_script(interval_ms: float) -> str:
    """webhook.lua, without its pacing block when ``interval_ms`` is 0 (wrk arms a timer per
    request whenever delay() exists)."""
    lua = LUA.read_text(encoding="utf-8")
    if interval_ms <= 0:
        lua = lua.split("-- BEGIN PACING", 1)[0] + lua.split("-- END PACING", 1)[1]
    return lua


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def run_wrk(url: str, directory: Path, point: LoadPoint, duration_s: float,
            interval_ms: float, repeat: bool) -> None:
    """Run wrk (one thread per connection) with webhook.lua over the lists in ``directory``;
    fill ``point`` from its JSON summary, its response logs and its rusage."""
    script = directory / "webhook.lua"
    script.write_text(lua_script(interval_ms), encoding="utf-8")
    c = point.connections
    cmd = ["wrk", "-t", str(c), "-c", str(c), "-d", f"{max(1, round(duration_s))}s",
           "--timeout", f"{WRK_TIMEOUT_S}s", "-s", str(script), url,
           "--", str(directory), f"{interval_ms:.3f}", "1" if repeat else "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)  # the rusage of wrk: the client's own CPU
    proc.returncode = os.waitstatus_to_exitcode(status)
    lines = [line for line in out.splitlines() if line.startswith("BENCHJSON ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed ({proc.returncode}):\n{out[-2000:]}")
    summary = json.loads(lines[-1].split(" ", 1)[1])
    point.duration_s = summary["duration_us"] / 1e6
    # all of wrk's CPU, loading the lists included (a few % of a core): errs on the safe side
    point.client_cpu_s = usage.ru_utime + usage.ru_stime
    for name, value in summary["errors"].items():
        if value and name != "status":  # statuses are counted from the logs below
            point.errors[name] += value
    point.p50, point.p90, point.p99, point.p999 = (summary[k] / 1000 for k in
                                                  ("p50", "p90", "p99", "p999"))
    point.sent = [0 if repeat else t["sent"] for t in sorted(summary["threads"],
                                                              key=lambda t: t["id"])]
    if any(t["exhausted"] for t in summary["threads"]) and not repeat:
        point.refused = "a connection ran out of pre-built requests (raise --max-rate)"
    for n in range(1, c + 1):
        _read_answers(directory / f"out.{n}", n - 1, point)
    point.completed = summary["requests"]


def _read_answers(path: Path, connection: int, point: LoadPoint) -> None:
    """Parse webhook.lua's response log: "<index> <status> <length>\\n<body>\\n" records."""
    data = path.read_bytes() if path.exists() else b""
    pos = 0
    while pos < len(data):
        nl = data.index(b"\n", pos)
        index, status, length = (int(x) for x in data[pos:nl].split())
        body = data[nl + 1:nl + 1 + length]
        pos = nl + 1 + length + 1
        point.answers[(connection, index)] = (status, body)


def run_python(url: str, lists: list[list[Item]], point: LoadPoint, duration_s: float,
               interval_ms: float, repeat: bool) -> None:
    """The same lists from one thread per connection in this process (httpx). Measures its
    own CPU like wrk's: refused above the limit. For checks on a machine without wrk."""
    latencies: list[float] = []
    lock = threading.Lock()
    sent = [0] * len(lists)
    deadline = time.perf_counter() + duration_s

    def connection(k: int) -> None:
        items = lists[k]
        next_at = time.perf_counter()
        with httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT_S, trust_env=False) as client:
            n = 0
            while time.perf_counter() < deadline:
                if n >= len(items) and not repeat:
                    return
                item = items[n % len(items)]
                if interval_ms > 0:
                    next_at += interval_ms / 1000
                    time.sleep(max(0.0, next_at - time.perf_counter()))
                t0 = time.perf_counter()
                try:
                    response = client.post("/wechat", params=item.delivery.params,
                                           content=item.delivery.body)
                    answer = (response.status_code, response.content)
                except httpx.HTTPError as exc:
                    answer = None
                    with lock:
                        point.errors[type(exc).__name__] += 1
                elapsed_ms = (time.perf_counter() - t0) * 1000
                n += 1
                sent[k] = n
                with lock:
                    if answer is not None:
                        point.answers[(k, (n - 1) % len(items) + 1)] = answer
                        latencies.append(elapsed_ms)

    threads = [threading.Thread(target=connection, args=(k,), daemon=True) for k in range(len(lists))]
    started, cpu0 = time.perf_counter(), time.process_time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    point.duration_s = time.perf_counter() - started
    point.client_cpu_s = time.process_time() - cpu0
    point.completed = len(latencies)
    point.sent = [0 if repeat else s for s in sent]
    ordered = sorted(latencies)
    if ordered:
        def pct(p: float) -> float:
            return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]
        point.p50, point.p90, point.p99, point.p999 = pct(50), pct(90), pct(99), pct(99.9)


# -- checks --------------------------------------------------------------------------------
@dataclass
class Checks:
    """Correctness of one gridbot load point (see the module docstring, 6.)."""

    reports_sent: int = 0
    tickets: int = 0
    resent: int = 0
    retries_checked: int = 0
    retries_mismatched: int = 0
    unopened: list[str] = field(default_factory=list)
    non_200: Counter = field(default_factory=Counter)
    first_ticket_id: int = 0
    last_ticket_id: int = 0

    @property
    def ok(self) -> bool:
        return (self.tickets == self.reports_sent and not self.retries_mismatched
                and not self.unopened and not self.non_200)


def resend_unanswered(url: str, lists: list[list[Item]], point: LoadPoint,
                      simulator: WeChatSimulator) -> int:
    """Re-send, once, as WeChat's retry, every sent request that got no answer (in flight
    when the load ended, or a transport error); their answers join ``point.answers``.

    Observed with Debian's wrk 4.1: the first response of its first thread never reaches the
    script's response(), so one request more than the connections is re-sent. Harmless: a
    retry makes nothing twice and gets the original's reply (that is what is checked)."""
    resent = 0
    with httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT_S, trust_env=False) as client:
        for k, items in enumerate(lists):
            for index in range(1, point.sent[k] + 1):
                if (k, index) in point.answers:
                    continue
                delivery = simulator.retry(items[index - 1].delivery)
                response = client.post("/wechat", params=delivery.params, content=delivery.body)
                point.answers[(k, index)] = (response.status_code, response.content)
                resent += 1
    return resent


def check_point(lists: list[list[Item]], point: LoadPoint, simulator: WeChatSimulator,
                checks: Checks) -> None:
    """Compare the answers with what each request should have got."""
    texts: dict[tuple[int, int], str] = {}
    for k, items in enumerate(lists):
        for index in range(1, point.sent[k] + 1):
            item = items[index - 1]
            status, body = point.answers[(k, index)]
            if status != 200:
                checks.non_200[status] += 1
                continue
            if item.kind == "report":
                checks.reports_sent += 1
            if item.kind in ("report", "retry"):
                texts[(k, index)] = simulator.reply_text(body)
            if item.kind == "report" and not TICKET_NUMBER.search(texts[(k, index)]):
                first = texts[(k, index)].splitlines()[0] if texts[(k, index)] else "(empty)"
                checks.unopened.append(f"{item.text} → {first}")
            if item.retry_of is not None and (k, item.retry_of + 1) in texts:
                checks.retries_checked += 1
                checks.retries_mismatched += texts[(k, index)] != texts[(k, item.retry_of + 1)]


# -- pushes --------------------------------------------------------------------------------
@dataclass
class Pushes:
    """The outbox rows of the tickets of all gridbot load points, after the drain."""

    tickets: int = 0
    rows: int = 0
    tickets_with_one_push: int = 0
    sent: int = 0
    sandbox_received: int = 0
    drained_in_s: float = 0.0
    not_sent: dict[str, str] = field(default_factory=dict)
    """Status → "count: a last_error" of the worker pushes not sent (a mismatch's reason)."""
    latency_ms: dict[str, tuple[float, float, int]] = field(default_factory=dict)
    """Load point label → (p50, p99, rows) of outbox created_at → sent_at."""

    @property
    def ok(self) -> bool:
        return (self.rows == self.tickets == self.tickets_with_one_push == self.sent
                and self.sandbox_received == self.sent)


def drain_and_count(storage: Storage, sandbox_url: str, ranges: dict[str, tuple[int, int]],
                    timeout_s: float) -> Pushes:
    """Wait until no push of the benchmark's tickets is pending, then count and time them."""
    from sqlalchemy import text

    from storage.db import make_engine

    lo = min((a for a, _ in ranges.values()), default=0)
    hi = max((b for _, b in ranges.values()), default=0)
    pushes = Pushes()
    engine = make_engine(storage.database_url)
    started = time.monotonic()
    try:
        with engine.connect() as conn:
            def q(sql: str, **params):
                return conn.execute(text(sql), {"lo": lo, "hi": hi, **params})

            while time.monotonic() - started < timeout_s:
                waiting = q("SELECT count(*) FROM outbox WHERE ticket_id > :lo AND ticket_id <= :hi "
                            "AND status IN ('pending', 'sending')").scalar()
                conn.commit()
                if not waiting:
                    break
                time.sleep(1.0)
            pushes.drained_in_s = time.monotonic() - started
            pushes.tickets = q("SELECT count(*) FROM ticket WHERE id > :lo AND id <= :hi").scalar()
            pushes.rows = q("SELECT count(*) FROM outbox WHERE ticket_id > :lo AND ticket_id <= :hi "
                            "AND audience = 'worker'").scalar()
            pushes.tickets_with_one_push = q(
                "SELECT count(*) FROM (SELECT ticket_id FROM outbox WHERE ticket_id > :lo "
                "AND ticket_id <= :hi AND audience = 'worker' GROUP BY ticket_id "
                "HAVING count(*) = 1) AS one").scalar()
            pushes.sent = q("SELECT count(*) FROM outbox WHERE ticket_id > :lo AND ticket_id <= :hi "
                            "AND audience = 'worker' AND status = 'sent'").scalar()
            for status, count, error in q(
                    "SELECT status, count(*), max(last_error) FROM outbox WHERE ticket_id > :lo "
                    "AND ticket_id <= :hi AND audience = 'worker' AND status <> 'sent' "
                    "GROUP BY status"):
                pushes.not_sent[status] = f"{count}: {error or '-'}"
            for label, (a, b) in ranges.items():
                ms = [row[0] for row in conn.execute(text(
                    "SELECT extract(epoch FROM sent_at - created_at) * 1000 FROM outbox "
                    "WHERE ticket_id > :a AND ticket_id <= :b AND status = 'sent' ORDER BY 1"),
                    {"a": a, "b": b})]
                if ms:
                    pushes.latency_ms[label] = (float(ms[len(ms) // 2]),
                                                float(ms[min(len(ms) - 1, int(0.99 * len(ms)))]),
                                                len(ms))
    finally:
        engine.dispose()
    stats = httpx.get(f"{sandbox_url}/sandbox/stats", timeout=5.0, trust_env=False).json()
    pushes.sandbox_received = sum(v for k, v in stats.items() if k.endswith("send"))
    return pushes


# -- report --------------------------------------------------------------------------------
@dataclass
class BenchReport:
    """Every load point, the checks of gridbot's and the pushes."""

    client: str
    points: list[tuple[str, int, LoadPoint]] = field(default_factory=list)
    """(mode, processes, point)."""
    checks: dict[str, Checks] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    """Blocks (mode, processes) that could not run, with the reason; the others still count."""
    pushes: Pushes | None = None

    @property
    def checks_ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks.values())

    @property
    def ok(self) -> bool:
        return (self.checks_ok and not self.failures
                and (self.pushes is None or self.pushes.ok))

    def render(self) -> str:
        head = (f"{'mode':<6}{'proc':>5} {'app':<8}{'load':<14}{'req/s':>9}{'p50 ms':>9}"
                f"{'p99 ms':>9}{'p99.9 ms':>10}{'errors':>8}{'client CPU':>12}  ratio g/b")
        lines = [head, "-" * len(head)]
        bare: dict[tuple[str, int, str], LoadPoint] = {}
        for mode, procs, p in self.points:
            key = (mode, procs, p.label.split("@")[0])
            if p.app == "bare":
                bare[key] = p
            errors = sum(p.errors.values())
            if p.refused:
                figures = f"{'REFUSED: ' + p.refused:<{9 + 9 + 9 + 10}}"
            else:
                figures = f"{p.rps:>9.1f}{p.p50:>9.1f}{p.p99:>9.1f}{p.p999:>10.1f}"
            ratio = ""
            if p.app != "bare" and key in bare and not p.refused and not bare[key].refused:
                b = bare[key]
                ratio = (f"req/s x{p.rps / b.rps:.3f}, p99 x{p.p99 / b.p99:.1f}"
                         if b.rps and b.p99 else "")
            lines.append(f"{mode:<6}{procs:>5} {p.app:<8}{p.label:<14}{figures}{errors:>8}"
                         f"{p.client_cpu * 100:>11.0f}%  {ratio}")
        lines.extend(f"FAILED {reason}" for reason in self.failures)
        lines.append("")
        lines.append("load average (1/5/15 min) before → after each app's load points:")
        blocks: dict[tuple[str, int, str], list[LoadPoint]] = {}
        for mode, procs, p in self.points:
            blocks.setdefault((mode, procs, p.app), []).append(p)
        for (mode, procs, app), ps in blocks.items():
            lines.append(f"  {mode} {procs}p {app:<8}{_la(ps[0].load_before)} → "
                         f"{_la(ps[-1].load_after)}")
        ages = [p.build_age_s for _, _, p in self.points] or [0.0]
        lines.append(f"timestamps: requests built {min(ages):.1f}–{max(ages):.1f} s before their "
                     f"load started (+ the run); webhook window {WINDOW_S} s, unchanged")
        for label, c in self.checks.items():
            verdict = "OK" if c.ok else "MISMATCH"
            lines.append(f"check {label}: tickets {c.tickets} == reports {c.reports_sent} "
                         f"({c.resent} unanswered at the end re-sent as WeChat retries); "
                         f"retries {c.retries_checked} answered like the original "
                         f"({c.retries_mismatched} not); non-200 {dict(c.non_200) or 0} -> {verdict}")
            for example in c.unopened[:5]:
                lines.append(f"  report reply names no ticket: {example}")
        if self.pushes is not None:
            p = self.pushes
            lines.append(f"pushes: {p.tickets} tickets, {p.rows} worker pushes "
                         f"({p.tickets_with_one_push} tickets with exactly one), {p.sent} sent, "
                         f"{p.sandbox_received} received by the sandbox; drained "
                         f"{p.drained_in_s:.0f} s after the last load -> "
                         f"{'OK' if p.ok else 'MISMATCH'}")
            for status, what in p.not_sent.items():
                lines.append(f"  not sent, {status}: {what}")
            for label, (p50, p99, n) in p.latency_ms.items():
                lines.append(f"  ticket → worker push {label}: p50 {p50:.0f} ms, p99 {p99:.0f} ms "
                             f"({n} pushes)")
        return "\n".join(lines)


def _la(values: tuple[float, float, float]) -> str:
    return "/".join(f"{v:.2f}" for v in values)


# -- entry point ---------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])

    def ints(text: str) -> list[int]:
        return [int(x) for x in text.split(",") if x]

    parser.add_argument("--quick", action="store_true",
                        help="a check, not a measurement: 2 s at 8 connections, 1 process, "
                             "no half load, both modes")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per load point")
    parser.add_argument("--connections", type=ints, default=[1, 16, 64])
    parser.add_argument("--processes", type=ints, default=[1, 2])
    parser.add_argument("--modes", default="plain,safe", help="plain and/or safe (comma-separated)")
    parser.add_argument("--no-half", action="store_true", help="skip the half-load point")
    parser.add_argument("--floor", action="store_true",
                        help="also run the floor endpoint (bare + one Redis and one committed "
                             "PostgreSQL write) beside bare and gridbot")
    parser.add_argument("--client", choices=("wrk", "python"), default=None,
                        help="load generator (default: wrk when installed)")
    parser.add_argument("--residents", type=int, default=RESIDENTS)
    parser.add_argument("--max-rate", type=float, default=6000.0,
                        help="req/s gridbot's lists are sized for when the bare rate is unknown")
    parser.add_argument("--database-url", help="use this database (default: a private one)")
    parser.add_argument("--redis-url", help="use this EMPTY Redis db (default: a claimed one)")
    parser.add_argument("--pg-admin-url", default=PG_ADMIN_URL,
                        help="admin database for creating the private one (default %(default)s)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--serve", choices=("gridbot", "bare", "floor", "sandbox", "worker"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--settings-json", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.connections, args.processes, args.no_half = 2.0, [8], [1], True
        args.residents = min(args.residents, 100)
    if args.client is None:
        args.client = "wrk" if wrk_available() else "python"
    if args.client == "wrk" and not wrk_available():
        parser.error("wrk is not installed (Debian: apt-get install wrk); use --client python")
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    # One set of residents for the whole run: a resident of a later load point must not find
    # another resident's open ticket in their building (that draws the offer to join it).
    args.tag = secrets.token_hex(3)
    if not set(args.modes) <= {"plain", "safe"}:
        parser.error("--modes takes plain and/or safe")
    return args


def _loadavg() -> tuple[float, float, float]:
    return os.getloadavg()


def main(argv: list[str] | None = None) -> BenchReport | None:
    """Run the benchmark (or, with the internal ``--serve``, one server) and print the report."""
    args = parse_args(argv)
    if args.serve:
        serve(args.serve, args.port, json.loads(args.settings_json))
        return None
    report = BenchReport(client=args.client)
    print(f"POST /wechat benchmark: client {args.client}, {args.duration:.0f} s per load point, "
          f"connections {args.connections}{'' if args.no_half else ' + half load'}, processes "
          f"{args.processes}, modes {args.modes}, {args.residents} residents; "
          f"{os.cpu_count()} CPUs, load average {_la(_loadavg())}", flush=True)
    rng = random.Random(args.seed)
    ranges: dict[str, tuple[int, int]] = {}
    with bench_storage(args.database_url, args.redis_url, args.pg_admin_url) as storage, \
            tempfile.TemporaryDirectory(prefix="gridbot-bench-") as tmp:
        import_community(storage.database_url, args.residents)
        base = {"database_url": storage.database_url, "redis_url": storage.redis_url}
        with servers("sandbox", 1, base, Path(tmp) / "sandbox.log") as sandbox_url:
            for mode in args.modes:
                aes_key = ("".join(secrets.choice(string.ascii_letters + string.digits)
                                   for _ in range(43)) if mode == "safe" else None)
                overrides = settings_overrides(storage, aes_key, sandbox_url)
                settings = Settings(**overrides)
                simulator = WeChatSimulator(settings.wechat_token, settings.wechat_app_id, aes_key)
                with servers("worker", 1, overrides, Path(tmp) / f"worker-{mode}.log"):
                    for procs in args.processes:
                        try:
                            _run_block(args, mode, procs, overrides, simulator, storage, rng, tmp,
                                       report, ranges)
                        except RuntimeError as exc:  # a server that would not start, wrk failing
                            reason = f"{mode} {procs}p: {str(exc).splitlines()[0]}"
                            report.failures.append(reason)
                            print(f"  FAILED {reason}\n{exc}", flush=True)
                    if report.checks:
                        report.pushes = drain_and_count(storage, sandbox_url, ranges,
                                                        DRAIN_TIMEOUT_S)
    print(report.render(), flush=True)
    return report


def _run_block(args, mode: str, procs: int, overrides: dict, simulator: WeChatSimulator,
               storage: Storage, rng: random.Random, tmp: str, report: BenchReport,
               ranges: dict[str, tuple[int, int]]) -> None:
    """Every load point of both apps on ``procs`` processes in one mode."""
    bare_rps: dict[str, float] = {}
    for app in ("bare", "floor", "gridbot") if args.floor else ("bare", "gridbot"):
        log_path = Path(tmp) / f"{app}-{mode}-{procs}.log"
        with servers(app, procs, overrides, log_path) as url:
            points = [(c, str(c) + " conn", 0.0) for c in args.connections]
            if not args.no_half:
                points.append((HALF_LOAD_CONNECTIONS, "half", 0.0))
            full: dict[int, float] = {}
            load_before = _loadavg()
            for c, label, _ in points:
                target = None
                if label == "half":
                    if HALF_LOAD_CONNECTIONS not in full:
                        continue  # no flat-out figure at 16 connections to halve
                    target = full[HALF_LOAD_CONNECTIONS] / 2
                    label = f"half@{target:.0f}/s"
                point = LoadPoint(app, label, c, target_rps=target)
                point.load_before = load_before
                _warm_up(url, simulator)
                if app in ("bare", "floor"):  # a repeating list
                    per_conn = max(20, 2000 // c)
                else:  # never repeats: sized for more than the bare endpoint's rate
                    expected = target * 1.2 if target else bare_rps.get(label, args.max_rate) * 1.3
                    per_conn = int(expected * args.duration / c) + 20
                built = time.monotonic()
                lists = build_lists(simulator, c, per_conn, args.residents, rng, tag=args.tag)
                interval_ms = c / target * 1000 if target else 0.0
                repeat = app in ("bare", "floor")
                before_id = max_ticket_id(storage.database_url) if app == "gridbot" else 0
                directory = Path(tmp) / f"{app}-{mode}-{procs}-{c}-{len(report.points)}"
                directory.mkdir()
                if args.client == "wrk":
                    write_lists(lists, directory)
                    point.build_age_s = time.monotonic() - built
                    run_wrk(url, directory, point, args.duration, interval_ms, repeat)
                else:
                    point.build_age_s = time.monotonic() - built
                    run_python(url, lists, point, args.duration, interval_ms, repeat)
                judge_client(point)
                if label in (f"{HALF_LOAD_CONNECTIONS} conn",):
                    full[c] = point.rps
                if app == "bare":
                    bare_rps[label] = point.rps
                elif app == "gridbot":
                    checks = Checks(first_ticket_id=before_id)
                    checks.resent = resend_unanswered(url, lists, point, simulator)
                    check_point(lists, point, simulator, checks)
                    checks.last_ticket_id = max_ticket_id(storage.database_url)
                    checks.tickets = count_tickets(storage.database_url, before_id,
                                                   checks.last_ticket_id)
                    name = f"{mode} {procs}p {label}"
                    report.checks[name] = checks
                    ranges[name] = (before_id, checks.last_ticket_id)
                point.load_after = _loadavg()
                report.points.append((mode, procs, point))
                print(f"  {mode} {procs}p {app:<8}{label:<14} {point.rps:8.1f} req/s  "
                      f"p99 {point.p99:8.1f} ms  client CPU {point.client_cpu:4.0%}"
                      f"{'  REFUSED: ' + point.refused if point.refused else ''}", flush=True)
            if app == "gridbot" and any(c.non_200 for c in report.checks.values()):
                print(f"--- gridbot server log (tail) ---\n{_tail(log_path)}", flush=True)


def _warm_up(url: str, simulator: WeChatSimulator) -> None:
    """A few greetings from extra residents (no tickets), not measured."""
    tag = secrets.token_hex(3)
    with httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT_S, trust_env=False) as client:
        for i in range(8):
            delivery = simulator.text(f"oWarm{tag}{i:04d}", "你好")
            client.post("/wechat", params=delivery.params, content=delivery.body)


if __name__ == "__main__":
    result = main()
    sys.exit(0 if result is None or result.ok else 1)

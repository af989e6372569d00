"""Pushes under faults: worker SIGKILLed mid-relay, WeChat's API failing or hanging, Redis and
PostgreSQL going away under a running worker.

The fake WeChat API is the sandbox (bot/devtools/sandbox.py) served by uvicorn on a free port; it
counts what it delivered per recipient. The worker runs as `gridbot worker` in a subprocess
on a Redis server the test starts itself (``own_redis``) and the run's PostgreSQL database
(through ``pg_proxy`` where the database must go away). For each fault: pushes delivered,
duplicates (0), and the pushes kept "unknown" for staff (the documented limit: a send that
may have reached WeChat is not repeated).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlmodel import Session, col, select

from bot.devtools.sandbox import sandbox_router, serve_in_thread
from bot.push import Pusher
from bot.relay import relay_due
from bot.settings import Settings
from storage.models import Outbox, OutboxStatus
from storage.outbox import Recipient, add_push, requeue
from storage.times import FrozenClock, utcnow
from tests.conftest import BACKEND

needs_servers = pytest.mark.skipif(BACKEND == "sqlite",
                                   reason="the worker subprocess needs PostgreSQL and redis-server")

GRIDBOT = Path(sys.executable).with_name("gridbot")


# -- the fake WeChat API ----------------------------------------------------------------------

class FakeWeChat:
    """The sandbox over HTTP: inject faults, count deliveries per recipient."""

    def __init__(self, url: str) -> None:
        self.url = url

    @property
    def api(self) -> str:
        return f"{self.url}/sandbox/cgi-bin/"

    def fault(self, openid: str, **spec) -> None:
        httpx.post(f"{self.url}/sandbox/faults", json={"openid": openid, **spec}
                   ).raise_for_status()

    def delivered(self, recipient: str) -> list[dict]:
        return httpx.get(f"{self.url}/sandbox/inbox/{recipient}").json()["messages"]

    def counts(self, recipients: list[str]) -> dict[str, int]:
        return {r: len(self.delivered(r)) for r in recipients}

    def stats(self) -> dict[str, int]:
        return httpx.get(f"{self.url}/sandbox/stats").json()


@pytest.fixture
def wechat(redis) -> Iterator[FakeWeChat]:
    """A fresh fake WeChat API (state in the run's own, just emptied, Redis database)."""
    app = FastAPI()
    app.include_router(sandbox_router(redis), prefix="/sandbox")
    with serve_in_thread(app) as url:
        yield FakeWeChat(url)


# -- helpers ----------------------------------------------------------------------------------

def stage(engine, recipients: list[str], tag: str = "") -> dict[str, int]:
    """One pending push per recipient; {recipient: outbox id}."""
    with Session(engine) as session:
        rows = {r: add_push(session, to=Recipient("resident", None, r), event="push_ticket_status",
                            text=f"工单进度{tag} {r}") for r in recipients}
        session.flush()
        ids = {r: row.id for r, row in rows.items()}
        session.commit()
    return ids


def statuses(engine, ids: dict[str, int]) -> dict[str, str]:
    with Session(engine) as session:
        rows = session.exec(select(Outbox).where(col(Outbox.id).in_(list(ids.values())))).all()
        by_id = {row.id: row.status for row in rows}
    return {r: by_id[i] for r, i in ids.items()}


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str,
               worker: WorkerProcess | None = None) -> None:
    """Poll ``condition`` every 0.2 s; fail after ``timeout_s`` seconds (with the worker's
    log, if given)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            log = f"\nworker log:\n{worker.log()[-6000:]}" if worker else ""
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}{log}")
        time.sleep(0.2)


def nudge(redis_url: str, ids: list[int]) -> None:
    """Enqueue relay jobs as the webhook does after each commit: one job per change, here
    one change per push (residents' reports arriving together), so several are in flight."""
    from bot.queue import JobQueue
    from storage.redis import arq_pool

    async def go() -> None:
        pool = await arq_pool(redis_url)
        try:
            queue = JobQueue(pool)
            for outbox_id in ids:
                await queue.nudge([outbox_id])
        finally:
            await pool.aclose(close_connection_pool=True)

    asyncio.run(go())


class WorkerProcess:
    """`gridbot worker` in a subprocess; its log (stdout + stderr) goes to ``log_path``."""

    def __init__(self, env: dict[str, str], cwd: Path, log_path: Path) -> None:
        self.env, self.cwd, self.log_path = env, cwd, log_path
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([str(GRIDBOT), "worker"], env=self.env, cwd=self.cwd,
                                         stdout=log, stderr=subprocess.STDOUT)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@pytest.fixture
def start_worker(tmp_path: Path, postgres_url: str, wechat: FakeWeChat
                 ) -> Iterator[Callable[..., WorkerProcess]]:
    """``start_worker(redis_url, database_url=…, **GRIDBOT_settings)`` → a running worker
    process, stopped at teardown."""
    workers: list[WorkerProcess] = []

    def start(redis_url: str, database_url: str | None = None, **overrides: object
              ) -> WorkerProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDBOT_")}
        env.update({
            "GRIDBOT_DATABASE_URL": database_url or postgres_url,
            "GRIDBOT_REDIS_URL": redis_url,
            "GRIDBOT_WECHAT_API_BASE_URL": wechat.api,
            "GRIDBOT_TEMPLATE_IDS": '{"default": "TM-DEFAULT"}',
            "GRIDBOT_PUSH_LEASE_S": "3",
            "GRIDBOT_WECHAT_TIMEOUT_S": "10",
        })
        env.update({f"GRIDBOT_{k.upper()}": str(v) for k, v in overrides.items()})
        worker = WorkerProcess(env, tmp_path, tmp_path / f"worker-{len(workers)}.log")
        workers.append(worker)
        worker.start()
        return worker

    try:
        yield start
    finally:
        for worker in workers:
            worker.stop()


# -- worker SIGKILLed mid-relay ---------------------------------------------------------------

@needs_servers
def test_worker_killed_mid_relay_doubles_nothing_and_loses_nothing(
        clean_db, own_redis, wechat, start_worker):
    recipients = [f"kill-r{i}" for i in range(12)]
    for r in recipients:
        wechat.fault(r, delay_s=4)  # WeChat is slow: pushes are in flight for 4 s
    ids = stage(clean_db, recipients)
    nudge(own_redis.url, list(ids.values()))

    first = start_worker(own_redis.url)
    wait_until(lambda: list(statuses(clean_db, ids).values()).count("sending") >= 5, 40,
               "pushes in flight", first)
    first.kill9()
    killed_at = time.monotonic()
    in_flight = {r for r, s in statuses(clean_db, ids).items() if s == OutboxStatus.SENDING}

    second = start_worker(own_redis.url)

    def settled() -> bool:
        """Nothing pending or sending, and every push the first worker had not yet sent has
        its outcome. The second worker's own sends also take 4 s, longer than the test's
        3 s lease: the sweep may mark one "unknown" before its late outcome arrives and
        replaces the doubt (bot.relay's table), so a snapshot must wait for that outcome."""
        now = statuses(clean_db, ids)
        return (not {OutboxStatus.PENDING, OutboxStatus.SENDING} & set(now.values())
                and all(s == OutboxStatus.SENT for r, s in now.items() if r not in in_flight))

    wait_until(settled, 60, "every push settled", second)
    wait_until(lambda: time.monotonic() - killed_at > 5, 10, "WeChat's slow answers")  # 4 s
    final = statuses(clean_db, ids)
    delivered = wechat.counts(recipients)

    assert second.alive()
    assert max(delivered.values()) == 1, f"doubled: {delivered}"          # 0 doubled
    unknown = {r for r, s in final.items() if s == OutboxStatus.UNKNOWN}
    assert unknown and unknown <= in_flight, (unknown, in_flight)          # kept for staff
    assert {r for r, s in final.items() if s != OutboxStatus.UNKNOWN} == {
        r for r, s in final.items() if s == OutboxStatus.SENT}
    for r, status in final.items():
        if status == OutboxStatus.SENT:
            assert delivered[r] == 1                                       # 0 lost
    assert set(recipients) - in_flight <= {r for r, s in final.items() if s == "sent"}
    assert "was in flight when its relay stopped" in second.log()


# -- WeChat's API failing ---------------------------------------------------------------------

CASES = {
    # fault on the first send to each recipient: (expected status, delivered, channel)
    "http_500": ({"status": 500}, OutboxStatus.UNKNOWN, 0, None),
    "errcode_-1": ({"errcode": -1}, OutboxStatus.SENT, 1, "custom"),
    "errcode_45015": ({"errcode": 45015, "api": "custom"}, OutboxStatus.SENT, 1, "template"),
    "errcode_40001": ({"errcode": 40001}, OutboxStatus.SENT, 1, "custom"),
    "hanging": ({"delay_s": 2}, OutboxStatus.UNKNOWN, 1, None),
}


@pytest.mark.parametrize("case", list(CASES))
def test_wechat_api_faults_deliver_at_most_once(clean_db, redis, wechat, case):
    fault, expected, delivered_each, channel = CASES[case]
    settings = Settings(_env_file=None, wechat_api_base_url=wechat.api,
                        template_ids={"default": "TM-DEFAULT"}, wechat_timeout_s=0.5)
    pusher = Pusher(settings, redis)
    clock = FrozenClock(utcnow() + timedelta(seconds=1))
    recipients = [f"{case}-r{i}" for i in range(5)]
    for r in recipients:
        wechat.fault(r, **fault)
    ids = stage(clean_db, recipients)

    for _ in range(4):  # the first try, then retries after their backoff (30 s, 60 s, …)
        relay_due(clean_db, pusher, clock, lease_s=60)
        clock.advance(3600)
    if case == "hanging":  # WeChat finishes the sends the relay gave up waiting for
        wait_until(lambda: all(wechat.counts(recipients).values()), 15, "late deliveries")

    final = statuses(clean_db, ids)
    delivered = wechat.counts(recipients)
    assert set(final.values()) == {expected}
    assert set(delivered.values()) == {delivered_each}    # duplicates: 0
    with Session(clean_db) as session:
        rows = [session.get(Outbox, i) for i in ids.values()]
    if channel:
        assert {row.channel for row in rows} == {channel}
    if case == "errcode_-1":
        assert {row.attempts for row in rows} == {2}
    if case == "errcode_40001":  # one refresh per refused send, retried at once
        assert {row.attempts for row in rows} == {1}
        assert wechat.stats()["custom_send"] == 10
    if expected == OutboxStatus.UNKNOWN:
        assert {row.attempts for row in rows} == {1}       # never resent by the relay
        assert all(row.last_error.startswith("in doubt") for row in rows)
        # The documented limit: staff re-queue after checking; a push that did arrive
        # (the hanging case) would then arrive twice.
        with Session(clean_db) as session:
            requeue(session, clock(), ids=list(ids.values()))
            session.commit()
        relay_due(clean_db, pusher, clock, lease_s=60)
        assert set(statuses(clean_db, ids).values()) == {OutboxStatus.SENT}
        assert set(wechat.counts(recipients).values()) == {delivered_each + 1}


# -- Redis and PostgreSQL going away under a running worker -----------------------------------

def all_sent(engine, ids: dict[str, int]) -> Callable[[], bool]:
    return lambda: set(statuses(engine, ids).values()) == {OutboxStatus.SENT}


@needs_servers
def test_worker_outlives_a_redis_restart(clean_db, own_redis, wechat, start_worker):
    worker = start_worker(own_redis.url)
    before = stage(clean_db, ["redis-a", "redis-b"], " before")
    nudge(own_redis.url, list(before.values()))
    wait_until(all_sent(clean_db, before), 30, "pushes before the restart", worker)

    own_redis.kill()
    during = stage(clean_db, ["redis-a", "redis-b", "redis-c"], " during")  # no nudge: Redis is down
    wait_until(lambda: worker.log().count("Redis unavailable") >= 2, 30, "reconnection attempts", worker)
    own_redis.start()  # empty: the queue, the nudges and the shared token are gone
    wait_until(all_sent(clean_db, during), 60, "pushes written while Redis was down", worker)

    assert worker.alive()
    assert wechat.counts(["redis-a", "redis-b", "redis-c"]) == {
        "redis-a": 2, "redis-b": 2, "redis-c": 1}
    log = worker.log()
    assert "reconnecting in" in log
    assert log.count("worker connected") >= 2
    assert "Traceback" not in log


@needs_servers
def test_worker_waits_for_redis_down_at_start(clean_db, own_redis, wechat, start_worker):
    own_redis.kill()
    ids = stage(clean_db, ["late-redis"])
    worker = start_worker(own_redis.url)
    wait_until(lambda: "Redis unavailable" in worker.log(), 30, "a reconnection attempt", worker)
    assert worker.alive()
    own_redis.start()
    wait_until(all_sent(clean_db, ids), 60, "the push once Redis is up", worker)
    assert wechat.counts(["late-redis"]) == {"late-redis": 1}


@needs_servers
def test_worker_outlives_a_database_outage(clean_db, own_redis, wechat, start_worker, pg_proxy):
    proxy, proxied_url = pg_proxy
    proxy.cut()  # down at start
    worker = start_worker(own_redis.url, database_url=proxied_url, db_connect_timeout_s=1)
    wait_until(lambda: "the database unavailable" in worker.log(), 30, "a reconnection attempt", worker)
    assert worker.alive()
    proxy.restore()
    first = stage(clean_db, ["pg-a"], " first")
    wait_until(all_sent(clean_db, first), 60, "the push once the database is up", worker)

    proxy.cut()  # goes away while the worker runs
    wait_until(lambda: worker.log().count("the database unavailable") >= 2, 40,
               "the watchdog noticing", worker)
    second = stage(clean_db, ["pg-a", "pg-b"], " second")  # written meanwhile, directly
    proxy.restore()
    wait_until(all_sent(clean_db, second), 60, "pushes written during the outage", worker)
    assert worker.alive()
    assert wechat.counts(["pg-a", "pg-b"]) == {"pg-a": 2, "pg-b": 1}
    assert "Traceback" not in worker.log()  # one line per failure


@needs_servers
def test_worker_exits_2_with_one_line_on_a_configuration_error(own_redis, postgres_url,
                                                              start_worker):
    missing = postgres_url.rsplit("/", 1)[0] + "/gridbot_no_such_database"
    worker = start_worker(own_redis.url, database_url=missing)
    assert worker.proc.wait(60) == 2
    log = worker.log()
    assert "Traceback" not in log
    [line] = [x for x in log.splitlines() if x.startswith("gridbot:")]
    assert "GRIDBOT_DATABASE_URL" in line and "does not exist" in line

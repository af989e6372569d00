"""The inbox under faults: Redis killed, frozen or flushed mid-stream, PostgreSQL unreachable.

For each: every inbound message is kept (in PostgreSQL, or spooled and handled when the
database returns), no ticket is doubled by WeChat's retries, and no reply claims a message
was recorded when it was not.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from services.messages import msg
from storage.models import InboundMessage, Outbox, Ticket
from tests.conftest import BACKEND

pytestmark = pytest.mark.skipif(BACKEND == "sqlite", reason="kills and cuts real servers")


def _count(engine, model) -> int:
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(model)).one()


PROBLEMS = ("楼道灯不亮了", "厨房下水道堵了", "家里暖气不热")


def _report(chat, n: int) -> str:
    """Resident n reports a problem; no two of 36 share building and category (no
    duplicate-ticket offer)."""
    building, problem = n % 12 + 1, PROBLEMS[n // 12 % 3]
    return chat.say(f"fault-r{n}", f"{building}号楼1单元{100 + n}，{problem}")


def test_redis_killed_mid_stream_loses_and_doubles_nothing(make_chat, own_redis):
    chat = make_chat(redis_url=own_redis.url)
    replies = [_report(chat, n) for n in range(10)]
    own_redis.kill()
    for n in range(10, 20):
        replies.append(_report(chat, n))
        assert chat.retry_last() == replies[-1]  # WeChat's retry: the database answers
    own_redis.start()
    replies += [_report(chat, n) for n in range(20, 30)]
    assert [r for r in replies if "已为您登记" not in r] == []
    assert _count(chat.engine, InboundMessage) == 30
    assert _count(chat.engine, Ticket) == 30
    numbers = {t.number for t in chat.tickets()}
    assert len(numbers) == 30


def test_frozen_redis_answers_within_wechats_deadline(make_chat, own_redis):
    chat = make_chat(redis_url=own_redis.url)
    own_redis.freeze()
    try:
        for n in range(3):
            started = time.monotonic()
            assert "已为您登记" in _report(chat, n)
            # WeChat gives up after 5 s: a frozen Redis costs one timeout, not a hang
            assert time.monotonic() - started < 4.0
    finally:
        own_redis.thaw()
    assert _count(chat.engine, Ticket) == 3


def test_flushed_redis_between_report_and_address_keeps_the_report(make_chat, own_redis):
    chat = make_chat(redis_url=own_redis.url)
    assert chat.say("fault-flush", "厨房下水道堵了") == msg("ask_address")
    own_redis.flush()
    reply = chat.say("fault-flush", "3号楼2单元501")
    assert "已为您登记" in reply
    (ticket,) = chat.tickets()
    assert ticket.description == "厨房下水道堵了"


def test_postgres_unreachable_spools_and_handles_on_return(make_chat, pg_proxy):
    proxy, url = pg_proxy
    chat = make_chat(database_url=url)
    inbox = chat.client.app.state.inbox
    assert "已为您登记" in _report(chat, 1)
    proxy.cut()
    queued = _report(chat, 2)
    assert queued == msg("busy_queued")  # honest: queued, not "recorded"
    assert chat.retry_last() == queued  # the retry is not queued twice
    assert _count(chat.engine, Ticket) == 1
    proxy.restore()
    assert inbox.drain_spool() == 1
    assert inbox.drain_spool() == 0
    tickets = chat.tickets()
    assert len(tickets) == 2
    (push,) = [p for p in chat.pushes("fault-r2") if p.event == "queued_reply"]
    assert tickets[1].number in push.text
    assert chat.retry_last() == queued  # a late retry makes nothing new
    assert _count(chat.engine, Ticket) == 2
    assert _count(chat.engine, InboundMessage) == 2


def test_postgres_and_redis_down_spool_to_a_local_file(make_chat, pg_proxy, own_redis, tmp_path):
    proxy, url = pg_proxy
    chat = make_chat(database_url=url, redis_url=own_redis.url, spool_dir=str(tmp_path / "spool"))
    inbox = chat.client.app.state.inbox
    proxy.cut()
    own_redis.kill()
    assert _report(chat, 3) == msg("busy_queued")
    assert list((tmp_path / "spool").glob("inbound-*.jsonl"))
    proxy.restore()
    own_redis.start()
    assert inbox.drain_spool() == 1
    assert not list((tmp_path / "spool").glob("inbound-*"))
    assert _count(chat.engine, Ticket) == 1


def test_nothing_kept_means_no_cached_error_and_the_retry_is_handled(make_chat, pg_proxy,
                                                                      own_redis, tmp_path):
    proxy, url = pg_proxy
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    chat = make_chat(database_url=url, redis_url=own_redis.url, spool_dir=str(blocker / "spool"))
    proxy.cut()
    own_redis.kill()
    assert _report(chat, 4) == msg("busy_not_kept")  # neither database, Redis nor disk
    assert _count(chat.engine, InboundMessage) == 0
    proxy.restore()
    own_redis.start()
    assert "已为您登记" in chat.retry_last()  # WeChat's retry after recovery is handled
    assert _count(chat.engine, Ticket) == 1


@pytest.mark.parametrize("redis_down", [False, True])
def test_a_replayed_plaintext_url_with_a_forged_body_is_refused(make_chat, own_redis, redis_down):
    chat = make_chat(redis_url=own_redis.url)
    report = chat.sim.text("fault-victim", "3号楼2单元501，楼道灯坏了")
    assert chat.post(report).status_code == 200
    if redis_down:
        own_redis.kill()
    forged = chat.sim.text("worker-g1", "我的任务")
    response = chat.client.post("/wechat", params=report.params, content=forged.body)
    assert response.status_code == 403
    assert _count(chat.engine, InboundMessage) == 1
    with Session(chat.engine) as s:  # the worker got the real task, nothing else
        pushes = s.exec(select(Outbox).where(Outbox.openid == "worker-g1")).all()
    assert [p.event for p in pushes] == ["task_assigned"]


def test_frozen_postgres_is_answered_within_the_deadline_and_replied_once(make_chat, pg_proxy):
    proxy, url = pg_proxy
    chat = make_chat(database_url=url, webhook_deadline_s=1.5)
    inbox = chat.client.app.state.inbox
    assert "已为您登记" in _report(chat, 5)
    proxy.stall()  # connections stay open, nothing moves: statement timeouts cannot fire
    started = time.monotonic()
    try:
        assert _report(chat, 6) == msg("busy_queued")
        assert time.monotonic() - started < 4.0  # inside WeChat's 5 s
    finally:
        proxy.unstall()
    deadline = time.monotonic() + 20  # the stuck handling goes on and commits
    while _count(chat.engine, Ticket) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _count(chat.engine, Ticket) == 2
    assert inbox.drain_spool() == 1  # already handled: its reply is pushed, nothing redone
    assert inbox.drain_spool() == 0
    (push,) = [p for p in chat.pushes("fault-r6") if p.event == "queued_reply"]
    assert chat.tickets()[1].number in push.text
    assert _count(chat.engine, Ticket) == 2


def test_a_statement_timeout_is_not_an_outage(pg_proxy):
    """A query cancelled by statement_timeout would time out again from the spool; a
    refused connection is an outage worth spooling for."""
    from sqlalchemy import text

    from bot.inbox import database_unavailable
    from storage.db import make_engine

    proxy, url = pg_proxy
    engine = make_engine(url, connect_timeout_s=1, statement_timeout_ms=50)
    try:
        with pytest.raises(Exception) as slow, engine.connect() as conn:
            conn.execute(text("SELECT pg_sleep(1)"))
        assert not database_unavailable(slow.value)
        proxy.cut()
        engine.dispose()
        with pytest.raises(Exception) as down, engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        assert database_unavailable(down.value)
    finally:
        proxy.restore()
        engine.dispose()

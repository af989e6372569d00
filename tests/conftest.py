"""Shared fixtures: real PostgreSQL and Redis, one private database and Redis db per run.

Several test runs may share this machine's servers (developers, CI), and other people's
data may live there, so a run touches only what it created:

- PostgreSQL: the run creates its own database (``gridbot_test_<random>``) and drops it.
- Redis: the run claims a logical database (1–15, or ``GRIDBOT_TEST_REDIS_DB``) only if it is
  *empty*, atomically, by writing an owner key into it (a Lua script: DBSIZE == 0 → SET).
  Everything in that database was then written by this run; clearing it between tests keeps
  the owner key, and the run empties it and removes the key at the end. A database holding
  any key — someone else's data or another run's claim — is never touched.

Set GRIDBOT_TEST_BACKEND=sqlite to run on SQLite + memory:// instead.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
import traceback
import uuid
from collections.abc import Iterator

import psycopg
import pytest
import redis as redis_lib
from sqlalchemy import Engine, event
from sqlmodel import Session, SQLModel

from storage.db import create_schema, make_engine

PG_ADMIN_DSN = os.environ.get("GRIDBOT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_BASE = os.environ.get("GRIDBOT_TEST_REDIS", "redis://127.0.0.1:6379")
BACKEND = os.environ.get("GRIDBOT_TEST_BACKEND", "real")

pytest_plugins = ["tests.chat"]  # the demo community and the ``chat`` conversation fixtures


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a fresh PostgreSQL database for this test run (dropped afterwards)."""
    if BACKEND == "sqlite":
        path = f"/tmp/gridbot-test-{uuid.uuid4().hex[:8]}.db"
        yield f"sqlite:///{path}"
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
        return
    name = f"gridbot_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_DSN.rsplit("/", 1)[0]
    yield f"{base.replace('postgresql://', 'postgresql+psycopg://')}/{name}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


OWNER_KEY = "gridbot-test:owner"
_CLAIM_EMPTY = """
if redis.call('DBSIZE') == 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
  return 1
end
return 0
"""
_CLEAR_OWNED = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('FLUSHDB')
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
"""
CLAIM_TTL_S = 4 * 3600


_TAKE_ABANDONED = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('FLUSHDB')
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1
"""


def _abandoned(owner: bytes | None) -> bool:
    """Whether an owner token names a test run of this host whose process is gone (killed
    before its clean-up: a timeout, SIGKILL). Tokens are "<host>:<pid>:<random>"; anything
    else — another host's run, an unknown format, a live process — is never taken."""
    parts = (owner or b"").decode(errors="replace").split(":")
    if len(parts) != 3 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _claim_redis_db() -> tuple[int, str]:
    """Claim an empty logical database; (db, owner token). Fails the run when none is free.

    When none is empty, a database claimed by a test run of this host that died before its
    clean-up (its owner key names a process that no longer exists) is taken over: everything
    in it was written by that run (the claim rule), so it is emptied and claimed atomically
    (compare-and-swap on the owner key)."""
    token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex}"
    pinned = os.environ.get("GRIDBOT_TEST_REDIS_DB")
    candidates = [int(pinned)] if pinned else range(1, 16)
    for take_abandoned in (False, True):
        for db in candidates:
            client = redis_lib.Redis.from_url(f"{REDIS_BASE}/{db}")
            try:
                if client.eval(_CLAIM_EMPTY, 1, OWNER_KEY, token, CLAIM_TTL_S):
                    return db, token
                owner = client.get(OWNER_KEY)
                if take_abandoned and _abandoned(owner) and client.eval(
                        _TAKE_ABANDONED, 1, OWNER_KEY, owner, token, CLAIM_TTL_S):
                    return db, token
            finally:
                client.close()
    pytest.fail(f"no empty Redis logical database among {list(candidates)} at {REDIS_BASE}; "
                "tests never write into a database holding data they did not create")


def clear_owned_redis(client: redis_lib.Redis, token: str) -> None:
    """Empty the run's own Redis database, keeping its owner key; fails if the claim was lost."""
    if not client.eval(_CLEAR_OWNED, 1, OWNER_KEY, token, CLAIM_TTL_S):
        pytest.fail("the test Redis database is no longer owned by this run")


@pytest.fixture(scope="session")
def redis_owner() -> Iterator[tuple[str, str | None]]:
    """(URL of the Redis database this run owns, owner token), or (memory://…, None)."""
    if BACKEND == "sqlite":
        yield f"memory://test-{uuid.uuid4().hex[:8]}", None
        return
    db, token = _claim_redis_db()
    url = f"{REDIS_BASE}/{db}"
    yield url, token
    client = redis_lib.Redis.from_url(url)
    if client.get(OWNER_KEY) == token.encode():
        client.flushdb()  # everything in it was written by this run
    client.close()


@pytest.fixture(scope="session")
def redis_url(redis_owner: tuple[str, str | None]) -> str:
    """URL of the Redis logical database claimed for this run, or memory://."""
    return redis_owner[0]


@pytest.fixture
def flush_redis(redis_owner: tuple[str, str | None]):
    """Callable emptying the run's own Redis database (as a Redis flush in production would),
    keeping the claim."""
    from storage.redis import sync_client

    url, token = redis_owner

    def flush() -> None:
        client = sync_client(url)
        if token is None:
            client.flushdb()  # the run's private in-process server
        else:
            clear_owned_redis(client, token)

    return flush


@pytest.fixture(scope="session")
def engine(postgres_url: str) -> Iterator[Engine]:
    eng = make_engine(postgres_url)
    create_schema(eng)
    yield eng
    eng.dispose()


def _idle_in_transaction(engine: Engine) -> list[str]:
    """The last statement of each connection of this database left idle in a transaction."""
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT left(query, 200) FROM pg_stat_activity WHERE datname = current_database() "
            "AND state = 'idle in transaction'").all()
    return [row[0] for row in rows]


def _truncate(engine: Engine) -> None:
    tables = list(reversed(SQLModel.metadata.sorted_tables))
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            # a connection the test left "idle in transaction" (a leaked session) would hold
            # its locks for ever: fail loudly, naming it, instead of hanging the run
            conn.exec_driver_sql("SET LOCAL lock_timeout = '15s'")
            try:
                conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
            except Exception as exc:
                raise RuntimeError(
                    "cleaning the test database timed out: a connection was left idle in a "
                    f"transaction (a session not closed): {_idle_in_transaction(engine)}") from exc
            # the per-day number sequences (storage.tickets.next_number) start again too
            for (seq,) in conn.exec_driver_sql(
                    "SELECT sequencename FROM pg_sequences WHERE sequencename LIKE 'gridbot_seq_%%'"):
                conn.exec_driver_sql(f'DROP SEQUENCE "{seq}"')
        else:
            for t in tables:
                conn.execute(t.delete())


@pytest.fixture
def clean_db(engine: Engine) -> Engine:
    """The run's engine with every table emptied."""
    _truncate(engine)
    return engine


@pytest.fixture
def session(clean_db: Engine) -> Iterator[Session]:
    """A session on an empty schema."""
    with Session(clean_db, expire_on_commit=False) as s:
        yield s


@pytest.fixture
def redis(redis_url: str, flush_redis) -> redis_lib.Redis:
    """A synchronous client of the run's own Redis database, emptied first."""
    from storage.redis import sync_client

    flush_redis()
    return sync_client(redis_url)


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """CLI commands run in-process configure logging (bot.logs.configure: a stderr handler on
    the root logger); put the root logger back after each test so a handler bound to one
    test's captured stderr never writes into the next test's output."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


def wait_for_redis(port: int, timeout_s: float = 10.0) -> None:
    """Return once a Redis (or sentinel) on 127.0.0.1:``port`` answers PING; raises
    RuntimeError after ``timeout_s`` seconds."""
    client = redis_lib.Redis(port=port, socket_connect_timeout=0.2)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(redis_lib.RedisError):
            if client.ping():
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing answers PING on port {port}")


@contextlib.contextmanager
def counting(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements ``engine`` sends inside the block, one round trip each (SQLAlchemy's
    ``before_cursor_execute``). With RT_TRACE=1 each carries where it came from and its
    parameters."""
    statements: list[str] = []
    trace = bool(os.environ.get("RT_TRACE"))

    def before(conn, cursor, statement, parameters, context, executemany):
        if trace:
            frames = [f for f in traceback.extract_stack() if ".venv" not in f.filename
                      and any(f"/{p}/" in f.filename for p in ("bot", "handlers", "storage"))]
            statement += " <- " + " < ".join(f"{f.filename.split('/')[-1]}:{f.lineno}:{f.name}"
                                             for f in frames[-3:][::-1]) + str(parameters)[:150]
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)

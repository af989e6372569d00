"""Shared fixtures: real PostgreSQL and Redis, one private database and Redis db per run.

Several test runs may share this machine's servers (developers, CI), so a run creates its
own PostgreSQL database and claims a free Redis logical database (1–15) with a lock key in
db 0. Set GRIDBOT_TEST_BACKEND=sqlite to run on SQLite + memory:// instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
import redis as redis_lib
from sqlalchemy import Engine
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


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """URL of a Redis logical database claimed for this run (1–15), or memory://."""
    if BACKEND == "sqlite":
        yield f"memory://test-{uuid.uuid4().hex[:8]}"
        return
    admin = redis_lib.Redis.from_url(f"{REDIS_BASE}/0")
    token = uuid.uuid4().hex
    for db in range(1, 16):
        if admin.set(f"gridbot-test-claim:{db}", token, nx=True, ex=3600):
            break
    else:  # pragma: no cover - needs 15 parallel runs
        pytest.fail("no free Redis logical database for tests")
    yield f"{REDIS_BASE}/{db}"
    if admin.get(f"gridbot-test-claim:{db}") == token.encode():
        admin.delete(f"gridbot-test-claim:{db}")


@pytest.fixture(scope="session")
def engine(postgres_url: str) -> Iterator[Engine]:
    eng = make_engine(postgres_url)
    create_schema(eng)
    yield eng
    eng.dispose()


def _truncate(engine: Engine) -> None:
    tables = list(reversed(SQLModel.metadata.sorted_tables))
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
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
def redis(redis_url: str) -> redis_lib.Redis:
    """A flushed synchronous client of the run's Redis database."""
    from storage.redis import sync_client

    client = sync_client(redis_url)
    client.flushdb()
    return client

"""Ticket numbers are per local day and unique under concurrency; migrations match models."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import psycopg
from sqlmodel import Session

from storage import migrate
from storage.db import make_engine
from storage.tickets import next_number
from tests.conftest import BACKEND, PG_ADMIN_DSN


def test_numbers_follow_the_shanghai_day(session):
    evening_utc = datetime(2026, 11, 22, 15, 59, tzinfo=UTC)  # 23:59 in Shanghai
    assert next_number(session, "GD", evening_utc) == "GD20261122-0001"
    assert next_number(session, "GD", evening_utc) == "GD20261122-0002"
    after_midnight = datetime(2026, 11, 22, 16, 1, tzinfo=UTC)  # 00:01 on the 23rd
    assert next_number(session, "GD", after_midnight) == "GD20261123-0001"


def test_concurrent_numbering_never_repeats(clean_db):
    now = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
    numbers: list[str] = []
    barrier = threading.Barrier(12)

    def take() -> None:
        barrier.wait()
        with Session(clean_db) as s:
            numbers.append(next_number(s, "GD", now))
            s.commit()

    threads = [threading.Thread(target=take) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(numbers) == [f"GD20261122-{i:04d}" for i in range(1, 13)]


def test_migrations_build_exactly_the_models(tmp_path):
    if BACKEND == "sqlite":
        url = f"sqlite:///{tmp_path}/m.db"
    else:
        name = "gridbot_mig_" + tmp_path.name[-8:].replace("-", "_").lower()
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        url = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/" + name
    try:
        migrate.upgrade(url)
        assert migrate.pending_changes(url) == []
        engine = make_engine(url)  # the migrated database numbers tickets (per-day sequence)
        now = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
        with Session(engine) as s:
            assert [next_number(s, "GD", now) for _ in range(2)] == ["GD20261122-0001",
                                                                   "GD20261122-0002"]
            s.commit()
        engine.dispose()
    finally:
        if BACKEND != "sqlite":
            with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

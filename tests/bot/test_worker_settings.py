"""The worker is arq's WorkerSettings: resources built in on_startup, closed in on_shutdown."""

from __future__ import annotations

import asyncio

import arq.worker
import pytest

from bot import worker
from bot.settings import Settings
from storage.times import utcnow


def test_worker_settings_list_every_job_and_the_hooks():
    kwargs = arq.worker.get_kwargs(worker.WorkerSettings)
    assert kwargs["on_startup"] is worker.startup and kwargs["on_shutdown"] is worker.shutdown
    names = {f.name for f in kwargs["functions"]}
    assert {"relay"} <= names and len(kwargs["cron_jobs"]) >= 1


def test_startup_builds_and_shutdown_closes(postgres_url, clean_db, redis_url):
    settings = Settings(_env_file=None, database_url=postgres_url, redis_url=redis_url)
    ctx = worker.build_context(settings, utcnow)
    assert ctx["engine"] is None  # nothing is built or connected before on_startup

    asyncio.run(worker.startup(ctx))
    engine, pusher, client = ctx["engine"], ctx["pusher"], ctx["sync_redis"]
    assert pusher.official is not None and client.ping()
    assert engine.pool.checkedin() == 1  # the database check's connection, pooled
    real_redis = not redis_url.startswith("memory://")  # fakeredis keeps a fake socket
    [connection] = client.connection_pool._available_connections
    assert connection._sock is not None

    asyncio.run(worker.shutdown(ctx))
    assert not {"engine", "pusher", "sync_redis"} & set(ctx)
    assert engine.pool.checkedin() == 0  # disposed
    if real_redis:
        assert connection._sock is None  # disconnected


def test_a_shared_engine_is_used_and_left_open(postgres_url, clean_db, redis_url):
    settings = Settings(_env_file=None, database_url=postgres_url, redis_url=redis_url)
    ctx = worker.build_context(settings, utcnow, clean_db)
    asyncio.run(worker.startup(ctx))
    asyncio.run(worker.shutdown(ctx))
    assert ctx["engine"] is clean_db  # `gridbot serve` shares its engine: not disposed
    with clean_db.connect() as conn:
        assert conn.exec_driver_sql("SELECT 1").scalar() == 1


def test_startup_raises_when_the_database_is_down_and_shutdown_still_cleans_up(redis_url):
    settings = Settings(_env_file=None, database_url="postgresql+psycopg://nobody@127.0.0.1:1/none",
                        redis_url=redis_url)
    ctx = worker.build_context(settings, utcnow)
    with pytest.raises(worker.DB_DOWN):
        asyncio.run(worker.startup(ctx))
    asyncio.run(worker.shutdown(ctx))
    assert not {"engine", "pusher", "sync_redis"} & set(ctx)

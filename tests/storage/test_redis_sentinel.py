"""Redis Sentinel URLs (storage/redis.py): parsed into sentinels, service and master, and
followed to the real master by the sync, asyncio and arq clients (a redis-server and a
sentinel the test starts on free ports)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import pytest
import redis as redis_lib

from bot.devtools.sandbox import free_port
from storage.redis import arq_pool, async_client, sentinel_parts, sync_client
from tests.conftest import BACKEND, wait_for_redis


def test_sentinel_urls_name_sentinels_service_and_master():
    sentinels, service, master = sentinel_parts(
        "redis+sentinel://:s%40cret@10.0.0.1:26380,10.0.0.2/gridbot/3")
    assert sentinels == [("10.0.0.1", 26380), ("10.0.0.2", 26379)]
    assert service == "gridbot"
    assert master == {"db": 3, "username": None, "password": "s@cret"}
    with pytest.raises(ValueError, match="service"):
        sentinel_parts("redis+sentinel://10.0.0.1:26379")


@pytest.mark.skipif(BACKEND == "sqlite" or not shutil.which("redis-server"),
                    reason="needs redis-server")
def test_clients_find_the_master_through_the_sentinel(tmp_path: Path):
    master_port, sentinel_port = free_port(), free_port()
    config = tmp_path / "sentinel.conf"
    config.write_text(f"port {sentinel_port}\nbind 127.0.0.1\n"
                      f"sentinel monitor gridbot 127.0.0.1 {master_port} 1\n")
    procs = [subprocess.Popen(["redis-server", "--port", str(master_port), "--bind", "127.0.0.1",
                               "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        wait_for_redis(master_port)
        procs.append(subprocess.Popen(["redis-server", str(config), "--sentinel"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_for_redis(sentinel_port)
        url = f"redis+sentinel://127.0.0.1:{sentinel_port}/gridbot/2"
        sync_client(url).set("gridbot-test:k", "v")
        assert redis_lib.Redis(port=master_port, db=2).get("gridbot-test:k") == b"v"

        async def via_async() -> tuple[bytes, str]:
            client = async_client(url)
            value = await client.get("gridbot-test:k")
            pool = await arq_pool(url)
            job = await pool.enqueue_job("relay", 1, _job_id="sentinel-test")
            await pool.aclose()
            await client.aclose()
            return value, job.job_id

        assert asyncio.run(via_async()) == (b"v", "sentinel-test")
        assert redis_lib.Redis(port=master_port, db=2).exists("arq:job:sentinel-test")
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(10)

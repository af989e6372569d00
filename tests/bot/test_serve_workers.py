"""`gridbot serve --workers 2`: two web processes on one port, on PostgreSQL and Redis.

A real `gridbot serve --demo` in a subprocess answers signed, encrypted deliveries from both of its
processes (told apart by /healthz's pid, asked on the same keep-alive connection as the
delivery), a WeChat retry answered by the other process gets the same reply and makes no
second row, every process mounts the --demo sandbox, and the processes log through the
secret filters. The embedded default refuses
``--workers 2`` in one line."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, func, select

from bot.devtools.sandbox import free_port
from bot.devtools.simulator import Delivery, WeChatSimulator
from bot.settings import DEMO_APP_ID, DEV_TOKEN
from storage.models import InboundMessage
from tests.chat import AES_KEY
from tests.conftest import BACKEND

GRIDBOT = Path(sys.executable).with_name("gridbot")
MAX_CONNECTIONS = 200
"""Fresh connections tried before giving up on seeing both processes (the kernel spreads
accepts over the processes; two are met within a few connections)."""


def _env(**gridbot: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDBOT_")}
    return env | {f"GRIDBOT_{k.upper()}": v for k, v in gridbot.items()}


@pytest.fixture
def server(clean_db, postgres_url, redis_url, flush_redis,
           tmp_path) -> Iterator[tuple[str, subprocess.Popen, Path]]:
    """(base URL, the `gridbot serve --workers 2` process, its log file)."""
    flush_redis()
    port = free_port()
    log_path = tmp_path / "serve.log"
    env = _env(database_url=postgres_url, redis_url=redis_url, wechat_aes_key=AES_KEY)
    with log_path.open("w") as log:
        proc = subprocess.Popen([str(GRIDBOT), "serve", "--workers", "2", "--demo", "--no-history",
                                 "--no-migrate", "--port", str(port)],
                                cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        yield f"http://127.0.0.1:{port}", proc, log_path
    finally:
        if proc.poll() is None:
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # the session this test started, workers included
        proc.wait(timeout=10)


def _wait_until_up(base: str, proc: subprocess.Popen, log_path: Path, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, log_path.read_text()
        try:
            if httpx.get(f"{base}/healthz", timeout=2, trust_env=False).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("gridbot serve --workers 2 did not start:\n" + log_path.read_text())


def _post(base: str, delivery: Delivery) -> tuple[int, httpx.Response]:
    """POST one delivery on a fresh connection; (pid of the process that took it, response)."""
    with httpx.Client(base_url=base, timeout=10, trust_env=False) as http:
        response = http.post("/wechat", params=delivery.params, content=delivery.body)
        pid = http.get("/healthz").json()["pid"]  # same keep-alive connection, same process
        assert http.get("/sandbox/stats").status_code == 200  # --demo reached this process
    return pid, response


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


@pytest.mark.skipif(BACKEND == "sqlite", reason="--workers 2 needs PostgreSQL and Redis")
def test_two_processes_answer_and_share_retries(server, clean_db):
    base, proc, log_path = server
    _wait_until_up(base, proc, log_path)
    sim = WeChatSimulator(DEV_TOKEN, DEMO_APP_ID, AES_KEY)
    served: dict[int, Delivery] = {}
    replies: dict[int, str] = {}
    sent = 0
    while len(served) < 2 and sent < MAX_CONNECTIONS:
        delivery = sim.text(f"o-resident-{sent}", "你好")
        pid, response = _post(base, delivery)
        sent += 1
        assert response.status_code == 200
        replies[pid] = sim.reply_text(response.content)
        assert replies[pid], response.text
        served.setdefault(pid, delivery)
    assert len(served) == 2, f"only process {list(served)} answered {sent} connections"
    assert {_parent(pid) for pid in served} == {proc.pid}  # both are workers of this serve

    first_pid, first = next(iter(served.items()))
    for _ in range(MAX_CONNECTIONS):  # WeChat's retry, until the other process takes it
        pid, response = _post(base, sim.retry(first))
        assert sim.reply_text(response.content) == replies[first_pid]
        if pid != first_pid:
            break
    else:
        raise AssertionError("the retry never reached the other process")
    with Session(clean_db) as session:
        assert session.exec(select(func.count()).select_from(InboundMessage)).one() == sent

    proc.terminate()
    assert proc.wait(timeout=30) == 0
    for pid in served:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
    log = log_path.read_text()
    assert "/wechat?signature=***" in log, log  # every process's access log is masked
    assert first.params["signature"] not in log and first.params["nonce"] not in log
    assert log.count("Application startup complete") >= 2, log
    assert "INFO gridbot.inbox: retry of" in log, log  # gridbot's own loggers, in a worker process


def test_workers_refused_on_the_embedded_default(tmp_path):
    proc = subprocess.run([str(GRIDBOT), "serve", "--workers", "2", "--port", "1"], cwd=tmp_path,
                          env=_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert "--workers 2 需要各进程共用的 PostgreSQL 和 Redis" in proc.stderr
    assert "但 GRIDBOT_DATABASE_URL 和 GRIDBOT_REDIS_URL 还是内置的默认值" in proc.stderr

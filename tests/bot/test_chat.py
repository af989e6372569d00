"""`gridbot chat` speaks WeChat's protocol to a server over HTTP and shows its pushes.

The server here is a small webhook built on ``bot.protocol`` (the same verification and
crypto as gridbot's) that records what it received, answers with a text reply, and pushes
through the real Pusher to the sandbox; so these tests pin down the chat client itself.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import datetime

import pytest
import typer
from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlmodel import Session
from typer.testing import CliRunner

from bot.cli_chat import chat
from bot.devtools.sandbox import free_port, sandbox_router, serve_in_thread
from bot.protocol import Protocol, ProtocolError
from bot.push import Pusher
from bot.settings import Settings
from storage.models import Outbox
from storage.redis import sync_client
from storage.times import SHANGHAI

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


class EchoServer:
    """A webhook that verifies like gridbot, echoes, and pushes "提醒" to a worker."""

    def __init__(self, settings: Settings, redis) -> None:
        self.protocol = Protocol(settings)
        self.received: list = []
        self.params: list[dict] = []
        self.pusher = Pusher(settings, redis)

    def app(self, redis) -> FastAPI:
        app = FastAPI()
        app.include_router(sandbox_router(redis), prefix="/sandbox")

        @app.post("/wechat")
        async def wechat(request: Request) -> Response:
            params = dict(request.query_params)
            try:
                message = self.protocol.open(params, await request.body())
            except ProtocolError as exc:
                return Response(type(exc).__name__, status_code=exc.status)
            self.received.append(message)
            self.params.append(params)
            text = self.answer(message)
            if message.type == "text" and message.content.startswith("提醒"):
                row = Outbox(recipient_kind="staff", openid="worker-1", audience="worker", event="push_task",
                             text=f"新任务：{message.content[2:]}")
                await run_in_threadpool(self.pusher.send, row)
            return Response(self.protocol.reply(text, message, params),
                            media_type="application/xml")

        return app

    @staticmethod
    def answer(message) -> str:
        if message.type == "text":
            return f"收到：{message.content}"
        if message.type == "voice":
            return f"语音：{message.recognition}"
        if message.type == "location":
            return f"位置：{message.location_x},{message.location_y}"
        if message.type == "event":
            return f"事件：{message.event}{':' + message.key if getattr(message, 'key', None) else ''}"
        return ""


@pytest.fixture(params=["plaintext", "safe"])
def server(request, monkeypatch, redis_url, redis) -> Iterator[tuple[str, EchoServer]]:
    monkeypatch.delenv("GRIDBOT_WECHAT_AES_KEY", raising=False)
    if request.param == "safe":
        monkeypatch.setenv("GRIDBOT_WECHAT_AES_KEY", AES_KEY)
    port = free_port()
    settings = Settings(_env_file=None,
                        wechat_api_base_url=f"http://127.0.0.1:{port}/sandbox/cgi-bin/")
    assert settings.safe_mode == (request.param == "safe")
    echo = EchoServer(settings, sync_client(redis_url))
    with serve_in_thread(echo.app(sync_client(redis_url)), port=port) as url:
        yield url, echo


def run_chat(url: str, script: str, openid: str = "resident-1") -> str:
    app = typer.Typer()
    app.command()(chat)
    result = CliRunner().invoke(app, ["--url", url, "--openid", openid, "--poll-s", "0"],
                                input=script)
    assert result.exit_code == 0, result.output
    return result.output


def test_text_is_signed_sent_and_the_reply_printed(server):
    url, echo = server
    out = run_chat(url, "3号楼2单元501，楼道灯坏了\n")
    assert "← 收到：3号楼2单元501，楼道灯坏了" in out
    [message] = echo.received
    assert (message.source, message.type) == ("resident-1", "text")
    mode = "safe mode" if echo.protocol.safe_mode else "plaintext"
    assert mode in out.splitlines()[0]
    assert ("encrypt_type" in echo.params[0]) == echo.protocol.safe_mode


def test_retry_resends_the_same_message(server):
    url, echo = server
    out = run_chat(url, "楼上太吵了\n/retry\n")
    assert out.count("← 收到：楼上太吵了") == 2
    first, again = echo.received
    assert first.id == again.id
    assert first.create_time == again.create_time
    assert echo.params[0]["nonce"] != echo.params[1]["nonce"]


def test_commands_send_events_voice_and_location(server):
    url, echo = server
    script = ("/event subscribe\n/event CLICK MENU_PROGRESS\n/voice 我的报修到哪一步了\n"
              "/location 41.80 123.43 沈阳\n/location north\n")
    out = run_chat(url, script)
    assert "← 事件：subscribe" in out
    assert "← 事件：click:MENU_PROGRESS" in out
    assert "← 语音：我的报修到哪一步了" in out
    assert "← 位置：41.8,123.43" in out
    assert "usage 用法: /location" in out
    kinds = [(m.type, getattr(m, "event", None)) for m in echo.received]
    assert kinds == [("event", "subscribe"), ("event", "click"), ("voice", None),
                     ("location", None)]


def test_pushes_to_every_identity_of_the_session_are_shown(server):
    url, _ = server
    script = "提醒楼道灯坏了\n/as worker-1\n/wait 5\n收到\n/quit\n不会发送\n"
    out = run_chat(url, script)
    assert "push → worker-1 [custom] 新任务：楼道灯坏了" in out
    assert "now chatting as 当前身份: worker-1" in out
    assert "[worker-1] > 收到" in out
    assert "不会发送" not in out
    assert out.count("新任务：楼道灯坏了") == 1


def test_a_refused_request_is_reported(server, monkeypatch):
    url, _ = server
    monkeypatch.setenv("GRIDBOT_WECHAT_TOKEN", "not-the-servers-token")
    out = run_chat(url, "你好\n")
    assert "HTTP 403" in out


def test_unreachable_server_and_no_sandbox(monkeypatch):
    monkeypatch.delenv("GRIDBOT_WECHAT_AES_KEY", raising=False)
    url = f"http://127.0.0.1:{free_port()}"
    out = run_chat(url, "你好\n/help\n")
    assert "cannot reach" in out
    assert "/as OPENID" in out


def test_called_directly_with_a_fake_stdin(server, monkeypatch, capsys):
    url, echo = server
    monkeypatch.setattr("sys.stdin", io.StringIO("想借个梯子\n"))
    chat(url=url, openid="resident-2", poll_s=0.05)
    assert "← 收到：想借个梯子" in capsys.readouterr().out
    assert echo.received[0].source == "resident-2"


ORG_YAML = """\
street: 和平街道
community: 幸福新社区
grids:
  - code: G01
    name: 第一网格
    buildings: ["1-4"]
    workers:
      - {name: 王芳, openid: oWorker1}
  - code: G02
    name: 第二网格
    buildings: ["5-8"]
    workers:
      - {name: 李强, openid: oWorker2}
"""


@pytest.fixture
def gridbot_url(clean_db, postgres_url, redis_url, redis, tmp_path, monkeypatch) -> Iterator[str]:
    """The whole gridbot app (webhook, embedded worker, sandbox) on PostgreSQL and Redis."""
    from bot.app import create_app
    from storage.importer import import_file

    monkeypatch.delenv("GRIDBOT_WECHAT_AES_KEY", raising=False)
    org = tmp_path / "org.yaml"
    org.write_text(ORG_YAML, encoding="utf-8")
    with Session(clean_db) as session:
        import_file(session, org)
        session.commit()
    port = free_port()
    settings = Settings(
        _env_file=None, database_url=postgres_url, redis_url=redis_url, sandbox=True,
        embedded_worker=True, wechat_api_base_url=f"http://127.0.0.1:{port}/sandbox/cgi-bin/",
    )
    with serve_in_thread(create_app(settings), port=port) as url:
        yield url


def test_whole_conversation_through_gridbot(gridbot_url):
    number = f"GD{datetime.now(SHANGHAI):%Y%m%d}-0001"
    script = "\n".join([
        "3号楼2单元501，楼道灯坏了",
        "/as oWorker1",
        "/wait 15",
        f"接单 {number}",
        "/wait 15",
        f"办结 {number} 已更换灯泡",
        "/wait 15",
        "/as oResident1",
        "5",
        "/retry",
        "/quit",
    ]) + "\n"
    out = run_chat(gridbot_url, script, openid="oResident1")
    pushes = [line for line in out.splitlines() if "push →" in line]
    assert any(f"push → oWorker1 [custom] 【新工单】{number}" in p for p in pushes), out
    to_resident = [p for p in pushes if "push → oResident1" in p]
    assert len(to_resident) == 2, out
    assert "接单" in to_resident[0] and "已办结" in to_resident[1]
    turns = turns_of(out)
    assert number in turns[0][1]
    assert turns[-2][1] == turns[-3][1]  # WeChat's retry gets the same reply
    assert "5分" in turns[-2][1]


def turns_of(out: str) -> list[tuple[str, str]]:
    """(input line, the passive reply printed for it) for each line of a chat transcript."""
    turns: list[tuple[str, str]] = []
    for line in out.splitlines():
        if "] > " in line:
            turns.append((line.split("] > ", 1)[1], ""))
        elif turns and line.startswith("  ← "):
            turns[-1] = (turns[-1][0], line[4:])
        elif turns and turns[-1][1] and line.startswith("    "):
            turns[-1] = (turns[-1][0], turns[-1][1] + "\n" + line.strip())
    return turns

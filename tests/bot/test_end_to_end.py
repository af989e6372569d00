"""The whole system over HTTP: the web app with its embedded worker, PostgreSQL, Redis, and
the WeChat API sandbox standing in for WeChat's servers. A resident reports, the grid's
worker is pushed the task, accepts and closes it, the resident is told and rates it."""

from __future__ import annotations

import re
import time

import httpx
import pytest

from bot.app import create_app
from bot.devtools.sandbox import free_port, serve_in_thread
from bot.devtools.simulator import WeChatSimulator
from tests.chat import AES_KEY


def _wait_for_push(http: httpx.Client, openid: str, after: int, timeout_s: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        inbox = http.get(f"/sandbox/inbox/{openid}", params={"after": after}).json()
        if inbox["messages"]:
            return inbox["messages"][0]
        time.sleep(0.1)
    raise AssertionError(f"no push reached {openid} within {timeout_s}s")


@pytest.mark.parametrize("safe_mode", [False, True], ids=["plaintext", "safe-mode"])
def test_report_push_accept_close_rate_over_http(settings, community, safe_mode):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    s = settings.model_copy(update={
        "sandbox": True, "embedded_worker": True,
        "wechat_api_base_url": f"{base}/sandbox/cgi-bin/",
        "wechat_aes_key": AES_KEY if safe_mode else None,
    })
    sim = WeChatSimulator(s.wechat_token, s.wechat_app_id, s.wechat_aes_key)

    with serve_in_thread(create_app(s), port=port), httpx.Client(base_url=base, timeout=10) as http:
        def say(openid: str, text: str) -> str:
            d = sim.text(openid, text)
            r = http.post("/wechat", params=d.params, content=d.body)
            assert r.status_code == 200, r.text
            return sim.reply_text(r.content)

        opened = say("resident-e2e", "3号楼2单元501，楼道灯坏了")
        assert "GD" in opened and "王芳" in opened
        number = re.search(r"GD\d{8}-\d{4}", opened).group()

        task = _wait_for_push(http, "worker-g1", 0)
        assert number in task["text"] and "接单" in task["text"]

        assert number in say("worker-g1", f"接单 {number}")
        accepted = _wait_for_push(http, "resident-e2e", 0)
        assert number in accepted["text"] and "接单" in accepted["text"]

        assert number in say("worker-g1", f"办结 {number} 已更换楼道灯")
        resolved = _wait_for_push(http, "resident-e2e", 1)
        assert "已更换楼道灯" in resolved["text"] and "1-5" in resolved["text"]

        thanks = say("resident-e2e", "5")
        assert "5分" in thanks and number in thanks
        rated = _wait_for_push(http, "worker-g1", 1)
        assert "5分" in rated["text"]

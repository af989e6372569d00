"""No secret reaches a log line; the access log shows paths, not signatures, nonces or OpenIDs."""

from __future__ import annotations

import io
import logging
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import requests

from bot import logs
from bot.devtools.sandbox import free_port
from bot.devtools.simulator import WeChatSimulator
from bot.protocol import wechat_signature
from bot.settings import DEMO_APP_ID, DEV_TOKEN, Settings
from bot.wechat_api import official_client, wecom_client
from storage.db import create_schema, make_engine
from tests.chat import AES_KEY

APP_SECRET = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
WECOM_SECRET = "wecom-secret-Zq81Lm"


@pytest.fixture
def log_text():
    """The gridbot root handler (bot.logs.configure) writing into a buffer; returns a reader."""
    buf = io.StringIO()
    handler = logs.configure(Settings(_env_file=None, wechat_app_secret=APP_SECRET,
                                      wechat_aes_key=AES_KEY, wecom_secret=WECOM_SECRET,
                                      redis_url="redis://:redispw99@127.0.0.1:1/0"))
    handler.setStream(buf)
    yield buf.getvalue
    logging.getLogger().removeHandler(handler)


def test_configured_secrets_are_masked_in_messages_arguments_and_tracebacks(log_text):
    log = logging.getLogger("gridbot.test")
    log.warning("token fetched with %s and key %s", APP_SECRET, AES_KEY)
    log.info("wecom %s, redis redis://:redispw99@host/0", {"secret": WECOM_SECRET})
    log.info("%d pushes for %r", 3, "o-resident")  # numbers and ordinary values stay
    try:
        raise RuntimeError(f"GET /cgi-bin/gettoken?corpid=ww1&corpsecret={WECOM_SECRET}")
    except RuntimeError:
        log.exception("failed")
    text = log_text()
    for secret in (APP_SECRET, AES_KEY, WECOM_SECRET, "redispw99"):
        assert secret not in text
    assert "3 pushes for 'o-resident'" in text and "corpsecret=***" in text and "Traceback" in text


def test_secret_query_and_json_values_are_masked_without_configuration():
    line = ('GET /cgi-bin/token?grant_type=client_credential&appid=wx1&secret=S3cr3tValue '
            '{"access_token": "ACCESS_TOKEN_123", "expires_in": 7200} '
            'POST /cgi-bin/message/custom/send?access_token=ACCESS_TOKEN_123 '
            'postgresql+psycopg://gridbot:pgpw42@db/gridbot')
    scrubbed = logs.scrub(line)
    assert "S3cr3tValue" not in scrubbed and "ACCESS_TOKEN_123" not in scrubbed
    assert "pgpw42" not in scrubbed and "expires_in" in scrubbed and "/cgi-bin/token?" in scrubbed


def test_a_failing_token_fetch_names_no_secret_in_errors_or_logs(log_text, redis):
    s = Settings(_env_file=None, wechat_app_secret=APP_SECRET, wecom_corp_id="ww1",
                 wecom_secret=WECOM_SECRET, wecom_agent_id=1000002,
                 wechat_api_base_url=f"http://127.0.0.1:{free_port()}/cgi-bin/",
                 wecom_api_base_url=f"http://127.0.0.1:{free_port()}/cgi-bin/")
    for client in (official_client(s, redis), wecom_client(s, redis)):
        with pytest.raises(requests.ConnectionError) as caught:
            client.fetch_access_token()
        assert "token?" in str(caught.value)  # the path is still there to debug with
        for text in (str(caught.value), repr(caught.value)):
            assert APP_SECRET not in text and WECOM_SECRET not in text
        logs_without_filter = logging.getLogger("gridbot.test")
        logs_without_filter.error("push failed: %r", caught.value, exc_info=caught.value)
    assert "push failed" in log_text()
    assert APP_SECRET not in log_text() and WECOM_SECRET not in log_text()


def test_access_log_masks_every_query_value_but_encrypt_type():
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("1.2.3.4:5", "POST", "/wechat?signature=ab12&timestamp=1700000000"
                                "&nonce=n9n9&openid=o-xyz&encrypt_type=aes&msg_signature=cd34",
                                "1.1", 200), None)
    logs.AccessLogFilter().filter(record)
    assert record.getMessage() == ('1.2.3.4:5 - "POST /wechat?signature=***&timestamp=***&nonce=***'
                                   '&openid=***&encrypt_type=aes&msg_signature=*** HTTP/1.1" 200')


def test_serve_demo_logs_no_signature_nonce_openid_or_secret(tmp_path: Path):
    """A real `gridbot serve --demo` (no GRIDBOT_ variables): a verification, a report whose
    push makes the embedded worker fetch an access token from the sandbox, and /docs.
    The SQLite schema is made from the models (this test is about logs, not migrations)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'gridbot.db'}")
    create_schema(engine)
    engine.dispose()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDBOT_")}
    out = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen([str(Path(sys.executable).with_name("gridbot")), "serve", "--demo",
                             "--no-history", "--no-migrate", "--port", str(port)],
                            cwd=tmp_path, env=env, stdout=out,
                            stderr=subprocess.STDOUT)
    sim = WeChatSimulator(DEV_TOKEN, DEMO_APP_ID)
    try:
        with httpx.Client(base_url=base, timeout=10) as http:
            _wait_until_up(http, proc)
            ts, nonce = str(int(time.time())), "nonce8c1f"
            verify = {"signature": wechat_signature(DEV_TOKEN, ts, nonce), "timestamp": ts,
                      "nonce": nonce, "echostr": "echo5d2e", "openid": "o-verify-77"}
            assert http.get("/wechat", params=verify).text == "echo5d2e"
            # the demo has three communities: the report names its own
            report = sim.text("o-resident-42", "幸福新社区3号楼2单元501，楼道灯坏了")
            assert http.post("/wechat", params=report.params, content=report.body).status_code == 200
            assert http.get("/docs").status_code == 200  # development keeps the API docs
            _wait_for_push(http, "worker-g1")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        out.close()
    text = (tmp_path / "serve.log").read_text()
    access = [line for line in text.splitlines() if "HTTP/1.1" in line]
    assert any("/cgi-bin/token?grant_type=***&appid=***&secret=***" in line for line in access), text
    assert any("/wechat?signature=***" in line for line in access), text
    for value in ("gridbot-dev-secret", verify["signature"], nonce, "echo5d2e", "o-verify-77",
                  report.params["signature"], report.params["nonce"]):
        assert value not in text, value
    assert not any("o-resident-42" in line for line in access)
    assert not re.search(r"access_token=(?!\*\*\*)", text)


def _wait_until_up(http: httpx.Client, proc: subprocess.Popen, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, "gridbot serve --demo exited"
        try:
            if http.get("/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("gridbot serve --demo did not start")


def _wait_for_push(http: httpx.Client, openid: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if http.get(f"/sandbox/inbox/{openid}").json()["messages"]:
            return
        time.sleep(0.2)
    raise AssertionError(f"no push reached {openid}")

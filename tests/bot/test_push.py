"""Pusher against the sandbox served over HTTP: channels, fallback, token sharing, errors."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
import requests
from fastapi import FastAPI

from bot.devtools.sandbox import sandbox_router, serve_in_thread
from bot.push import NoTemplateError, Pusher, PushError, _check_wecom_recipients
from bot.settings import Settings
from bot.wechat_api import official_client
from storage.models import Outbox
from storage.redis import sync_client

APP_ID = "wxgridbottest0001"
TOKEN_KEY = f"gridbot:wechatpy:{APP_ID}_access_token"


@pytest.fixture(scope="module")
def sandbox_url(redis_url: str) -> Iterator[str]:
    """Base URL of a sandbox served by uvicorn on a loopback port, state in the test Redis."""
    app = FastAPI()
    app.include_router(sandbox_router(sync_client(redis_url)), prefix="/sandbox")
    with serve_in_thread(app) as url:
        yield url


@pytest.fixture
def settings(sandbox_url: str) -> Settings:
    return make_settings(sandbox_url)


def make_settings(sandbox_url: str, **overrides) -> Settings:
    values = {
        "wechat_app_id": APP_ID,
        "wechat_api_base_url": f"{sandbox_url}/sandbox/cgi-bin/",
        "wecom_api_base_url": f"{sandbox_url}/sandbox/wecom/cgi-bin/",
        "template_ids": {"push_ticket_status": "TM-STATUS"},
        **overrides,
    }
    return Settings(_env_file=None, **values)


def inbox(sandbox_url: str, recipient: str) -> list[dict]:
    return httpx.get(f"{sandbox_url}/sandbox/inbox/{recipient}").json()["messages"]


def stats(sandbox_url: str) -> dict:
    return httpx.get(f"{sandbox_url}/sandbox/stats").json()


def fault(sandbox_url: str, openid: str, **spec) -> None:
    httpx.post(f"{sandbox_url}/sandbox/faults", json={"openid": openid, **spec}).raise_for_status()


def push(openid: str = "resident-1", text: str = "您的工单 GD20261122-0001 已受理",
         audience: str = "resident", event: str = "push_ticket_status", data: dict | None = None
         ) -> Outbox:
    return Outbox(id=1, recipient_kind="staff" if audience == "worker" else "resident",
                  openid=openid, audience=audience, event=event, text=text, data=data or {})


def test_custom_message_reaches_the_resident(settings, redis, sandbox_url):
    assert Pusher(settings, redis).send(push()) == "custom"
    [message] = inbox(sandbox_url, "resident-1")
    assert message["api"] == "custom"
    assert message["text"] == "您的工单 GD20261122-0001 已受理"


def test_token_is_fetched_from_base_url_once_and_shared_through_redis(settings, redis,
                                                                      sandbox_url):
    first, second = Pusher(settings, redis), Pusher(settings, redis)
    first.send(push(text="one"))
    assert redis.get(TOKEN_KEY) is not None
    second.send(push(text="two"))
    assert stats(sandbox_url) == {"token": 1, "custom_send": 2}
    assert first.official.access_token == second.official.access_token
    assert [m["text"] for m in inbox(sandbox_url, "resident-1")] == ["one", "two"]


def test_client_uses_configured_base_url(settings, redis):
    client = official_client(settings, redis)
    base_url = client.API_BASE_URL
    assert base_url == settings.wechat_api_base_url
    assert client.fetch_access_token()["access_token"].startswith("sandbox-official-")


@pytest.mark.parametrize("errcode", [45015, 45047])
def test_out_of_window_falls_back_to_template(settings, redis, sandbox_url, errcode):
    fault(sandbox_url, "resident-1", errcode=errcode, api="custom")
    row = push(data={"first": "工单状态更新", "keyword1": "GD20261122-0001",
                     "keyword2": {"value": "已办结", "color": "#173177"}, "remark": "请评价"})
    assert Pusher(settings, redis).send(row) == "template"
    [message] = inbox(sandbox_url, "resident-1")
    assert message["api"] == "template"
    assert message["body"]["template_id"] == "TM-STATUS"
    assert message["body"]["data"]["keyword2"] == {"value": "已办结", "color": "#173177"}
    assert message["text"] == "工单状态更新\nGD20261122-0001\n已办结\n请评价"


def test_template_without_data_carries_the_text_and_default_template(sandbox_url, redis):
    settings = make_settings(sandbox_url, template_ids={"default": "TM-DEFAULT"})
    fault(sandbox_url, "resident-1", errcode=45015, api="custom")
    assert Pusher(settings, redis).send(push(event="push_other")) == "template"
    [message] = inbox(sandbox_url, "resident-1")
    assert message["body"]["template_id"] == "TM-DEFAULT"
    assert message["body"]["data"] == {"first": {"value": "您的工单 GD20261122-0001 已受理"}}


def test_out_of_window_without_template_is_final(sandbox_url, redis):
    settings = make_settings(sandbox_url, template_ids={})
    fault(sandbox_url, "resident-1", errcode=45015)
    with pytest.raises(NoTemplateError) as caught:
        Pusher(settings, redis).send(push())
    assert caught.value.retryable is False
    assert caught.value.errcode == 45015
    assert "no template configured for event 'push_ticket_status'" in str(caught.value)
    assert inbox(sandbox_url, "resident-1") == []


@pytest.mark.parametrize(("spec", "errcode", "in_doubt"), [
    ({"errcode": -1}, -1, False),
    ({"status": 503}, None, False),
    ({"status": 429}, None, False),
    # Changed with issue 8: a 500/502/504 may come after WeChat processed the send.
    ({"status": 500}, None, True),
    ({"status": 502}, None, True),
    ({"errcode": 45009}, 45009, False),
])
def test_busy_and_server_errors_are_retryable(settings, redis, sandbox_url, spec, errcode,
                                              in_doubt):
    fault(sandbox_url, "resident-1", **spec)
    with pytest.raises(PushError) as caught:
        Pusher(settings, redis).send(push())
    assert caught.value.retryable is True
    assert caught.value.errcode == errcode
    assert caught.value.channel == "custom"
    assert caught.value.in_doubt is in_doubt


@pytest.mark.parametrize("errcode", [40003, 43004, 48001])
def test_other_errcodes_are_final(settings, redis, sandbox_url, errcode):
    fault(sandbox_url, "resident-1", errcode=errcode)
    with pytest.raises(PushError) as caught:
        Pusher(settings, redis).send(push())
    assert caught.value.retryable is False
    assert caught.value.errcode == errcode


def test_network_error_is_retryable(redis):
    settings = make_settings("http://127.0.0.1:9")  # discard port: connection refused
    with pytest.raises(PushError) as caught:
        Pusher(settings, redis).send(push())
    assert caught.value.retryable is True
    assert caught.value.in_doubt is False  # never connected: nothing reached WeChat
    assert "network error" in caught.value.reason


def test_read_timeout_is_in_doubt_and_the_message_was_delivered(sandbox_url, redis):
    settings = make_settings(sandbox_url, wechat_timeout_s=0.5)
    fault(sandbox_url, "resident-1", delay_s=1.5)  # answers late, but delivers
    with pytest.raises(PushError) as caught:
        Pusher(settings, redis).send(push(text="慢"))
    assert (caught.value.retryable, caught.value.in_doubt) == (True, True)
    assert "may have been delivered" in str(caught.value)
    deadline = time.monotonic() + 10
    while not inbox(sandbox_url, "resident-1") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [m["text"] for m in inbox(sandbox_url, "resident-1")] == ["慢"]


def fail_requests(pusher: Pusher, exc: Exception, when) -> None:
    """Make the official client's HTTP calls whose URL satisfies ``when(url)`` raise ``exc``
    (as requests would); the others go through to the sandbox."""
    session = pusher.official._http
    real = session.request

    def request(method, url, *args, **kwargs):
        if when(url):
            raise exc
        return real(method, url, *args, **kwargs)

    session.request = request


REFUSED = ("HTTPConnectionPool(host='api.weixin.qq.com', port=443): Max retries exceeded with "
           "url: /cgi-bin/message/custom/send?access_token=*** (Caused by NewConnectionError("
           "'<urllib3.connection.HTTPConnection object>: Failed to establish a new connection: "
           "[Errno 111] Connection refused'))")
RESET = ("('Connection aborted.', ConnectionResetError(104, 'Connection reset by peer'))")


@pytest.mark.parametrize(("exc", "in_doubt"), [
    (requests.ConnectTimeout("connect timed out"), False),
    (requests.ConnectionError(REFUSED), False),
    (requests.exceptions.SSLError("handshake failure"), False),
    (requests.ReadTimeout("read timed out"), True),
    (requests.ConnectionError(RESET), True),
    (requests.exceptions.ChunkedEncodingError("broken answer"), True),
    (requests.exceptions.InvalidURL("bad url"), False),
])
def test_network_errors_are_in_doubt_only_after_connecting(sandbox_url, redis, exc, in_doubt):
    pusher = Pusher(make_settings(sandbox_url), redis)
    fail_requests(pusher, exc, lambda url: "/message/" in url)
    with pytest.raises(PushError) as caught:
        pusher.send(push())
    assert (caught.value.in_doubt, caught.value.retryable) == (in_doubt, True)


@pytest.mark.parametrize("stale_token", [False, True])
def test_token_fetch_timeout_is_not_in_doubt(sandbox_url, redis, stale_token):
    if stale_token:  # refused with 40001 first, then the refresh times out
        redis.set(TOKEN_KEY, '"stale-token"')
    pusher = Pusher(make_settings(sandbox_url), redis)
    fail_requests(pusher, requests.ReadTimeout("read timed out"), lambda url: "/token" in url)
    with pytest.raises(PushError) as caught:
        pusher.send(push())
    assert (caught.value.in_doubt, caught.value.retryable) == (False, True)
    assert "fetching access token" in caught.value.reason
    assert inbox(sandbox_url, "resident-1") == []


def test_invalid_token_in_redis_is_refreshed_once(settings, redis, sandbox_url):
    redis.set(TOKEN_KEY, '"stale-token-from-another-life"')
    assert Pusher(settings, redis).send(push()) == "custom"
    assert stats(sandbox_url) == {"custom_send": 2, "token": 1}
    assert redis.get(TOKEN_KEY).decode().startswith('"sandbox-official-')


def test_expired_token_42001_is_refreshed(settings, redis, sandbox_url):
    pusher = Pusher(settings, redis)
    pusher.send(push(text="before"))
    old = redis.get(TOKEN_KEY)
    httpx.post(f"{sandbox_url}/sandbox/tokens/expire").raise_for_status()
    assert pusher.send(push(text="after")) == "custom"
    assert redis.get(TOKEN_KEY) != old
    assert [m["text"] for m in inbox(sandbox_url, "resident-1")] == ["before", "after"]


def test_token_refused_twice_is_retryable_not_a_loop(settings, redis, sandbox_url):
    fault(sandbox_url, "resident-1", errcode=40001, count=5)
    with pytest.raises(PushError) as caught:
        Pusher(settings, redis).send(push())
    assert (caught.value.errcode, caught.value.retryable) == (40001, True)
    assert stats(sandbox_url)["custom_send"] == 2
    assert stats(sandbox_url)["token"] == 2  # the first fetch, then one refresh


def test_bad_app_secret_is_reported(sandbox_url, redis):
    settings = make_settings(sandbox_url, wechat_app_secret="")
    with pytest.raises(PushError) as caught:
        Pusher(settings, redis).send(push())
    assert caught.value.errcode == 41004
    assert caught.value.retryable is False


WECOM = {"wecom_corp_id": "wwgridbot", "wecom_secret": "wecom-secret", "wecom_agent_id": 1000002}


def test_worker_with_wecom_userid_gets_a_wecom_message(sandbox_url, redis):
    settings = make_settings(sandbox_url, **WECOM)
    pusher = Pusher(settings, redis)
    task = push(openid="worker-1", audience="worker", text="新工单 GD20261122-0001：楼道灯坏了")
    assert pusher.send(task, wecom_userid="zhangwei") == "wecom"
    [message] = inbox(sandbox_url, "wecom:zhangwei")
    assert message["text"] == "新工单 GD20261122-0001：楼道灯坏了"
    assert message["body"]["agentid"] == 1000002
    assert inbox(sandbox_url, "worker-1") == []
    assert stats(sandbox_url) == {"wecom_token": 1, "wecom_send": 1}


def test_wecom_is_used_only_for_workers_with_a_userid_and_when_enabled(sandbox_url, redis):
    enabled = Pusher(make_settings(sandbox_url, **WECOM), redis)
    assert enabled.send(push(openid="worker-1", audience="worker")) == "custom"
    assert enabled.send(push(openid="resident-1"), wecom_userid="zhangwei") == "custom"
    disabled = Pusher(make_settings(sandbox_url), redis)
    assert disabled.wecom is None
    assert disabled.send(push(openid="worker-1", audience="worker"), "zhangwei") == "custom"


def test_wecom_token_expiry_is_refreshed(sandbox_url, redis):
    pusher = Pusher(make_settings(sandbox_url, **WECOM), redis)
    task = push(openid="worker-1", audience="worker")
    pusher.send(task, "zhangwei")
    httpx.post(f"{sandbox_url}/sandbox/tokens/expire").raise_for_status()
    assert pusher.send(task, "zhangwei") == "wecom"
    assert len(inbox(sandbox_url, "wecom:zhangwei")) == 2


def test_wecom_answer_naming_an_invalid_user_is_a_final_failure():
    _check_wecom_recipients({"errcode": 0, "errmsg": "ok", "invaliduser": ""})
    with pytest.raises(PushError) as caught:
        _check_wecom_recipients({"errcode": 0, "errmsg": "ok", "invaliduser": "zhangwei"})
    assert (caught.value.retryable, caught.value.channel) == (False, "wecom")

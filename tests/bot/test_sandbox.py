"""The sandbox answers like WeChat's API servers: token checks, body checks, inbox, faults."""

from __future__ import annotations

import json

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bot.devtools.sandbox import sandbox_router


@pytest.fixture
def api(redis) -> TestClient:
    app = FastAPI()
    app.include_router(sandbox_router(redis), prefix="/sandbox")
    return TestClient(app)


def token(api: TestClient) -> str:
    r = api.get("/sandbox/cgi-bin/token",
                params={"grant_type": "client_credential", "appid": "wx1", "secret": "s"})
    assert r.status_code == 200
    body = r.json()
    assert body["expires_in"] == 7200
    return body["access_token"]


def custom(api: TestClient, access_token: str | None, body) -> dict:
    params = {"access_token": access_token} if access_token else {}
    raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    return api.post("/sandbox/cgi-bin/message/custom/send", params=params, content=raw).json()


def text_to(openid: str, content: str) -> dict:
    return {"touser": openid, "msgtype": "text", "text": {"content": content}}


def test_token_needs_grant_type_appid_and_secret(api):
    url = "/sandbox/cgi-bin/token"
    assert api.get(url, params={"appid": "wx1", "secret": "s"}).json()["errcode"] == 40002
    assert api.get(url, params={"grant_type": "client_credential", "secret": "s"}).json()[
        "errcode"] == 41002
    assert api.get(url, params={"grant_type": "client_credential", "appid": "wx1"}).json()[
        "errcode"] == 41004
    assert token(api).startswith("sandbox-official-")


def test_custom_message_is_checked_like_wechat(api):
    t = token(api)
    assert custom(api, None, text_to("u1", "hi"))["errcode"] == 41001
    assert custom(api, "forged", text_to("u1", "hi"))["errcode"] == 40001
    assert custom(api, t, b"")["errcode"] == 44002
    assert custom(api, t, b"<xml/>")["errcode"] == 47001
    assert custom(api, t, text_to("bad openid!", "hi"))["errcode"] == 40003
    assert custom(api, t, {"touser": "u1", "msgtype": "telegram"})["errcode"] == 40008
    assert custom(api, t, text_to("u1", ""))["errcode"] == 44004
    assert custom(api, t, text_to("u1", "楼道灯已修好"))["errcode"] == 0


def test_inbox_returns_messages_after_index(api):
    t = token(api)
    for word in ("一", "二", "三"):
        assert custom(api, t, text_to("u1", word))["errcode"] == 0
    everything = api.get("/sandbox/inbox/u1").json()
    assert [m["text"] for m in everything["messages"]] == ["一", "二", "三"]
    assert everything["next"] == 3
    later = api.get("/sandbox/inbox/u1", params={"after": 1}).json()
    assert [(m["index"], m["text"]) for m in later["messages"]] == [(1, "二"), (2, "三")]
    assert api.get("/sandbox/inbox/u1", params={"after": 3}).json()["messages"] == []
    assert api.get("/sandbox/inbox/nobody").json() == {
        "recipient": "nobody", "messages": [], "next": 0}


def test_template_message_needs_template_id_and_renders_fields(api):
    t = token(api)
    url = "/sandbox/cgi-bin/message/template/send"
    assert api.post(url, params={"access_token": t}, json={"touser": "u1"}).json()[
        "errcode"] == 40037
    answer = api.post(url, params={"access_token": t}, json={
        "touser": "u1", "template_id": "TM1",
        "data": {"first": {"value": "工单已办结"}, "keyword1": {"value": "GD1"},
                 "remark": {"value": "请评价"}},
    }).json()
    assert answer["errcode"] == 0 and answer["msgid"]
    [message] = api.get("/sandbox/inbox/u1").json()["messages"]
    assert message["api"] == "template"
    assert message["text"] == "工单已办结\nGD1\n请评价"


def test_faults_fail_the_next_sends_then_stop(api):
    t = token(api)
    r = api.post("/sandbox/faults", json={"openid": "u1", "errcode": 45015, "count": 2})
    assert r.json() == {"ok": True, "pending": 2}
    assert custom(api, t, text_to("u1", "a"))["errcode"] == 45015
    assert custom(api, t, text_to("u2", "other user"))["errcode"] == 0
    assert custom(api, t, text_to("u1", "b"))["errcode"] == 45015
    assert custom(api, t, text_to("u1", "c"))["errcode"] == 0
    assert [m["text"] for m in api.get("/sandbox/inbox/u1").json()["messages"]] == ["c"]


def test_http_fault_and_api_scoped_fault(api):
    t = token(api)
    api.post("/sandbox/faults", json={"openid": "u1", "status": 503})
    raw = json.dumps(text_to("u1", "x")).encode()
    r = api.post("/sandbox/cgi-bin/message/custom/send", params={"access_token": t}, content=raw)
    assert r.status_code == 503
    api.post("/sandbox/faults", json={"openid": "u1", "errcode": 45015, "api": "custom"})
    tpl = api.post("/sandbox/cgi-bin/message/template/send", params={"access_token": t},
                   json={"touser": "u1", "template_id": "TM1", "data": {}}).json()
    assert tpl["errcode"] == 0  # the custom-only fault is still waiting
    assert custom(api, t, text_to("u1", "x"))["errcode"] == 45015
    assert api.post("/sandbox/faults", json={"openid": "u1"}).status_code == 422


def test_new_token_keeps_old_one_a_while_and_expiry_answers_42001(api, redis):
    first = token(api)
    second = token(api)
    assert first != second
    assert 0 < redis.ttl(f"gridbot:sandbox:token:{first}") <= 300
    assert custom(api, first, text_to("u1", "old token still works"))["errcode"] == 0
    assert api.post("/sandbox/tokens/expire").json()["expired"] >= 2
    assert custom(api, second, text_to("u1", "x"))["errcode"] == 42001
    assert custom(api, token(api), text_to("u1", "x"))["errcode"] == 0


def test_wecom_token_and_application_message(api):
    url = "/sandbox/wecom/cgi-bin/gettoken"
    assert api.get(url, params={"corpsecret": "s"}).json()["errcode"] == 41002
    assert api.get(url, params={"corpid": "ww1"}).json()["errcode"] == 41004
    t = api.get(url, params={"corpid": "ww1", "corpsecret": "s"}).json()["access_token"]
    send = "/sandbox/wecom/cgi-bin/message/send"
    text = {"msgtype": "text", "text": {"content": "新工单 GD1"}}
    assert api.post(send, params={"access_token": "forged"},
                    json={"touser": "zhang", "agentid": 1000002, **text}).json()["errcode"] == 40014
    # An official-account token is not a WeCom token.
    official = token(api)
    assert api.post(send, params={"access_token": official},
                    json={"touser": "zhang", "agentid": 1000002, **text}).json()["errcode"] == 40014
    assert api.post(send, params={"access_token": t},
                    json={"touser": "zhang", **text}).json()["errcode"] == 40056
    assert api.post(send, params={"access_token": t},
                    json={"touser": "", "agentid": 1000002, **text}).json()["errcode"] == 40031
    ok = api.post(send, params={"access_token": t},
                  json={"touser": "zhang", "agentid": 1000002, **text}).json()
    assert ok["errcode"] == 0 and ok["invaliduser"] == ""
    [message] = api.get("/sandbox/inbox/wecom:zhang").json()["messages"]
    assert (message["api"], message["text"]) == ("wecom", "新工单 GD1")


def test_stats_count_calls(api):
    token(api)
    custom(api, "forged", text_to("u1", "x"))
    assert api.get("/sandbox/stats").json() == {"token": 1, "custom_send": 1}

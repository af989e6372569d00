"""The webhook speaks WeChat's protocol and refuses what is not WeChat, losing nothing."""

from __future__ import annotations

from sqlmodel import Session, select

from bot.devtools.simulator import WeChatSimulator
from bot.protocol import wechat_signature
from storage.models import InboundMessage
from tests.chat import AES_KEY


def test_get_verification_echoes_echostr(chat):
    d = chat.sim.sign("", "")
    params = {k: d.params[k] for k in ("signature", "timestamp", "nonce")} | {"echostr": "e123"}
    r = chat.client.get("/wechat", params=params)
    assert r.status_code == 200 and r.text == "e123"


def test_get_verification_refuses_bad_signature_and_stale_timestamp(chat, clock):
    d = chat.sim.sign("", "")
    bad = {**d.params, "signature": "0" * 40, "echostr": "e"}
    assert chat.client.get("/wechat", params=bad).status_code == 403
    stale_ts = str(int(clock().timestamp()) - 3600)
    stale = {"timestamp": stale_ts, "nonce": "n",
             "signature": wechat_signature(chat.sim.token, stale_ts, "n"), "echostr": "e"}
    assert chat.client.get("/wechat", params=stale).status_code == 403


def test_plaintext_text_message_gets_a_text_reply(chat):
    reply = chat.say("r-plain", "你好")
    assert "您好" in reply


def test_safe_mode_reply_is_encrypted_and_decrypts(make_chat):
    chat = make_chat(safe_mode=True)
    d = chat.sim.text("r-safe", "帮助")
    assert d.params["encrypt_type"] == "aes" and b"<Encrypt>" in d.body
    r = chat.post(d)
    assert r.status_code == 200 and b"<Encrypt>" in r.content and "查询" not in r.text
    assert "查询进度" in chat.sim.reply_text(r.content)


def test_previous_aes_key_still_accepted_while_rotating(make_chat):
    old_key = AES_KEY[::-1]
    chat = make_chat(safe_mode=True, wechat_aes_key_previous=old_key)
    old = WeChatSimulator(chat.sim.token, chat.sim.app_id, old_key, now=chat.sim.now)
    r = chat.post(old.text("r-rot", "帮助"))
    assert r.status_code == 200
    # the reply is encrypted with the current key
    assert "查询进度" in chat.sim.reply_text(r.content)


def test_wrong_signature_and_stale_timestamp_are_refused(chat, clock):
    d = chat.sim.text("r-x", "楼道灯坏了")
    assert chat.client.post("/wechat", params={**d.params, "signature": "f" * 40},
                            content=d.body).status_code == 403
    late = WeChatSimulator(chat.sim.token, chat.sim.app_id,
                           now=lambda: clock().timestamp() - 301)
    assert chat.post(late.text("r-x", "楼道灯坏了")).status_code == 403
    assert chat.tickets() == []


def test_bad_msg_signature_in_safe_mode_is_refused(make_chat):
    chat = make_chat(safe_mode=True)
    d = chat.sim.text("r-y", "你好")
    r = chat.client.post("/wechat", params={**d.params, "msg_signature": "0" * 40}, content=d.body)
    assert r.status_code == 403


def test_malformed_xml_gets_400_and_server_keeps_working(chat):
    d = chat.sim.text("r-z", "你好")
    for body in (b"<xml><Content>", b"not xml at all", b"<xml><a>1</a></xml>", b""):
        signed = chat.sim.sign(body.decode(), "r-z")
        r = chat.client.post("/wechat", params=signed.params, content=body)
        assert r.status_code == 400, body
    assert "您好" in chat.send(d)


def test_wrong_appid_after_decryption_is_refused(make_chat):
    chat = make_chat(safe_mode=True)
    other = WeChatSimulator(chat.sim.token, "wxsomeoneelse00", AES_KEY, now=chat.sim.now)
    r = chat.post(other.text("r-app", "你好"))
    assert r.status_code == 400 and "BadAppId" in r.text


def test_encrypted_push_without_configured_key_is_refused(chat):
    safe_sim = WeChatSimulator(chat.sim.token, chat.sim.app_id, AES_KEY, now=chat.sim.now)
    r = chat.post(safe_sim.text("r-k", "你好"))
    assert r.status_code == 400


def test_oversized_body_is_refused_with_413(make_chat):
    chat = make_chat(max_body_bytes=2048)
    d = chat.sim.text("r-big", "楼道灯坏了" * 400)
    r = chat.post(d)
    assert r.status_code == 413
    assert chat.tickets() == []


def test_every_accepted_message_is_kept_once(chat):
    chat.say("r-keep", "你好")
    chat.retry_last()
    with Session(chat.engine) as s:
        rows = s.exec(select(InboundMessage).where(InboundMessage.openid == "r-keep")).all()
    assert len(rows) == 1 and rows[0].reply and rows[0].intent == "greeting"

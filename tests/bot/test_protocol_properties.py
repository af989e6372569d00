"""Property tests of ``Protocol.open`` on untrusted input: whatever WeChat — or anyone else —
sends, the answer is a parsed message or a ProtocolError (a 4xx), never another exception
(a 500). The last test sends the crashing case of issue 8 through the real app."""

from __future__ import annotations

import base64
import os

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from wechatpy.crypto import WeChatCrypto
from wechatpy.messages import BaseMessage

from bot.protocol import MalformedMessage, Protocol, ProtocolError, wechat_signature
from bot.settings import Settings
from tests.chat import AES_KEY

TOKEN = "prop-token"
APP_ID = "wxpropertytest01"
NOW = 1_700_000_000.0  # Unix s, a float like the clock's
TS = str(int(NOW))
NONCE = "n0nce"

PLAIN = Protocol(Settings(_env_file=None, wechat_token=TOKEN, wechat_app_id=APP_ID))
SAFE = Protocol(Settings(_env_file=None, wechat_token=TOKEN, wechat_app_id=APP_ID,
                         wechat_aes_key=AES_KEY, wechat_aes_key_previous=AES_KEY[::-1]))
CRYPTO = WeChatCrypto(TOKEN, AES_KEY, APP_ID)

PARAM_NAMES = st.sampled_from(
    ["signature", "timestamp", "nonce", "encrypt_type", "msg_signature", "openid", "echostr", "x"]
)
FIELDS = ["ToUserName", "FromUserName", "CreateTime", "MsgType", "Content", "MsgId", "Event",
          "EventKey", "Recognition", "PicUrl", "Location_X", "Location_Y", "Scale", "Label",
          "MediaId", "Format", "Ticket", "Latitude", "Status", "xml", "Encrypt"]
text = st.text(max_size=40)
field_value = st.one_of(
    text, st.integers().map(str), st.sampled_from(["text", "event", "image", "voice", "location",
                                                   "subscribe", "SCAN", "CLICK", "1.5e999", ""]),
)


def xml_elements(depth: int = 2) -> st.SearchStrategy[str]:
    """Random WeChat-like XML: known field names, random nesting, text, CDATA and entities."""
    leaf = st.builds(lambda v, cdata: f"<![CDATA[{v}]]>" if cdata else _escape(v),
                     field_value, st.booleans())
    if depth == 0:
        return leaf
    child = st.builds(lambda name, inner: f"<{name}>{inner}</{name}>",
                      st.sampled_from(FIELDS), xml_elements(depth - 1))
    return st.one_of(leaf, st.lists(child, max_size=6).map("".join))


def _escape(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


random_xml = st.one_of(
    xml_elements().map(lambda inner: f"<xml>{inner}</xml>"),
    st.builds(lambda name, inner: f"<{name}>{inner}</{name}>", st.sampled_from(FIELDS),
              xml_elements()),
    st.text(max_size=200),
)


def _signed_plain() -> dict[str, str]:
    return {"signature": wechat_signature(TOKEN, TS, NONCE), "timestamp": TS, "nonce": NONCE}


def _signed_encrypt(encrypt: str) -> tuple[dict[str, str], bytes]:
    params = {"encrypt_type": "aes", "timestamp": TS, "nonce": NONCE,
              "msg_signature": wechat_signature(TOKEN, TS, NONCE, encrypt)}
    return params, f"<xml><ToUserName>gh</ToUserName><Encrypt>{_escape(encrypt)}</Encrypt></xml>".encode()


def _opens_or_refuses(protocol: Protocol, params: dict[str, str], body: bytes) -> None:
    try:
        message = protocol.open(params, body, now=NOW)
    except ProtocolError:
        return
    assert isinstance(message, BaseMessage) and message.source


FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(params=st.dictionaries(PARAM_NAMES, st.text(max_size=60), max_size=8),
       body=st.binary(max_size=300))
@example(params={"timestamp": "9" * 400}, body=b"")
@example(params={"timestamp": TS, "signature": "\u00e9"}, body=b"<xml/>")
@example(params={"encrypt_type": "aes", "timestamp": TS, "msg_signature": "\u00e9"},
         body=b"<xml><Encrypt>QUJD</Encrypt></xml>")
@example(params={"encrypt_type": "aes", "timestamp": TS},
         body=b"<xml><Encrypt><a>1</a></Encrypt></xml>")
def test_any_params_and_body_open_or_refuse(params, body):
    _opens_or_refuses(PLAIN, params, body)
    _opens_or_refuses(SAFE, params, body)


@FAST
@given(xml=random_xml)
@example(xml="<xml><FromUserName>o</FromUserName><MsgType>text</MsgType>"
             "<CreateTime>x</CreateTime></xml>")
def test_correctly_signed_random_xml_opens_or_refuses(xml):
    _opens_or_refuses(PLAIN, _signed_plain(), xml.encode())
    # the same XML correctly encrypted for safe mode
    packed = CRYPTO.encrypt_message(xml, NONCE, TS)
    params, body = _signed_encrypt(_between(packed, "<Encrypt><![CDATA[", "]]></Encrypt>"))
    _opens_or_refuses(SAFE, params, body)


def _between(s: str, start: str, end: str) -> str:
    return s.split(start, 1)[1].split(end, 1)[0]


@FAST
@given(ciphertext=st.binary(max_size=96))
@example(ciphertext=b"")
@example(ciphertext=b"\x00" * 15)
@example(ciphertext=b"\x00" * 16)
@example(ciphertext=os.urandom(32))
def test_correctly_signed_random_ciphertext_is_refused_as_malformed(ciphertext):
    params, body = _signed_encrypt(base64.b64encode(ciphertext).decode())
    with pytest.raises(ProtocolError):
        SAFE.open(params, body, now=NOW)


@FAST
@given(encrypt=st.text(max_size=80))
@example(encrypt="not base64!")
@example(encrypt="QUJD")  # 3 bytes: shorter than one AES block
def test_correctly_signed_random_encrypt_text_opens_or_refuses(encrypt):
    params, body = _signed_encrypt(encrypt)
    _opens_or_refuses(SAFE, params, body)


@pytest.mark.parametrize("encrypt", ["", "QUJD", "not base64!", base64.b64encode(b"x" * 20).decode()])
def test_short_or_broken_ciphertext_is_malformed(encrypt):
    params, body = _signed_encrypt(encrypt)
    with pytest.raises(MalformedMessage):
        SAFE.open(params, body, now=NOW)


def test_short_ciphertext_through_the_app_is_400_not_500(make_chat):
    chat = make_chat(safe_mode=True)
    for encrypt in ("QUJD", base64.b64encode(b"y" * 20).decode(), "%%%"):
        d = chat.sim.text("o-prop", "你好")
        ts, nonce = d.params["timestamp"], d.params["nonce"]
        params = {**d.params, "msg_signature": wechat_signature(chat.sim.token, ts, nonce, encrypt)}
        body = f"<xml><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>".encode()
        r = chat.client.post("/wechat", params=params, content=body)
        assert r.status_code == 400, (encrypt, r.status_code, r.text)
    assert "查询进度" in chat.sim.reply_text(chat.post(chat.sim.text("o-prop", "帮助")).content)

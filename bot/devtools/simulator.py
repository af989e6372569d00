"""Builds the HTTP requests WeChat's server sends to our webhook, and reads our replies.

Used by `gridbot chat`, the tests and the benchmark, so they all speak the real protocol:
query parameters ``signature``/``timestamp``/``nonce`` (and ``encrypt_type=aes`` +
``msg_signature`` in safe mode), an XML body, and a passive reply (被动回复) that is either
``success``/empty or reply XML, encrypted in safe mode.

Sources:
developers.weixin.qq.com/doc/offiaccount/Basic_Information/Access_Overview.html (signature),
developers.weixin.qq.com/doc/offiaccount/Message_Management/Receiving_standard_messages.html,
developers.weixin.qq.com/doc/offiaccount/Message_Management/Receiving_event_pushes.html,
developers.weixin.qq.com/doc/offiaccount/Message_Management/Message_encryption_and_decryption_instructions.html
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

import xmltodict
from wechatpy.crypto import WeChatCrypto

from bot.protocol import wechat_signature

_msg_ids = itertools.count(int(time.time() * 1000) * 1000)


@dataclass(frozen=True)
class Delivery:
    """One push from WeChat: ``params`` for the query string and the raw ``body`` bytes."""

    params: dict[str, str]
    body: bytes
    plain_xml: str = field(repr=False)


class WeChatSimulator:
    """Plays WeChat's server for one official account.

    ``token``, ``app_id`` and ``aes_key`` are the account's settings (aes_key None = plaintext
    mode). ``now`` returns Unix seconds (time.time by default). Each builder returns a
    ``Delivery``; ``retry(d)`` re-signs the same XML like WeChat's retries do.
    """

    def __init__(
        self,
        token: str,
        app_id: str,
        aes_key: str | None = None,
        account: str = "gh_gridbot",
        now: Callable[[], float] = time.time,
    ) -> None:
        self.token = token
        self.app_id = app_id
        self.account = account
        self.now = now
        self.crypto = WeChatCrypto(token, aes_key, app_id) if aes_key else None

    # -- messages -------------------------------------------------------------------------
    def text(self, openid: str, content: str, msg_id: int | None = None) -> Delivery:
        return self._message(openid, "text", {"Content": content}, msg_id)

    def voice(self, openid: str, recognition: str, msg_id: int | None = None) -> Delivery:
        fields = {"MediaId": "media-" + secrets.token_hex(4), "Format": "amr",
                  "Recognition": recognition}
        return self._message(openid, "voice", fields, msg_id)

    def image(self, openid: str, pic_url: str, msg_id: int | None = None) -> Delivery:
        fields = {"PicUrl": pic_url, "MediaId": "media-" + secrets.token_hex(4)}
        return self._message(openid, "image", fields, msg_id)

    def location(
        self, openid: str, lat: float, lng: float, label: str = "", msg_id: int | None = None
    ) -> Delivery:
        fields = {"Location_X": str(lat), "Location_Y": str(lng), "Scale": "15", "Label": label}
        return self._message(openid, "location", fields, msg_id)

    def event(self, openid: str, event: str, key: str | None = None) -> Delivery:
        fields = {"Event": event}
        if key is not None:
            fields["EventKey"] = key
        return self._build(openid, "event", fields)

    def _message(self, openid: str, kind: str, fields: dict, msg_id: int | None) -> Delivery:
        fields = {**fields, "MsgId": str(msg_id if msg_id is not None else next(_msg_ids))}
        return self._build(openid, kind, fields)

    def _build(self, openid: str, kind: str, fields: dict[str, str]) -> Delivery:
        parts = [
            f"<ToUserName><![CDATA[{self.account}]]></ToUserName>",
            f"<FromUserName><![CDATA[{openid}]]></FromUserName>",
            f"<CreateTime>{int(self.now())}</CreateTime>",
            f"<MsgType><![CDATA[{kind}]]></MsgType>",
        ]
        for name, value in fields.items():
            parts.append(f"<{name}><![CDATA[{escape(value)}]]></{name}>")
        return self.sign("<xml>" + "".join(parts) + "</xml>", openid)

    # -- signing --------------------------------------------------------------------------
    def sign(self, plain_xml: str, openid: str = "") -> Delivery:
        """Sign (and in safe mode encrypt) ``plain_xml`` with a fresh timestamp and nonce."""
        timestamp = str(int(self.now()))
        nonce = secrets.token_hex(5)
        params = {
            "signature": wechat_signature(self.token, timestamp, nonce),
            "timestamp": timestamp,
            "nonce": nonce,
            "openid": openid,
        }
        if self.crypto is None:
            return Delivery(params, plain_xml.encode(), plain_xml)
        packed = xmltodict.parse(self.crypto.encrypt_message(plain_xml, nonce, timestamp))["xml"]
        body = (
            f"<xml><ToUserName><![CDATA[{self.account}]]></ToUserName>"
            f"<Encrypt><![CDATA[{packed['Encrypt']}]]></Encrypt></xml>"
        )
        params |= {"encrypt_type": "aes", "msg_signature": packed["MsgSignature"]}
        return Delivery(params, body.encode(), plain_xml)

    def retry(self, delivery: Delivery) -> Delivery:
        """The same message re-sent, as WeChat does after 5 s without a reply."""
        return self.sign(delivery.plain_xml, delivery.params.get("openid", ""))

    def read_reply(self, body: bytes | str) -> dict[str, str]:
        """Our passive reply as a dict of its XML fields ({} for ``success``/empty).

        In safe mode the reply is decrypted (and its signature checked by wechatpy).
        Raises wechatpy.exceptions.InvalidSignatureException on a bad reply signature.
        """
        text = body.decode() if isinstance(body, bytes) else body
        if text.strip() in ("", "success"):
            return {}
        if self.crypto is not None:
            outer = xmltodict.parse(text)["xml"]
            text = self.crypto.decrypt_message(
                text, outer["MsgSignature"], outer["TimeStamp"], outer["Nonce"]
            )
        return dict(xmltodict.parse(text)["xml"])

    def reply_text(self, body: bytes | str) -> str:
        """The ``Content`` of a text reply, or "" when there is none."""
        return self.read_reply(body).get("Content") or ""

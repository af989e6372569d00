"""The WeChat side of the webhook: signatures, safe-mode crypto, parsing and replies.

wechatpy does the parsing and the AES; this module adds what wechatpy leaves out: a
timestamp window, constant-time signature comparison, the size limit, and the fallback
to the previous EncodingAESKey while a key is rotated.

Exception tree::

    ProtocolError                 → the webhook answers 4xx, nothing is processed
     ├── BadSignature             403  signature/msg_signature wrong, or timestamp outside the window
     ├── BadAppId                 400  decrypted message is for another AppID
     ├── MalformedMessage         400  not XML, not a WeChat message, or a ciphertext that
     │                                 does not decrypt (not base64, not whole AES blocks, bad padding)
     └── BodyTooLarge             413

Sources:
developers.weixin.qq.com/doc/offiaccount/Basic_Information/Access_Overview.html,
developers.weixin.qq.com/doc/offiaccount/Message_Management/Message_encryption_and_decryption_instructions.html,
developers.weixin.qq.com/doc/offiaccount/Message_Management/Passive_user_reply_message.html
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import struct
import time
from collections.abc import Mapping
from xml.parsers.expat import ExpatError

from wechatpy import create_reply, parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.messages import BaseMessage

from bot.settings import Settings


def wechat_signature(*parts: str) -> str:
    """SHA-1 hex of the sorted, concatenated parts: WeChat's signature of a push (token,
    timestamp, nonce; plus the Encrypt field for ``msg_signature`` in safe mode).
    Source: developers.weixin.qq.com/doc/offiaccount/Basic_Information/Access_Overview.html
    """
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


class ProtocolError(Exception):
    """A request that is not a valid WeChat push; ``status`` is the HTTP code to answer."""

    status = 400


class BadSignature(ProtocolError):
    status = 403


class BadAppId(ProtocolError):
    status = 400


class MalformedMessage(ProtocolError):
    status = 400


class BodyTooLarge(ProtocolError):
    status = 413


_PARSE_ERRORS = (ExpatError, ValueError, TypeError, KeyError, AttributeError, IndexError)
"""What wechatpy/xmltodict raise on XML that is not a WeChat message (UnicodeDecodeError and
binascii.Error are ValueErrors)."""
_DECRYPT_ERRORS = (
    InvalidSignatureException, ValueError, TypeError, IndexError, struct.error, binascii.Error,
)
"""What wechatpy's AES decryption raises on a ciphertext that is not base64, shorter than one
AES block or not a multiple of 16 bytes (cryptography's ValueError), has bad padding or a bad
length prefix (IndexError, struct.error), or decrypts to text that is not UTF-8."""


class Protocol:
    """Verifies, decrypts, parses and answers WeChat pushes for one official account."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        keys = [settings.wechat_aes_key, settings.wechat_aes_key_previous]
        self._cryptos = [
            WeChatCrypto(settings.wechat_token, key, settings.wechat_app_id) for key in keys if key
        ]

    @property
    def safe_mode(self) -> bool:
        return bool(self._cryptos)

    def check_signature(self, params: Mapping[str, str], now: float | None = None) -> None:
        """Check ``signature`` over token/timestamp/nonce and the timestamp window.

        ``timestamp`` is Unix seconds; it must lie within ``settings.timestamp_window_s``
        of ``now``. Raises BadSignature.
        """
        signature = params.get("signature", "")
        timestamp = params.get("timestamp", "")
        nonce = params.get("nonce", "")
        self._check_timestamp(timestamp, now)
        expected = wechat_signature(self.settings.wechat_token, timestamp, nonce)
        if not hmac.compare_digest(expected.encode(), signature.encode()):  # str: ASCII only
            raise BadSignature("signature mismatch")

    def _check_timestamp(self, timestamp: str, now: float | None) -> None:
        try:
            ts = int(timestamp)
            now = time.time() if now is None else now
            skew_s = abs(now - ts)
        except (ValueError, OverflowError):  # OverflowError: digits beyond a float's range
            raise BadSignature("timestamp missing or not an integer") from None
        if skew_s > self.settings.timestamp_window_s:
            raise BadSignature(f"timestamp outside the {self.settings.timestamp_window_s}s window")

    def open(self, params: Mapping[str, str], body: bytes, now: float | None = None) -> BaseMessage:
        """Verify and decode one POSTed push into a wechatpy message.

        In safe mode (``encrypt_type=aes``) the ``msg_signature`` is checked and the body
        decrypted with the current EncodingAESKey, then with the previous one. Raises
        BodyTooLarge, BadSignature, BadAppId or MalformedMessage — never anything else for
        any ``params`` and ``body`` (property-tested in tests/bot/test_protocol_properties.py).
        """
        if len(body) > self.settings.max_body_bytes:
            raise BodyTooLarge(f"{len(body)} bytes > {self.settings.max_body_bytes}")
        encrypted = params.get("encrypt_type") == "aes"
        if encrypted:
            if not self.safe_mode:
                raise MalformedMessage("encrypted push but no EncodingAESKey configured")
            xml = self._decrypt(params, body, now)
        else:
            if self.safe_mode and self.settings.environment == "production":
                raise BadSignature("plaintext push while safe mode is required")
            self.check_signature(params, now)
            xml = body
        try:
            message = parse_message(xml)
        except _PARSE_ERRORS as exc:
            raise MalformedMessage(f"unparseable message: {type(exc).__name__}: {exc}") from exc
        if not getattr(message, "source", None):
            raise MalformedMessage("message has no FromUserName")
        return message

    def _decrypt(self, params: Mapping[str, str], body: bytes, now: float | None) -> str:
        timestamp = params.get("timestamp", "")
        nonce = params.get("nonce", "")
        msg_signature = params.get("msg_signature", "")
        self._check_timestamp(timestamp, now)
        try:
            import xmltodict

            encrypt = xmltodict.parse(body)["xml"]["Encrypt"]
        except _PARSE_ERRORS as exc:
            raise MalformedMessage("no Encrypt element") from exc
        if not isinstance(encrypt, str):  # <Encrypt/>, nested elements or several Encrypt
            raise MalformedMessage("Encrypt is not one text element")
        expected = wechat_signature(self.settings.wechat_token, timestamp, nonce, encrypt)
        if not hmac.compare_digest(expected.encode(), msg_signature.encode()):
            raise BadSignature("msg_signature mismatch")
        wrong_app = False
        last_error = ""
        for crypto in self._cryptos:
            try:
                return crypto.decrypt_message({"Encrypt": encrypt}, msg_signature, timestamp, nonce)
            except InvalidAppIdException:
                wrong_app = True  # or the wrong key's garbage: try the next key first
            except _DECRYPT_ERRORS as exc:
                last_error = type(exc).__name__  # wrong key or a broken ciphertext
        if wrong_app:
            raise BadAppId("message is for another AppID")
        raise MalformedMessage(f"cannot decrypt with any configured key ({last_error})")

    def reply(self, text: str | None, message: BaseMessage, params: Mapping[str, str]) -> str:
        """The HTTP body of a passive reply: ``success`` when ``text`` is empty, else reply
        XML to the sender, encrypted when the push was encrypted."""
        if not text:
            return "success"
        xml = create_reply(text, message, render=True)
        if params.get("encrypt_type") == "aes" and self.safe_mode:
            nonce = params.get("nonce", "")
            timestamp = params.get("timestamp", str(int(time.time())))
            return self._cryptos[0].encrypt_message(xml, nonce, timestamp)
        return xml

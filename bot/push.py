"""Deliver one outbox row through the right WeChat channel, or say exactly why not.

Channel choice (every push records the one used); the channels are ``Channel`` classes
(``OfficialAccount``, ``WeCom``) tried in ``CHANNEL_ORDER`` per recipient kind:

- ``"wecom"``    — a staff recipient with a WeCom userid and WeCom enabled: a WeCom
  application text message (企业微信应用消息; staff, no 48 h window).
- ``"custom"``   — otherwise a customer-service text message (客服消息). Allowed only within
  48 h of the user's last message, a few per window.
- ``"template"`` — when the custom message is refused with 45015 (outside the 48 h window)
  or 45047 (too many customer-service messages), a template message (模板消息) with
  ``settings.template_ids[row.event]`` (else ``template_ids["default"]``) and ``row.data``.

Outcome of a failed call — did the message possibly reach WeChat? (``PushError.in_doubt``)
WeChat's send APIs take no idempotency key (no request id that WeChat would de-duplicate),
so a message that *may* have been delivered must not be sent again blindly: it is "in
doubt" and the relay keeps it for staff ("unknown"). A failure known to have happened
before delivery keeps the retry rules.

====================================================  ===========  ======================
failure                                               in doubt?    then
====================================================  ===========  ======================
errcode -1 (system busy), 45009/45011 (quota)         no           retry with backoff
errcode 40001/40014/42001 (token invalid/expired)     no           refresh token once,
                                                                   call again once; if it
                                                                   persists: retry later
errcode 45015/45047 (out of the 48 h window)          no           template message now
  … and no template ID configured                     no           final (dead)
any other errcode; WeCom ``invaliduser``              no           final (dead)
HTTP 429 Too Many Requests, 503 Service Unavailable   no           retry with backoff
  (refused before processing)
HTTP 500, 502, 504 and other 5xx                      **yes**      unknown
  (a gateway may have passed the request on)
other HTTP 4xx                                        no           final (dead)
HTTP 200 whose body is not JSON                       **yes**      unknown
requests ConnectTimeout, connection refused, DNS,     no           retry with backoff
  TLS handshake (never connected)
requests ReadTimeout (sent, no answer in time)        **yes**      unknown
connection reset/aborted after connecting,            **yes**      unknown
  broken or undecodable answer
other requests errors (bad URL …)                     no           retry with backoff
token fetch failures (GET token: no message sent)     no           by the rows above
Redis errors reading/locking the shared token         no           retry with backoff
====================================================  ===========  ======================

A stale keep-alive connection that the server had closed also ends as "connection
aborted": such a push is counted in doubt although it was not delivered (the safe side).

Exception tree::

    PushError(reason, retryable, errcode, channel, in_doubt)
     └── NoTemplateError      out of the 48 h window and no template configured (final)

Sources:
- POST message/custom/send:
  developers.weixin.qq.com/doc/offiaccount/Message_Management/Service_Center_messages.html
- POST message/template/send:
  developers.weixin.qq.com/doc/offiaccount/Message_Management/Template_Message_Interface.html
- WeCom POST message/send: developer.work.weixin.qq.com/document/path/90236
- errcodes: developers.weixin.qq.com/doc/offiaccount/Getting_Started/Global_Return_Code.html
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import redis as redis_lib
import requests
from wechatpy.exceptions import WeChatClientException

from bot.settings import Settings
from bot.wechat_api import official_client, wecom_client
from storage.models import Outbox

logger = logging.getLogger(__name__)

SYSTEM_BUSY = -1
TOKEN_ERRORS = frozenset({40001, 40014, 42001})
"""Invalid credential / invalid access_token / access_token expired."""
QUOTA_ERRORS = frozenset({45009, 45011})
"""API daily quota reached / API minute quota reached: wait and try again."""
OUT_OF_WINDOW = frozenset({45015, 45047})
"""Out of the 48 h customer-service window / too many customer-service messages."""


class PushError(Exception):
    """A push that did not reach its recipient, or may not have (``in_doubt``).

    ``reason`` is English text for logs and ``Outbox.last_error``; ``retryable`` says whether
    a later attempt may succeed; ``errcode`` is WeChat's errcode when it answered one (None
    for network and HTTP errors); ``channel`` is the channel that failed; ``in_doubt`` is
    True when the request may have reached WeChat and been delivered (then it must not be
    sent again blindly, whatever ``retryable`` says).
    """

    def __init__(
        self, reason: str, retryable: bool, errcode: int | None = None, channel: str | None = None,
        in_doubt: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.errcode = errcode
        self.channel = channel
        self.in_doubt = in_doubt

    def __str__(self) -> str:
        prefix = f"{self.channel}: " if self.channel else ""
        return prefix + self.reason


class NoTemplateError(PushError):
    """The custom message was refused (out of window) and no template ID is configured."""


def template_data(row: Outbox) -> dict[str, dict[str, str]]:
    """``row.data`` in the template message's shape: ``{"first": {"value": "…"}, …}``.

    Plain string values are wrapped as ``{"value": v}``; dicts (with ``color``) pass as is;
    keys starting with "_" are our own bookkeeping and are not sent. No template field left
    becomes ``{"first": {"value": row.text}}``.
    """
    data = {k: v for k, v in (row.data or {}).items() if not k.startswith("_")}
    data = data or {"first": row.text}
    return {
        key: value if isinstance(value, dict) else {"value": str(value)}
        for key, value in data.items()
    }


@dataclass(frozen=True)
class Address:
    """Where one recipient can be reached, resolved at send time (``bot.relay``).

    ``kind`` is the outbox row's ``recipient_kind`` ("resident" | "staff"); ``openid`` the
    official-account OpenID; ``wecom_userid`` the staff member's WeCom userid, if any.
    An SMS channel would add ``phone`` here.
    """

    kind: str
    openid: str
    wecom_userid: str | None = None


Call = Callable[..., dict]
"""``Pusher._call(channel, client, call, check=None)``: one API call with the token retry and
every failure translated into PushError."""


class Channel(Protocol):
    """One way to deliver a push. ``name`` is its key in ``Pusher.channels`` and
    ``CHANNEL_ORDER``; ``can_reach(to)`` says whether it has an address for ``to`` (no call
    made); ``send(row, to)`` delivers ``row.text`` (or its template) and returns the channel
    name recorded on the row ("custom", "template", "wecom"), raising PushError (with
    ``in_doubt`` when the request may have been delivered) otherwise.

    Adding a channel (SMS, say) is one class implementing this plus one entry in
    ``Pusher.__init__`` built from its settings (credentials), and its name in
    ``CHANNEL_ORDER``; the relay and outbox need no change beyond ``Address``.
    """

    name: str

    def can_reach(self, to: Address) -> bool: ...

    def send(self, row: Outbox, to: Address) -> str: ...


class OfficialAccount:
    """The official account: a customer-service text message (客服消息, 48 h window after
    the user's last message), then a template message (模板消息) with
    ``settings.template_ids[row.event]`` (else ``["default"]``) when the custom message is
    refused with 45015/45047.

    Sources: developers.weixin.qq.com/doc/offiaccount/Message_Management/Service_Center_messages.html
    and …/Message_Management/Template_Message_Interface.html
    """

    name = "official"

    def __init__(self, settings: Settings, client: Any, call: Call) -> None:
        self.settings, self.client, self.call = settings, client, call

    def can_reach(self, to: Address) -> bool:
        """Anyone with an OpenID that is not a forgotten resident's ("anon:<id>")."""
        return bool(to.openid) and not to.openid.startswith("anon:")

    def send(self, row: Outbox, to: Address) -> str:
        """"custom" or "template"; raises PushError / NoTemplateError."""
        try:
            self.call("custom", self.client, lambda c: c.message.send_text(to.openid, row.text))
            return "custom"
        except PushError as exc:
            if exc.errcode not in OUT_OF_WINDOW:
                raise
            refused = exc
        template_ids = self.settings.template_ids
        template_id = template_ids.get(row.event) or template_ids.get("default")
        if not template_id:
            raise NoTemplateError(
                f"custom message refused (errcode {refused.errcode}) and no template configured"
                f" for event {row.event!r} (GRIDBOT_TEMPLATE_IDS)",
                retryable=False, errcode=refused.errcode, channel="template",
            )
        logger.info("push %s: custom refused with %s, sending template %s",
                    row.id, refused.errcode, template_id)
        data = template_data(row)
        self.call("template", self.client,
                  lambda c: c.message.send_template(to.openid, template_id, data))
        return "template"


class WeCom:
    """A WeCom application text message (企业微信应用消息) to a staff member's userid; no 48 h
    window. Source: developer.work.weixin.qq.com/document/path/90236 (message/send)."""

    name = "wecom"

    def __init__(self, agent_id: Any, client: Any, call: Call) -> None:
        self.agent_id, self.client, self.call = agent_id, client, call

    def can_reach(self, to: Address) -> bool:
        """Staff with a WeCom userid."""
        return to.kind == "staff" and bool(to.wecom_userid)

    def send(self, row: Outbox, to: Address) -> str:
        """"wecom"; raises PushError (final when WeCom lists the userid as ``invaliduser``)."""
        self.call("wecom", self.client,
                  lambda c: c.message.send_text(self.agent_id, to.wecom_userid, row.text),
                  check=_check_wecom_recipients)
        return "wecom"


CHANNEL_ORDER: dict[str, tuple[str, ...]] = {
    "staff": ("wecom", "official"),
    "resident": ("official",),
}
"""Channels tried per recipient kind, first that is configured and can reach them wins
(only one is used per attempt: a failure is recorded, not passed to the next channel)."""


class Pusher:
    """Sends outbox rows through WeChat (synchronous: call it from the worker, not the loop).

    Builds its clients once from ``settings`` (``bot.wechat_api``); ``redis`` is a
    synchronous client holding the shared access tokens.
    """

    def __init__(self, settings: Settings, redis: redis_lib.Redis) -> None:
        self.settings = settings
        self.official = official_client(settings, redis)
        self.wecom = wecom_client(settings, redis)
        self.channels: dict[str, Channel] = {"official": OfficialAccount(settings, self.official,
                                                                          self._call)}
        if self.wecom is not None:
            self.channels["wecom"] = WeCom(settings.wecom_agent_id, self.wecom, self._call)

    def close(self) -> None:
        """Close the clients' HTTP connection pools (their requests sessions)."""
        for client in (self.official, self.wecom):
            if client is not None:
                client._http.close()

    def send(self, row: Outbox, wecom_userid: str | None = None) -> str:
        """Deliver ``row`` and return the channel used: "wecom", "custom" or "template".

        The first channel of ``CHANNEL_ORDER[row.recipient_kind]`` that is configured and
        can reach the recipient sends it (``wecom_userid``: the staff member's
        GridWorker.wecom_userid, resolved by the relay at send time). Raises PushError
        (NoTemplateError when out of window without a template; a final PushError when no
        channel reaches the recipient).
        """
        to = Address(kind=row.recipient_kind, openid=row.openid, wecom_userid=wecom_userid)
        for name in CHANNEL_ORDER.get(to.kind, ()):
            channel = self.channels.get(name)
            if channel is not None and channel.can_reach(to):
                return channel.send(row, to)
        raise PushError(f"no channel reaches {to.kind} (tried {CHANNEL_ORDER.get(to.kind, ())})",
                        retryable=False)

    def _call(
        self,
        channel: str,
        client: Any,
        call: Callable[[Any], Any],
        check: Callable[[dict], None] | None = None,
    ) -> dict:
        """Run ``call(client)``; on a token error refresh the token once and run it again.

        Translates every failure into PushError tagged with ``channel``.
        """
        for attempt in (1, 2):
            self._token_step(channel, lambda: client.access_token)  # no message sent yet
            try:
                result = call(client)
            except WeChatClientException as exc:
                if exc.errcode in TOKEN_ERRORS and attempt == 1:
                    logger.info("%s: access token refused (%s), fetching a new one",
                                channel, exc.errcode)
                    self._refresh_token(channel, client)
                    continue
                raise _classify(exc, channel) from exc
            except requests.RequestException as exc:
                raise _network_error(exc, channel) from exc
            except redis_lib.RedisError as exc:  # the shared token, read before sending
                raise PushError(f"Redis error reading the access token: {exc!r}",
                                retryable=True, channel=channel) from exc
            if not isinstance(result, dict):
                raise PushError("answer is not JSON (it may have been delivered)",
                                retryable=True, channel=channel, in_doubt=True)
            if check is not None:
                check(result)
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    def _refresh_token(self, channel: str, client: Any) -> None:
        self._token_step(channel, client.fetch_access_token)

    @staticmethod
    def _token_step(channel: str, step: Callable[[], Any]) -> None:
        """Run ``step`` (read the shared access token, fetching it if needed, or fetch a new
        one): its failures come before any message was sent, so none is in doubt."""
        try:
            step()
        except WeChatClientException as exc:
            raise _classify(exc, channel, "fetching access token: ") from exc
        except requests.RequestException as exc:
            raise PushError(
                f"network error fetching access token: {exc!r}", retryable=True, channel=channel
            ) from exc
        except redis_lib.RedisError as exc:
            raise PushError(f"Redis error sharing the access token: {exc!r}", retryable=True,
                            channel=channel) from exc


def _classify(exc: WeChatClientException, channel: str, context: str = "") -> PushError:
    """PushError for a wechatpy error: an errcode answer or an HTTP error (errcode None)."""
    if exc.errcode is None:
        status = getattr(exc.response, "status_code", None)
        retryable = status is None or status >= 500 or status == 429
        in_doubt = not context and (status is None or (status >= 500 and status not in REFUSED_HTTP))
        reason = f"{context}HTTP {status}" + (" (it may have been delivered)" if in_doubt else "")
        return PushError(reason, retryable=retryable, channel=channel, in_doubt=in_doubt)
    errcode = int(exc.errcode)
    retryable = errcode == SYSTEM_BUSY or errcode in TOKEN_ERRORS or errcode in QUOTA_ERRORS
    return PushError(
        f"{context}errcode {errcode}: {exc.errmsg}", retryable=retryable, errcode=errcode,
        channel=channel,
    )


REFUSED_HTTP = frozenset({429, 503})
"""HTTP statuses that say the request was refused before it was processed (RFC 9110 §15.6.4,
RFC 6585 §4): retried. Every other 5xx leaves the push in doubt."""
NEVER_CONNECTED = ("NewConnectionError", "Failed to establish a new connection",
                   "NameResolutionError", "Failed to resolve", "getaddrinfo failed")
"""Marks of urllib3's "could not connect" errors inside a requests ConnectionError (whose
message is all ``bot.wechat_api`` keeps, the secrets masked)."""


def _network_error(exc: requests.RequestException, channel: str) -> PushError:
    """PushError for a requests error of a send: in doubt unless the request never left
    (connect timeout, refused, DNS, TLS handshake) or was never built (bad URL …)."""
    if isinstance(exc, requests.ConnectTimeout | requests.exceptions.SSLError):
        in_doubt = False
    elif isinstance(exc, requests.ConnectionError):  # ReadTimeout is not one
        in_doubt = not any(mark in str(exc) for mark in NEVER_CONNECTED)
    else:
        in_doubt = isinstance(exc, requests.ReadTimeout | requests.exceptions.ChunkedEncodingError
                              | requests.exceptions.ContentDecodingError)
    suffix = " (sent, no answer: it may have been delivered)" if in_doubt else ""
    return PushError(f"network error: {exc!r}{suffix}", retryable=True, channel=channel,
                     in_doubt=in_doubt)


def _check_wecom_recipients(result: dict) -> None:
    """WeCom answers errcode 0 with ``invaliduser`` when the recipient is unknown or out of
    the application's visible range; the message then reached nobody (final)."""
    invalid = result.get("invaliduser")
    if invalid:
        raise PushError(f"WeCom userid not reachable: {invalid}", retryable=False, channel="wecom")

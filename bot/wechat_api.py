"""wechatpy clients for the WeChat APIs we call, pointed at a configurable base URL.

``official_client`` talks to the official account's API (公众号, ``settings.wechat_api_base_url``)
and ``wecom_client`` to the WeCom application API (企业微信, ``settings.wecom_api_base_url``).
Both fetch their access token from that same base URL — stock wechatpy hard-codes
``api.weixin.qq.com``/``qyapi.weixin.qq.com`` for it — so the sandbox (``bot.devtools.sandbox``) can
stand in for WeChat on a machine with no internet.

The access token is shared by every process through wechatpy's Redis session storage
(keys ``gridbot:wechatpy:<appid>_access_token``), and a refresh is serialised by a Redis
lock: WeChat invalidates the previous token when a new one is fetched, so processes that
fetched on their own would keep knocking each other's token out.

wechatpy's own "refresh and retry on 40001/42001" (``auto_retry``) is switched off: it
retries without bound. ``bot.push.Pusher`` refreshes once and retries once instead.

Sources:
developers.weixin.qq.com/doc/offiaccount/Basic_Information/Get_access_token.html (GET token),
developer.work.weixin.qq.com/document/path/91039 (WeCom GET gettoken).
"""

from __future__ import annotations

import logging
from typing import Any

import redis as redis_lib
import requests
import wechatpy
import wechatpy.enterprise
from wechatpy.session.redisstorage import RedisStorage

from bot.logs import scrub
from bot.settings import Settings

logger = logging.getLogger(__name__)

SESSION_PREFIX = "gridbot:wechatpy"
"""Redis key prefix of wechatpy's session storage (access tokens)."""
HTTP_TIMEOUT_S = 10.0
"""Default connect and read timeout of every WeChat API call, token fetches included
(seconds); ``Settings.wechat_timeout_s`` sets it."""
TOKEN_LOCK_TIMEOUT_S = 30
TOKEN_LOCK_WAIT_S = 15


class _TimeoutSession(requests.Session):
    """A requests session with a default timeout (wechatpy's token fetch passes none).

    Its network errors carry no secret: requests/urllib3 put the request URL in the message
    ("Max retries exceeded with url: /cgi-bin/token?…&secret=…"), and the URL holds the
    AppSecret (token fetch) or the access_token (every other call); such messages end up in
    logs and in ``Outbox.last_error``. The exception is re-raised, same type, with the secret
    query values masked (``bot.logs.scrub``) and without the original as its context.
    """

    def __init__(self, timeout_s: float) -> None:
        super().__init__()
        self.timeout_s = timeout_s

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout_s
        try:
            return super().request(method, url, *args, **kwargs)
        except requests.RequestException as exc:
            clean = type(exc)(scrub(str(exc)), request=exc.request, response=exc.response)
        raise clean


class _SharedTokenMixin:
    """Fetches the access token from ``API_BASE_URL`` under a cross-process Redis lock.

    Subclasses set ``TOKEN_ENDPOINT`` and implement ``_token_params()``.
    """

    API_BASE_URL: str
    TOKEN_ENDPOINT: str
    _redis: redis_lib.Redis
    session: RedisStorage
    access_token_key: str
    expires_at: int | None

    def _token_params(self) -> dict[str, str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def fetch_access_token(self) -> dict:
        """Fetch a new access token from ``API_BASE_URL + TOKEN_ENDPOINT`` and store it.

        Holds the Redis lock ``gridbot:wechatpy:lock:<key>`` while fetching; when another
        process stored a different token while we waited, that token is used instead of
        fetching again. Returns WeChat's JSON (``access_token``, ``expires_in`` in s).
        Raises wechatpy.exceptions.WeChatClientException on an errcode or HTTP error,
        requests.RequestException on network errors, redis.exceptions.LockError when the
        lock cannot be taken within TOKEN_LOCK_WAIT_S seconds.
        """
        seen = self.session.get(self.access_token_key)
        lock = self._redis.lock(
            f"{SESSION_PREFIX}:lock:{self.access_token_key}",
            timeout=TOKEN_LOCK_TIMEOUT_S,
            blocking_timeout=TOKEN_LOCK_WAIT_S,
        )
        with lock:
            current = self.session.get(self.access_token_key)
            if current and current != seen:
                # Another process refreshed while we waited; its Redis TTL rules expiry.
                self.expires_at = None
                return {"access_token": current}
            return self._fetch_access_token(  # type: ignore[attr-defined]
                url=f"{self.API_BASE_URL}{self.TOKEN_ENDPOINT}", params=self._token_params()
            )


class OfficialClient(_SharedTokenMixin, wechatpy.WeChatClient):
    """wechatpy's official-account client on a configurable base URL.

    Calls ``GET {API_BASE_URL}token?grant_type=client_credential&appid=…&secret=…``.
    Source: developers.weixin.qq.com/doc/offiaccount/Basic_Information/Get_access_token.html
    """

    TOKEN_ENDPOINT = "token"

    def _token_params(self) -> dict[str, str]:
        return {"grant_type": "client_credential", "appid": self.appid, "secret": self.secret}


class WeComClient(_SharedTokenMixin, wechatpy.enterprise.WeChatClient):
    """wechatpy's WeCom (企业微信) client on a configurable base URL.

    Calls ``GET {API_BASE_URL}gettoken?corpid=…&corpsecret=…``.
    Source: developer.work.weixin.qq.com/document/path/91039
    """

    TOKEN_ENDPOINT = "gettoken"

    def _token_params(self) -> dict[str, str]:
        return {"corpid": self.corp_id, "corpsecret": self.secret}


def _base_url(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def _bind(client: Any, base_url: str, redis: redis_lib.Redis, timeout_s: float) -> Any:
    client.API_BASE_URL = _base_url(base_url)
    client._redis = redis
    client._http = _TimeoutSession(timeout_s)
    return client


def official_client(settings: Settings, redis: redis_lib.Redis) -> OfficialClient:
    """The official account's API client (客服消息, 模板消息 …).

    Base URL ``settings.wechat_api_base_url`` (e.g. ``https://api.weixin.qq.com/cgi-bin/`` or
    the sandbox's ``http://HOST:PORT/sandbox/cgi-bin/``), the token shared through ``redis``
    (a synchronous client), timeouts of ``settings.wechat_timeout_s`` seconds, wechatpy's
    auto-retry off.
    """
    client = OfficialClient(
        settings.wechat_app_id,
        settings.wechat_app_secret,
        session=RedisStorage(redis, prefix=SESSION_PREFIX),
        timeout=settings.wechat_timeout_s,
        auto_retry=False,
    )
    return _bind(client, settings.wechat_api_base_url, redis, settings.wechat_timeout_s)


def wecom_client(settings: Settings, redis: redis_lib.Redis) -> WeComClient | None:
    """The WeCom application's API client, or None unless ``settings.wecom_enabled``.

    Base URL ``settings.wecom_api_base_url`` (``https://qyapi.weixin.qq.com/cgi-bin/`` or the
    sandbox's ``http://HOST:PORT/sandbox/wecom/cgi-bin/``); token shared through ``redis``.
    """
    if not settings.wecom_enabled:
        return None
    client = WeComClient(
        settings.wecom_corp_id,
        settings.wecom_secret,
        session=RedisStorage(redis, prefix=SESSION_PREFIX),
        timeout=settings.wechat_timeout_s,
        auto_retry=False,
    )
    return _bind(client, settings.wecom_api_base_url, redis, settings.wechat_timeout_s)

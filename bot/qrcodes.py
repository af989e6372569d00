"""Parametric QR codes (带参数二维码) through the official account's API: one per community
(or building), whose scene (``storage.estates.scene_for``) tells the bot where a resident
lives when they scan it (``subscribe`` / ``SCAN`` events, ``handlers.community``).

``create_png(client, scene)`` asks ``qrcode/create`` for a permanent string-scene code
(``QR_LIMIT_STR_SCENE``; WeChat keeps up to 100,000 per account) and fetches the ticket's
image. WeChat serves images from ``https://mp.weixin.qq.com/cgi-bin/showqrcode`` (wechatpy's
``WeChatQRCode.get_url``), not from the API host; any other API base (the sandbox, or a proxy
that serves both) is asked at ``<API base>showqrcode``. Synchronous (requests): call it from
the CLI or the worker, never the event loop.
Source: developers.weixin.qq.com/doc/offiaccount/Account_Management/Generating_a_Parametric_QR_Code.html
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from wechatpy.client.api.qrcode import WeChatQRCode

OFFICIAL_API_HOST = "api.weixin.qq.com"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"


class QRCodeImageError(RuntimeError):
    """The ticket's image could not be fetched (HTTP status or not an image)."""


def image_url(api_base_url: str, ticket: str) -> str:
    """Where the image of ``ticket`` is served for an API base URL (see the module doc)."""
    if urlsplit(api_base_url).hostname == OFFICIAL_API_HOST:
        return WeChatQRCode.get_url(ticket)
    base = api_base_url if api_base_url.endswith("/") else api_base_url + "/"
    return f"{base}showqrcode?ticket={quote(ticket, safe='')}"


def create_png(client, scene: str) -> tuple[bytes, str]:
    """(image bytes, the ``url`` the code encodes) of a new permanent code for ``scene`` (1–64
    characters). ``client`` is ``bot.wechat_api.official_client(...)``. Raises
    wechatpy.exceptions.WeChatClientException for an API error (errcode), QRCodeImageError
    when the image cannot be fetched, requests.RequestException on network failure."""
    created = client.qrcode.create({"action_name": "QR_LIMIT_STR_SCENE",
                                    "action_info": {"scene": {"scene_str": scene}}})
    response = client._http.request("GET", image_url(client.API_BASE_URL, created["ticket"]))
    body = response.content
    if response.status_code != 200 or not body.startswith((PNG_MAGIC, JPEG_MAGIC)):
        raise QRCodeImageError(f"showqrcode answered HTTP {response.status_code} "
                               f"({response.headers.get('content-type', '?')}) for scene {scene}")
    return body, created.get("url", "")

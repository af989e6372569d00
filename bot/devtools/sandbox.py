"""A stand-in for WeChat's API servers, for a machine with no internet and no account.

``sandbox_router(redis)`` is mounted at ``/sandbox`` when ``settings.sandbox`` is on, so
``GRIDBOT_WECHAT_API_BASE_URL=http://HOST:PORT/sandbox/cgi-bin/`` and
``GRIDBOT_WECOM_API_BASE_URL=http://HOST:PORT/sandbox/wecom/cgi-bin/`` send our pushes here.
It implements what gridbot calls, with WeChat's request checks and errcodes:

=====================================  ================================================
``GET  cgi-bin/token``                 access token (grant_type/appid/secret present)
``POST cgi-bin/message/custom/send``   客服消息
``POST cgi-bin/message/template/send`` 模板消息
``POST cgi-bin/qrcode/create``         带参数二维码: a ticket for a scene (``QR_SCENE``,
                                       ``QR_STR_SCENE``, ``QR_LIMIT_SCENE``,
                                       ``QR_LIMIT_STR_SCENE``)
``GET  cgi-bin/showqrcode?ticket=…``   the code's image (a real PNG of its ``url``; WeChat
                                       serves it from mp.weixin.qq.com)
``GET  wecom/cgi-bin/gettoken``        WeCom access token (corpid/corpsecret present)
``POST wecom/cgi-bin/message/send``    WeCom application message
=====================================  ================================================

Errcodes answered: 40001 unknown access_token (WeCom 40014), 42001 expired token, 41001
missing token, 40002 bad grant_type, 41002/41004 missing appid/secret, 44002 empty body,
47001 not a JSON object, 40003 bad openid, 40008 bad msgtype, 44004 empty text, 40037 missing
template_id, 40035 bad QR code arguments (action name, scene id 1–100000 for a
permanent code, scene string of 1–64 characters), 40056 bad WeCom agentid, 40031 bad WeCom
userid list. A new token is issued on every fetch and the previous one stays valid 300 s, as WeChat does.

For people and tests:

- ``GET  /sandbox/inbox/{recipient}?after=N`` — the messages delivered to an openid (WeCom:
  ``wecom:<userid>``) from index N on: ``{"recipient", "messages": [...], "next": total}``;
  each message is ``{"index", "api", "msgtype", "text", "body", "at"}`` (``at``: Unix s).
- ``POST /sandbox/faults`` ``{"openid": "...", "errcode": 45015, "count": 1}`` — the next
  ``count`` sends to that recipient fail with that errcode (or, with ``"status": 503``, that
  HTTP status); ``"api": "custom" | "template" | "wecom"`` limits it to one API.
  ``"delay_s": 3`` makes those sends answer 3 s late (a slow or hanging WeChat); alone it
  still delivers the message, as WeChat does when the caller has already timed out.
- ``POST /sandbox/tokens/expire`` — every issued token answers 42001 from now on.
- ``GET  /sandbox/stats`` — calls per endpoint, e.g. ``{"token": 1, "custom_send": 3}``.

State lives in Redis under ``gridbot:sandbox:`` (so several server processes agree).

Sources:
developers.weixin.qq.com/doc/offiaccount/Basic_Information/Get_access_token.html,
developers.weixin.qq.com/doc/offiaccount/Message_Management/Service_Center_messages.html,
developers.weixin.qq.com/doc/offiaccount/Message_Management/Template_Message_Interface.html,
developers.weixin.qq.com/doc/offiaccount/Getting_Started/Global_Return_Code.html,
developers.weixin.qq.com/doc/offiaccount/Account_Management/Generating_a_Parametric_QR_Code.html,
developer.work.weixin.qq.com/document/path/91039 (gettoken),
developer.work.weixin.qq.com/document/path/90236 (message/send).
"""

from __future__ import annotations

import io
import json
import re
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis as redis_lib
import segno
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

PREFIX = "gridbot:sandbox:"
TOKEN_TTL_S = 7200
OLD_TOKEN_GRACE_S = 300
OPENID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
WECOM_USERID_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
QR_ACTIONS = frozenset({"QR_SCENE", "QR_STR_SCENE", "QR_LIMIT_SCENE", "QR_LIMIT_STR_SCENE"})
QR_MAX_EXPIRE_S = 30 * 24 * 3600
MSGTYPES = frozenset(
    {"text", "image", "voice", "video", "music", "news", "mpnews", "msgmenu", "wxcard",
     "miniprogrampage", "textcard", "markdown", "file"}
)


class Fault(BaseModel):
    """An injected failure: the next ``count`` sends to ``openid`` answer ``errcode`` (or the
    HTTP ``status``) after ``delay_s`` seconds (with neither, the late send is delivered);
    ``api`` (custom | template | wecom) limits it to one endpoint."""

    openid: str
    errcode: int | None = None
    status: int | None = Field(default=None, ge=400, le=599)
    delay_s: float = Field(default=0.0, ge=0.0, le=120.0)
    count: int = Field(default=1, ge=1, le=1000)
    api: str | None = None


class _Refusal(Exception):
    """An errcode answer (HTTP 200, as WeChat answers errors)."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(errmsg)
        self.errcode = errcode
        self.errmsg = errmsg


class _Sandbox:
    """The sandbox's state in Redis and the checks WeChat makes."""

    def __init__(self, redis: redis_lib.Redis) -> None:
        self.redis = redis

    # -- tokens -------------------------------------------------------------------------
    def issue_token(self, kind: str, app: str) -> dict:
        token = f"sandbox-{kind}-{secrets.token_urlsafe(24)}"
        current_key = f"{PREFIX}current:{kind}:{app}"
        previous = self.redis.get(current_key)
        if previous is not None:  # WeChat keeps the old token valid a few minutes
            old_key = f"{PREFIX}token:{previous.decode()}"
            ttl = self.redis.ttl(old_key)
            if ttl is not None and ttl > OLD_TOKEN_GRACE_S:
                self.redis.expire(old_key, OLD_TOKEN_GRACE_S)
        self.redis.set(f"{PREFIX}token:{token}", json.dumps({"kind": kind, "app": app}),
                       ex=TOKEN_TTL_S)
        self.redis.set(current_key, token, ex=TOKEN_TTL_S)
        return {"access_token": token, "expires_in": TOKEN_TTL_S}

    def check_token(self, kind: str, token: str | None) -> None:
        invalid = 40001 if kind == "official" else 40014
        if not token:
            raise _Refusal(41001, "access_token missing")
        raw = self.redis.get(f"{PREFIX}token:{token}")
        if raw is None:
            raise _Refusal(invalid, "invalid credential, access_token is invalid or not latest")
        info = json.loads(raw)
        if info.get("kind") != kind:
            raise _Refusal(invalid, "invalid credential, access_token is invalid or not latest")
        if info.get("expired"):
            raise _Refusal(42001, "access_token expired")

    def expire_tokens(self) -> int:
        n = 0
        for key in self.redis.scan_iter(match=f"{PREFIX}token:*"):
            raw = self.redis.get(key)
            if raw is None:
                continue
            info = json.loads(raw) | {"expired": True}
            self.redis.set(key, json.dumps(info), keepttl=True)
            n += 1
        return n

    # -- faults -------------------------------------------------------------------------
    def add_fault(self, fault: Fault) -> int:
        key = f"{PREFIX}faults:{fault.api or 'any'}:{fault.openid}"
        item = json.dumps({"errcode": fault.errcode, "status": fault.status,
                           "delay_s": fault.delay_s})
        return int(self.redis.rpush(key, *([item] * fault.count)))

    def take_fault(self, api: str, recipients: list[str]) -> dict | None:
        """The next fault for one of ``recipients`` on ``api``, after its ``delay_s``; None
        when there is none, or when it was only a delay (the send then goes through)."""
        for recipient in recipients:
            for scope in (api, "any"):
                raw = self.redis.lpop(f"{PREFIX}faults:{scope}:{recipient}")
                if raw is not None:
                    fault = json.loads(raw)
                    if fault.get("delay_s"):
                        time.sleep(float(fault["delay_s"]))
                    return fault if fault.get("errcode") or fault.get("status") else None
        return None

    # -- inbox --------------------------------------------------------------------------
    def deliver(self, recipient: str, api: str, msgtype: str, text: str, body: dict) -> int:
        """Append one message to ``recipient``'s inbox; returns its index (position)."""
        record = {"api": api, "msgtype": msgtype, "text": text, "body": body, "at": time.time()}
        key = f"{PREFIX}inbox:{recipient}"
        return int(self.redis.rpush(key, json.dumps(record, ensure_ascii=False))) - 1

    def inbox(self, recipient: str, after: int) -> dict:
        raw = self.redis.lrange(f"{PREFIX}inbox:{recipient}", max(after, 0), -1)
        messages = []
        for offset, item in enumerate(raw):
            record = json.loads(item)
            record["index"] = max(after, 0) + offset
            messages.append(record)
        return {"recipient": recipient, "messages": messages,
                "next": max(after, 0) + len(messages)}

    # -- parametric QR codes ------------------------------------------------------------
    def create_qrcode(self, body: dict) -> dict:
        """A ticket for ``body``'s scene, kept as long as the code lives (temporary codes
        ``expire_seconds``, default 60, at most 30 days; permanent ones for good)."""
        action = body.get("action_name")
        scene = (body.get("action_info") or {}).get("scene") if isinstance(
            body.get("action_info"), dict) else None
        if action not in QR_ACTIONS or not isinstance(scene, dict):
            raise _Refusal(40035, "invalid args: action_name or action_info.scene")
        if action.endswith("STR_SCENE"):
            value = scene.get("scene_str")
            if not isinstance(value, str) or not 1 <= len(value) <= 64:
                raise _Refusal(40035, "invalid args: scene_str must be 1-64 characters")
        else:
            value = scene.get("scene_id")
            high = 100_000 if action == "QR_LIMIT_SCENE" else 2**32 - 1
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= high:
                raise _Refusal(40035, f"invalid args: scene_id must be 1-{high}")
        permanent = action.startswith("QR_LIMIT")
        expire_s = None if permanent else min(int(body.get("expire_seconds") or 60), QR_MAX_EXPIRE_S)
        ticket = "sandbox-qr-" + secrets.token_urlsafe(18)
        url = f"http://weixin.qq.com/q/{ticket}"
        self.redis.set(f"{PREFIX}qrcode:{ticket}", json.dumps({"scene": value, "url": url}),
                       ex=expire_s)
        return {"ticket": ticket, "url": url, **({"expire_seconds": expire_s} if expire_s else {})}

    def qrcode_url(self, ticket: str) -> str | None:
        """The ``url`` a ticket's code encodes, or None for an unknown or expired ticket."""
        raw = self.redis.get(f"{PREFIX}qrcode:{ticket}")
        return None if raw is None else json.loads(raw)["url"]

    def count(self, endpoint: str) -> None:
        self.redis.hincrby(f"{PREFIX}calls", endpoint, 1)

    def stats(self) -> dict[str, int]:
        return {k.decode(): int(v) for k, v in self.redis.hgetall(f"{PREFIX}calls").items()}


def _json_body(raw: bytes) -> dict:
    if not raw.strip():
        raise _Refusal(44002, "empty post data")
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise _Refusal(47001, "data format error") from None
    if not isinstance(body, dict):
        raise _Refusal(47001, "data format error")
    return body


def _openid(body: dict) -> str:
    touser = body.get("touser")
    if not isinstance(touser, str) or not OPENID_RE.match(touser):
        raise _Refusal(40003, "invalid openid")
    return touser


def _text_of(body: dict, msgtype: str) -> str:
    if msgtype not in MSGTYPES:
        raise _Refusal(40008, "invalid message type")
    if msgtype == "text":
        text = body.get("text")
        content = text.get("content") if isinstance(text, dict) else None
        if not isinstance(content, str) or not content:
            raise _Refusal(44004, "empty content")
        return content
    return f"[{msgtype}]"


def _template_text(data: dict) -> str:
    """The template fields as the resident reads them: first, keywordN…, remark."""

    def value(key: str) -> str:
        field = data[key]
        return str(field.get("value", "")) if isinstance(field, dict) else str(field)

    middle = sorted(k for k in data if k not in ("first", "remark"))
    lines = [value("first")] if "first" in data else []
    lines += [value(k) for k in middle]
    if "remark" in data:
        lines.append(value("remark"))
    return "\n".join(lines)


def _errcode(errcode: int, errmsg: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"errcode": errcode, "errmsg": errmsg, **extra})


def _fault_response(fault: dict) -> Response:
    if fault.get("status"):
        return PlainTextResponse("injected fault", status_code=int(fault["status"]))
    return _errcode(int(fault["errcode"] or -1), "injected fault (sandbox)")


def sandbox_router(redis: redis_lib.Redis) -> APIRouter:
    """The sandbox's routes, to be included with ``prefix="/sandbox"``.

    ``redis`` is a synchronous client (bytes responses); its calls run in the thread pool.
    Every API route answers HTTP 200 with ``{"errcode", "errmsg", …}`` like WeChat, except
    an injected HTTP fault.
    """
    box = _Sandbox(redis)
    router = APIRouter(tags=["sandbox"])

    @router.get("/cgi-bin/token")
    def token(request: Request) -> Response:
        box.count("token")
        q = request.query_params
        if q.get("grant_type") != "client_credential":
            return _errcode(40002, "invalid grant_type")
        if not q.get("appid"):
            return _errcode(41002, "appid missing")
        if not q.get("secret"):
            return _errcode(41004, "appsecret missing")
        return JSONResponse(box.issue_token("official", q["appid"]))

    @router.get("/wecom/cgi-bin/gettoken")
    def wecom_token(request: Request) -> Response:
        box.count("wecom_token")
        q = request.query_params
        if not q.get("corpid"):
            return _errcode(41002, "corpid missing")
        if not q.get("corpsecret"):
            return _errcode(41004, "corpsecret missing")
        return JSONResponse(box.issue_token("wecom", q["corpid"]))

    def custom_send(token: str | None, raw: bytes) -> Response:
        box.count("custom_send")
        try:
            box.check_token("official", token)
            body = _json_body(raw)
            touser = _openid(body)
            msgtype = body.get("msgtype")
            text = _text_of(body, msgtype if isinstance(msgtype, str) else "")
        except _Refusal as exc:
            return _errcode(exc.errcode, exc.errmsg)
        fault = box.take_fault("custom", [touser])
        if fault is not None:
            return _fault_response(fault)
        box.deliver(touser, "custom", msgtype, text, body)
        return _errcode(0, "ok")

    def template_send(token: str | None, raw: bytes) -> Response:
        box.count("template_send")
        try:
            box.check_token("official", token)
            body = _json_body(raw)
            touser = _openid(body)
            if not isinstance(body.get("template_id"), str) or not body["template_id"]:
                raise _Refusal(40037, "invalid template_id")
            data = body.get("data", {})
            if not isinstance(data, dict):
                raise _Refusal(47001, "data format error")
        except _Refusal as exc:
            return _errcode(exc.errcode, exc.errmsg)
        fault = box.take_fault("template", [touser])
        if fault is not None:
            return _fault_response(fault)
        index = box.deliver(touser, "template", "template", _template_text(data), body)
        return _errcode(0, "ok", msgid=index + 1)

    def wecom_send(token: str | None, raw: bytes) -> Response:
        box.count("wecom_send")
        try:
            box.check_token("wecom", token)
            body = _json_body(raw)
            agentid = body.get("agentid")
            if isinstance(agentid, str) and agentid.isdigit():
                agentid = int(agentid)
            if not isinstance(agentid, int) or isinstance(agentid, bool) or agentid <= 0:
                raise _Refusal(40056, "invalid agentid")
            users = [u for u in str(body.get("touser") or "").split("|") if u]
            if not users or not all(WECOM_USERID_RE.match(u) for u in users):
                raise _Refusal(40031, "invalid userid list")
            msgtype = body.get("msgtype")
            text = _text_of(body, msgtype if isinstance(msgtype, str) else "")
        except _Refusal as exc:
            return _errcode(exc.errcode, exc.errmsg)
        recipients = [f"wecom:{u}" for u in users]
        fault = box.take_fault("wecom", recipients + users)
        if fault is not None:
            return _fault_response(fault)
        for recipient in recipients:
            box.deliver(recipient, "wecom", msgtype, text, body)
        return _errcode(0, "ok", invaliduser="", msgid=secrets.token_hex(8))

    def qrcode_create(token: str | None, raw: bytes) -> Response:
        box.count("qrcode_create")
        try:
            box.check_token("official", token)
            return JSONResponse(box.create_qrcode(_json_body(raw)))
        except _Refusal as exc:
            return _errcode(exc.errcode, exc.errmsg)

    @router.get("/cgi-bin/showqrcode")
    def showqrcode(ticket: str = "") -> Response:
        box.count("showqrcode")
        url = box.qrcode_url(ticket)
        if url is None:  # WeChat answers an unknown ticket with HTTP 404 and no image
            return PlainTextResponse("ticket not found", status_code=404)
        image = io.BytesIO()
        segno.make_qr(url).save(image, kind="png", scale=8, border=4)
        return Response(image.getvalue(), media_type="image/png")

    def _post(handler):
        async def endpoint(request: Request) -> Response:
            raw = await request.body()
            return await run_in_threadpool(handler, request.query_params.get("access_token"), raw)

        return endpoint

    router.add_api_route("/cgi-bin/message/custom/send", _post(custom_send), methods=["POST"])
    router.add_api_route("/cgi-bin/message/template/send", _post(template_send), methods=["POST"])
    router.add_api_route("/wecom/cgi-bin/message/send", _post(wecom_send), methods=["POST"])
    router.add_api_route("/cgi-bin/qrcode/create", _post(qrcode_create), methods=["POST"])

    @router.get("/inbox/{recipient}")
    def inbox(recipient: str, after: int = 0) -> dict:
        return box.inbox(recipient, after)

    @router.post("/faults")
    def faults(fault: Fault) -> dict:
        if fault.errcode is None and fault.status is None and not fault.delay_s:
            raise HTTPException(422, "give errcode, status or delay_s")
        return {"ok": True, "pending": box.add_fault(fault)}

    @router.post("/tokens/expire")
    def expire_tokens() -> dict:
        return {"expired": box.expire_tokens()}

    @router.get("/stats")
    def stats() -> dict:
        return box.stats()

    return router


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that was free a moment ago (for a server started next)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_in_thread(app: Any, host: str = "127.0.0.1", port: int | None = None,
                    startup_timeout_s: float = 10.0) -> Iterator[str]:
    """Serve the ASGI ``app`` with uvicorn on ``host``:``port`` (default: a free port) in a
    daemon thread, lifespan included.

    Yields the base URL (``http://127.0.0.1:PORT``) once the server accepts connections and
    stops it on exit (requests still open get 5 s). For tests and local runs of the sandbox,
    not for production. Raises RuntimeError when the server has not started within
    ``startup_timeout_s`` seconds, or has not stopped 20 s after the exit.
    """
    import uvicorn

    port = port or free_port(host)
    # a request still open when the server stops (a relay's call to the sandbox, a poll) must
    # not hold the shutdown for ever: the lifespan's shutdown stops the embedded worker, and a
    # worker left running would go on claiming other tests' pushes with this app's settings
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                           lifespan="on", timeout_graceful_shutdown=5))
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"server on {host}:{port} did not start")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout=5)
        if thread.is_alive():
            raise RuntimeError(f"server on {host}:{port} did not stop within 20 s (its embedded "
                               "worker would keep running)")

"""The WeChat webhook: ``GET /wechat`` (server URL verification) and ``POST /wechat``
(messages and events, answered with a passive reply well within WeChat's 5 s).

Source: developers.weixin.qq.com/doc/offiaccount/Basic_Information/Access_Overview.html
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from starlette.background import BackgroundTask

from bot.deps import InboxDep, QueueDep
from bot.protocol import BodyTooLarge, ProtocolError

log = logging.getLogger("gridbot.webhook")
router = APIRouter()


@router.get("/wechat")
def verify(request: Request, inbox: InboxDep) -> Response:
    """Echo ``echostr`` when signature/timestamp/nonce check out; 403 otherwise."""
    params = dict(request.query_params)
    try:
        inbox.protocol.check_signature(params, now=inbox.clock().timestamp())
    except ProtocolError as exc:
        log.warning("refused verification: %s", exc)
        return Response("forbidden", status_code=exc.status, media_type="text/plain")
    return Response(params.get("echostr", ""), media_type="text/plain")


@router.post("/wechat")
async def receive(request: Request, inbox: InboxDep, queue: QueueDep) -> Response:
    """Handle one push; refuse bad ones with 4xx (nothing is processed). The relay is nudged
    after the reply is sent (the outbox rows are committed by then; the sweep is the net)."""
    try:
        declared = int(request.headers.get("content-length") or 0)
        if declared > inbox.settings.max_body_bytes:
            raise BodyTooLarge(f"content-length {declared}")
        body = await _read_limited(request, inbox.settings.max_body_bytes)
        answer = await run_in_threadpool(inbox.process, dict(request.query_params), body)
    except ProtocolError as exc:
        log.warning("refused push: %s: %s", type(exc).__name__, exc)
        return Response(type(exc).__name__, status_code=exc.status, media_type="text/plain")
    except ValueError:
        return Response("BadRequest", status_code=400, media_type="text/plain")
    media_type = "text/plain" if answer.body == "success" else "application/xml"
    background = BackgroundTask(queue.nudge, answer.outbox_ids) if answer.outbox_ids else None
    return Response(answer.body, media_type=media_type, background=background)


async def _read_limited(request: Request, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)

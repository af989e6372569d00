"""The WeChat webhook: ``GET /wechat`` (server URL verification) and ``POST /wechat``
(messages and events, answered with a passive reply well within WeChat's 5 s).

Source: developers.weixin.qq.com/doc/offiaccount/Basic_Information/Access_Overview.html
"""

from __future__ import annotations

import asyncio
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
        params = dict(request.query_params)
        work = asyncio.ensure_future(run_in_threadpool(inbox.process, params, body))
        try:
            answer = await asyncio.wait_for(asyncio.shield(work), inbox.settings.webhook_deadline_s)
        except TimeoutError:
            # The database or Redis is stuck (frozen, not refusing): WeChat gives up at 5 s.
            # The handling thread goes on; the message is spooled, the resident told so.
            work.add_done_callback(_log_late)
            answer = await asyncio.to_thread(inbox.overdue, params, body)
    except ProtocolError as exc:
        log.warning("refused push: %s: %s", type(exc).__name__, exc)
        return Response(type(exc).__name__, status_code=exc.status, media_type="text/plain")
    except ValueError:
        return Response("BadRequest", status_code=400, media_type="text/plain")
    media_type = "text/plain" if answer.body == "success" else "application/xml"
    background = BackgroundTask(queue.nudge, answer.outbox_ids) if answer.outbox_ids else None
    return Response(answer.body, media_type=media_type, background=background)


def _log_late(work: asyncio.Future) -> None:
    """Retrieve the outcome of handling that ran past the deadline (logged, never raised)."""
    if work.cancelled():
        return
    exc = work.exception()
    if exc is not None and not isinstance(exc, ProtocolError):
        log.error("handling past the deadline failed: %s: %s", type(exc).__name__, exc)
    else:
        log.warning("handling past the deadline finished late; its reply goes out as a push")


async def _read_limited(request: Request, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)

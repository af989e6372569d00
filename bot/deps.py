"""FastAPI dependencies, as ``Annotated`` aliases (``InboxDep``, ``QueueDep``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from bot.inbox import Inbox
from bot.queue import JobQueue


def get_inbox(request: Request) -> Inbox:
    return request.app.state.inbox


def get_queue(request: Request) -> JobQueue:
    return request.app.state.queue


InboxDep = Annotated[Inbox, Depends(get_inbox)]
QueueDep = Annotated[JobQueue, Depends(get_queue)]

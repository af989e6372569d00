"""The push outbox: pushes are rows written in the caller's transaction, relayed later.

A flushed Redis or a failed WeChat call loses no push: the worker relays pending rows and
records the channel used, each failure and the next attempt (backoff).
"""

from __future__ import annotations

from sqlmodel import Session

from storage.models import Outbox


def add_push(
    session: Session,
    *,
    openid: str,
    audience: str,
    event: str,
    text: str,
    data: dict | None = None,
    ticket_id: int | None = None,
) -> Outbox:
    """Stage one push in ``session`` (committed with the caller's change).

    ``audience`` is "resident" or "worker"; ``event`` is the catalogue key of the text and
    selects the template ID when a template message must be used; ``data`` holds the
    template fields. Returns the row (its id is set after flush).
    """
    row = Outbox(
        openid=openid, audience=audience, event=event, text=text, data=data or {},
        ticket_id=ticket_id,
    )
    session.add(row)
    session.flush()
    return row

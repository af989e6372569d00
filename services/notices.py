"""Sending a notice (通知: 停水停电, activities) to residents picked by
``storage.notices.audience``: one ``Notice`` and one outbox push per resident (with a
``NoticeDelivery`` link) in the caller's transaction, worded by the message catalogue; the
worker relays them like every push. Raises ValueError for an empty title or text.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from services.messages import msg
from storage.models import Notice, NoticeDelivery, Resident
from storage.outbox import Recipient, add_push


def send(session: Session, title: str, text: str, residents: list[Resident], scope: str,
         now: datetime, sender: str | None = None) -> Notice:
    """Stage the notice's pushes (event "notice"); returns the flushed Notice."""
    if not title.strip() or not text.strip():
        raise ValueError("a notice needs a title and a text")
    notice = Notice(title=title, text=text, scope=scope, sender=sender,
                    recipients=len(residents), created_at=now)
    session.add(notice)
    session.flush()
    body = msg("push.notice", title=title, text=text)
    rows = [add_push(session, to=Recipient.resident(r), event="notice", text=body,
                     data={"first": title, "keyword1": text[:20], "remark": text})
            for r in residents]
    session.flush()  # one batched INSERT for every push, for their ids
    session.add_all(NoticeDelivery(notice_id=notice.id, outbox_id=row.id, resident_id=r.id)
                    for row, r in zip(rows, residents, strict=True))
    session.flush()
    return notice

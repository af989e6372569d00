"""Notices (通知: 停水停电, activities) to the residents of a community, grid or buildings.

``send`` writes one ``Notice`` and one outbox push per subscribed resident (with a
``NoticeDelivery`` link) in the caller's transaction; the worker relays them like every
push. ``deliveries`` counts the pushes by outbox status (pending / sent / dead).
Raises NotFound for an unknown community, grid or building, ValueError for an empty audience
spec or text.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, func, select

from storage import NotFound
from storage.models import (
    Building,
    Community,
    Grid,
    Notice,
    NoticeDelivery,
    Outbox,
    Resident,
)
from storage.outbox import add_push


def audience(session: Session, *, community: str | None = None, grid: str | None = None,
             buildings: list[int] | None = None) -> tuple[str, list[Resident]]:
    """(scope label, subscribed residents with an OpenID) of exactly one audience spec:
    a community name, a grid code or name, or building numbers (of ``community``, default
    the first community). Raises NotFound, ValueError."""
    query = select(Resident).join(Building, Building.id == Resident.building_id).where(
        Resident.subscribed, col(Resident.openid).is_not(None))
    if grid:
        row = session.exec(select(Grid).where((Grid.code == grid.upper()) | (Grid.name == grid))
                           ).first()
        if row is None:
            raise NotFound(f"grid {grid}")
        return f"网格:{row.code}", list(session.exec(query.where(Building.grid_id == row.id)
                                                    .order_by(Resident.id)))
    comm = None
    if community:
        comm = session.exec(select(Community).where(Community.name == community)).first()
        if comm is None:
            raise NotFound(f"community {community}")
    if buildings:
        comm = comm or session.exec(select(Community).order_by(Community.id)).first()
        known = set(session.exec(select(Building.number).where(
            Building.community_id == (comm.id if comm else -1),
            col(Building.number).in_(buildings))))
        missing = sorted(set(buildings) - known)
        if missing:
            raise NotFound("building " + ",".join(map(str, missing)))
        return ("楼栋:" + ",".join(map(str, buildings)),
                list(session.exec(query.where(Building.community_id == comm.id,
                                              col(Building.number).in_(buildings))
                                  .order_by(Resident.id))))
    if comm is None:
        raise ValueError("name a community, a grid or buildings")
    return f"社区:{comm.name}", list(session.exec(
        query.where(Building.community_id == comm.id).order_by(Resident.id)))


def send(session: Session, title: str, text: str, residents: list[Resident], scope: str,
         now: datetime, sender: str | None = None) -> Notice:
    """Stage the notice's pushes (event "notice"); returns the flushed Notice."""
    from handlers.messages import msg  # the catalogue holds the wording

    if not title.strip() or not text.strip():
        raise ValueError("a notice needs a title and a text")
    notice = Notice(title=title, text=text, scope=scope, sender=sender,
                    recipients=len(residents), created_at=now)
    session.add(notice)
    session.flush()
    body = msg("push.notice", title=title, text=text)
    rows = [add_push(session, openid=r.openid, audience="resident", event="notice", text=body,
                     data={"first": title, "keyword1": text[:20], "remark": text})
            for r in residents]
    session.flush()  # one batched INSERT for every push, for their ids
    session.add_all(NoticeDelivery(notice_id=notice.id, outbox_id=row.id, resident_id=r.id)
                    for row, r in zip(rows, residents, strict=True))
    session.flush()
    return notice


def deliveries(session: Session, notice_id: int) -> dict[str, int]:
    """{"pending": n, "sent": n, "dead": n, "total": n} for the notice's pushes."""
    counts = {"pending": 0, "sent": 0, "dead": 0}
    for status, n in session.exec(
            select(Outbox.status, func.count()).join(NoticeDelivery,
                                                     NoticeDelivery.outbox_id == Outbox.id)
            .where(NoticeDelivery.notice_id == notice_id).group_by(Outbox.status)):
        counts[status] = n
    counts["total"] = sum(counts.values())
    return counts

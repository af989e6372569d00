"""Staff changes made by `gridbot import` hand each open ticket to the grid's (new) worker or,
with none, its leader, recorded on the ticket's timeline."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import select

from services.messages import msg
from services.org_import import import_org
from storage import tickets as repo
from storage.models import Grid, GridWorker, Outbox, Ticket, TicketStatus

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
ORG = """\
street: 和平街道
community: 阳光社区
grids:
  - code: G01
    buildings: [1, 2]
    workers:
      - {name: 王芳, openid: oW1}
      - {name: 李强, openid: oL1, role: 网格长}
  - code: G02
    buildings: [3]
    workers:
      - {name: 周杰, openid: oW2}
staff:
  - {name: 赵敏, openid: oA1, role: 社区管理员}
"""


def _import(session, tmp_path: Path, text: str, **options):
    path = tmp_path / "org.yaml"
    path.write_text(text, encoding="utf-8")
    return import_org(session, path, NOW, **options)


def _ticket(session, number: str, grid: str, worker: str, status: str = TicketStatus.ACCEPTED):
    grid_id = session.exec(select(Grid.id).where(Grid.code == grid)).one()
    worker_id = session.exec(select(GridWorker.id).where(GridWorker.openid == worker)).one()
    ticket = Ticket(number=number, kind="repair", description="楼道灯不亮", status=status,
                    grid_id=grid_id, assignee_id=worker_id, first_owner_id=worker_id)
    session.add(ticket)
    session.flush()
    return ticket


def _holder(session, ticket: Ticket) -> tuple[str | None, str | None]:
    session.refresh(ticket)
    worker = session.get(GridWorker, ticket.assignee_id) if ticket.assignee_id else None
    events = [e.note for e in repo.timeline(session, ticket) if e.kind == "handed_over"]
    return (worker.openid if worker else None), (events[-1] if events else None)


def _pushes(session) -> list[tuple[str, str]]:
    return [(o.openid, o.text.splitlines()[0]) for o in session.exec(
        select(Outbox).where(Outbox.event == "task_handed_over").order_by(Outbox.id))]


def test_a_worker_who_leaves_hands_open_tickets_to_the_new_worker(session, tmp_path):
    _import(session, tmp_path, ORG)
    open_one = _ticket(session, "GD20261122-0001", "G01", "oW1")
    closed = _ticket(session, "GD20261122-0002", "G01", "oW1", TicketStatus.CLOSED)
    left = ORG.replace("{name: 王芳, openid: oW1}", "{name: 王芳, openid: oW1, left: 离职}\n"
                                                  "      - {name: 陈新, openid: oW5}")
    report = _import(session, tmp_path, left)
    assert (report.left, report.handed_over) == (1, 1)
    assert _holder(session, open_one) == ("oW5", msg(
        "org_import.handed_over", who="王芳", reason=msg("org_import.reason_left"), to="陈新"))
    assert _holder(session, closed) == ("oW1", None)
    assert _pushes(session) == [("oW5", "【交接工单】GD20261122-0001：王芳已离职，请您接手。")]
    assert session.exec(select(GridWorker.active).where(GridWorker.openid == "oW1")).one() is False


def test_with_no_other_worker_the_grid_leader_takes_over(session, tmp_path):
    _import(session, tmp_path, ORG)
    ticket = _ticket(session, "GD20261122-0003", "G01", "oW1")
    report = _import(session, tmp_path, ORG.replace("openid: oW1}", "openid: oW1, left: 是}"))
    assert report.handed_over == 1 and _holder(session, ticket)[0] == "oL1"


def test_a_worker_moving_grid_leaves_the_old_grids_tickets_behind(session, tmp_path):
    _import(session, tmp_path, ORG)
    ticket = _ticket(session, "GD20261122-0004", "G02", "oW2")
    moved = ORG.replace("      - {name: 周杰, openid: oW2}\n", "").replace(
        "    workers:\n      - {name: 王芳", "    workers:\n      - {name: 周杰, openid: oW2}\n"
                                            "      - {name: 王芳")
    dry = _import(session, tmp_path, moved, allow_moves=True, dry_run=True)
    assert (dry.moved["staff"], dry.handed_over) == (1, 1) and _holder(session, ticket) == (
        "oW2", None)  # counted, not done
    report = _import(session, tmp_path, moved, allow_moves=True)
    assert report.handed_over == 1
    assert _holder(session, ticket) == (None, msg(
        "org_import.handed_over", who="周杰", reason=msg("org_import.reason_moved"),
        to=msg("org_import.to_community")))
    assert _pushes(session) == [("oA1", "【交接工单】GD20261122-0004：周杰已调到其他网格，请您接手。")]

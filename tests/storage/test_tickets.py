"""The status machine, queue order and the import of departments."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from storage import Conflict
from storage import tickets as repo
from storage.importer import import_file
from storage.models import Department, DepartmentMember, GridWorker, Ticket, TicketStatus
from storage.times import utcnow

S = TicketStatus


def test_status_machine_covers_every_status():
    every = {v for k, v in vars(S).items() if k.isupper() and isinstance(v, str)}
    assert set(repo.ALLOWED) == every
    assert all(set(targets) <= every for targets in repo.ALLOWED.values())
    assert repo.ALLOWED[S.REJECTED] == () and repo.ALLOWED[S.CANCELLED] == ()
    assert S.REOPENED in repo.ALLOWED[S.RESOLVED] and S.REOPENED in repo.ALLOWED[S.CLOSED]
    assert S.IN_PROGRESS in repo.ALLOWED[S.WAITING_RESIDENT]


def test_move_refuses_a_change_not_allowed(session: Session):
    t = Ticket(number="GD20261123-0001", kind="repair", description="x", status=S.CLOSED)
    session.add(t)
    session.flush()
    with pytest.raises(Conflict):
        repo.move(session, t, S.ACCEPTED, "system", utcnow())
    repo.move(session, t, S.REOPENED, "system", utcnow(), "不满意")
    assert t.reopened_at is not None


def test_queue_order_is_priority_then_due_time(session: Session):
    now = utcnow()
    rows = [("a", 2, 1), ("b", 1, 9), ("c", 2, 0), ("d", 0, 50)]  # number, priority, due in h
    for number, priority, due_h in rows:
        session.add(Ticket(number=number, kind="repair", description="x", priority=priority,
                           status=S.ASSIGNED, resolve_due_at=now + timedelta(hours=due_h),
                           assignee_id=None, grid_id=None))
    session.flush()
    got = [t.number for t in session.exec(
        select(Ticket).order_by(*repo.QUEUE_ORDER))]
    assert got == ["d", "b", "c", "a"]


def test_import_departments_from_yaml_and_csv(session: Session, tmp_path: Path):
    yaml_file = tmp_path / "c.yaml"
    yaml_file.write_text("""
street: 和平街道
community: 幸福新社区
grids:
  - {code: G01, name: 第一网格, buildings: [1, 2], workers: [{name: 王芳, openid: oW1}]}
departments:
  - name: 物业公司
    phone: 024-88886666
    members: [{name: 孙工, openid: oD1}]
""", encoding="utf-8")
    report = import_file(session, yaml_file)
    assert (report.grids, report.workers, report.departments) == (1, 2, 1)
    csv_file = tmp_path / "d.csv"
    csv_file.write_text("community,grid_code,name,openid,department\n"
                        "幸福新社区,,周工,oD2,住建\n幸福新社区,,孙工,oD1,物业公司\n", encoding="utf-8")
    report = import_file(session, csv_file)
    assert report.departments == 1
    members = session.exec(select(Department.name, GridWorker.name, GridWorker.role)
                           .join(DepartmentMember, DepartmentMember.department_id == Department.id)
                           .join(GridWorker, GridWorker.id == DepartmentMember.worker_id)
                           .order_by(Department.name)).all()
    assert sorted(members) == [("住建", "周工", "department"), ("物业公司", "孙工", "department")]
    import_file(session, yaml_file)  # idempotent
    assert len(session.exec(select(DepartmentMember)).all()) == 2

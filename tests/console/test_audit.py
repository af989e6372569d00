"""审计日志 over HTTP (services.audit_log): street admins read everything, community admins
their community's staff, others nothing; filter by kind; pages."""

from __future__ import annotations

from sqlmodel import Session

from services import audit_log
from storage.accounts import AuditEntry
from tests.chat import START
from tests.console.conftest import login
from tests.staff_support import staff, street_fixture  # noqa: F401 (fixture)


def _add(engine, openid: str | None, action: str, target: str = "x") -> None:
    with Session(engine) as s:
        who = staff(s, openid).id if openid else None
        s.add(AuditEntry(at=START, worker_id=who, action=action, target_kind="ticket", target_id=target))
        s.commit()


def test_who_reads_what(street, console):
    _add(street, "worker-g1", "ticket.accept", "GD20261122-0001")
    _add(street, "yg-worker-g1", "ticket.resolve", "GD20261122-0002")
    _add(street, None, "login_failed", "19900000000")
    login(console, "admin-1")
    page = console.get("/console/audit")
    assert page.status_code == 200 and "审计日志" in page.text
    assert "GD20261122-0001" in page.text and "接单" in page.text and "王芳" in page.text
    assert "GD20261122-0002" not in page.text and "19900000000" not in page.text  # not theirs
    login(console, "street-1")
    page = console.get("/console/audit")
    assert all(t in page.text for t in ("GD20261122-0001", "GD20261122-0002", "19900000000"))
    only = console.get("/console/audit?kind=login")
    assert "19900000000" in only.text and "GD20261122-0001" not in only.text
    login(console, "worker-g1")
    assert console.get("/console/audit").status_code == 403
    assert 'href="/console/audit"' not in console.get("/console/").text


def test_pages_newest_first(street):
    for i in range(5):
        _add(street, "admin-1", "ticket.note", f"n{i}")
    with Session(street) as s:
        admin = staff(s, "admin-1")
        first = audit_log.entries(s, admin, "ticket", page=1, per_page=3)
        second = audit_log.entries(s, admin, "ticket", page=2, per_page=3)
    assert [e.target_id for e in first.entries] == ["n4", "n3", "n2"] and first.more
    assert [e.target_id for e in second.entries] == ["n1", "n0"] and not second.more

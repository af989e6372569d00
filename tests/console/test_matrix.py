"""The role × action matrix of the staff console, over HTTP: the table below is the spec.

Each role logs in through the login form and tries every action on a ticket of 幸福新社区's
first grid (G01, building 2, assigned to its worker 王芳) — a fresh ticket for each action
that changes something. Allowed ("Y"): the page answers 200 (a POST after its 303) and the
action is in the audit log. Refused ("N"): 403 (or 404), and nothing changed — no audit
entry, the ticket as it was.
"""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from services import handover, tickets
from storage.accounts import AuditEntry
from storage.models import Grid, Ticket
from tests.chat import START
from tests.console.conftest import login, post
from tests.services_support import load_demo_services
from tests.staff_support import report, staff, street_fixture  # noqa: F401

ACTIONS = ("queue", "ticket", "assign", "transfer", "call_in", "reject", "resolve", "note",
           "message", "dashboard", "export", "kept", "config", "config_sla", "audit")

MATRIX = {  # role: (who logs in, one letter per action above)
    "street_admin":          ("street-1",   "Y Y Y Y Y Y Y Y Y Y Y Y Y Y Y"),
    "community_admin_A":     ("admin-1",    "Y Y Y Y Y Y Y Y Y Y Y Y Y N Y"),
    "community_admin_B":     ("yg-admin",   "Y N N N N N N N N Y Y Y Y N Y"),
    "grid_leader":           ("leader-g1",  "Y Y Y Y Y Y Y Y Y Y Y N N N N"),
    "grid_worker":           ("worker-g1",  "Y Y N Y Y Y Y Y Y N N N N N N"),
    "grid_worker_other":     ("worker-g2",  "Y N N N N N N N N N N N N N N"),
    "department":            ("dept-wy",    "Y N N N N N N N N N N N N N N"),
    "department_its_ticket": ("dept-wy",    "Y Y N Y Y Y Y Y Y N N N N N N"),
    "station_staff":         ("station-1",  "N N N N N N N N N N N N Y N N"),
}
"""The spec. community_admin_B runs 阳光社区 (the ticket is 幸福新社区's); grid_worker_other
works G02; "department" is 物业公司's member on a ticket never sent there, and
"department_its_ticket" the same person once the ticket was transferred (转派) to 物业公司.
config = the configuration pages (station staff configure their station and programmes),
config_sla = the account-wide SLA policies (the street admin of a several-community
account)."""

PAGES = {"queue": "/console/tickets", "dashboard": "/console/dashboard",
         "export": "/console/exports", "kept": "/console/kept", "config": "/console/config",
         "config_sla": "/console/config/sla", "audit": "/console/audit"}
"""The GET page of each page-like action."""


def new_ticket(street, role: str) -> str:
    """A fresh ticket of G01 (assigned to worker-g1); sent to 物业公司 for
    "department_its_ticket"."""
    with Session(street) as s:
        ticket = report(s, 2, "楼道灯坏了", phone="13700001234")
        if role == "department_its_ticket":
            handover.transfer(s, ticket, staff(s, "worker-g1"),
                              handover.find_target(s, "物业公司"), "公共照明", START)
        s.commit()
        return ticket.number


def form(street, action: str) -> dict[str, str]:
    with Session(street) as s:
        g2 = s.exec(select(Grid.id).where(Grid.code == "G02").order_by(Grid.id)).first()
        return {
            "assign": {"to": str(staff(s, "worker-g2").id)},
            "transfer": {"target": f"grid:{g2}", "reason": "属第二网格"},
            "call_in": {"reason": "需要社区协调"},
            "reject": {"reason": "不属社区受理范围，请拨打12345"},
            "resolve": {"note": "已更换灯泡"},
            "note": {"text": "住户白天不在家"},
            "message": {"text": "明天上午上门"},
        }.get(action, {})


def snapshot(street, number: str) -> tuple:
    with Session(street) as s:
        t = s.exec(select(Ticket).where(Ticket.number == number)).one()
        return (t.status, t.assignee_id, t.grid_id, t.department_id, t.escalation_level)


def audited(street, action: str, number: str) -> bool:
    with Session(street) as s:
        return s.exec(select(AuditEntry).where(AuditEntry.action == f"ticket.{action}",
                                               AuditEntry.target_id == number)).first() is not None


@pytest.mark.parametrize("role", list(MATRIX))
def test_role_by_action(role, street, console):
    load_demo_services(street)  # the station and its keeper (station-1)
    who, row = MATRIX[role]
    expected = dict(zip(ACTIONS, (c == "Y" for c in row.split()), strict=True))
    login(console, who)
    seen_ticket = new_ticket(street, role)
    got: dict[str, bool] = {}
    for action in ACTIONS:
        if action in PAGES:
            response = console.get(PAGES[action])
        elif action == "ticket":
            response = console.get(f"/console/tickets/{seen_ticket}")
        else:
            number = new_ticket(street, role)
            before = snapshot(street, number)
            response = post(console, f"/console/tickets/{number}/{action}", form(street, action))
            if response.status_code == 200:
                assert audited(street, action, number), (role, action)
            else:
                assert not audited(street, action, number), (role, action)
                assert snapshot(street, number) == before, (role, action)
        assert response.status_code in (200, 403, 404), (role, action, response.status_code)
        got[action] = response.status_code == 200
    assert got == expected, {a: ("Y" if got[a] else "N") for a in ACTIONS if got[a] != expected[a]}


def test_the_matrix_covers_every_console_action():
    """Every action of the ticket page is in the matrix, and every role of the spec."""
    from bot.console.ticket import ACTIONS as TICKET_ACTIONS

    assert set(TICKET_ACTIONS) - {"accept"} <= set(ACTIONS)
    assert {who for who, _ in MATRIX.values()} >= {"street-1", "admin-1", "yg-admin",
                                                   "leader-g1", "worker-g1", "worker-g2",
                                                   "dept-wy", "station-1"}
    assert all(len(row.split()) == len(ACTIONS) for _, row in MATRIX.values())


def test_accept_is_the_assignees_or_their_leaders(street, console):
    """接单 (not in the table: taking a ticket is the worker's own act): the grid's worker and
    leader may, the other grid's worker may not."""
    for who, code in (("worker-g2", 403), ("leader-g1", 200)):
        number = new_ticket(street, "grid_worker")
        login(console, who)
        assert post(console, f"/console/tickets/{number}/accept").status_code == code, who
    number = new_ticket(street, "grid_worker")
    login(console, "worker-g1")
    assert post(console, f"/console/tickets/{number}/accept").status_code == 200
    with Session(street) as s:
        assert tickets.repo.by_number(s, number).status == "accepted"

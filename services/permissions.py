"""Who may do what to a ticket, in one place: every door asks ``allowed`` or ``require``.

Actors: a ``GridWorker`` (staff), a ``Resident``, or None — the system (SLA timers, the
importer's hand-overs), which may do everything.

- Staff actions (``STAFF_ACTIONS``: accept, start, resolve, ask, resume, call_in, transfer,
  reject, note, attach, view, assign, message — the resident): the ticket's assignee; its
  首问责任人; a member of the department it was transferred to; a grid leader of its grid;
  community staff of its community (all communities for staff with none); a street admin
  (街道管理员: every community); for an unassigned ticket any worker of its grid. Never
  someone recused from it (回避, ``services.conflict``) — whatever their role. ``assign``
  (派单 to a named person) further needs an ``ASSIGNER_ROLES`` role: a grid leader, community
  staff or a street admin, never a plain worker, even the assignee.
- Resident actions (``RESIDENT_ACTIONS``: cancel, urge, rate, answer, attach): the
  resident who reported it.
- Station staff (``STATION_ROLES``: station staff, community admins) hand out and take back
  loans (``may_lend``) of the stations of their community (any station for staff with none).
- Street administrators (街道管理员) may act on every ticket of the account (not when recused).
- Console capabilities (``may`` / ``require_may``): which pages and actions of the staff
  console a role has (``CAPABILITIES``), optionally within one community (``services.scope``).
"""

from __future__ import annotations

from sqlmodel import Session

from services import conflict
from services.errors import NotAllowed
from services.people import community_id_of, departments_of
from services.scope import scope_of
from storage.lending import LendItem, Loan, Station
from storage.models import Department, Grid, GridWorker, Resident, Role, Ticket

STAFF_ACTIONS = frozenset({"accept", "start", "resolve", "ask", "resume", "call_in",
                           "transfer", "reject", "note", "attach", "view", "assign", "message"})
ASSIGNER_ROLES = (Role.GRID_LEADER, Role.COMMUNITY_ADMIN, Role.STREET_ADMIN)
"""Roles that may assign (派单) a ticket they may act on to someone; plain workers may not."""
RESIDENT_ACTIONS = frozenset({"cancel", "urge", "rate", "answer", "attach"})
STATION_ROLES = (Role.STATION_STAFF, Role.COMMUNITY_ADMIN)
"""Roles that run a lending station (借出, 归还, 借用清单)."""

Actor = GridWorker | Resident | None

_ALL = frozenset(Role.ALL)
_TICKET_ROLES = _ALL - {Role.STATION_STAFF}
_MANAGERS = frozenset({Role.STREET_ADMIN, Role.COMMUNITY_ADMIN, Role.GRID_LEADER})
_COMMUNITY = frozenset({Role.STREET_ADMIN, Role.COMMUNITY_ADMIN})
_STREET = frozenset({Role.STREET_ADMIN})
CAPABILITIES: dict[str, frozenset[str]] = {
    "queue": _TICKET_ROLES,  # 工单 list and pages
    "dashboard": _MANAGERS,  # 数据看板
    "export": _MANAGERS,  # 导出 CSV / XLSX
    "kept": _COMMUNITY,  # 待人工处理: answer a kept message, or make it a ticket
    "message_resident": _TICKET_ROLES,  # write to a ticket's resident (per ticket: ``allowed``)
    "assign": _MANAGERS,  # 派单 / change the assignee
    "configure_org": _COMMUNITY,  # communities, grids, buildings, staff (import)
    "configure_sla": _STREET,  # SLA policies
    "configure_lexicon": _STREET,  # the intent lexicon
    "configure_lending": _COMMUNITY | {Role.STATION_STAFF},  # stations, items, care programmes
    "audit": _COMMUNITY,  # the audit log
}
"""Console capability → roles having it. Without a community a capability is the role's
alone; with one, the community must also be in the worker's reach (``may``)."""


def allowed(session: Session, who: Actor, action: str, ticket: Ticket) -> bool:
    """Whether ``who`` may do ``action`` to ``ticket`` (see the module doc).

    Raises ValueError for an action that is in neither list (a programming error).
    """
    if action not in STAFF_ACTIONS and action not in RESIDENT_ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    if who is None:
        return True
    if isinstance(who, Resident):
        return action in RESIDENT_ACTIONS and who.id == ticket.resident_id
    if action == "assign" and who.role not in ASSIGNER_ROLES:
        return False
    return action in STAFF_ACTIONS and _staff_may(session, who, ticket)


def require(session: Session, who: Actor, action: str, ticket: Ticket) -> None:
    """``allowed`` or raise NotAllowed(action, ticket.number)."""
    if not allowed(session, who, action, ticket):
        raise NotAllowed(action, ticket.number)


def may(session: Session, worker: GridWorker | None, capability: str,
        community_id: int | None = None) -> bool:
    """Whether ``worker`` has the console ``capability`` (a key of ``CAPABILITIES``), and —
    when ``community_id`` is given — within that community: one seen whole by their scope
    (``services.scope``), their own (``GridWorker.community_id``), that of a grid in their
    scope or of a department they act for. An inactive worker or None has nothing.
    Raises ValueError for an unknown capability (a programming error)."""
    if capability not in CAPABILITIES:
        raise ValueError(f"unknown capability {capability!r}")
    if worker is None or not worker.active or worker.role not in CAPABILITIES[capability]:
        return False
    if community_id is None or worker.community_id == community_id:
        return True
    scope = scope_of(session, worker)
    if scope.covers_community(community_id):
        return True
    grids = (session.get(Grid, g) for g in scope.grid_ids)
    departments = (session.get(Department, d) for d in scope.department_ids)
    return any(row is not None and row.community_id == community_id for row in (*grids, *departments))


def require_may(session: Session, worker: GridWorker | None, capability: str,
                community_id: int | None = None) -> None:
    """``may`` or raise NotAllowed(capability)."""
    if not may(session, worker, capability, community_id):
        raise NotAllowed(capability)


def may_lend(session: Session, worker: GridWorker, loan: Loan | None = None) -> bool:
    """Whether ``worker`` may hand out / take back ``loan`` (None: lending work at all):
    a ``STATION_ROLES`` role, and the loan's station in the worker's community (or the
    worker or the station belongs to none)."""
    if worker.role not in STATION_ROLES:
        return False
    if loan is None or worker.community_id is None:
        return True
    station = session.get(Station, session.get(LendItem, loan.item_id).station_id)
    return station.community_id in (None, worker.community_id)


def _staff_may(session: Session, worker: GridWorker, ticket: Ticket) -> bool:
    if worker.id in conflict.recused_ids(session, ticket):
        return False
    if worker.id in (ticket.assignee_id, ticket.first_owner_id) or worker.role == Role.STREET_ADMIN:
        return True
    if ticket.department_id is not None and ticket.department_id in departments_of(session, worker):
        return True
    if worker.role == Role.GRID_LEADER and worker.grid_id is not None:
        return worker.grid_id == ticket.grid_id
    if worker.role in (Role.COMMUNITY_ADMIN, Role.GRID_LEADER):
        community_id = community_id_of(session, ticket)
        return community_id is None or worker.community_id in (None, community_id)
    return ticket.assignee_id is None and worker.grid_id == ticket.grid_id

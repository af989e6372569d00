"""Who works a ticket and who is told about it: the staff look-ups and the worker's queue.

Every function reads only; pushes are ``services.notify``'s, rules of who *may* act are
``services.permissions``'s. People recused from a ticket (回避, ``services.conflict``) are
left out of queues here and out of pushes by ``services.notify.tell_staff``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session, and_, col, or_, select

from services import conflict
from storage import org as org_repo
from storage import tickets as repo
from storage.models import DepartmentMember, Grid, GridWorker, Role, Ticket
from storage.times import as_utc

COMMUNITY_LEVEL = 2
"""Escalation level at which a ticket is the community's (上报, or the 督办 ladder's L2)."""


def community_id_of(session: Session, ticket: Ticket) -> int | None:
    """The community of the ticket's grid; None for a ticket with no grid."""
    grid = org_repo.grid(session, ticket.grid_id) if ticket.grid_id else None
    return grid.community_id if grid else None


def community_staff(session: Session, community_id: int | None) -> list[GridWorker]:
    """Active community_admin staff of the community (all of them when None)."""
    query = select(GridWorker).where(GridWorker.role == Role.COMMUNITY_ADMIN, GridWorker.active)
    if community_id is not None:
        query = query.where(GridWorker.community_id == community_id)
    return list(session.exec(query.order_by(GridWorker.id)))


def staff_of_community(session: Session, ticket: Ticket) -> list[GridWorker]:
    """``community_staff`` of the ticket's community."""
    return community_staff(session, community_id_of(session, ticket))


def grid_leaders(session: Session, ticket: Ticket) -> list[GridWorker]:
    """Active grid leaders (网格长) of the ticket's grid."""
    if ticket.grid_id is None:
        return []
    return list(session.exec(
        select(GridWorker).where(GridWorker.grid_id == ticket.grid_id,
                                 GridWorker.role == Role.GRID_LEADER, GridWorker.active)
        .order_by(GridWorker.id)))


def department_members(session: Session, department_id: int | None) -> list[GridWorker]:
    """Active members of the department."""
    if department_id is None:
        return []
    return list(session.exec(
        select(GridWorker).join(DepartmentMember, DepartmentMember.worker_id == GridWorker.id)
        .where(DepartmentMember.department_id == department_id, GridWorker.active)
        .order_by(GridWorker.id)))


def departments_of(session: Session, worker: GridWorker) -> list[int]:
    """Ids of the departments the worker acts for."""
    return list(session.exec(
        select(DepartmentMember.department_id).where(DepartmentMember.worker_id == worker.id)))


def handlers_of(session: Session, ticket: Ticket) -> list[GridWorker]:
    """Who works the ticket now: the assignee; else the department's members; else the
    community's staff."""
    assignee = org_repo.staff(session, ticket.assignee_id) if ticket.assignee_id else None
    if assignee is not None and assignee.active:
        return [assignee]
    return (department_members(session, ticket.department_id)
            or staff_of_community(session, ticket))


def open_tickets_of(session: Session, worker: GridWorker) -> list[Ticket]:
    """The worker's queue, in ``storage.tickets.QUEUE_ORDER``: assigned to them, transferred
    to their departments, the unassigned tickets of their grid; for a grid leader also the
    grid's tickets escalated to them (督办 level ≥ 1); for community staff the community's
    tickets escalated to it (上报 or level ≥ 2) and those no one was assigned. Tickets the
    worker is recused from (``services.conflict``) are left out."""
    mine = repo.assigned_to(session, worker.id)
    seen = {t.id for t in mine}
    extra = repo.of_department(session, departments_of(session, worker))
    if worker.grid_id is not None:
        leader = worker.role == Role.GRID_LEADER
        extra += [t for t in repo.grid_queue(session, worker.grid_id)
                  if t.assignee_id is None or (leader and t.escalation_level >= 1)]
    if worker.role == Role.COMMUNITY_ADMIN:
        extra += _community_queue(session, worker.community_id)
    for t in extra:
        if t.id not in seen:
            seen.add(t.id)
            mine.append(t)
    recused = conflict.recused_from(session, worker, [t.id for t in mine])
    return sorted((t for t in mine if t.id not in recused), key=queue_key)


def _community_queue(session: Session, community_id: int | None) -> list[Ticket]:
    """Open tickets of the community (all when None) escalated to it or left unassigned."""
    query = (select(Ticket).join(Grid, Grid.id == Ticket.grid_id)
             .where(repo.is_open(),
                    or_(Ticket.escalation_level >= COMMUNITY_LEVEL,
                        and_(col(Ticket.assignee_id).is_(None),
                             col(Ticket.department_id).is_(None)))))
    if community_id is not None:
        query = query.where(Grid.community_id == community_id)
    return list(session.exec(query.order_by(*repo.QUEUE_ORDER)))


_FAR = datetime.max.replace(tzinfo=UTC)


def queue_key(ticket: Ticket) -> tuple:
    """Sort key matching ``storage.tickets.QUEUE_ORDER`` (priority, due time, age, id)."""
    due = as_utc(ticket.resolve_due_at) if ticket.resolve_due_at else _FAR
    return ticket.priority, due, as_utc(ticket.created_at), ticket.id

"""Importing the organisation (``gridbot import``) as a business action: the file is loaded
by ``storage.importer`` in the caller's transaction, then the open tickets of staff who left
or changed grid are handed over, each hand-over recorded on the ticket's timeline.

    import_org(session, path, now, dry_run=False, allow_moves=False, progress=None)
        -> storage.importer.ImportReport                (caller commits)

Who takes a ticket over: an active grid worker of the ticket's grid (the new worker),
else the grid's leader (网格长), else nobody (the community's staff see it in the queue);
they (or the community's staff) are pushed the ticket (``services.notify``).
Raises what ``storage.importer.import_file`` raises (ImportFormatError, ImportProblems).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlmodel import Session, select

from services.messages import msg
from services.notify import describe, tell_staff
from services.people import community_staff
from storage import tickets as repo
from storage.importer import ImportReport, Progress, StaffChange, import_file
from storage.models import Grid, GridWorker, Role, Ticket

ACTOR = "system"


def import_org(session: Session, path: Path, now: datetime, *, dry_run: bool = False,
               allow_moves: bool = False, progress: Progress | None = None) -> ImportReport:
    """Import ``path`` and hand over the tickets of staff changes (a dry run counts them).
    ``now`` is aware UTC. Raises ImportFormatError / ImportProblems; nothing is written then."""
    report = import_file(session, path, dry_run=dry_run, allow_moves=allow_moves,
                         progress=progress)
    if dry_run:
        report.handed_over = sum(len(_tickets(session, change)) for change in report.staff_changes)
    else:
        report.handed_over = sum(hand_over(session, change, now)
                                 for change in report.staff_changes)
    return report


def successor(session: Session, grid_id: int | None, leaving_id: int) -> GridWorker | None:
    """Who takes over a ticket of ``grid_id`` from ``leaving_id``: the grid's first active
    grid worker, else its first active grid leader, else None."""
    if grid_id is None:
        return None
    people = session.exec(select(GridWorker).where(
        GridWorker.grid_id == grid_id, GridWorker.active, GridWorker.id != leaving_id,
        GridWorker.role.in_((Role.GRID_WORKER, Role.GRID_LEADER)))  # type: ignore[attr-defined]
        .order_by(GridWorker.role != Role.GRID_WORKER, GridWorker.id)).all()
    return people[0] if people else None


def hand_over(session: Session, change: StaffChange, now: datetime) -> int:
    """Give the open tickets ``change.worker_id`` handles (in the grid they left) to the
    successor; returns how many. Each ticket gets a "handed_over" timeline event. Flushed."""
    leaving = session.get(GridWorker, change.worker_id)
    if leaving is None:
        return 0
    tickets = _tickets(session, change)
    for ticket in tickets:
        _give(session, ticket, leaving, successor(session, ticket.grid_id, leaving.id), now,
              change.left)
    session.flush()
    return len(tickets)


def _tickets(session: Session, change: StaffChange) -> list[Ticket]:
    """The open tickets assigned to the worker that the change takes from them."""
    return [t for t in repo.assigned_to(session, change.worker_id)
            if change.left or t.grid_id == change.from_grid_id]


def _give(session: Session, ticket: Ticket, leaving: GridWorker, to: GridWorker | None,
          now: datetime, left: bool) -> None:
    ticket.assignee_id = to.id if to else None
    if ticket.first_owner_id == leaving.id:
        ticket.first_owner_id = to.id if to else None
    session.add(ticket)
    reason = msg("org_import.reason_left" if left else "org_import.reason_moved")
    note = msg("org_import.handed_over", who=leaving.name, reason=reason,
               to=to.name if to else msg("org_import.to_community"))
    repo.record(session, ticket, "handed_over", ACTOR, now, note)
    grid = session.get(Grid, ticket.grid_id) if ticket.grid_id else None
    people = [to] if to else community_staff(session, grid.community_id if grid else None)
    tell_staff(session, people, ticket, "task_handed_over",
               msg("org_import.push", who=leaving.name, reason=reason,
                   **describe(session, ticket)))

"""Importing the organisation (``gridbot import``) as a business action: the file is loaded
by ``storage.importer`` in the caller's transaction, then the open tickets of staff who left
or changed grid are handed over, each hand-over recorded on the ticket's timeline.

    import_org(session, path, now, dry_run=False, allow_moves=False, progress=None,
               within=None) -> storage.importer.ImportReport      (caller commits)
    outside(session, parsed, within) -> list[Problem]   what a file touches beyond ``within``
    import_by(session, worker, path, now, dry_run=False, allow_moves=False)
        -> ImportReport       the console's import: capabilities and scope of ``worker``

``within`` restricts an import to some communities (the ids a community's staff may
configure, ``services.scope``): a file naming another community, or a new one, or staff
of another community or of none (the 街道's), or a new or changed street-level department,
is refused with a problem on its line (``outside_community`` / ``outside_staff`` /
``outside_department``) next to every other problem of the file.

Who takes a ticket over: an active grid worker of the ticket's grid (the new worker),
else the grid's leader (网格长), else nobody (the community's staff see it in the queue);
they (or the community's staff) are pushed the ticket (``services.notify``).
Raises what ``storage.importer.import_file`` raises (ImportFormatError, ImportProblems).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from pathlib import Path

from sqlmodel import Session, col, select

from services.messages import msg
from services.notify import describe, tell_staff
from services.people import community_staff
from services.permissions import require_may
from services.scope import scope_of
from storage import import_parse
from storage import tickets as repo
from storage.import_parse import Parsed, Problem
from storage.importer import (
    ImportProblems,
    ImportReport,
    Progress,
    StaffChange,
    import_file,
    read_text,
)
from storage.models import Community, Department, Grid, GridWorker, Role, Street, Ticket

ACTOR = "system"


def import_org(session: Session, path: Path, now: datetime, *, dry_run: bool = False,
               allow_moves: bool = False, progress: Progress | None = None,
               within: Collection[int] | None = None) -> ImportReport:
    """Import ``path`` and hand over the tickets of staff changes (a dry run counts them).
    ``now`` is aware UTC; ``within``: the community ids the file may touch (None: any).
    Raises ImportFormatError / ImportProblems (with the ``outside`` problems among the
    file's others); nothing is written then."""
    if within is not None and path.suffix.lower() in (".yaml", ".yml", ".csv"):
        parsed = import_parse.parse(read_text(path), path.name, path.suffix.lower())
        problems = outside(session, parsed, within)
        if problems:
            try:
                import_file(session, path, dry_run=True, allow_moves=allow_moves)
            except ImportProblems as exc:
                problems += exc.problems
            raise ImportProblems(sorted(problems, key=_file_order))
    report = import_file(session, path, dry_run=dry_run, allow_moves=allow_moves,
                         progress=progress)
    if dry_run:
        report.handed_over = sum(len(_tickets(session, change)) for change in report.staff_changes)
    else:
        report.handed_over = sum(hand_over(session, change, now)
                                 for change in report.staff_changes)
    return report


def import_by(session: Session, worker: GridWorker, path: Path, now: datetime, *,
              dry_run: bool = False, allow_moves: bool = False) -> ImportReport:
    """``import_org`` done by a member of staff (the staff console): a file with
    organisation records (grids, buildings, places, staff, departments, care levels) needs
    the capability "configure_org", one with stations or programmes "configure_lending"
    (``services.permissions.may``); the file may touch only the communities ``worker`` may
    configure (``within_of``). ``now`` is aware UTC.

    Raises NotAllowed("configure_org" / "configure_lending"), ImportFormatError,
    ImportProblems; nothing is written then (nor ever on a dry run)."""
    if path.suffix.lower() in (".yaml", ".yml", ".csv"):
        parsed = import_parse.parse(read_text(path), path.name, path.suffix.lower())
        if has_org(parsed) or parsed.services is None:
            require_may(session, worker, "configure_org")
        if parsed.services is not None:
            require_may(session, worker, "configure_lending")
    else:
        require_may(session, worker, "configure_org")
    return import_org(session, path, now, dry_run=dry_run, allow_moves=allow_moves,
                      within=within_of(session, worker))


def has_org(parsed: Parsed) -> bool:
    """Whether a parsed file changes the organisation (more than its community's name)."""
    return bool(parsed.grids or parsed.buildings or parsed.staff or parsed.places
                or parsed.departments or parsed.levels)


def within_of(session: Session, worker: GridWorker) -> frozenset[int] | None:
    """The community ids ``worker`` may configure (None: all): a street admin's (and staff
    of no community) all, a community admin's their community, station staff theirs."""
    scope = scope_of(session, worker)
    if scope.community_ids is None or (worker.role == Role.STATION_STAFF
                                       and worker.community_id is None):
        return None
    extra = {worker.community_id} if worker.role == Role.STATION_STAFF else set()
    return frozenset(scope.community_ids | extra)


def outside(session: Session, parsed: Parsed, within: Collection[int]) -> list[Problem]:
    """The problems of a file that touches more than the communities ``within``: each
    community it names that is not an existing one of them (matched as the importer does:
    by name within its street, or by name alone when the file names no street and one
    community has it), each member of staff it lists who exists already with another
    community or none, and each street-level department (街道部门) it would create or whose
    phone it would change. Reads the database, writes nothing."""
    allowed = set(within)
    names = {c.name for c in parsed.communities}
    found: dict[str, list[tuple[Community, str]]] = {}
    for row, street in session.exec(select(Community, Street.name)
                                    .join(Street, Street.id == Community.street_id)
                                    .where(col(Community.name).in_(names))):
        found.setdefault(row.name, []).append((row, street))
    allowed_names = msg("import_report.item_sep").join(session.exec(select(Community.name).where(
        col(Community.id).in_(allowed)).order_by(Community.id)).all()) or "-"
    problems = []
    for rec in parsed.communities:
        rows = found.get(rec.name, [])
        match = [row for row, street in rows if street == rec.street]
        if rec.street is None and len(rows) == 1:
            match = [rows[0][0]]
        if not match or match[0].id not in allowed:
            problems.append(Problem(rec.where, "outside_community", {
                "community": rec.name, "allowed": allowed_names}))
    seen: set[str] = set()
    openids = {s.openid for s in parsed.staff}
    existing = {w.openid: w for w in session.exec(select(GridWorker).where(
        col(GridWorker.openid).in_(openids)))} if openids else {}
    for rec in parsed.staff:
        row = existing.get(rec.openid)
        if rec.openid in seen or row is None:
            continue
        seen.add(rec.openid)
        if row.community_id not in allowed:
            problems.append(Problem(rec.where, "outside_staff",
                                    {"name": row.name, "openid": rec.openid}))
    problems += _street_departments(session, parsed)
    return problems


def _street_departments(session: Session, parsed: Parsed) -> list[Problem]:
    """A restricted file may list a street-level department (街道部门) to add its own staff
    as members, but not create one nor change its phone: that is the 街道's."""
    wanted = [d for d in parsed.departments if d.street_level]
    if not wanted:
        return []
    rows = {d.name: d for d in session.exec(select(Department).where(
        col(Department.community_id).is_(None),
        col(Department.name).in_({d.name for d in wanted})))}
    return [Problem(d.where, "outside_department", {"department": d.name}) for d in wanted
            if d.name not in rows or (d.phone is not None and d.phone != rows[d.name].phone)]


def _file_order(problem: Problem) -> tuple[int, str]:
    return problem.file_line[1] or 0, problem.where


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

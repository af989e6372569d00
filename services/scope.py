"""What part of the account a member of staff sees: ``Scope`` and ``scope_of``.

The staff console lists tickets, kept messages, charts and exports through a scope, so a
grid worker sees their grid, a community administrator their community and a street
administrator (街道管理员) everything:

=================  ====================================================================
role               tickets in scope
=================  ====================================================================
street_admin       all (``community_ids`` None)
community_admin    their community's (all when they have none), and tickets with no grid
grid_leader        their grid's; with no grid, like a community administrator
grid_worker        their grid's
department         those transferred (转派) to their departments
station_staff      none (their stations' lending only: ``station_ids``)
=================  ====================================================================

Every member of staff also sees the tickets assigned to them or of which they are the
首问责任人 (``worker_id``), as ``services.permissions.allowed`` lets them act on those.
An inactive worker sees nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, false, or_, true
from sqlmodel import Session, col, select

from services.people import departments_of
from storage.lending import Station
from storage.models import Grid, GridWorker, Role, Ticket

EMPTY: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Scope:
    """The part of the account one member of staff sees.

    - ``community_ids``: communities seen whole; None: every community (and tickets with no
      grid); an empty set: no community whole.
    - ``grid_ids``: further grids seen whole.
    - ``department_ids``: departments whose transferred tickets are seen.
    - ``station_ids``: lending stations run; None: every station.
    - ``worker_id``: the member of staff (their own tickets are always seen); None: nobody.
    - ``gridless``: whether tickets with no grid are seen (community-wide roles).
    """

    community_ids: frozenset[int] | None = EMPTY
    grid_ids: frozenset[int] = EMPTY
    department_ids: frozenset[int] = EMPTY
    station_ids: frozenset[int] | None = EMPTY
    worker_id: int | None = None
    gridless: bool = False

    @property
    def everything(self) -> bool:
        """True when every community is in scope (street administrators)."""
        return self.community_ids is None

    def covers_community(self, community_id: int | None) -> bool:
        """Whether the community is seen whole (None: a row of no community, seen by
        community-wide roles only)."""
        if self.community_ids is None:
            return True
        if community_id is None:
            return self.gridless
        return community_id in self.community_ids


NOTHING = Scope()
"""The scope of an inactive worker: nothing at all."""


def scope_of(session: Session, worker: GridWorker) -> Scope:
    """The scope of ``worker`` by role (see the module doc). Reads the worker's departments
    and, for community-wide roles, the stations of their community."""
    if not worker.active:
        return NOTHING
    mine = {"worker_id": worker.id}
    role = worker.role
    if role == Role.STREET_ADMIN:
        return Scope(community_ids=None, station_ids=None, gridless=True, **mine)
    if role == Role.GRID_LEADER and worker.grid_id is not None:
        return Scope(grid_ids=frozenset({worker.grid_id}), **mine)
    if role in (Role.COMMUNITY_ADMIN, Role.GRID_LEADER):
        communities = None if worker.community_id is None else frozenset({worker.community_id})
        stations = _stations(session, worker.community_id) if role == Role.COMMUNITY_ADMIN else EMPTY
        return Scope(community_ids=communities, station_ids=stations, gridless=True, **mine)
    if role == Role.STATION_STAFF:
        return Scope(station_ids=_stations(session, worker.community_id), **mine)
    if role == Role.DEPARTMENT:
        return Scope(department_ids=frozenset(departments_of(session, worker)), **mine)
    grids = frozenset({worker.grid_id}) if worker.grid_id is not None else EMPTY
    return Scope(grid_ids=grids, department_ids=frozenset(departments_of(session, worker)), **mine)


def _stations(session: Session, community_id: int | None) -> frozenset[int] | None:
    """Stations of the community and those of none (None: all, for staff of no community)."""
    if community_id is None:
        return None
    return frozenset(session.exec(select(Station.id).where(
        or_(col(Station.community_id) == community_id, col(Station.community_id).is_(None)))))


def ticket_filter(scope: Scope) -> ColumnElement[bool]:
    """A where-clause over ``Ticket`` keeping the tickets ``scope`` sees, e.g.
    ``select(Ticket).where(ticket_filter(scope_of(session, me)))``."""
    if scope.community_ids is None:
        return true()
    parts: list[ColumnElement[bool]] = []
    if scope.community_ids:
        grids_of = select(Grid.id).where(col(Grid.community_id).in_(sorted(scope.community_ids)))
        parts.append(col(Ticket.grid_id).in_(grids_of))
    if scope.gridless:
        parts.append(col(Ticket.grid_id).is_(None))
    if scope.grid_ids:
        parts.append(col(Ticket.grid_id).in_(sorted(scope.grid_ids)))
    if scope.department_ids:
        parts.append(col(Ticket.department_id).in_(sorted(scope.department_ids)))
    if scope.worker_id is not None:
        parts.append(col(Ticket.assignee_id) == scope.worker_id)
        parts.append(col(Ticket.first_owner_id) == scope.worker_id)
    return or_(*parts) if parts else false()


def community_ids_seen(session: Session, scope: Scope) -> frozenset[int] | None:
    """Communities with anything in scope: those seen whole and those of the grids in scope
    (None: all). For pickers and per-community pages (dashboard, exports)."""
    if scope.community_ids is None:
        return None
    ids = set(scope.community_ids)
    if scope.grid_ids:
        ids |= set(session.exec(select(Grid.community_id).where(col(Grid.id).in_(sorted(scope.grid_ids)))))
    return frozenset(ids)

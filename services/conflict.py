"""Conflict of interest (回避): a complaint about the community's own staff never goes to
the person complained about.

A complaint names a staff member of its grid by name (「王芳」「王网格员」) or by role with
words about their conduct (「网格员态度很差」「社区工作人员推诿」) or after a complaint verb
(「投诉网格员」). It then goes one level up: about the grid worker → the grid leader
(网格长); about the grid leader → nobody in the grid (the community's staff are alerted
as for any unassigned ticket). Who is recused is recorded on the timeline as a ``recused``
event whose actor is the recused worker ("worker:<id>"); ``recused_ids`` reads it back, so
transfers, queues and permissions keep the ticket away from them for its whole life.

Words are data: ``services/conflict.toml``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path

from sqlmodel import Session, col, select

from services.messages import msg
from storage import org as org_repo
from storage import tickets as repo
from storage.models import GridWorker, Role, Ticket, TicketEvent

WORDS_FILE = Path(__file__).with_name("conflict.toml")
RECUSED = "recused"
"""TicketEvent.kind: the actor ("worker:<id>") must not work this ticket."""
_ABOVE = {Role.GRID_WORKER: Role.GRID_LEADER}
"""Who takes a complaint about a role; a role not listed goes to the community."""


@dataclass(frozen=True)
class Words:
    """The word lists of ``conflict.toml``: role words per Role, conduct (counted within
    ``window`` characters of a role word), complaint verbs (at most ``near`` characters
    before a role word), other employers."""

    roles: dict[str, tuple[str, ...]]
    conduct: tuple[str, ...]
    complain: tuple[str, ...]
    near: int
    window: int
    others: tuple[str, ...]
    of: str
    """The possessive particle (的) that may stand between another employer and a role word."""


@cache
def words(path: Path = WORDS_FILE) -> Words:
    """Read ``conflict.toml``. Raises KeyError for a missing list."""
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    return Words(roles={role: tuple(ws) for role, ws in raw["roles"].items()},
                 conduct=tuple(raw["conduct"]), complain=tuple(raw["complain"]),
                 near=int(raw["near"]), window=int(raw["window"]),
                 others=tuple(raw["others"]), of=raw["of"])


@dataclass(frozen=True)
class Pick:
    """The assignee chosen for a new ticket (None: leave it to the community) and the staff
    it must never reach."""

    worker: GridWorker | None
    recused: tuple[GridWorker, ...] = field(default=())


def assignee(session: Session, ticket: Ticket) -> Pick:
    """Who gets a new ticket of grid ``ticket.grid_id``: the grid worker, or — for a
    complaint about grid staff — the next level up (see the module docstring)."""
    if ticket.grid_id is None:
        return Pick(None)
    if ticket.kind != "complaint":
        return Pick(org_repo.grid_worker_of(session, ticket.grid_id))
    recused = complained_about(session, ticket.description, ticket.grid_id)
    return Pick(pick_for_grid(session, ticket.grid_id, recused), tuple(recused))


def pick_for_grid(session: Session, grid_id: int, recused: list[GridWorker]
                  ) -> GridWorker | None:
    """The grid's worker, or when recused staff are given, the first active member of the
    role above the highest recused one who is not recused; None for the community."""
    if not recused:
        return org_repo.grid_worker_of(session, grid_id)
    roles = {p.role for p in recused}
    above = {_ABOVE.get(r) for r in roles}
    if None in above:
        return None
    skip = {p.id for p in recused}
    for person in _grid_staff(session, grid_id):
        if person.role in above and person.id not in skip:
            return person
    return None


def assignee_in_grid(session: Session, ticket: Ticket, grid_id: int) -> GridWorker | None:
    """Who takes ``ticket`` when it moves (转派) to grid ``grid_id``: its grid worker, or one
    level up when the ticket's recused staff include them (never back to them)."""
    recused = recused_ids(session, ticket)
    staff = [p for p in _grid_staff(session, grid_id) if p.id in recused] if recused else []
    return pick_for_grid(session, grid_id, staff)


def complained_about(session: Session, text: str, grid_id: int) -> list[GridWorker]:
    """Staff of the grid the complaint ``text`` is about: named, or named by role."""
    found: list[GridWorker] = []
    staff = _grid_staff(session, grid_id)
    w = words()
    for person in staff:
        aliases = [person.name] + [person.name[0] + r for r in w.roles.get(person.role, ())
                                   if len(person.name) >= 2]
        if any(a in text for a in aliases):
            found.append(person)
    for role, role_words in w.roles.items():
        if any(p.role == role for p in found) or not _about_role(text, role_words, w):
            continue
        found += [p for p in staff if p.role == role and p not in found]
    return found


def _about_role(text: str, role_words: tuple[str, ...], w: Words) -> bool:
    """A role word that is not someone else's staff (「物业工作人员」), with a complaint verb
    at most ``w.near`` characters before it, or a conduct word within ``w.window``
    characters of it and no one else's staff in between (「网格员说物业态度差」 is not
    about the grid worker)."""
    for word in role_words:
        start = text.find(word)
        while start >= 0:
            end = start + len(word)
            near = text[max(0, start - w.near):start]
            ours = not any(near.endswith(o) or near.endswith(o + w.of) for o in w.others)
            if ours and (any(v in near for v in w.complain)
                         or _conduct_near(text[end:end + w.window], w)
                         or _conduct_near(text[max(0, start - w.window):start][::-1], w,
                                          backwards=True)):
                return True
            start = text.find(word, end)
    return False


def _conduct_near(side: str, w: Words, backwards: bool = False) -> bool:
    """A conduct word in ``side`` (read outwards from the role word; reversed text when
    ``backwards``) with no other employer's word between it and the role word."""
    for conduct in w.conduct:
        at = side.find(conduct[::-1] if backwards else conduct)
        if at >= 0:
            between = side[:at][::-1] if backwards else side[:at]
            if not any(o in between for o in w.others):
                return True
    return False


def _grid_staff(session: Session, grid_id: int) -> list[GridWorker]:
    return list(session.exec(
        select(GridWorker).where(GridWorker.grid_id == grid_id, GridWorker.active)
        .order_by(GridWorker.id)))


def record(session: Session, ticket: Ticket, pick: Pick, now: datetime) -> None:
    """Put each recused staff member on the (flushed) ticket's timeline."""
    for person in pick.recused:
        repo.record(session, ticket, RECUSED, f"worker:{person.id}", now,
                    msg("conflict.note", name=person.name))


def recused_ids(session: Session, ticket: Ticket) -> set[int]:
    """Ids of the staff who must not work ``ticket`` (none for a repair: one query less)."""
    if ticket.kind != "complaint" or ticket.id is None:
        return set()
    actors = session.exec(select(TicketEvent.actor).where(TicketEvent.ticket_id == ticket.id,
                                                          TicketEvent.kind == RECUSED))
    return {int(a.removeprefix("worker:")) for a in actors}


def recused_from(session: Session, worker: GridWorker, ticket_ids: list[int]) -> set[int]:
    """Which of ``ticket_ids`` ``worker`` is recused from (one query on the events' ticket
    index)."""
    if not ticket_ids:
        return set()
    return set(session.exec(select(TicketEvent.ticket_id).where(
        col(TicketEvent.ticket_id).in_(ticket_ids), TicketEvent.kind == RECUSED,
        TicketEvent.actor == f"worker:{worker.id}")))

"""督办: firing one SLA timer — a warning before a breach, the escalation ladder after it,
bounded reminders, and the rating follow-up (默认满意).

``fire(engine, ticket_id, clock, token)`` runs in its own transaction and fires each step
at most once, however many worker processes, jobs or sweeps reach it: it locks the ticket
row, then its timer row (the same order as every ticket change, so no deadlock); a job's
``token`` (``storage.sla.Due.token``: cycle, step, due time) must still be the row's, so a
job of a re-planned or advanced timer does nothing. It fires every step of the ticket due
at ``clock()`` that did not fire in the cycle, soonest first, appends them to the row's
``fired`` and moves the row to the next step (None when nothing is to come). The 督办
events, the pushes (outbox) and the row are committed together; a crash before commit
leaves the step due for the next sweep.

Steps (``storage.sla``): "<clock>:warn" → the people working the ticket; "<clock>:L1" → the
grid leader (网格长); "L2" → the community (社区); "L3" → the policy's responsible department
(else the category's, storage/categories.toml); "<clock>:remindN" → the people working it
again; "rating:autoclose" → 默认满意.
"""

from __future__ import annotations

import logging
import threading
import weakref
from contextlib import nullcontext
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from services.messages import msg
from services.notify import tell_staff
from services.people import (
    community_id_of,
    community_staff,
    department_members,
    grid_leaders,
    handlers_of,
)
from services.tickets import auto_close
from storage import categories, org, sla
from storage import tickets as repo
from storage.db import session_scope
from storage.models import Department, GridWorker, Ticket, TicketStatus, TicketTimer
from storage.times import Clock, as_utc, show

log = logging.getLogger("gridbot.escalation")
S = TicketStatus
SUPERVISE = "supervise"
"""TicketEvent.kind of every 督办 step (shown as 督办 in the timeline)."""


_sqlite_locks: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()
_sqlite_guard = threading.Lock()


def _serialise(engine: Engine):
    """SQLite ignores FOR UPDATE: one process-wide lock per engine serialises the firing
    there (the embedded mode runs one worker process)."""
    if engine.dialect.name != "sqlite":
        return nullcontext()
    with _sqlite_guard:
        return _sqlite_locks.setdefault(engine, threading.Lock())


def fire(engine: Engine, ticket_id: int, clock: Clock, token: str | None = None) -> list[str]:
    """Fire the ticket's steps due at ``clock()`` (only if its timer still is at ``token``,
    when given); returns the steps fired, soonest first — empty when nothing was due, the
    token is stale, or the ticket has no timer."""
    with _serialise(engine):
        return _fire(engine, ticket_id, clock, token)


def _fire(engine: Engine, ticket_id: int, clock: Clock, token: str | None) -> list[str]:
    with session_scope(engine) as session:
        return fire_in(session, ticket_id, clock, token)


def fire_in(session: Session, ticket_id: int, clock: Clock, token: str | None = None) -> list[str]:
    """``fire`` in the caller's transaction (which commits it): locks the ticket and its
    timer row, fires the steps due at ``clock()``; returns them, soonest first."""
    timers = TicketTimer.__table__
    ticket = session.exec(select(Ticket).where(Ticket.id == ticket_id).with_for_update()).first()
    row = session.exec(  # SQLAlchemy's select: whole rows, not one scalar column
        sa_select(timers).where(timers.c.ticket_id == ticket_id).with_for_update()).first()
    if ticket is None or row is None:
        return []
    current = sla.Due(row.cycle, row.step, row.due_at) if row.step is not None else None
    if token is not None and (current is None or current.token != token):
        log.info("timer job %s of %s is stale", token, ticket.number)
        return []
    now = clock()
    cfg = sla.load()
    fired = list(row.fired) if row.cycle == ticket.sla_cycle else []
    done: list[str] = []
    while (due := sla.next_due(ticket, fired, cfg)) is not None and as_utc(due.due_at) <= now:
        run_step(session, ticket, due.step, now)
        fired.append(due.step)
        done.append(due.step)
        log.info("fired %s for %s", due.step, ticket.number)
    moved = (due.token if due else None) != (current.token if current else None)
    if done or moved:  # ``run_step`` may have re-planned (auto_close): this write is last
        session.exec(timers.update().where(timers.c.ticket_id == ticket_id).values(
            cycle=ticket.sla_cycle, step=due.step if due else None,
            due_at=due.due_at if due else None, fired=fired,
            fired_at=now if done else row.fired_at,
            enqueued_at=None if moved else row.enqueued_at))
    return done


def due_timer_ids(engine: Engine, now: datetime, limit: int = 500) -> list[int]:
    """Ids of the tickets whose timer is due at ``now`` (aware UTC), oldest due first."""
    with Session(engine) as session:
        return list(session.exec(
            select(TicketTimer.ticket_id).where(TicketTimer.due_at <= now)
            .order_by(TicketTimer.due_at, TicketTimer.ticket_id).limit(limit)))


def run_step(session: Session, ticket: Ticket, step: str, now: datetime) -> None:
    """Do one step for ``ticket`` (locked): pushes, the 督办 event, the escalation level."""
    clock, _, name = step.partition(":")
    if clock == "rating":
        auto_close(session, ticket, now)
        return
    cfg = sla.load()
    due = ticket.response_due_at if clock == "response" else ticket.resolve_due_at
    fields = {"no": ticket.number, "clock": msg(f"sla.clock_{clock}"), "due": show(due),
              "category": ticket.category or msg("text.other_category")}
    if name == "warn":
        people = handlers_of(session, ticket)
        told = tell_staff(session, people, ticket, "supervise_warn", msg("push.sla_warn", **fields))
        note = msg("sla.note_warn", who=_names(people), **fields)
    elif name.startswith("remind"):
        people = handlers_of(session, ticket)
        n = int(name.removeprefix("remind"))
        told = tell_staff(session, people, ticket, "supervise_remind",
                          msg("push.sla_remind", n=n, max=cfg.reminder_max, **fields))
        note = msg("sla.note_remind", who=_names(people), n=n, max=cfg.reminder_max, **fields)
    else:
        level = int(name.removeprefix("L"))
        step_cfg = next(s for s in cfg.steps if s.level == level)
        people, target = _ladder_people(session, ticket, step_cfg.to, cfg)
        fields |= {"level": level, "target": target, "worker": _names(handlers_of(session, ticket))}
        told = tell_staff(session, people, ticket, "supervise_escalate",
                          msg("push.sla_escalate", **fields))
        note = msg("sla.note_escalate", who=_names(people), **fields)
        ticket.escalation_level = max(ticket.escalation_level, level)
        session.add(ticket)
    if not told:
        note += msg("sla.note_nobody")
    repo.record(session, ticket, SUPERVISE, "system", now, note)


def _ladder_people(session: Session, ticket: Ticket, to: str,
                   cfg: sla.SlaConfig) -> tuple[list[GridWorker], str]:
    """(who is told, their label) for a ladder target; falls back upwards when empty."""
    if to == "grid_leader":
        people = grid_leaders(session, ticket)
        if people:
            return people, msg("sla.to_grid_leader")
        to = "community_admin"
    if to == "community_admin":
        return community_staff(session, community_id_of(session, ticket)), msg("sla.to_community")
    # the policy's department, else the category's default one (storage/categories.toml)
    category = categories.load().get(ticket.category)
    name = cfg.policy_named(ticket.sla_policy).department or (category.department if category else "")
    department = org.department_by_name(session, name, community_id_of(session, ticket)) \
        if name else None
    if department is None and ticket.department_id is not None:
        department = session.get(Department, ticket.department_id)
    if department is None:
        staff = community_staff(session, community_id_of(session, ticket))
        return staff, msg("sla.to_community")
    return department_members(session, department.id), department.name


def _names(people: list[GridWorker]) -> str:
    return msg("text.list_sep").join(dict.fromkeys(p.name for p in people)) or msg("text.nobody")


def timeline_supervision(session: Session, ticket: Ticket) -> list[str]:
    """The notes of the ticket's 督办 events, oldest first (for tests and staff views)."""
    from storage.models import TicketEvent

    return list(session.exec(
        select(TicketEvent.note).where(TicketEvent.ticket_id == ticket.id,
                                       TicketEvent.kind == SUPERVISE)
        .order_by(col(TicketEvent.id))))

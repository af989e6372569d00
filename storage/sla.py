"""Service levels: policies from ``handlers/sla.toml``, the two clocks of a ticket, and the
timers (``TicketTimer`` rows) that drive warnings, 督办 escalation and rating follow-up.

Clocks. A ticket has a response clock (stops at the first response: 接单, 询问, 到场, 办结,
驳回) and a resolution clock (stops at 办结 or 驳回). Both count working seconds of the
policy's calendar; ``response_due_at`` and ``resolve_due_at`` are aware UTC. While the
ticket is ``waiting_resident`` both clocks pause (``paused_at``); on the resident's answer
the due times move on by the working time that was left (``resume``).

Timers. ``plan(session, ticket, now)`` runs in the same transaction as every ticket change:
it cancels the ticket's pending timers and inserts one row per step still to come in this
cycle — "response:warn" (at ``warn_at`` of the target), "response:L1".."L3" (the ladder,
``after_breach_minutes`` past the due time), "response:remind1".. (bounded reminders), the
same for "resolve:", and "rating:autoclose" for a resolved ticket. A step that already fired
in the cycle is never planned again. The worker (``bot/jobs_sla.py``) queues each pending
timer as an arq job deferred to its due time and fires it once (``handlers/escalation.py``).

Errors: ``load`` raises ValueError naming the bad entry of the TOML file.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, select

from storage.calendar import Calendar, parse_calendar
from storage.models import Ticket, TicketStatus, TicketTimer, TimerState
from storage.times import as_utc

S = TicketStatus
POLICY_FILE = Path(__file__).resolve().parent.parent / "handlers" / "sla.toml"
MATCH_KEYS = ("kind", "category", "urgent", "priority")
LADDER_TARGETS = ("grid_leader", "community_admin", "department")


@dataclass(frozen=True)
class Policy:
    """Targets for one kind of ticket: seconds of working time on ``calendar``."""

    name: str
    calendar: Calendar
    response_s: int
    resolve_s: int
    department: str = ""


@dataclass(frozen=True)
class LadderStep:
    """督办 step ``level`` (1…): tell ``to`` ``after_breach_s`` working seconds past due."""

    level: int
    to: str
    after_breach_s: int


@dataclass(frozen=True)
class SlaConfig:
    """Everything in sla.toml, validated. Durations are seconds."""

    default: Policy
    rules: tuple[tuple[dict[str, Any], Policy], ...]
    calendars: dict[str, Calendar]
    warn_at: float
    reminder_every_s: int
    reminder_max: int
    steps: tuple[LadderStep, ...]
    auto_close_s: int
    reopen_window_s: int
    reopen_score_max: int
    max_reopens: int
    duplicate_window_s: int

    def policy_for(self, ticket: Ticket) -> Policy:
        """The first rule all of whose match keys fit ``ticket``, else the default.

        ``category`` may be a list (any of them fits); ``urgent`` a bool; ``priority`` an int.
        """
        for match, policy in self.rules:
            if all(_fits(getattr(ticket, k), v) for k, v in match.items()):
                return policy
        return self.default

    def policy_named(self, name: str | None) -> Policy:
        for _, policy in self.rules:
            if policy.name == name:
                return policy
        return self.default


def _fits(value: Any, wanted: Any) -> bool:
    if isinstance(wanted, list):
        return value in wanted
    return value == wanted


def parse(raw: dict[str, Any]) -> SlaConfig:
    """An SlaConfig from the parsed TOML document. Raises ValueError."""
    calendars = {name: parse_calendar(name, spec) for name, spec in raw.get("calendars", {}).items()}
    calendars.setdefault("24x7", Calendar(name="24x7", always=True))
    base = raw.get("default", {})

    def policy(name: str, spec: dict[str, Any]) -> Policy:
        merged = {**{"calendar": "office", "response_minutes": 60, "resolve_minutes": 1440},
                  **base, **spec}
        cal = merged["calendar"]
        if cal not in calendars:
            raise ValueError(f"sla policy {name!r}: unknown calendar {cal!r}")
        response, resolve = merged["response_minutes"], merged["resolve_minutes"]
        if not (isinstance(response, int | float) and isinstance(resolve, int | float)
                and response > 0 and resolve > 0):
            raise ValueError(f"sla policy {name!r}: targets must be positive minutes")
        return Policy(name=name, calendar=calendars[cal], response_s=int(response * 60),
                      resolve_s=int(resolve * 60), department=str(merged.get("department") or ""))

    rules = []
    for i, spec in enumerate(raw.get("policy", []), start=1):
        name = str(spec.get("name") or f"policy {i}")
        match = {k: spec[k] for k in MATCH_KEYS if k in spec}
        if not match:
            raise ValueError(f"sla policy {name!r}: needs at least one of {', '.join(MATCH_KEYS)}")
        rules.append((match, policy(name, spec)))
    esc = raw.get("escalation", {})
    steps = []
    for spec in esc.get("steps", []):
        if spec.get("to") not in LADDER_TARGETS:
            raise ValueError(f"escalation step: 'to' must be one of {', '.join(LADDER_TARGETS)}")
        steps.append(LadderStep(level=int(spec["level"]), to=spec["to"],
                                after_breach_s=int(spec.get("after_breach_minutes", 0) * 60)))
    warn_at = float(esc.get("warn_at", 0.8))
    if not 0 < warn_at < 1:
        raise ValueError("escalation.warn_at must be between 0 and 1")
    rating = raw.get("rating", {})
    return SlaConfig(
        default=policy("默认", {}), rules=tuple(rules), calendars=calendars, warn_at=warn_at,
        reminder_every_s=int(esc.get("reminder_every_minutes", 60) * 60),
        reminder_max=int(esc.get("reminder_max", 3)),
        steps=tuple(sorted(steps, key=lambda s: s.level)),
        auto_close_s=int(rating.get("auto_close_days", 3) * 86400),
        reopen_window_s=int(rating.get("reopen_window_days", 7) * 86400),
        reopen_score_max=int(rating.get("reopen_score_max", 2)),
        max_reopens=int(rating.get("max_reopens", 2)),
        duplicate_window_s=int(raw.get("duplicates", {}).get("window_hours", 72) * 3600),
    )


@cache
def load(path: Path = POLICY_FILE) -> SlaConfig:
    """The validated policies of ``path`` (cached). Raises ValueError, OSError."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path.name}: not valid TOML ({exc})") from None
    return parse(raw)


# -- clocks ------------------------------------------------------------------------------------

def start_clocks(ticket: Ticket, now: datetime, cfg: SlaConfig | None = None) -> Policy:
    """Match the policy and set both due times from ``now`` (a new ticket or a reopen)."""
    cfg = cfg or load()
    policy = cfg.policy_for(ticket)
    ticket.sla_policy = policy.name
    ticket.response_due_at = policy.calendar.add(now, policy.response_s)
    ticket.resolve_due_at = policy.calendar.add(now, policy.resolve_s)
    ticket.responded_at = None
    ticket.paused_at = None
    return policy


def mark_response(ticket: Ticket, now: datetime) -> None:
    """Stop the response clock (no-op when it already stopped in this cycle)."""
    if ticket.responded_at is not None:
        return
    ticket.responded_at = now
    if ticket.first_response_at is None:
        ticket.first_response_at = now
    if ticket.response_met is None and ticket.response_due_at is not None:
        ticket.response_met = _effective(ticket, now) <= as_utc(ticket.response_due_at)


def mark_resolved(ticket: Ticket, now: datetime) -> None:
    """Stop the resolution clock: record whether it was met (a pause does not count)."""
    mark_response(ticket, now)
    if ticket.resolve_due_at is not None:
        ticket.resolve_met = _effective(ticket, now) <= as_utc(ticket.resolve_due_at)
    ticket.paused_at = None


def _effective(ticket: Ticket, now: datetime) -> datetime:
    return as_utc(ticket.paused_at) if ticket.paused_at is not None else as_utc(now)


def pause(ticket: Ticket, now: datetime) -> None:
    """Stop both clocks while the ticket waits for the resident."""
    if ticket.paused_at is None:
        ticket.paused_at = now


def resume(ticket: Ticket, now: datetime, cfg: SlaConfig | None = None) -> float:
    """Restart the clocks: each due time still ahead at the pause moves on by the paused
    working time. Returns the paused working seconds (0 when not paused)."""
    if ticket.paused_at is None:
        return 0.0
    cal = (cfg or load()).policy_named(ticket.sla_policy).calendar
    paused_at = as_utc(ticket.paused_at)
    for name in ("response_due_at", "resolve_due_at"):
        due = getattr(ticket, name)
        if due is None or as_utc(due) <= paused_at:
            continue
        if name == "response_due_at" and ticket.responded_at is not None:
            continue
        setattr(ticket, name, cal.add(now, cal.between(paused_at, as_utc(due))))
    paused = cal.between(paused_at, now)
    ticket.paused_s += int(paused)
    ticket.paused_at = None
    return paused


# -- timers ------------------------------------------------------------------------------------

RUNNING = (S.SUBMITTED, S.ASSIGNED, S.ACCEPTED, S.IN_PROGRESS, S.REOPENED)
"""Statuses in which the clocks run (waiting_resident pauses them)."""


def desired_steps(ticket: Ticket, cfg: SlaConfig | None = None) -> dict[str, datetime]:
    """Step name → due instant (aware UTC) of every step the ticket should still get,
    ignoring which ones already fired."""
    cfg = cfg or load()
    policy = cfg.policy_named(ticket.sla_policy)
    cal = policy.calendar
    steps: dict[str, datetime] = {}
    if ticket.status in RUNNING and ticket.paused_at is None:
        anchor = as_utc(ticket.reopened_at or ticket.created_at)
        clocks = [("resolve", ticket.resolve_due_at, policy.resolve_s)]
        if ticket.responded_at is None:
            clocks.insert(0, ("response", ticket.response_due_at, policy.response_s))
        for clock, due, target_s in clocks:
            if due is None:
                continue
            due = as_utc(due)
            steps[f"{clock}:warn"] = cal.back(due, (1 - cfg.warn_at) * target_s, anchor)
            for step in cfg.steps:
                steps[f"{clock}:L{step.level}"] = cal.add(due, step.after_breach_s)
            for k in range(1, cfg.reminder_max + 1):
                steps[f"{clock}:remind{k}"] = cal.add(due, k * cfg.reminder_every_s)
    if ticket.status == S.RESOLVED and ticket.resolved_at is not None:
        steps["rating:autoclose"] = as_utc(ticket.resolved_at) + timedelta(seconds=cfg.auto_close_s)
    return steps


def fired_steps(session: Session, ticket: Ticket) -> set[str]:
    """Steps that fired for ``ticket`` in its current cycle."""
    return set(session.exec(
        select(TicketTimer.step).where(TicketTimer.ticket_id == ticket.id,
                                       TicketTimer.cycle == ticket.sla_cycle,
                                       TicketTimer.state == TimerState.FIRED)
    ))


def cancel_pending(session: Session, ticket_id: int) -> None:
    """Cancel the ticket's pending timers (their queued jobs become no-ops)."""
    session.exec(update(TicketTimer)
                 .where(TicketTimer.ticket_id == ticket_id, TicketTimer.state == TimerState.PENDING)
                 .values(state=TimerState.CANCELLED))


def plan(session: Session, ticket: Ticket, now: datetime,
         cfg: SlaConfig | None = None) -> list[TicketTimer]:
    """Replace the ticket's pending timers by the steps still to come (see module doc).

    Call after each status or clock change, in the same transaction. Returns the new rows.
    """
    session.flush()
    cancel_pending(session, ticket.id)
    done = fired_steps(session, ticket)
    rows = [TicketTimer(ticket_id=ticket.id, cycle=ticket.sla_cycle, step=step, due_at=due,
                        created_at=now)
            for step, due in sorted(desired_steps(ticket, cfg).items(), key=lambda kv: kv[1])
            if step not in done]
    session.add_all(rows)
    session.flush()
    return rows


def pending(session: Session, ticket_id: int) -> list[TicketTimer]:
    """The ticket's pending timers, soonest first."""
    return list(session.exec(
        select(TicketTimer).where(TicketTimer.ticket_id == ticket_id,
                                  TicketTimer.state == TimerState.PENDING)
        .order_by(TicketTimer.due_at, TicketTimer.id)))


def job_id(timer_id: int) -> str:
    """The arq job id of a timer: "timer:<id>" (one queued job per timer)."""
    return f"timer:{timer_id}"

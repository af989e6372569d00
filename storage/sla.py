"""Service levels: policies from ``handlers/sla.toml``, the two clocks of a ticket, and the
timers (``TicketTimer`` rows) that drive warnings, 督办 escalation and rating follow-up.

Clocks. A ticket has a response clock (stops at the first response: 接单, 询问, 到场, 办结,
驳回) and a resolution clock (stops at 办结 or 驳回). Each counts seconds of its OWN calendar
(the policy's ``response_calendar`` and ``resolve_calendar``: by default office hours for the
response, round the clock for the resolution, so 「1小时响应、24小时处置」 read as residents
read them); ``response_due_at`` and ``resolve_due_at`` are aware UTC, and the resolution is
never due before the response (a report on Friday evening is not "resolved" by Saturday when
it is first answered on Monday). While the ticket is ``waiting_resident`` both clocks pause
(``paused_at``); on the resident's answer each due time moves on by the time that was left
on its own calendar (``resume``). Warnings, the 督办 ladder and reminders of a clock are
counted on that clock's calendar too.

Timers. A ticket has ONE ``TicketTimer`` row: its next due step. The steps of a cycle are
"response:warn" (at ``warn_at`` of the target), "response:L1".."L3" (the ladder,
``after_breach_minutes`` past the due time), "response:remind1".. (bounded reminders), the
same for "resolve:", and "rating:autoclose" for a resolved ticket (``desired_steps``). A
step that fired in the cycle (listed in the row's ``fired``) is never due again.
``plan(session, ticket, now)`` runs in the same transaction as every ticket change and is
ONE statement, with no read: an upsert (``INSERT … ON CONFLICT (ticket_id) DO UPDATE``,
PostgreSQL and SQLite) whose values Python computes from the ticket's clocks — the desired
steps soonest first — and whose update picks, in SQL, the first of them not yet in the
row's ``fired`` (a new cycle starts an empty list). The worker (``bot/jobs_sla.py``) queues
the row's step as an arq job deferred to its due time, with an id naming ticket, cycle,
step and due time (``job_id``); ``services.escalation.fire`` fires it once under the row
lock and moves the row on, so a re-planned or advanced row gets a fresh job and a stale
job finds nothing to do.

Source. ``load()`` reads the policy file (``use_file``: GRIDBOT_SLA_FILE, else the packaged
handlers/sla.toml) unless a staff-edited document overrides it (``use_text``: the console's
``ConfigDocument`` "sla", kept current in every process by ``services.config_docs``).

Errors: ``load`` raises ValueError naming the bad entry of the TOML file.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Text, case, cast, literal, null
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from storage import categories
from storage.calendar import Calendar, QuietHours, parse_calendar, parse_quiet_hours
from storage.models import Ticket, TicketStatus, TicketTimer
from storage.times import as_utc

S = TicketStatus
POLICY_FILE = Path(__file__).resolve().parent.parent / "handlers" / "sla.toml"
MATCH_KEYS = ("kind", "category", "urgent", "priority")
LADDER_TARGETS = ("grid_leader", "community_admin", "department")


CLOCKS = ("response", "resolve")
"""The two clocks of a ticket; ``<clock>_minutes`` and ``<clock>_calendar`` in sla.toml."""


@dataclass(frozen=True)
class Policy:
    """Targets for one kind of ticket: ``response_s`` seconds on ``response_calendar`` to the
    first response, ``resolve_s`` seconds on ``resolve_calendar`` to the resolution."""

    name: str
    response_calendar: Calendar
    resolve_calendar: Calendar
    response_s: int
    resolve_s: int
    department: str = ""

    def calendar_of(self, clock: str) -> Calendar:
        """The calendar of ``clock`` ("response" or "resolve"). Raises ValueError."""
        if clock not in CLOCKS:
            raise ValueError(f"unknown SLA clock {clock!r}")
        return self.response_calendar if clock == "response" else self.resolve_calendar

    def target_s(self, clock: str) -> int:
        """The target of ``clock`` in seconds of its calendar. Raises ValueError."""
        if clock not in CLOCKS:
            raise ValueError(f"unknown SLA clock {clock!r}")
        return self.response_s if clock == "response" else self.resolve_s


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
    quiet: QuietHours | None = None
    """Night hours in which non-urgent tickets' warnings, ladder steps and reminders wait."""

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

    def calendar(name: str, spec: dict[str, Any], clock: str) -> Calendar:
        """The calendar of ``clock``: the policy's own ``<clock>_calendar``, else its
        ``calendar``, else [default]'s ``<clock>_calendar``, else [default]'s ``calendar``."""
        key = f"{clock}_calendar"
        for source, entry in ((spec, key), (spec, "calendar"), (base, key), (base, "calendar")):
            if entry in source:
                cal = source[entry]
                break
        else:
            cal = "office"
        if cal not in calendars:
            raise ValueError(f"sla policy {name!r}: unknown calendar {cal!r} ({entry})")
        return calendars[cal]

    def policy(name: str, spec: dict[str, Any]) -> Policy:
        merged = {**{"response_minutes": 60, "resolve_minutes": 1440}, **base, **spec}
        response, resolve = merged["response_minutes"], merged["resolve_minutes"]
        if not (isinstance(response, int | float) and isinstance(resolve, int | float)
                and response > 0 and resolve > 0):
            raise ValueError(f"sla policy {name!r}: targets must be positive minutes")
        return Policy(name=name, response_calendar=calendar(name, spec, "response"),
                      resolve_calendar=calendar(name, spec, "resolve"),
                      response_s=int(response * 60), resolve_s=int(resolve * 60),
                      department=str(merged.get("department") or ""))

    rules = []
    for i, spec in enumerate(raw.get("policy", []), start=1):
        name = str(spec.get("name") or f"policy {i}")
        match = {k: spec[k] for k in MATCH_KEYS if k in spec}
        if not match:
            raise ValueError(f"sla policy {name!r}: needs at least one of {', '.join(MATCH_KEYS)}")
        if "kind" in match and match["kind"] not in categories.KINDS:
            raise ValueError(f"sla policy {name!r}: kind must be one of "
                             f"{', '.join(categories.KINDS)}, got {match['kind']!r}")
        wanted = match.get("category", [])
        for category in wanted if isinstance(wanted, list) else [wanted]:
            categories.load().require(category, match.get("kind"), f"sla policy {name!r}")
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
        quiet=parse_quiet_hours(esc.get("quiet_hours"),
                                esc.get("quiet_timezone", "Asia/Shanghai")),
    )


_policy_file = POLICY_FILE
_override: SlaConfig | None = None


def use_text(text: str | None) -> None:
    """Make ``load()`` (without a path) return the policies of ``text``, a staff-edited
    document (``ConfigDocument`` "sla", set by ``services.config_docs``) that overrides the
    policy file; None: the file again. Raises ValueError (as ``parse_text``) and then
    changes nothing."""
    global _override
    _override = None if text is None else parse_text(text)


def overridden() -> bool:
    """True while a staff-edited document (``use_text``) overrides the policy file."""
    return _override is not None


def file_in_use() -> Path:
    """The policy file ``load()`` reads when no document overrides it (``use_file``)."""
    return Path(_policy_file)


def parse_text(text: str, name: str = "sla") -> SlaConfig:
    """The validated policies of a TOML ``text``; the error names ``name`` and, for a TOML
    syntax error, the line and column. Raises ValueError."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{name}: not valid TOML ({exc})") from None
    return parse(raw)


def use_file(path: Path | None) -> None:
    """Make ``load()`` read ``path`` (GRIDBOT_SLA_FILE; called where settings are built:
    ``bot.preflight.load_settings``, ``bot.app.create_app``); None: the packaged POLICY_FILE."""
    global _policy_file
    _policy_file = path or POLICY_FILE


def load(path: Path | None = None) -> SlaConfig:
    """The validated policies of ``path``; by default the staff-edited document in use
    (``use_text``), else the file chosen by ``use_file`` (cached per file). Raises
    ValueError, OSError."""
    if path is None and _override is not None:
        return _override
    return _read(Path(path or _policy_file))


@cache
def _read(path: Path) -> SlaConfig:
    return parse_text(path.read_text(encoding="utf-8"), path.name)


# -- clocks ------------------------------------------------------------------------------------

def start_clocks(ticket: Ticket, now: datetime, cfg: SlaConfig | None = None) -> Policy:
    """Match the policy and set both due times from ``now`` (a new ticket or a reopen), each
    on its own calendar; the resolution is never due before the response."""
    cfg = cfg or load()
    policy = cfg.policy_for(ticket)
    ticket.sla_policy = policy.name
    ticket.response_due_at = policy.response_calendar.add(now, policy.response_s)
    ticket.resolve_due_at = max(policy.resolve_calendar.add(now, policy.resolve_s),
                                ticket.response_due_at)
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
    """Restart the clocks: each due time still ahead at the pause moves on by the time the
    pause took on that clock's calendar (the resolution again no earlier than a running
    response). Returns the paused seconds on the resolution calendar, which are added to
    ``paused_s`` (0 when not paused)."""
    if ticket.paused_at is None:
        return 0.0
    policy = (cfg or load()).policy_named(ticket.sla_policy)
    paused_at = as_utc(ticket.paused_at)
    for clock in CLOCKS:
        name = f"{clock}_due_at"
        due = getattr(ticket, name)
        if due is None or as_utc(due) <= paused_at:
            continue
        if clock == "response" and ticket.responded_at is not None:
            continue
        cal = policy.calendar_of(clock)
        setattr(ticket, name, cal.add(now, cal.between(paused_at, as_utc(due))))
    if (ticket.responded_at is None and ticket.response_due_at is not None
            and ticket.resolve_due_at is not None):
        ticket.resolve_due_at = max(as_utc(ticket.resolve_due_at), as_utc(ticket.response_due_at))
    paused = policy.resolve_calendar.between(paused_at, now)
    ticket.paused_s += int(paused)
    ticket.paused_at = None
    return paused


# -- timers ------------------------------------------------------------------------------------

RUNNING = (S.SUBMITTED, S.ASSIGNED, S.ACCEPTED, S.IN_PROGRESS, S.REOPENED)
"""Statuses in which the clocks run (waiting_resident pauses them)."""


def desired_steps(ticket: Ticket, cfg: SlaConfig | None = None) -> dict[str, datetime]:
    """Step name → due instant (aware UTC) of every step the ticket should still get,
    ignoring which ones already fired. Each clock's steps are counted on its own calendar;
    a resolution due together with a running response waits for it (``_held_by_response``);
    a non-urgent ticket's steps that fall in ``[escalation] quiet_hours`` wait for their end."""
    cfg = cfg or load()
    policy = cfg.policy_named(ticket.sla_policy)
    steps: dict[str, datetime] = {}
    if ticket.status in RUNNING and ticket.paused_at is None:
        anchor = as_utc(ticket.reopened_at or ticket.created_at)
        clocks = [c for c in CLOCKS if c == "resolve" or ticket.responded_at is None]
        for clock in clocks:
            due = getattr(ticket, f"{clock}_due_at")
            if due is None or (clock == "resolve" and _held_by_response(ticket)):
                continue
            due = as_utc(due)
            cal, target_s = policy.calendar_of(clock), policy.target_s(clock)
            steps[f"{clock}:warn"] = cal.back(due, (1 - cfg.warn_at) * target_s, anchor)
            for step in cfg.steps:
                steps[f"{clock}:L{step.level}"] = cal.add(due, step.after_breach_s)
            for k in range(1, cfg.reminder_max + 1):
                steps[f"{clock}:remind{k}"] = cal.add(due, k * cfg.reminder_every_s)
    if cfg.quiet is not None and not ticket.urgent:  # nobody is woken for a non-urgent ticket
        steps = {step: cfg.quiet.release(due) for step, due in steps.items()}
    if ticket.status == S.RESOLVED and ticket.resolved_at is not None:
        steps["rating:autoclose"] = as_utc(ticket.resolved_at) + timedelta(seconds=cfg.auto_close_s)
    return steps


def _held_by_response(ticket: Ticket) -> bool:
    """True while the response clock runs and the resolution is due no later than the
    response (``start_clocks`` raised it to the response due: a report made while the
    office is closed). The response clock's ladder covers that deadline; the resolution
    clock's own steps start with the first response."""
    return (ticket.responded_at is None and ticket.response_due_at is not None
            and as_utc(ticket.resolve_due_at) <= as_utc(ticket.response_due_at))


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Due:
    """One step of a ticket's timer: ``step`` due at ``due_at`` (aware UTC) in ``cycle``."""

    cycle: int
    step: str
    due_at: datetime

    @property
    def token(self) -> str:
        """"<cycle>:<step>:<due µs since the epoch>", e.g. "0:response:warn:1795398480000000";
        names this exact step occurrence (the arq job carries it; ``fire`` compares it)."""
        return f"{self.cycle}:{self.step}:{(as_utc(self.due_at) - EPOCH) // timedelta(microseconds=1)}"


def ordered(steps: dict[str, datetime]) -> list[tuple[str, datetime]]:
    """``desired_steps`` soonest first (ties by name): the order in which steps fire."""
    return sorted(steps.items(), key=lambda kv: (kv[1], kv[0]))


def next_due(ticket: Ticket, fired: list[str] | set[str],
             cfg: SlaConfig | None = None) -> Due | None:
    """The ticket's next step not in ``fired`` (steps fired in its current cycle), or None."""
    for step, due in ordered(desired_steps(ticket, cfg)):
        if step not in fired:
            return Due(ticket.sla_cycle, step, due)
    return None


def plan(session: Session, ticket: Ticket, now: datetime, cfg: SlaConfig | None = None) -> None:
    """Point the ticket's timer row at its next step still to come (see module doc).

    Call after each status or clock change, in the same transaction. One statement: the
    upsert below, whether the row exists or not. The queued job of the step it replaces
    finds its token changed and does nothing; ``enqueued_at`` goes back to None so the
    sweep queues the new step.
    """
    session.flush()  # the ticket row first (its lock, then the timer's: as ``fire`` does)
    table = TicketTimer.__table__
    steps = ordered(desired_steps(ticket, cfg))
    first_step, first_due = steps[0] if steps else (None, None)
    insert = _dialect_insert(session)
    stmt = insert(table).values(ticket_id=ticket.id, cycle=ticket.sla_cycle, step=first_step,
                                due_at=first_due, fired=[], enqueued_at=None, created_at=now)
    new = stmt.excluded
    same_cycle = table.c.cycle == new.cycle
    fired_text = cast(table.c.fired, Text)

    def first_unfired(column: Column, pick: int) -> Any:
        """CASE: a new cycle takes the first step; the same cycle the first not yet fired
        (``fired`` holds JSON strings, so '"<step>"' matches the whole name only)."""
        if not steps:
            return getattr(new, column.name)
        return case((~same_cycle, getattr(new, column.name)),
                    *[(~fired_text.contains(json.dumps(entry[0]), autoescape=True),
                       literal(entry[pick], column.type)) for entry in steps],
                    else_=null())

    stmt = stmt.on_conflict_do_update(index_elements=[table.c.ticket_id], set_={
        "cycle": new.cycle,
        "step": first_unfired(table.c.step, 0),
        "due_at": first_unfired(table.c.due_at, 1),
        "fired": case((same_cycle, table.c.fired), else_=new.fired),
        "enqueued_at": null(),
    })
    session.exec(stmt)


def _dialect_insert(session: Session):
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return pg_insert
    if name == "sqlite":
        return sqlite_insert
    raise NotImplementedError(f"sla.plan: no upsert for {name}")


def job_id(ticket_id: int, due: Due) -> str:
    """The arq job id of one step of a ticket's timer: "timer:<ticket id>:<token>" — a
    re-planned or advanced row gets a new id, so arq never mistakes it for the old job."""
    return f"timer:{ticket_id}:{due.token}"

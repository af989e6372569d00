"""The ticket page (工单详情) and the staff actions on it.

    GET  /console/tickets/{number}            timeline, photos, location, countdowns, actions
    POST /console/tickets/{number}/accept     接单
    POST /console/tickets/{number}/assign     派单: form ``to`` (a gridworker id)
    POST /console/tickets/{number}/transfer   转派: form ``target`` ("grid:<id>" or
                                              "department:<id>"), ``reason``
    POST /console/tickets/{number}/call_in    上报: form ``reason``
    POST /console/tickets/{number}/reject     驳回: form ``reason`` (why, where to go)
    POST /console/tickets/{number}/resolve    办结: form ``note``
    POST /console/tickets/{number}/note       民情日记: form ``text``
    POST /console/tickets/{number}/message    给居民留言: form ``text``

Every POST carries the CSRF token, locks the ticket row, calls the business layer
(``services.tickets``, ``services.handover``, ``services.notify``), writes the audit entry
("ticket.<action>"), commits, nudges the push relay and redirects back to the page with a
Chinese confirmation. The layer's errors become pages: NotAllowed 403, NotFound 404,
WrongState 409, Invalid 422 (with the sentence of ``REFUSED`` for the action).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Form, Request
from fastapi.responses import Response
from sqlmodel import Session

from bot.console.web import (
    ConsoleError,
    CsrfDep,
    DbDep,
    NowDep,
    StaffDep,
    audit,
    redirect,
    render,
    service_errors,
)
from services import handover, notify, permissions, tickets
from services.errors import Invalid, NotFound
from services.messages import msg
from services.timeline import can_view, ticket_detail
from storage import tickets as repo
from storage.models import Department, Grid, GridWorker, Ticket, TicketStatus
from storage.outbox import staged_ids

router = APIRouter()
S = TicketStatus

ACTIONS = ("accept", "assign", "transfer", "call_in", "reject", "resolve", "note", "message")
"""The actions of the page, in the order shown; each a ``services.permissions`` action."""

WHEN = {
    "accept": (S.SUBMITTED, S.ASSIGNED, S.REOPENED),
    "assign": tickets.ASSIGNABLE,
    "transfer": handover.TRANSFERABLE,
    "call_in": S.OPEN,
    "reject": S.OPEN,
    "resolve": (S.ASSIGNED, S.ACCEPTED, S.IN_PROGRESS, S.WAITING_RESIDENT, S.REOPENED),
    "note": (*S.OPEN, S.RESOLVED, *S.FINAL),
    "message": (*S.OPEN, S.RESOLVED, *S.FINAL),
}
"""Statuses in which the page offers each action (the layer decides; this hides buttons
that could only be refused)."""

DONE = {action: f"console.done.{action}" for action in ACTIONS}
"""The catalogue key of the confirmation shown after each action (fields from ``run``)."""

REFUSED = {action: f"console.refused.{action}" for action in ACTIONS if action != "accept"}
"""The catalogue key of what the page says when the layer finds a value Invalid, per
action (field ``max``: the longest message to a resident)."""


def _ticket(db: Session, number: str, lock: bool = False) -> Ticket:
    with service_errors():
        return repo.by_number(db, number, for_update=lock)


@router.get("/tickets/{number}")
def ticket_page(request: Request, number: str, db: DbDep, me: StaffDep, now: NowDep) -> Response:
    """The ticket page (403 outside the staff member's scope, 404 for no such number)."""
    ticket = _ticket(db, number)
    with service_errors():
        permissions.require_may(db, me, "queue")
        page = ticket_detail(db, ticket, me, now)
    can = {a: ticket.status in WHEN[a] and permissions.allowed(db, me, a, ticket)
           for a in ACTIONS}
    can["message"] = can["message"] and page.reporter_reachable
    can["accept"] = can["accept"] and ticket.assignee_id in (None, me.id)  # others: 派单 to self
    return render(request, "ticket.html", {
        "t": ticket, "page": page, "act": can,
        "assignees": tickets.assignable_to(db, ticket) if can["assign"] else [],
        "targets": handover.transfer_targets(db, ticket) if can["transfer"] else [],
        "message_max": notify.STAFF_MESSAGE_MAX_CHARS,
    })


def _act(request: Request, background: BackgroundTasks, db: Session, me: GridWorker,
         number: str, action: str, run: Callable[[Ticket], object], **detail: str) -> Response:
    """Lock the ticket, check ``me`` may do ``action`` to it, ``run`` the action (a dict it
    returns fills the confirmation), audit, commit, nudge the relay, and go back to the
    page."""
    ticket = _ticket(db, number, lock=True)
    try:
        with service_errors():
            permissions.require(db, me, action, ticket)
            done = run(ticket)
            fields = done if isinstance(done, dict) else {}
    except ConsoleError as exc:
        if exc.status == 422 and action in REFUSED:
            raise ConsoleError(422, msg(REFUSED[action],
                                        max=notify.STAFF_MESSAGE_MAX_CHARS)) from exc
        raise
    audit(db, request, me, f"ticket.{action}", "ticket", ticket.number, **detail)
    db.commit()
    queue = getattr(request.app.state, "queue", None)
    ids = staged_ids(db)
    if queue is not None and ids:
        background.add_task(queue.nudge, ids)
    back = f"/console/tickets/{ticket.number}"
    if not can_view(db, me, ticket):  # handed out of their scope (派单/转派 to another grid)
        back = "/console/"
    return redirect(request, back, ok=msg(DONE[action], **fields))


Text = Annotated[str, Form()]


@router.post("/tickets/{number}/accept")
def accept(request: Request, background: BackgroundTasks, number: str, db: DbDep,
           me: StaffDep, now: NowDep, _csrf: CsrfDep) -> Response:
    """接单: ``me`` takes the ticket."""
    return _act(request, background, db, me, number, "accept",
                lambda t: tickets.accept(db, t, me, now))


@router.post("/tickets/{number}/assign")
def assign(request: Request, background: BackgroundTasks, number: str, db: DbDep,
           me: StaffDep, now: NowDep, _csrf: CsrfDep, to: Text = "") -> Response:
    """派单 to the staff member ``to`` (id)."""
    def run(ticket: Ticket) -> dict:
        person = db.get(GridWorker, int(to)) if to.isdigit() else None
        if person is None:
            raise Invalid("no such staff member")
        tickets.assign(db, ticket, me, person, now)
        return {"to": person.name}

    return _act(request, background, db, me, number, "assign", run, to=to)


@router.post("/tickets/{number}/transfer")
def transfer(request: Request, background: BackgroundTasks, number: str, db: DbDep,
             me: StaffDep, now: NowDep, _csrf: CsrfDep, target: Text = "",
             reason: Text = "") -> Response:
    """转派 to a grid or a department ("grid:<id>", "department:<id>")."""
    def run(ticket: Ticket) -> dict:
        kind, _, key = target.partition(":")
        model = {"grid": Grid, "department": Department}.get(kind)
        found = db.get(model, int(key)) if model is not None and key.isdigit() else None
        if found is None:
            raise Invalid("no transfer target")
        if found not in handover.transfer_targets(db, ticket):
            raise NotFound(target)
        return {"target": handover.transfer(db, ticket, me, found, reason.strip(), now)}

    return _act(request, background, db, me, number, "transfer", run, target=target,
                reason=reason.strip())


@router.post("/tickets/{number}/call_in")
def call_in(request: Request, background: BackgroundTasks, number: str, db: DbDep,
            me: StaffDep, now: NowDep, _csrf: CsrfDep, reason: Text = "") -> Response:
    """上报 to the community with ``reason``."""
    def run(ticket: Ticket) -> dict:
        if not reason.strip():
            raise Invalid("a call-in needs a reason")
        return {"count": handover.call_in(db, ticket, me, reason.strip(), now)}

    return _act(request, background, db, me, number, "call_in", run, reason=reason.strip())


@router.post("/tickets/{number}/reject")
def reject(request: Request, background: BackgroundTasks, number: str, db: DbDep,
           me: StaffDep, now: NowDep, _csrf: CsrfDep, reason: Text = "") -> Response:
    """驳回 with ``reason`` (why, and where to go instead)."""
    return _act(request, background, db, me, number, "reject",
                lambda t: handover.reject(db, t, me, reason.strip(), now),
                reason=reason.strip())


@router.post("/tickets/{number}/resolve")
def resolve(request: Request, background: BackgroundTasks, number: str, db: DbDep,
            me: StaffDep, now: NowDep, _csrf: CsrfDep, note: Text = "") -> Response:
    """办结 with ``note``; the resident is asked to rate."""
    return _act(request, background, db, me, number, "resolve",
                lambda t: tickets.resolve(db, t, me, note.strip(), now),
                note=note.strip())


@router.post("/tickets/{number}/note")
def add_note(request: Request, background: BackgroundTasks, number: str, db: DbDep,
             me: StaffDep, now: NowDep, _csrf: CsrfDep, text: Text = "") -> Response:
    """民情日记: a note on the timeline."""
    return _act(request, background, db, me, number, "note",
                lambda t: tickets.note(db, t, me, text, now), text=text.strip())


@router.post("/tickets/{number}/message")
def message(request: Request, background: BackgroundTasks, number: str, db: DbDep,
            me: StaffDep, now: NowDep, _csrf: CsrfDep, text: Text = "") -> Response:
    """A message to the reporter through the outbox (客服消息, else 模板消息)."""
    return _act(request, background, db, me, number, "message",
                lambda t: notify.message_resident(db, t, me, text, now),
                text=text.strip())

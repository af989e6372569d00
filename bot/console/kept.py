"""「待人工处理」 pages: the messages the bot kept for staff (``services.kept``).

    GET  /console/kept                    the list, oldest first (``?handled=1``: with the
                                          handled ones; ``?page=N``)
    POST /console/kept/{id}/answer        form ``text``: the answer goes to the resident
    POST /console/kept/{id}/ticket        form ``category`` ("<kind>:<name>", or "<kind>:"
                                          for 其他), ``where`` ("" home, "building:<id>",
                                          "place:<id>") and optional ``unit``/``room``
                                          (prefilled with the home's): one ticket, routed
                                          like a chat one

``kept_count()`` (a Jinja global registered here) is the nav badge of base.html: how
many kept messages wait for the logged-in member of staff.

A thin door: it parses the form, calls ``services.kept``, writes the audit entry, commits,
nudges the push relay and redirects back with a Chinese confirmation (``?ok=``); the
layer's errors become pages (``web.service_errors``).
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Form, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import pass_context
from jinja2.runtime import Context
from sqlmodel import Session

from bot.console.web import (
    CsrfDep,
    DbDep,
    NowDep,
    SettingsDep,
    StaffDep,
    audit,
    redirect,
    render,
    service_errors,
    templates,
)
from services import kept
from services.errors import Invalid
from services.messages import msg
from storage import categories
from storage.outbox import staged_ids

router = APIRouter()

PAGE_SIZE = 30
"""Kept messages on one page."""


@router.get("/kept", response_class=HTMLResponse)
def kept_list(request: Request, db: DbDep, me: StaffDep, now: NowDep, handled: bool = False,
              page: int = 1) -> HTMLResponse:
    """The kept messages ``me`` may see, with an answer form and a to-ticket form each."""
    page = max(page, 1)
    with service_errors():
        rows = kept.list_kept(db, me, now, include_handled=handled, limit=PAGE_SIZE + 1,
                              offset=(page - 1) * PAGE_SIZE)
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return render(request, "kept.html", {
        "rows": rows, "handled": handled, "page": page, "more": more,
        "pending": kept.count_kept(db, me),
        "choices": {row.id: kept.where_choices(db, me, row) for row in rows
                    if row.handled_at is None and not row.anonymised},
        "categories": category_choices(), "answer_max": kept.ANSWER_MAX_CHARS,
    })


@router.post("/kept/{message_id}/answer")
def kept_answer(request: Request, background: BackgroundTasks, message_id: int, db: DbDep,
                me: StaffDep, now: NowDep, _csrf: CsrfDep,
                text: Annotated[str, Form()] = "") -> Response:
    """Answer the resident; back to the list with 「已回复居民」."""
    with service_errors():
        kept.answer(db, message_id, me, text, now)
    audit(db, request, me, "kept.answer", "inbound_message", str(message_id), text=text.strip())
    db.commit()
    _nudge(request, background, db)
    return redirect(request, "/console/kept", ok=msg("console.kept.answered"))


@router.post("/kept/{message_id}/ticket")
def kept_ticket(request: Request, background: BackgroundTasks, message_id: int, db: DbDep,
                me: StaffDep, now: NowDep, settings: SettingsDep, _csrf: CsrfDep,
                category: Annotated[str, Form()] = "",
                where: Annotated[str, Form()] = "", unit: Annotated[str, Form()] = "",
                room: Annotated[str, Form()] = "") -> Response:
    """Turn the message into a ticket; back to the list naming its number."""
    with service_errors():
        kind, name = parse_category(category)
        ticket = kept.to_ticket(db, message_id, me, kind, name, now,
                                prefix=settings.ticket_prefix, **parse_where(where),
                                **parse_unit_room(unit, room))
    audit(db, request, me, "kept.ticket", "inbound_message", str(message_id),
          ticket=ticket.number, kind=kind, category=name)
    db.commit()
    _nudge(request, background, db)
    return redirect(request, "/console/kept", ok=msg("console.kept.ticketed", no=ticket.number))


def _nudge(request: Request, background: BackgroundTasks, db: Session) -> None:
    """After the commit: ask the worker to relay the pushes just staged now (the outbox
    sweep would find them within seconds anyway)."""
    queue = getattr(request.app.state, "queue", None)
    ids = staged_ids(db)
    if queue is not None and ids:
        background.add_task(queue.nudge, ids)


def category_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """Option groups for the to-ticket form: (kind label, [(value, label)]), each kind with
    its categories from ``storage/categories.toml`` and 「其他」 last."""
    groups = []
    for kind in categories.KINDS:
        options = [(f"{kind}:{name}", name) for name in categories.load().names(kind)]
        options.append((f"{kind}:", msg("console.kept.other")))
        groups.append((msg(f"kind.{kind}"), options))
    return groups


def parse_category(value: str) -> tuple[str, str | None]:
    """"repair:水管" → ("repair", "水管"); "repair:" → ("repair", None). Raises Invalid."""
    if not value:
        raise Invalid(msg("kept.choose_category"))
    kind, sep, name = value.partition(":")
    if not sep or kind not in categories.KINDS:
        raise Invalid(msg("kept.unknown_kind", kind=value or "-"))
    return kind, name or None


def parse_where(value: str) -> dict[str, int]:
    """"" → {} (the resident's home); "building:7" → {"building_id": 7}; "place:3" →
    {"place_id": 3}. Raises Invalid."""
    if not value:
        return {}
    what, _, number = value.partition(":")
    if what in ("building", "place") and number.isdigit():
        return {f"{what}_id": int(number)}
    raise Invalid(msg("kept.unknown_building"))


def parse_unit_room(unit: str, room: str) -> dict[str, int | str | None]:
    """Form text → ``to_ticket``'s ``unit``/``room`` (full-width digits read as ASCII ones:
    "２" → 2, "５０１" → "501"); blank → None. Raises Invalid (not a number;
    ``services.kept.check_unit_room`` then checks the ranges)."""
    unit_text = unicodedata.normalize("NFKC", unit).strip()
    room_text = unicodedata.normalize("NFKC", room).strip()
    if unit_text and not (unit_text.isascii() and unit_text.isdigit()):
        raise Invalid(msg("kept.bad_unit", max=kept.UNIT_MAX))
    if room_text and not (room_text.isascii() and room_text.isdigit()):
        raise Invalid(msg("kept.bad_room"))
    return {"unit": int(unit_text) if unit_text else None, "room": room_text or None}


@pass_context
def kept_count(context: Context) -> int:
    """The nav badge of base.html (``kept_count()``): unhandled kept messages the page's
    ``me`` may see, on the request's session (``request.state.db``); 0 without the "kept"
    capability, or on a page with nobody logged in or no session."""
    request, me = context.get("request"), context.get("me")
    session: Session | None = getattr(request.state, "db", None) if request else None
    if me is None or session is None:
        return 0
    return kept.count_kept(session, me)


templates.env.globals["kept_count"] = kept_count

"""Configuration pages for the SLA policies and the intent lexicon (``services.config_docs``).

    GET  /console/config/sla                 the policy TOML in a textarea, version, history
                                             (``?diff=N``: what changed since version N)
    POST /console/config/sla                 form ``text``, ``version``: save (validated)
    POST /console/config/sla/reset           back to the packaged file
    GET  /console/config/lexicon?intent=X    one intent's tables, the same editor
    POST /console/config/lexicon             form ``intent``, ``text``, ``version``: save
    POST /console/config/lexicon/reset       form ``intent``
    POST /console/config/try                 form ``message``, ``name``, ``text`` (a draft,
                                             not saved): the 「试一试」 fragment (htmx)

A thin door: it parses the form, calls ``services.config_docs``, audits every save and reset
("config.save" / "config.reset", target "config" and the document name, detail the version
and text: the history reads it back), tells this process's ``LiveConfig`` at once (the
others within ``settings.config_reload_s`` seconds) and renders. Who may edit:
``config_docs.may_configure`` (a street admin; a community admin of a one-community account).
"""

from __future__ import annotations

import difflib
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from bot.console.web import (
    CsrfDep,
    DbDep,
    NowDep,
    StaffDep,
    audit,
    redirect,
    render,
    service_errors,
)
from services import config_docs as docs
from services.config_docs import ConfigInvalid
from services.errors import WrongState
from services.messages import msg
from storage.models import GridWorker

router = APIRouter()

HISTORY = 20
"""Saves and resets listed under the editor."""


def _labels(request: Request) -> dict[str, str]:
    """intent → its name for people (the lexicon's [labels])."""
    live = getattr(request.app.state, "live_config", None)
    base = live.base if live is not None else None
    labels = dict(base.labels) if base is not None else {}
    return {intent: labels.get(intent, intent) for intent in docs.INTENTS}


def _editor(request: Request, db: DbDep, me: GridWorker, name: str, *, text: str | None = None,
            version: int | None = None, error: str | None = None, diff: int | None = None,
            status_code: int = 200) -> HTMLResponse:
    """The editor page of ``name`` (``text``: a refused draft to show again)."""
    with service_errors():
        docs.require_configure(db, me, name)
        doc = docs.get(db, name)
        revisions = docs.history(db, name, HISTORY)
    diff_lines: list[str] = []
    if diff is not None:
        old = next((r.text for r in revisions if r.version == diff and r.text is not None), None)
        base = doc.default_text if diff == 0 else old
        if base is not None:
            diff_lines = list(difflib.unified_diff(
                base.splitlines(), doc.text.splitlines(), lineterm="", n=2,
                fromfile=f"v{diff}" if diff else msg("console.rules.default_version"),
                tofile=f"v{doc.version or 0}"))
    intent = docs.intent_of(name)
    return render(request, "config_lexicon.html" if intent else "config_sla.html", {
        "doc": doc, "name": name, "intent": intent, "labels": _labels(request),
        "action": "/console/config/lexicon" if intent else "/console/config/sla",
        "text": doc.text if text is None else text,
        "version": (doc.version or 0) if version is None else version,
        "revisions": revisions, "diff": diff, "diff_lines": diff_lines,
        "error": error, "live_every_s": request.app.state.settings.config_reload_s,
    }, status_code=status_code)


def invalid_text(exc: ConfigInvalid, lead: str = "console.rules.unsaved") -> str:
    """A refused text's error as staff read it: ``lead`` (a catalogue key: 「未保存」, or
    「草稿有误」 for a draft tried live), where, then the loader's own message."""
    where = []
    if exc.line is not None:
        where.append(msg("console.rules.line", n=exc.line))
    if exc.column is not None:
        where.append(msg("console.rules.column", n=exc.column))
    place = "".join(where)
    if exc.source != exc.name:
        place = f"{exc.source} {place}".strip()
    if place:
        return msg("console.rules.invalid_at", lead=msg(lead), place=place, detail=exc.detail)
    return msg("console.rules.invalid", lead=msg(lead), detail=exc.detail)


def _apply_now(request: Request) -> None:
    """This process uses the saved documents at once (the others within their interval)."""
    live = getattr(request.app.state, "live_config", None)
    if live is not None:
        live.refresh(request.app.state.engine, force=True)


def _save(request: Request, db: DbDep, me: GridWorker, now, name: str, text: str,
          version: int, back: str) -> Response:
    text = text.replace("\r\n", "\n")
    with service_errors():
        docs.require_configure(db, me, name)
    try:
        row = docs.save(db, name, text, me, now, expected_version=version)
    except (ConfigInvalid, WrongState) as exc:
        db.rollback()
        error = (invalid_text(exc) if isinstance(exc, ConfigInvalid) else
                 msg("console.rules.stale"))
        return _editor(request, db, me, name, text=text, version=version, error=error,
                       status_code=422 if isinstance(exc, ConfigInvalid) else 409)
    audit(db, request, me, "config.save", docs.AUDIT_KIND, name, **docs.audit_detail(row))
    db.commit()
    _apply_now(request)
    return redirect(request, back, ok=msg("console.rules.saved", version=row.version,
                                             every=_every(request)))


def _every(request: Request) -> str:
    seconds = request.app.state.settings.config_reload_s
    if seconds:
        return msg("console.rules.every_seconds", seconds=f"{seconds:g}")
    return msg("console.rules.every_message")


def _reset(request: Request, db: DbDep, me: GridWorker, name: str, back: str) -> Response:
    with service_errors():
        docs.require_configure(db, me, name)
        row = docs.reset(db, name)
    if row is None:
        return redirect(request, back, ok=msg("console.rules.already_default"))
    audit(db, request, me, "config.reset", docs.AUDIT_KIND, name, version=row.version)
    db.commit()
    _apply_now(request)
    return redirect(request, back, ok=msg("console.rules.reset"))


def _lexicon_url(intent: str) -> str:
    return f"/console/config/lexicon?intent={intent}"


def _intent_name(intent: str) -> str:
    name = docs.LEXICON + intent
    with service_errors():
        docs.check_name(name)
    return name


@router.get("/config/sla", response_class=HTMLResponse)
def sla_page(request: Request, db: DbDep, me: StaffDep, diff: int | None = None) -> HTMLResponse:
    """The SLA policy editor."""
    return _editor(request, db, me, docs.SLA, diff=diff)


@router.post("/config/sla")
def sla_save(request: Request, db: DbDep, me: StaffDep, now: NowDep, _csrf: CsrfDep,
             text: Annotated[str, Form()] = "", version: Annotated[int, Form()] = 0) -> Response:
    """Save the SLA policies; a refused text comes back with the loader's error."""
    return _save(request, db, me, now, docs.SLA, text, version, "/console/config/sla")


@router.post("/config/sla/reset")
def sla_reset(request: Request, db: DbDep, me: StaffDep, _csrf: CsrfDep) -> Response:
    """Back to the packaged (or GRIDBOT_SLA_FILE) policies."""
    return _reset(request, db, me, docs.SLA, "/console/config/sla")


@router.get("/config/lexicon", response_class=HTMLResponse)
def lexicon_page(request: Request, db: DbDep, me: StaffDep, intent: str = "repair",
                 diff: int | None = None) -> HTMLResponse:
    """One intent's lexicon tables, with the intent picker and the try box."""
    return _editor(request, db, me, _intent_name(intent), diff=diff)


@router.post("/config/lexicon")
def lexicon_save(request: Request, db: DbDep, me: StaffDep, now: NowDep, _csrf: CsrfDep,
                 intent: Annotated[str, Form()] = "", text: Annotated[str, Form()] = "",
                 version: Annotated[int, Form()] = 0) -> Response:
    """Save one intent's tables (validated within the whole lexicon)."""
    return _save(request, db, me, now, _intent_name(intent), text, version, _lexicon_url(intent))


@router.post("/config/lexicon/reset")
def lexicon_reset(request: Request, db: DbDep, me: StaffDep, _csrf: CsrfDep,
                  intent: Annotated[str, Form()] = "") -> Response:
    """Back to the packaged tables of one intent."""
    return _reset(request, db, me, _intent_name(intent), _lexicon_url(intent))


@router.post("/config/try", response_class=HTMLResponse)
def try_message(request: Request, db: DbDep, me: StaffDep, now: NowDep, _csrf: CsrfDep,
                message: Annotated[str, Form()] = "", name: Annotated[str, Form()] = "",
                text: Annotated[str | None, Form()] = None) -> HTMLResponse:
    """「试一试」: what the bot would do with ``message`` under the draft ``text`` of
    ``name`` (not saved); the result fragment (a whole page without htmx)."""
    with service_errors():
        docs.require_configure(db, me, name)
    context: dict = {"message": message.strip(), "trial": None, "handler": None, "error": None}
    if context["message"]:
        drafts = {name: text.replace("\r\n", "\n")} if text is not None else {}
        live = request.app.state.live_config
        with service_errors():
            try:
                trial = docs.try_message(db, live.base, context["message"][:1000], now, drafts)
            except ConfigInvalid as exc:
                trial = None
                context["error"] = invalid_text(exc, lead="console.rules.draft_invalid")
        if trial is not None:
            context["trial"] = trial
            context["handler"] = handler_of(trial.understanding.intent)
    return render(request, "_config_try.html", context)


def handler_of(intent: str) -> str | None:
    """"module.function" of the chat handler of ``intent`` (``handlers.HANDLERS``)."""
    import handlers

    if not handlers.HANDLERS:
        handlers.load_all()
    fn = handlers.HANDLERS.get(intent)
    return f"{fn.__module__}.{fn.__name__}" if fn is not None else None


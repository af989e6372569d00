"""Configuration pages (配置): the organisation, lending stations and care programmes.

    GET  /console/config                   tabs 社区/网格/楼栋/人员/场所/部门/驿站/托管
                                           (``?tab=…&community=<id>``), links to the SLA and
                                           lexicon pages (``bot.console.config_rules``)
    GET  /console/config/import            upload an import file (YAML or CSV of
                                           ``gridbot import``) or paste its text
    POST /console/config/import/check      the dry run: every problem with its line, or the
                                           created/updated/unchanged/moved counts and a
                                           「确认导入」 form carrying a token
    POST /console/config/import/apply      form ``token``: the real import of exactly the
                                           checked text (one transaction), audited

The checked text waits server-side (``storage.staged_imports``, Redis, per member of staff,
keyed by its SHA-256); the confirmation sends only the token, never the file again. Who may
import what is decided by ``services.org_import.import_by`` (configure_org /
configure_lending, within the worker's communities); this module parses the form, calls it
and renders.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

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
from bot.import_report import error_line, problem_line, summary
from services import org_view
from services.messages import msg
from services.org_import import import_by, within_of
from services.permissions import may
from storage import ImportFormatError, staged_imports
from storage.importer import MAX_FILE_BYTES, ImportProblems, ImportReport

router = APIRouter()

SUFFIXES = (".yaml", ".yml", ".csv")
PASTED_NAME = msg("console.config.pasted_name")
"""File name of pasted text in problems (「粘贴内容.yaml 第3行：…」)."""
TABLES = ("streets", "communities", "grids", "buildings", "places", "staff", "departments",
          "members", "levels")
"""Rows of the counts table, in this order (``ImportReport`` counter keys)."""


@dataclass(frozen=True)
class Tab:
    key: str
    label: str
    capability: str


TABS = tuple(Tab(key, msg(f"console.config_tab.{key}"), capability) for key, capability in (
    ("communities", "configure_org"),
    ("grids", "configure_org"),
    ("buildings", "configure_org"),
    ("staff", "configure_org"),
    ("places", "configure_org"),
    ("departments", "configure_org"),
    ("stations", "configure_lending"),
    ("programmes", "configure_lending"),
))
"""The overview's tabs, in order; labels from the catalogue's ``[console.config_tab]``."""


def _capabilities(db, me) -> dict[str, bool]:  # noqa: ANN001 - Session, GridWorker
    from services import config_docs  # SLA / lexicon: also a one-community account's admin

    return {"configure_org": may(db, me, "configure_org"),
            "configure_lending": may(db, me, "configure_lending"),
            "configure_sla": config_docs.may_configure(db, me, config_docs.SLA),
            "configure_lexicon": config_docs.may_configure(db, me, config_docs.LEXICON + "repair")}


def _require_import(caps: dict[str, bool]) -> None:
    if not (caps["configure_org"] or caps["configure_lending"]):
        raise ConsoleError(403)


@router.get("/config", response_class=HTMLResponse)
def overview(request: Request, db: DbDep, me: StaffDep, tab: str = "",
             community: int | None = None) -> HTMLResponse:
    """The organisation (or stations, programmes) within ``me``'s communities, one tab at a
    time; ``community`` narrows it to one of them. 403 without any configure capability."""
    caps = _capabilities(db, me)
    if not any(caps.values()):
        raise ConsoleError(403)
    tabs = [t for t in TABS if caps[t.capability]]
    current = next((t for t in tabs if t.key == tab), tabs[0] if tabs else None)
    within = within_of(db, me)
    ids = within
    if community is not None:
        if within is not None and community not in within:
            raise ConsoleError(403)
        ids = {community}
    context: dict[str, Any] = {"tabs": tabs, "tab": current, "caps": caps,
                               "community": community, "within": within}
    if current is not None and current.capability == "configure_org":
        context["org"] = org_view.organisation(db, ids)
    elif current is not None and current.key == "stations":
        context["stations"] = org_view.stations(db, ids)
    elif current is not None and current.key == "programmes":
        context["programmes"] = org_view.programmes(db, ids)
    context["communities"] = org_view.communities(db, within) if (
        within is None or len(within) > 1) else []
    return render(request, "config.html", context)


@router.get("/config/import", response_class=HTMLResponse)
def import_form(request: Request, db: DbDep, me: StaffDep) -> HTMLResponse:
    """The upload form (file or pasted text, 「允许调动」)."""
    caps = _capabilities(db, me)
    _require_import(caps)
    return render(request, "config_import.html", {"caps": caps, "max_mb": MAX_FILE_BYTES // 2**20})


@router.post("/config/import/check", response_class=HTMLResponse)
def import_check(request: Request, db: DbDep, me: StaffDep, now: NowDep, _csrf: CsrfDep,
                 file: Annotated[UploadFile | None, File()] = None,
                 text: Annotated[str, Form()] = "",
                 format: Annotated[str, Form()] = "yaml",  # noqa: A002 - the form's field
                 allow_moves: Annotated[bool, Form()] = False) -> HTMLResponse:
    """Dry-run the uploaded file (or pasted text): the problems, or the counts and the
    confirmation form. Nothing is written but the audit entry."""
    caps = _capabilities(db, me)
    _require_import(caps)
    name, data = _upload(file, text, format)
    outcome = _run(lambda path: import_by(db, me, path, now, dry_run=True,
                                          allow_moves=allow_moves), name, data)
    db.rollback()  # a dry run leaves nothing; be sure of it before the audit row
    token = None
    if outcome.report is not None:
        token = staged_imports.stage(request.app.state.redis, me.id, name,
                                     data.decode("utf-8-sig"), allow_moves)
    audit(db, request, me, "config.import_check", "import", name, ok=outcome.report is not None,
          problems=len(outcome.problems), allow_moves=allow_moves, **outcome.counts())
    db.commit()
    return render(request, "config_import_check.html", {
        "name": name, "outcome": outcome, "token": token, "allow_moves": allow_moves,
        "applied": False}, status_code=200 if outcome.report is not None else 422)


@router.post("/config/import/apply", response_model=None)
def import_apply(request: Request, db: DbDep, me: StaffDep, now: NowDep, _csrf: CsrfDep,
                 token: Annotated[str, Form()] = "") -> Response:
    """Import the text checked under ``token`` (refused when it is not ``me``'s, expired or
    applied already: 409); back to the overview with the counts, or the problems found now."""
    _require_import(_capabilities(db, me))
    redis = request.app.state.redis
    staged = staged_imports.load(redis, me.id, token)
    if staged is None:
        raise ConsoleError(409, msg("console.config.import_stale"))
    outcome = _run(lambda path: import_by(db, me, path, now, allow_moves=staged.allow_moves),
                   staged.name, staged.text.encode("utf-8"))
    if outcome.report is None:
        db.rollback()
        return render(request, "config_import_check.html", {
            "name": staged.name, "outcome": outcome, "token": None,
            "allow_moves": staged.allow_moves, "applied": True}, status_code=409)
    audit(db, request, me, "config.import", "import", staged.name,
          allow_moves=staged.allow_moves, left=outcome.report.left,
          handed_over=outcome.report.handed_over, services=outcome.services, **outcome.counts())
    db.commit()
    staged_imports.discard(redis, me.id, token)
    return redirect(request, "/console/config", ok=outcome.summary(staged.name))


# ----------------------------------------------------------------------------- helpers
@dataclass
class Outcome:
    """A (dry) run: its report, or the problems as staff read them (file, line, what)."""

    report: ImportReport | None
    problems: list[str]
    moves: bool = False
    """Whether some problems are moves (allowed by 「允许调动」)."""

    def counts(self) -> dict[str, dict[str, int]]:
        """{"created": {"grids": 2, …}, "updated": …} (the audit entry's detail)."""
        if self.report is None:
            return {}
        return {kind: {k: n for k, n in getattr(self.report, kind).items() if n}
                for kind in ("created", "updated", "unchanged", "moved")}

    @property
    def services(self) -> str | None:
        """「驿站 1 个、物品 8 种…」 created or updated (dry run: would be), None without."""
        found = self.report.services if self.report is not None else None
        if found is None:
            return None
        return msg("import_report.services", **{
            k: getattr(found, k) for k in ("stations", "items", "programmes", "sessions")})

    def summary(self, name: str) -> str:
        """The one line ``gridbot import`` prints for this run (``bot.import_report``)."""
        return summary(self.report, name)

    def table(self) -> list[tuple[str, int, int, int, int]]:
        """(table label, created, updated, unchanged, moved) for each table with a count."""
        if self.report is None:
            return []
        r = self.report
        return [(msg(f"import_report.{t}"), r.created[t], r.updated[t], r.unchanged[t],
                 r.moved[t]) for t in TABLES
                if r.created[t] or r.updated[t] or r.unchanged[t] or r.moved[t]]


def _run(action: Callable[[Path], ImportReport], name: str, data: bytes) -> Outcome:
    """Run ``action`` on ``data`` written to a private temporary file called ``name``;
    NotAllowed passes (a 403 page), import problems become the outcome's lines."""
    with tempfile.TemporaryDirectory(prefix="gridbot-import-") as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        try:
            with service_errors():
                return Outcome(action(path), [])
        except ImportProblems as exc:
            return Outcome(None, [problem_line(p) for p in exc.problems],
                           moves=any(p.key.startswith("move_") for p in exc.problems))
        except ImportFormatError as exc:
            return Outcome(None, [error_line(exc)])


def _upload(file: UploadFile | None, text: str, fmt: str) -> tuple[str, bytes]:
    """(file name, bytes) of the upload, else of the pasted text (``fmt`` yaml/csv).
    ConsoleError 422 when neither is given, the name is of another type or the file is
    larger than the importer takes."""
    if file is not None and file.filename:
        name = safe_name(file.filename)
        if Path(name).suffix.lower() not in SUFFIXES:
            raise ConsoleError(422, msg("console.config.file_type"))
        data = file.file.read(MAX_FILE_BYTES + 1)
    elif text.strip():
        name = PASTED_NAME + (".csv" if fmt == "csv" else ".yaml")
        data = text.replace("\r\n", "\n").encode("utf-8")
    else:
        raise ConsoleError(422, msg("console.config.nothing"))
    if len(data) > MAX_FILE_BYTES:
        raise ConsoleError(422, msg("console.config.too_big", mb=MAX_FILE_BYTES // 2**20))
    return name, data


def safe_name(filename: str) -> str:
    """The base name of an uploaded file with only letters, digits (Chinese included),
    ``.``, ``-`` and ``_``, at most 80 characters: 「../../org 2.yaml」 → 「org_2.yaml」."""
    base = re.split(r"[\\/]", filename)[-1]
    cleaned = re.sub(r"[^\w.\-]", "_", base).lstrip(".")[-80:]
    return cleaned or "import.yaml"

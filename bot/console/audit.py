"""审计日志: GET /console/audit — the audit log (``services.audit_log``), newest first, by kind
of action, 50 a page. Street and community administrators (the "audit" capability)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from bot.console.web import DbDep, StaffDep, render, service_errors
from services import audit_log
from services.messages import msg

router = APIRouter()

KIND_NAMES = {kind: msg(f"console.audit_kind.{kind or 'all'}")
              for kind in ("", "login", "password", "ticket", "kept", "config", "export")}
"""Kind of action ("" all) → its label in the filter (the catalogue's ``[console.audit_kind]``)."""


@router.get("/audit")
def audit_page(request: Request, db: DbDep, me: StaffDep, kind: str = "", page: int = 1) -> Response:
    """The audit log page."""
    kind = kind if kind in KIND_NAMES else ""
    with service_errors():
        found = audit_log.entries(db, me, kind or None, page)
    return render(request, "audit.html", {"log": found, "kind": kind, "kinds": KIND_NAMES})

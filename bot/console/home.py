"""GET /console/ until the queue page (``bot/console/queue.py``) serves it: a start page
with the links the logged-in member of staff may follow. Included last in
``bot/console/__init__.py``, so a page module's own GET /console/ wins."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from bot.console.web import StaffDep, render

router = APIRouter()


@router.get("/")
def home(request: Request, me: StaffDep) -> Response:
    """The start page."""
    return render(request, "home.html", {})

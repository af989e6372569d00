"""Dialogue state per person, kept on their ``Resident`` row: what the bot is waiting for.

A state is a small JSON dict, e.g. ``{"flow": "report", "awaiting": "address", "pending":
{...}}``. It lives in the database, written in the same transaction as the turn that sets
it, so a report waiting for its address survives a Redis flush or restart, and a state and
the change it belongs to commit or fail together. It lapses ``ttl_s`` seconds after it was
set (``Settings.dialogue_ttl_s``; a worker's question waits longer), so a resident who walks
away starts fresh.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from storage.models import Resident
from storage.times import as_utc


def current(resident: Resident | None, now: datetime) -> dict[str, Any] | None:
    """The state of ``resident`` at ``now`` (aware UTC), or None when none or lapsed."""
    if resident is None or not resident.dialogue:
        return None
    expires = resident.dialogue_expires_at
    if expires is None or as_utc(expires) <= now:
        return None
    return dict(resident.dialogue)


def remember(resident: Resident, state: dict[str, Any], now: datetime, ttl_s: int) -> None:
    """Set the state of ``resident``, lapsing ``ttl_s`` seconds after ``now``."""
    resident.dialogue = dict(state)
    resident.dialogue_expires_at = now + timedelta(seconds=ttl_s)


def forget(resident: Resident) -> None:
    """Clear the state of ``resident`` (no write when there is none)."""
    if resident.dialogue is not None or resident.dialogue_expires_at is not None:
        resident.dialogue = None
        resident.dialogue_expires_at = None

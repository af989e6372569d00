"""The durable request to sweep everyone's rows for a resident who unsubscribed.

``services.privacy.forget_resident`` anonymises the resident's own rows in the webhook's
transaction and, in that same transaction, inserts one ``PrivacySweep`` row holding what to
replace in everyone else's free text (the resident's known values → ``***``, their OpenID →
"anon:<id>"). The worker (``bot/jobs_privacy.py``) does the slow table scans later and
deletes the row in the transaction that did them: a crash rolls both back and leaves the
row for the next run.

The row itself holds personal data (the values to find) until its sweep commits; the
every-table privacy walk of the tests finds nothing once it is gone.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, DateTime, ForeignKey, Integer
from sqlmodel import Field, SQLModel


class PrivacySweep(SQLModel, table=True):
    """A pending sweep of everyone's rows for one forgotten resident; deleted when done."""

    __tablename__ = "privacy_sweep"

    id: int | None = Field(default=None, primary_key=True)
    resident_id: int = Field(sa_column=Column(Integer, ForeignKey("resident.id"), nullable=False))
    """The forgotten resident (their row stays, anonymised)."""
    swaps: list[list[str]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    """``[[value, replacement], …]``: every ``value`` found verbatim in another row's free text
    becomes ``replacement`` (``***``, or "anon:<id>" for the OpenID)."""
    requested_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    """When the resident unsubscribed (aware UTC); sweeps run oldest first."""
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    """Sweeps started (committed before each try, so a try that crashed still counts)."""
    last_attempt_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    """When the latest try started (aware UTC)."""

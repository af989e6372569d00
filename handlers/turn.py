"""One turn of a conversation: everything a handler needs, as plain values."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session

from bot.settings import Settings
from intents.classify import Classifier, Understanding
from storage.models import GridWorker, InboundMessage, Resident

ATTACHMENT_KEYS = ("photos", "location")
"""Dialogue-state keys holding what a resident sent before saying what the problem is."""

KEEP = object()
"""``Turn.next_state`` default: leave the dialogue state as it is."""


@dataclass
class Turn:
    """A resident's or worker's message being handled inside one database transaction.

    ``state`` is the dialogue state (``storage.dialogue``); a handler sets ``next_state`` (a
    dict, or None to clear; ``next_ttl_s`` seconds, default ``settings.dialogue_ttl_s``) and
    the pipeline writes it on the resident row in the same transaction.
    ``needs_staff`` marks the inbound message for staff review.
    """

    session: Session
    settings: Settings
    classifier: Classifier
    openid: str
    text: str
    now: datetime
    inbound: InboundMessage
    resident: Resident | None = None
    worker: GridWorker | None = None
    understanding: Understanding | None = None
    state: dict[str, Any] | None = None
    next_state: Any = KEEP
    next_ttl_s: int | None = None
    needs_staff: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def inbound_id(self) -> int:
        """The id of the message being handled, inserting its row now if it is not yet (the
        pipeline otherwise inserts it once, with the reply, at the end of the turn)."""
        if self.inbound.id is None:
            self.session.add(self.inbound)
            self.session.flush()
        return self.inbound.id

    def attachments(self) -> dict[str, Any]:
        """The photos/location kept in the dialogue state, to carry into the next step."""
        state = self.state or {}
        return {k: state[k] for k in ATTACHMENT_KEYS if k in state}

    def ask(self, state: dict[str, Any], ttl_s: int | None = None) -> None:
        """Wait for the resident's next message in this dialogue state (for ``ttl_s``
        seconds; default ``settings.dialogue_ttl_s``)."""
        self.next_state = state
        self.next_ttl_s = ttl_s

    def finish(self) -> None:
        """End the dialogue (the state is cleared after commit)."""
        self.next_state = None

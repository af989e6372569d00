"""Every sentence the code asks for is in the catalogue; every intent has a handler."""

from __future__ import annotations

import re
from pathlib import Path

import handlers.dispatch  # noqa: F401  (fills the registries)
from handlers import HANDLERS
from intents.classify import INTENTS
from services.messages import MissingMessage, catalogue, msg

ROOT = Path(__file__).resolve().parents[2]
LITERAL_KEY = re.compile(r"""\bmsg\(\s*["']([\w.]+)["']""")
PREFIX_KEY = re.compile(r"""\bmsg\(\s*f["']([\w.]+)\{""")


def _sources() -> list[Path]:
    return [p for d in ("bot", "handlers", "services", "storage") for p in (ROOT / d).rglob("*.py")]


def test_every_literal_key_exists():
    keys = set(catalogue())
    missing = {(p.name, k) for p in _sources()
               for k in LITERAL_KEY.findall(p.read_text(encoding="utf-8")) if k not in keys}
    assert not missing


def test_every_key_prefix_used_with_fstrings_exists():
    keys = set(catalogue())
    prefixes = {k for p in _sources() for k in PREFIX_KEY.findall(p.read_text(encoding="utf-8"))}
    assert prefixes and all(any(k.startswith(prefix) for k in keys) for prefix in prefixes)


def test_every_status_kind_and_intent_choice_has_words():
    from storage.models import TicketStatus

    for status in (TicketStatus.SUBMITTED, TicketStatus.ASSIGNED, TicketStatus.ACCEPTED,
                   TicketStatus.RESOLVED, TicketStatus.CLOSED, TicketStatus.CANCELLED):
        assert msg(f"status.{status}") and msg(f"event.{status}")
    for intent in handlers.dispatch.CLARIFIABLE:
        assert msg(f"intent.{intent}")


def test_every_intent_has_a_handler():
    assert set(INTENTS) <= set(HANDLERS)


def test_unknown_key_is_an_error():
    try:
        msg("no_such_key")
    except MissingMessage:
        return
    raise AssertionError("MissingMessage not raised")

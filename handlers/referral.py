"""Matters the community does not handle (房产证, 社保, 补贴, 退款 …): a short, kind referral to
the right office or the 12345 hotline. The message is kept for staff; no ticket is opened.

Which office is data: ``handlers/referral.toml`` (words residents write → office named).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from handlers import handles
from handlers.turn import Turn
from services.messages import msg

OFFICES_FILE = Path(__file__).with_name("referral.toml")


@dataclass(frozen=True)
class Office:
    """One office and the words that send a matter there."""

    office: str
    words: tuple[str, ...]


@dataclass(frozen=True)
class Referrals:
    """The hotline named when no office fits, and the offices in file order."""

    hotline: str
    offices: tuple[Office, ...]

    def office_for(self, text: str) -> Office | None:
        """The first office one of whose words occurs in ``text``, else None."""
        return next((o for o in self.offices if any(w in text for w in o.words)), None)


@cache
def load(path: Path = OFFICES_FILE) -> Referrals:
    """Read the referral table. Raises KeyError/TypeError for a malformed file."""
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    return Referrals(hotline=raw["hotline"],
                     offices=tuple(Office(office=o["office"], words=tuple(o["words"]))
                                   for o in raw.get("office", [])))


@handles("referral")
def referral(turn: Turn) -> str:
    """Name the office for the matter (or 12345); keep the message for staff."""
    turn.needs_staff = True
    table = load()
    office = table.office_for(turn.text)
    if office is None:
        return msg("referral.hotline", hotline=table.hotline)
    return msg("referral.office", office=office.office, hotline=table.hotline)

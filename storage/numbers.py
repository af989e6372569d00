"""People-facing numbers: the one place that writes and reads them.

Every number is ``<PREFIX><yyyymmdd>-<nnnn>`` (the local day, then the day's counter, four
digits at least: a busy day goes on to ``-10000``):

- tickets: ``settings.ticket_prefix`` (default ``GD``), e.g. GD20261122-0007;
- loans of the tool station: ``JY`` (借用), e.g. JY20261122-0001;
- care enrollments: ``BM`` (报名), e.g. BM20261122-0001.

Residents type them in any case, with spaces or a full-width dash (「gd 20261122－7」);
``NumberFormat.find`` and ``match`` read them back in the stored form. This module imports
nothing of the project, so storage/, intents/ and handlers/ all use it.
"""

from __future__ import annotations

import re
from functools import lru_cache

DEFAULT_TICKET_PREFIX = "GD"
LOAN_PREFIX = "JY"
ENROLLMENT_PREFIX = "BM"
_DASHES = {0x3000: " ", 0x2014: "-", 0x2013: "-",
           **{c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}}
"""Full-width ASCII (「ＧＤ２０２６…－７」) and long dashes → ASCII, one character each."""


def number(prefix: str, day: str, value: int) -> str:
    """``day`` "yyyymmdd" (local), ``value`` ≥ 1 → "GD20261122-0007"."""
    return f"{prefix.upper()}{day}-{value:04d}"


class NumberFormat:
    """Numbers of one prefix. ``min_digits``: the fewest counter digits a typed number may
    have (tickets 4, so 「GD20261122-7」 is no ticket; loans and enrollments 1)."""

    def __init__(self, prefix: str, min_digits: int = 4) -> None:
        if not re.fullmatch(r"[A-Za-z]{1,8}", prefix):
            raise ValueError(f"number prefix must be 1-8 Latin letters, got {prefix!r}")
        self.prefix = prefix.upper()
        self.pattern = re.compile(
            rf"{re.escape(self.prefix)}\s*(\d{{8}})\s*-\s*(\d{{{min_digits},6}})(?!\d)",
            re.IGNORECASE | re.ASCII)

    def format(self, day: str, value: int) -> str:
        """``day`` "yyyymmdd" (local), ``value`` ≥ 1 → "GD20261122-0007"."""
        return number(self.prefix, day, value)

    def _stored(self, m: re.Match[str]) -> str:
        return self.format(m.group(1), int(m.group(2)))

    def find(self, text: str) -> str | None:
        """The first number anywhere in ``text``, in stored form, or None."""
        m = self.pattern.search(text.translate(_DASHES))
        return self._stored(m) if m else None

    def match(self, text: str) -> tuple[str, str] | None:
        """(number, the rest of the text as written, stripped) when ``text`` starts with a
        number (after spaces)."""
        text = text.strip()
        m = self.pattern.match(text.translate(_DASHES))  # same length: the rest is cut from text
        return (self._stored(m), text[m.end():].strip()) if m else None

    def blank(self, text: str) -> str:
        """``text`` with every number replaced by a space (keywords are read around them)."""
        return self.pattern.sub(" ", text.translate(_DASHES))


@lru_cache(maxsize=8)
def tickets(prefix: str = DEFAULT_TICKET_PREFIX) -> NumberFormat:
    """Ticket numbers of ``prefix`` (``settings.ticket_prefix``)."""
    return NumberFormat(prefix)


LOANS = NumberFormat(LOAN_PREFIX, min_digits=1)
ENROLLMENTS = NumberFormat(ENROLLMENT_PREFIX, min_digits=1)

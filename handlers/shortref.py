"""Short references to tickets: the numbered list last shown to a person, and 「1」 or the
last digits of a ticket number (「0007」) resolved against it.

A list is remembered in the person's dialogue state under ``"shown"`` as the ticket ids in
the order shown and what list it was (``QUEUE``: a worker's; ``MINE``: a resident's own),
``{"shown": {"of": "queue", "ids": [12, 9], "numbers": ["GD…-0012", "GD…-0009"]}}``, and
lapses with the dialogue (``Settings.dialogue_ttl_s``). A staff command never reads a
resident's list, nor a resident's command a worker's. 「2」 means the second ticket *as it
was shown*: the id is stored, not the position in a list computed afresh, so a list that
changed since (a ticket resolved, transferred, a new one arrived) never makes 「2」 act on
another ticket. Whether the person may still act on that ticket is the caller's check.

A reference token is 1–3 digits (a list position: 「7」「007」) or 4–6 digits (the tail of
a ticket number: 「0007」 → "GD20261122-0007"). Full-width digits and spaces count; the
text after a reference (a note, a question) is kept as written.
A full ticket number (``settings.ticket_prefix``) is read by ``storage.numbers``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from handlers.turn import Turn
from services.messages import msg
from storage import numbers
from storage.models import Ticket
from storage.numbers import DEFAULT_TICKET_PREFIX

SHOWN = "shown"
"""Dialogue-state key of the list last shown."""
QUEUE = "queue"
"""A worker's list (我的任务, a bare 接单)."""
MINE = "mine"
"""A resident's list of their own tickets (查询, 撤销, 催办)."""
RESIDENT_LOOKED_AT = 20
"""How many of a resident's latest tickets a number tail (「0007」) is matched against."""
POSITION_MAX_DIGITS = 3
"""「1」…「999」 are list positions; 4–6 digits are the tail of a ticket number."""

_HALF_WIDTH = str.maketrans("０１２３４５６７８９－　", "0123456789- ")
"""Full-width digits, dash and space as typed on some phones, one for one (full numbers:
storage.numbers)."""
_CLAUSE = re.compile(r"[，,。.；;！!？?\s]+")
_ADDRESS_ONLY = re.compile(r"^[\d一二三四五六七八九十零〇两#＃A-Za-z\-－号楼栋幢座单元门洞室房户层]+$")
"""A clause that is only an address (「3号楼2单元501」): left out of list excerpts, which
show what the ticket is about."""
_REF = re.compile(r"(?:第\s*)?(?<!\d)(\d{1,6})(?:\s*[件个条])?(?=\s|$)", re.ASCII)
"""A position or number tail standing alone: 「2 已修好」 yes, 「2楼灯已修好」 no (a note)."""


@dataclass(frozen=True)
class Ref:
    """A parsed reference: a full ``number``, a list ``position`` (1-based), or a number
    ``tail`` (4–6 digits); exactly one is set. ``rest`` is the text after it."""

    number: str | None = None
    position: int | None = None
    tail: str | None = None
    rest: str = ""


def parse(text: str, prefix: str = DEFAULT_TICKET_PREFIX) -> Ref | None:
    """The reference at the start of ``text`` (leading spaces and 「第」 allowed), or None.

    「GD20261122-0007 已修好」→ Ref(number="GD20261122-0007", rest="已修好");
    「2 已修好」→ Ref(position=2, rest="已修好"); 「0007」→ Ref(tail="0007").
    """
    original = text.strip()
    text = original.translate(_HALF_WIDTH)  # same length: ``rest`` is cut from the original
    if (full := numbers.tickets(prefix).match(original)) is not None:
        return Ref(number=full[0], rest=full[1])
    short = _REF.match(text)
    if short is None:
        return None
    digits, rest = short.group(1), original[short.end():].strip()
    if len(digits) <= POSITION_MAX_DIGITS:
        position = int(digits)
        return Ref(position=position, rest=rest) if position >= 1 else None
    return Ref(tail=digits, rest=rest)


def find_ref(text: str, prefix: str = DEFAULT_TICKET_PREFIX, verb_chars: int = 4) -> Ref | None:
    """A reference in a short command like 「撤销 1」「撤销第2个」「查询 0007」: a full ticket
    number anywhere, else one run of 1–6 digits with at most ``verb_chars`` other characters
    around it (so 「查询一下3号楼的报修」 holds no reference); None otherwise."""
    text = text.translate(_HALF_WIDTH)
    if (number := numbers.tickets(prefix).find(text)) is not None:
        return Ref(number=number)
    if len(re.findall(r"\d+", text, re.ASCII)) != 1 or (short := _REF.search(text)) is None:
        return None
    words = text[:short.start()] + text[short.end():]
    return parse(short.group(0)) if len(words.strip()) <= verb_chars else None


def remember(turn: Turn, tickets: Iterable[Ticket], of: str) -> None:
    """Keep ``tickets`` (in the order shown) as the person's last list of kind ``of``
    (``QUEUE`` or ``MINE``); photos and a location waiting in the dialogue stay."""
    shown = list(tickets)
    turn.ask({**turn.attachments(), SHOWN: {"of": of, "ids": [t.id for t in shown],
                                            "numbers": [t.number for t in shown]}})


def shown(turn: Turn, of: str) -> list[tuple[int, str]]:
    """(id, number) of the last list of kind ``of`` shown to the person, in order; [] when
    none (or the last list was of another kind)."""
    got = (turn.state or {}).get(SHOWN) or {}
    if got.get("of") != of:
        return []
    return list(zip(got.get("ids", []), got.get("numbers", []), strict=False))


def lookup(turn: Turn, ref: Ref, candidates: Iterable[Ticket], list_hint: str, of: str
           ) -> tuple[str | None, str | None]:
    """(ticket number, None) for what ``ref`` means, or (None, the reply to send instead).

    A position is looked up in the last list of kind ``of`` shown (``list_hint``: what
    shows one, e.g. 「我的任务」). A tail matches the numbers of the last list shown, then of
    ``candidates`` (the person's current tickets); several matches are listed, none gives
    ``ticket_not_found``. The caller loads the ticket and checks it may act on it.
    """
    if ref.number is not None:
        return ref.number, None
    listed = shown(turn, of)
    if ref.position is not None:
        if not listed:
            return None, msg("shortref.no_list", hint=list_hint)
        if ref.position > len(listed):
            return None, msg("shortref.out_of_range", n=ref.position, count=len(listed),
                             hint=list_hint)
        return listed[ref.position - 1][1], None
    tail = ref.tail or ""
    for pool in ([n for _, n in listed], [t.number for t in candidates]):
        hits = list(dict.fromkeys(n for n in pool if n.rpartition("-")[2].endswith(tail)))
        if len(hits) == 1:
            return hits[0], None
        if hits:
            return None, msg("shortref.ambiguous", tail=tail, numbers=msg("text.list_sep").join(hits))
    return None, msg("ticket_not_found", no=tail)


def line(n: int, ticket: Ticket, excerpt_chars: int = 12) -> dict[str, str]:
    """Fields of a list line: ``n`` (position), ``about`` (category + a short excerpt of
    the description, at most ``excerpt_chars`` characters, 「…」 when cut)."""
    clauses = _CLAUSE.split(ticket.description or "")
    text = msg("text.clause_sep").join(c.strip() for c in clauses
                                       if c.strip() and not _ADDRESS_ONLY.match(c.strip()))
    excerpt = text if len(text) <= excerpt_chars else text[:excerpt_chars] + "…"
    category = ticket.category or msg(f"kind.{ticket.kind}")
    return {"n": str(n),
            "about": msg("text.quoted", head=category, text=excerpt) if excerpt else category}

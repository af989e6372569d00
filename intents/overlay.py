"""Staff-edited intent tables laid over the packaged lexicon (``lexicon.toml``).

An intent's part of the lexicon is the run of tables ``[intents.<intent>.keywords]`` and
``[intents.<intent>.categories."<category>"]`` (the file keeps each intent's tables
together). Staff edit that part as one small TOML text (``section``); ``overlay`` puts the
edited parts in place of the packaged ones — as text, so the lexicon loader validates the
whole lexicon exactly as at start-up (a keyword moved into another intent is still a
duplicate) — and ``Overlay.locate`` maps a line of the merged text back to the part it came
from, so an error names the line of the text the person edited.

Nothing here reads files or the database: callers pass texts.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from intents.errors import LexiconError
from intents.lexicon import INTENTS, Lexicon, load_lexicon

_HEADER = re.compile(r"^\s*\[\[?\s*([^\[\]]+?)\s*\]\]?\s*(?:#.*)?$")
_PART = re.compile(r'"([^"]*)"|\'([^\']*)\'|([^.\s]+)')


def _path(header: str) -> tuple[str, ...]:
    return tuple(next(g for g in m.groups() if g is not None) for m in _PART.finditer(header))


def _span(lines: list[str], intent: str) -> tuple[int, int] | None:
    """[start, end) line indexes of ``intent``'s tables in ``lines``: from its first table
    header to the next other header, without the comments and blank lines that lead into
    that next section; None when the text has no table of ``intent``."""
    start = end = None
    for i, raw in enumerate(lines):
        m = _HEADER.match(raw)
        if m is None:
            continue
        mine = _path(m.group(1))[:2] == ("intents", intent)
        if mine and start is None:
            start = i
        elif not mine and start is not None:
            end = i
            break
    if start is None:
        return None
    end = len(lines) if end is None else end
    while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
        end -= 1
    return start, end


def section(base_text: str, intent: str) -> str:
    """The packaged text of ``intent``'s tables in ``base_text`` (what the editor starts
    from); "" when the lexicon has none. Raises ValueError for an unknown intent."""
    _check_intent(intent)
    lines = base_text.splitlines()
    span = _span(lines, intent)
    return "" if span is None else "\n".join(lines[span[0]:span[1]]) + "\n"


def _check_intent(intent: str) -> None:
    if intent not in INTENTS:
        raise ValueError(f"unknown intent {intent!r}; expected one of {', '.join(INTENTS)}")


def check_section(intent: str, text: str) -> None:
    """Check that ``text`` is TOML holding only ``[intents.<intent>…]`` tables. Raises
    ``LexiconError`` whose ``path`` is "lexicon:<intent>" and whose ``line`` is the line
    of ``text`` (for a TOML syntax error: the decoder's line; its column is in the
    message)."""
    _check_intent(intent)
    name = f"lexicon:{intent}"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise LexiconError(name, int(m.group(1)) if m else None, f"TOML syntax: {exc}") from None
    lines = text.splitlines()
    for key in data:
        if key != "intents":
            raise LexiconError(name, _line_of(lines, key),
                               f"only [intents.{intent}.…] tables belong here, not {key!r}")
    for other in data.get("intents", {}):
        if other != intent:
            raise LexiconError(name, _line_of(lines, other),
                               f"only [intents.{intent}.…] tables belong here, not intents.{other}")


def _line_of(lines: list[str], needle: str) -> int | None:
    for i, raw in enumerate(lines, start=1):
        if needle in raw:
            return i
    return None


@dataclass
class Overlay:
    """The merged lexicon text and where each of its lines came from."""

    text: str
    origins: list[tuple[str | None, int]] = field(default_factory=list)
    """Per merged line (index = line - 1): (intent whose edited part it is, or None for the
    packaged text; the 1-based line in that source)."""

    def locate(self, line: int | None) -> tuple[str | None, int | None]:
        """(intent of the edited part or None, line in that source) of merged ``line``."""
        if line is None or not 1 <= line <= len(self.origins):
            return None, line
        return self.origins[line - 1]


def overlay(base_text: str, parts: dict[str, str]) -> Overlay:
    """``base_text`` with each ``parts[intent]`` in place of that intent's packaged tables
    (appended at the end when it has none). Raises ValueError for an unknown intent."""
    lines = base_text.splitlines()
    spans: list[tuple[int, int, str]] = []
    tail: list[str] = []
    for intent in parts:
        _check_intent(intent)
        span = _span(lines, intent)
        if span is None:
            tail.append(intent)
        else:
            spans.append((span[0], span[1], intent))
    spans.sort()
    out: list[str] = []
    origins: list[tuple[str | None, int]] = []
    at = 0

    def take_base(upto: int) -> None:
        for i in range(at, upto):
            out.append(lines[i])
            origins.append((None, i + 1))

    def take_part(intent: str) -> None:
        for n, raw in enumerate(parts[intent].splitlines(), start=1):
            out.append(raw)
            origins.append((intent, n))

    for start, end, intent in spans:
        take_base(start)
        take_part(intent)
        at = end
    take_base(len(lines))
    for intent in tail:
        take_part(intent)
    return Overlay("\n".join(out) + "\n", origins)


def load_overlay(base_path: Path, base_text: str, parts: dict[str, str]) -> Lexicon:
    """The lexicon of ``base_text`` with ``parts`` laid over it, validated as at start-up.

    Each part is first checked alone (``check_section``). Raises ``LexiconError``; an error
    inside an edited part names "lexicon:<intent>" and the line of that part, an error
    elsewhere names ``base_path`` and its line."""
    for intent, text in parts.items():
        check_section(intent, text)
    merged = overlay(base_text, parts)
    try:
        return load_lexicon(base_path, text=merged.text)
    except LexiconError as exc:
        intent, line = merged.locate(exc.line)
        message = re.sub(r"on line (\d+)",
                         lambda m: _where(merged, int(m.group(1)), base_path.name), exc.message)
        raise LexiconError(f"lexicon:{intent}" if intent else base_path, line, message) from None


def _where(merged: Overlay, line: int, base_name: str) -> str:
    intent, n = merged.locate(line)
    return f"on line {n} of " + (f"lexicon:{intent}" if intent else base_name)

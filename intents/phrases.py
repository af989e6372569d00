"""Fast dictionary matching of many short phrases in short texts.

``PhraseIndex`` indexes phrases by their first character, so scanning a 20-character
message costs one dict look-up per character plus a few slices where a phrase may start —
much cheaper than a regular-expression alternation over hundreds of phrases.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Generic, TypeVar

V = TypeVar("V")
_MISSING = object()


class PhraseIndex(Generic[V]):
    """Maps phrases to values; finds them greedily, longest phrase first at each position.

    ``phrases`` may not contain the empty string. Immutable after construction.
    """

    def __init__(self, phrases: Mapping[str, V]) -> None:
        self._values: dict[str, V] = dict(phrases)
        lengths: dict[str, set[int]] = {}
        for phrase in self._values:
            if not phrase:
                raise ValueError("empty phrase")
            lengths.setdefault(phrase[0], set()).add(len(phrase))
        self._lengths = {ch: tuple(sorted(ls, reverse=True)) for ch, ls in lengths.items()}

    def __len__(self) -> int:
        return len(self._values)

    def scan(self, text: str) -> list[tuple[int, str, V]]:
        """(start, phrase, value) left to right, non-overlapping, longest first."""
        starts, values = self._lengths, self._values
        out: list[tuple[int, str, V]] = []
        n = len(text)
        i = 0
        while i < n:
            lengths = starts.get(text[i])
            if lengths is not None:
                for length in lengths:
                    if i + length <= n:
                        phrase = text[i:i + length]
                        value = values.get(phrase, _MISSING)
                        if value is not _MISSING:
                            out.append((i, phrase, value))  # type: ignore[arg-type]
                            i += length
                            break
                else:
                    i += 1
            else:
                i += 1
        return out

    def longest(self, text: str) -> V | None:
        """Value of the longest phrase found anywhere in ``text`` (first one on ties)."""
        best_len = 0
        best: V | None = None
        for _, phrase, value in self.scan(text):
            if len(phrase) > best_len:
                best_len, best = len(phrase), value
        return best

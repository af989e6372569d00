"""jieba segmentation with the domain user dictionary, on a private ``jieba.Tokenizer``.

``jieba.load_userdict`` would mutate the module-level ``jieba.dt`` shared by every user of
jieba in the process; ``Segmenter`` builds its own ``jieba.Tokenizer()`` instead, loads the
dictionary once (about 0.7 s, or 0.1 s from jieba's cache file) and keeps the results of
recent messages in an LRU cache (the same short replies — 是, 好的, 5 — recur constantly).
"""

from __future__ import annotations

import logging
import re
import time
from functools import lru_cache
from pathlib import Path

import jieba

from intents.errors import LexiconError

log = logging.getLogger(__name__)
jieba.setLogLevel(logging.WARNING)

_USERDICT_LINE = re.compile(r"^(\S+)(?:\s+(\d+))?(?:\s+([A-Za-z]+))?$")


def validate_userdict(path: Path) -> list[tuple[str, int | None, str | None]]:
    """Check a jieba user dictionary (``词语 [词频] [词性]`` per line, ``#`` comments).

    Returns the entries as (word, freq or None, tag or None). Raises ``LexiconError`` with
    the file and line of the first malformed line.
    """
    entries: list[tuple[str, int | None, str | None]] = []
    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _USERDICT_LINE.match(line)
        if m is None:
            raise LexiconError(path, n, f"expected '词语 词频 词性', got {line!r}")
        word, freq, tag = m.groups()
        entries.append((word, int(freq) if freq else None, tag))
    return entries


class Segmenter:
    """Cuts normalised text into words with jieba (precise mode, no HMM).

    ``userdict_path`` may be None (jieba's dictionary only). ``load_time_s`` records how
    long building the tokenizer took. Raises ``LexiconError`` on a malformed user dictionary.
    """

    def __init__(self, userdict_path: Path | None = None, cache_size: int = 8192) -> None:
        started = time.perf_counter()
        self.tokenizer = jieba.Tokenizer()
        self.tokenizer.initialize()
        if userdict_path is not None:
            for word, freq, tag in validate_userdict(userdict_path):
                self.tokenizer.add_word(word, freq, tag)
        self.load_time_s = time.perf_counter() - started
        log.info("jieba tokenizer ready in %.3f s", self.load_time_s)
        self._spans = lru_cache(maxsize=cache_size)(self._spans_uncached)

    def cut(self, text: str) -> list[str]:
        """Words of ``text`` in order; concatenated they give ``text`` back. Not cached."""
        return list(self.tokenizer.cut(text, HMM=False))

    def _spans_uncached(self, text: str) -> frozenset[tuple[int, int]]:
        out = []
        pos = 0
        for word in self.tokenizer.cut(text, HMM=False):
            out.append((pos, pos + len(word)))
            pos += len(word)
        return frozenset(out)

    def spans(self, text: str) -> frozenset[tuple[int, int]]:
        """(start, end) character offsets of every word of ``text`` (LRU-cached)."""
        return self._spans(text)

    def is_word_at(self, text: str, i: int, radius: int = 4) -> bool:
        """True when jieba cuts ``text[i]`` as a one-character word.

        Only a window of ``radius`` characters either side is segmented: jieba's choice at
        ``i`` rarely depends on anything further away, and short windows repeat across
        messages, so the cache hits more often.
        """
        lo = max(0, i - radius)
        return (i - lo, i - lo + 1) in self._spans(text[lo:i + radius + 1])

    def clear_cache(self) -> None:
        """Forget cached segmentations (used by the benchmark to measure cold speed)."""
        self._spans.cache_clear()

"""jieba segmentation with the domain user dictionary, on a private ``jieba.Tokenizer``.

``jieba.load_userdict`` would mutate the module-level ``jieba.dt`` shared by every user of
jieba in the process; ``Segmenter`` builds its own ``jieba.Tokenizer()`` instead, loads the
dictionary once and keeps the results of recent messages in an LRU cache (the same short
replies — 是, 好的, 5 — recur constantly).

Loading: building jieba's prefix dictionary from ``dict.txt`` takes ~2 s, reading jieba's own
marshal cache (``/tmp/jieba.cache``) ~0.75 s. ``Segmenter`` keeps its own cache instead: the
finished tokenizer state (jieba's dictionary *plus* the user dictionary, ~500k entries) as
one pickle, read in ~0.25 s. It lives in a private directory (``$GRIDBOT_CACHE_DIR``, else
``$XDG_CACHE_HOME/gridbot``, else ``~/.cache/gridbot``; mode 0700), is named by a hash of
jieba's version, its dictionary file and the user dictionary's bytes (an edit makes a new
one), and is read only when owned by this user and writable by no one else (a pickle runs
code when loaded). Any problem with it means "build from scratch", never an error.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import re
import stat
import tempfile
import time
from functools import lru_cache
from pathlib import Path

import jieba
from jieba import finalseg

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


def cache_dir() -> Path:
    """The private directory for the tokenizer cache (see the module docstring)."""
    explicit = os.environ.get("GRIDBOT_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "gridbot"


def _cache_path(userdict_path: Path | None) -> Path:
    """``jieba-<sha256 prefix>.pickle`` keyed by jieba's version, its dictionary file (path,
    size, mtime) and the user dictionary's bytes."""
    digest = hashlib.sha256(f"{jieba.__version__}|{pickle.HIGHEST_PROTOCOL}".encode())
    main_dict = Path(jieba.__file__).parent / jieba.DEFAULT_DICT_NAME
    st = main_dict.stat()
    digest.update(f"|{main_dict}|{st.st_size}|{st.st_mtime_ns}|".encode())
    if userdict_path is not None:
        digest.update(userdict_path.read_bytes())
    return cache_dir() / f"jieba-{digest.hexdigest()[:16]}.pickle"


def _trusted(path: Path) -> bool:
    """True when ``path`` is a regular file owned by us and writable by no one else."""
    try:
        st = path.stat()
    except OSError:
        return False
    return (stat.S_ISREG(st.st_mode) and st.st_uid == os.getuid()
            and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH))


def _load_tokenizer(userdict_path: Path | None,
                    entries: list[tuple[str, int | None, str | None]]) -> jieba.Tokenizer:
    """A ready ``jieba.Tokenizer`` with ``entries`` added: from the cache when a trusted one
    exists, else built (and the cache written, best effort)."""
    tokenizer = jieba.Tokenizer()
    try:
        path = _cache_path(userdict_path)
    except OSError:
        path = None
    if path is not None and _trusted(path):
        try:
            with path.open("rb") as f:
                tokenizer.FREQ, tokenizer.total, tokenizer.user_word_tag_tab = pickle.load(f)
        except Exception:  # noqa: BLE001 — a damaged cache only means "build it"
            log.warning("jieba tokenizer cache %s unreadable; rebuilding", path)
        else:
            tokenizer.initialized = True
            for word, freq, _tag in entries:
                if freq == 0:  # add_word's side effect on jieba's HMM segmenter
                    finalseg.add_force_split(word)
            return tokenizer
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    for word, freq, tag in entries:
        tokenizer.add_word(word, freq, tag)
    if path is not None:
        _write_cache(path, tokenizer)
    return tokenizer


def _write_cache(path: Path, tokenizer: jieba.Tokenizer) -> None:
    """Write the tokenizer state atomically (temp file + rename); failures are logged."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".jieba-", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            pickle.dump((tokenizer.FREQ, tokenizer.total, tokenizer.user_word_tag_tab), f,
                        protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except OSError as exc:
        log.info("jieba tokenizer cache not written (%s)", exc)


class Segmenter:
    """Cuts normalised text into words with jieba (precise mode, no HMM).

    ``userdict_path`` may be None (jieba's dictionary only). ``load_time_s`` records how
    long building the tokenizer took. Raises ``LexiconError`` on a malformed user dictionary.
    """

    def __init__(self, userdict_path: Path | None = None, cache_size: int = 8192) -> None:
        started = time.perf_counter()
        entries = validate_userdict(userdict_path) if userdict_path is not None else []
        self.tokenizer = _load_tokenizer(userdict_path, entries)
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

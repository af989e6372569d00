"""Exceptions raised by the intents package.

    IntentsError
     └── LexiconError      invalid lexicon.toml / userdict.txt (names file and line)
"""

from __future__ import annotations

from pathlib import Path


class IntentsError(Exception):
    """Base class of every error raised by ``intents``."""


class LexiconError(IntentsError, ValueError):
    """A lexicon or user-dictionary file is invalid.

    ``path`` is the offending file, ``line`` the 1-based line of the bad entry (None when the
    problem is not tied to one line, e.g. a missing section). ``str(err)`` reads
    ``"<path>:<line>: <message>"`` so staff editing the file can jump to it.
    """

    def __init__(self, path: Path | str, line: int | None, message: str) -> None:
        self.path = Path(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line is not None else str(self.path)
        super().__init__(f"{where}: {message}")

"""Persistence: sqlmodel models and repositories (the source of truth) and Redis state.

Exception tree::

    StorageError
     ├── NotFound           a row named by the caller does not exist
     ├── Conflict           the change contradicts the current state (e.g. closing a closed ticket)
     ├── ImportFormatError  an import file is malformed (names the line)
     └── BadValue           a value out of range (also a ValueError)

Any of them may carry a ``key`` and its ``fields`` besides the English text, so a door shows
staff the catalogue's Chinese of the same key (``bot.import_report``: ``import_error.<key>``
for ImportFormatError, ``bad_value.<key>`` for the others, in services/messages.zh.toml).
"""

import reprlib


class StorageError(Exception):
    """Base of every error raised by storage/. ``key`` (None: only the English text) and
    ``fields``: the catalogue sentence staff read instead (see the module docstring)."""

    def __init__(self, message: str = "", key: str | None = None, **fields: object) -> None:
        super().__init__(message)
        self.key = key
        self.fields = fields


class NotFound(StorageError):
    """A row the caller named does not exist."""


class Conflict(StorageError):
    """The requested change is not allowed in the row's current state."""


class ImportFormatError(StorageError):
    """An import file is malformed; the message names the file line.

    A file may hold anything, so messages quote its values through ``quote`` (at most about
    80 characters each) and are one line of at most ``MAX_CHARS`` characters.
    """

    MAX_CHARS = 300

    def __init__(self, message: str, key: str | None = None, **fields: object) -> None:
        message = " ".join(message.splitlines())
        if len(message) > self.MAX_CHARS:
            message = message[:self.MAX_CHARS - 1] + "…"
        super().__init__(message, key, **fields)

    @staticmethod
    def quote(value: object) -> str:
        """``repr(value)`` cut to about 80 characters (long strings and lists elided)."""
        return _QUOTE.repr(value)


_QUOTE = reprlib.Repr()
_QUOTE.maxstring = _QUOTE.maxother = 80
_QUOTE.maxlist = _QUOTE.maxtuple = _QUOTE.maxset = 5
_QUOTE.maxdict = 4
_QUOTE.maxlevel = 3


class BadValue(StorageError, ValueError):
    """A value out of range (a grade, a fee, a stock count …), with its ``key``."""

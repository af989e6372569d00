"""Persistence: sqlmodel models and repositories (the source of truth) and Redis state.

Exception tree::

    StorageError
     ├── NotFound           a row named by the caller does not exist
     ├── Conflict           the change contradicts the current state (e.g. closing a closed ticket)
     └── ImportFormatError  an import file is malformed (names the line)
"""


class StorageError(Exception):
    """Base of every error raised by storage/."""


class NotFound(StorageError):
    """A row the caller named does not exist."""


class Conflict(StorageError):
    """The requested change is not allowed in the row's current state."""


class ImportFormatError(StorageError):
    """An import file is malformed; the message names the file line."""

"""Typed errors of the business layer; every door maps them to its own answer.

Exception tree::

    ServiceError
     ├── NotFound     a ticket, grid or department named by the caller does not exist
     │                (also a ``storage.NotFound``)
     ├── NotAllowed   the acting person may not do this to this ticket
     │                (``services.permissions``)
     ├── WrongState   the ticket's status does not allow the change
     │                (also a ``storage.Conflict``, which storage raises for the same reason)
     └── Invalid      a value is missing or out of range (a score outside 1–5, no reason)

Doors that catch ``storage.Conflict`` catch ``WrongState`` too; actions turn the storage
errors they meet into these (``wrong_state``).
"""

from __future__ import annotations

from storage import Conflict
from storage import NotFound as StorageNotFound


class ServiceError(Exception):
    """Base of every error raised by services/."""


class NotFound(ServiceError, StorageNotFound):
    """What the caller named does not exist."""


class NotAllowed(ServiceError):
    """The acting person may not do ``action`` to the ticket.

    ``action`` is a ``services.permissions`` action name, ``number`` the ticket's number.
    """

    def __init__(self, action: str, number: str | None = None) -> None:
        super().__init__(f"{action} not allowed on {number or '-'}")
        self.action = action
        self.number = number


class WrongState(ServiceError, Conflict):
    """The ticket's status does not allow the change."""


class Invalid(ServiceError, ValueError):
    """A value is missing or out of range; the message says which."""

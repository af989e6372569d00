"""What each intent does: open a ticket, ask for what is missing, answer a progress query,
take a rating; grid workers' commands. Handlers take a ``Turn`` and return the reply text.

``@handles("repair", "complaint")`` fills ``HANDLERS``, as wechatpy's ``register_message``
fills ``MESSAGE_TYPES``; ``handlers.dispatch`` picks the handler.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from handlers.turn import Turn

Handler = Callable[["Turn"], str]
HANDLERS: dict[str, Handler] = {}


def handles(*intents: str) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of ``intents``."""

    def register(fn: Handler) -> Handler:
        for intent in intents:
            if intent in HANDLERS:
                raise ValueError(f"intent {intent!r} has two handlers")
            HANDLERS[intent] = fn
        return fn

    return register

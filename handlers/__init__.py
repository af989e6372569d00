"""What each intent does: open a ticket, ask for what is missing, answer a progress query,
take a rating; grid workers' commands. Handlers take a ``Turn`` and return the reply text.

Three registries, filled by decorators as wechatpy's ``register_message`` fills
``MESSAGE_TYPES``; ``handlers.dispatch`` picks from them:

- ``@handles("repair", "complaint")`` → ``HANDLERS``: the handler of an intent.
- ``@continues("report")`` → ``FLOWS``: the handler of the next message while a dialogue
  state ``{"flow": "report", ...}`` is open. It returns None when the resident changed topic
  (the state is then dropped and the message is handled afresh).
- ``@worker_command("接单")`` → ``WORKER_COMMANDS``: a staff command, called with the turn and
  the command's argument text.

``load_all()`` imports every module of the package (a pkgutil walk), so adding an intent is
one lexicon entry plus one module here with ``@handles("the_intent")``: nothing lists modules.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from handlers.turn import Turn

Handler = Callable[["Turn"], str]
FlowHandler = Callable[["Turn"], "str | None"]
CommandHandler = Callable[["Turn", str, str], str]
HANDLERS: dict[str, Handler] = {}
FLOWS: dict[str, FlowHandler] = {}
WORKER_COMMANDS: dict[str, CommandHandler] = {}


def handles(*intents: str) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of ``intents``."""

    def register(fn: Handler) -> Handler:
        for intent in intents:
            if intent in HANDLERS:
                raise ValueError(f"intent {intent!r} has two handlers")
            HANDLERS[intent] = fn
        return fn

    return register


def continues(flow: str) -> Callable[[FlowHandler], FlowHandler]:
    """Register the decorated function as the continuation of dialogue ``flow``."""

    def register(fn: FlowHandler) -> FlowHandler:
        if flow in FLOWS:
            raise ValueError(f"flow {flow!r} has two handlers")
        FLOWS[flow] = fn
        return fn

    return register


def worker_command(*verbs: str) -> Callable[[CommandHandler], CommandHandler]:
    """Register a staff command; the handler gets (turn, verb, argument text)."""

    def register(fn: CommandHandler) -> CommandHandler:
        for verb in verbs:
            if verb in WORKER_COMMANDS:
                raise ValueError(f"worker command {verb!r} has two handlers")
            WORKER_COMMANDS[verb] = fn
        return fn

    return register


def load_all(package: str = __name__) -> list[ModuleType]:
    """Import every module of ``package`` (recursively), so their decorators fill the
    registries; returns the modules in name order. Import errors propagate."""
    root = importlib.import_module(package)
    names = sorted(info.name for info in pkgutil.walk_packages(root.__path__, f"{package}."))
    return [importlib.import_module(name) for name in names]

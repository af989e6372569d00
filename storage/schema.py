"""Every table module, imported so ``SQLModel.metadata`` knows the whole schema.

Add a module here when it defines tables; migrations and ``create_schema`` rely on it.
"""

from __future__ import annotations

import importlib

TABLE_MODULES = ("storage.models", "storage.lending", "storage.care", "storage.reminders",
                 "storage.accounts", "storage.forgetting")


def load_all() -> None:
    """Import every module in ``TABLE_MODULES``."""
    for name in TABLE_MODULES:
        importlib.import_module(name)

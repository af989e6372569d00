"""Modules imported on first use, so that `gridbot --help` starts in well under 0.5 s.

The CLI's modules must be imported to register their commands, but most commands need the
storage stack (sqlmodel, SQLAlchemy, pydantic settings, Redis: ~0.6 s) or jieba (~0.3 s) and
``--help`` needs none of it. ``lazy_module("storage.lending")`` returns the module object at
once and runs its code on the first attribute access (``importlib.util.LazyLoader``, the
standard library's documented recipe). An already imported module is returned as it is.

Raises ModuleNotFoundError at once when the module does not exist (its spec is looked up
eagerly; only its code runs late).
Source: docs.python.org/3/library/importlib.html#implementing-lazy-imports
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def lazy_module(name: str) -> ModuleType:
    """The module ``name``, loaded when one of its attributes is first read."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    parent, _, child = name.rpartition(".")
    if parent:  # as the import system does: `storage.lending` is an attribute of `storage`
        setattr(sys.modules[parent], child, module)
    return module

"""Ticket categories as data: ``storage/categories.toml`` (code, name, kind, public,
default department), read once and validated.

The lexicon's ``[intents.<kind>.categories."<name>"]`` tables, the SLA policies'
``category`` and the emergency rules' ``ticket = "<kind>/<name>"`` refer to a category by
its name (the value stored in ``Ticket.category``); their loaders call ``require`` so an
unknown name stops the start with a clear error. ``is_public`` answers for
handlers/location.py. Imports nothing of the project but the exception tree.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

CATEGORIES_FILE = Path(__file__).with_name("categories.toml")
KINDS = ("repair", "complaint", "emergency")
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_KEYS = {"code", "name", "kind", "public", "department"}


class CategoryError(ValueError):
    """The categories file is invalid, or another file names a category it lacks."""


@dataclass(frozen=True)
class Category:
    """One category. ``department``: a Department.name, "" for none."""

    code: str
    name: str
    kind: str
    public: bool = False
    department: str = ""


@dataclass(frozen=True)
class Categories:
    """All categories, in file order."""

    path: Path
    items: tuple[Category, ...]

    def get(self, name: str | None) -> Category | None:
        """The category called ``name``, or None."""
        return next((c for c in self.items if c.name == name), None)

    def by_code(self, code: str) -> Category | None:
        """The category whose ``code`` is ``code`` (Open311's service_code), or None."""
        return next((c for c in self.items if c.code == code), None)

    def names(self, kind: str | None = None) -> tuple[str, ...]:
        """Category names (of ``kind`` when given), in file order."""
        return tuple(c.name for c in self.items if kind is None or c.kind == kind)

    def require(self, name: object, kind: str | None = None, where: str = "") -> Category:
        """The category called ``name`` (of ``kind`` when given). Raises CategoryError that
        names ``where`` (the referring file and entry) and the known names."""
        found = self.get(name) if isinstance(name, str) else None
        if found is None or (kind is not None and found.kind != kind):
            known = "、".join(self.names(kind))
            of = f" of kind {kind!r}" if kind else ""
            raise CategoryError(f"{where}: unknown category {name!r}{of}; {self.path.name} "
                                f"lists: {known}")
        return found


def parse(text: str, path: Path = CATEGORIES_FILE) -> Categories:
    """Categories from the TOML ``text``. Raises CategoryError (with the entry's number)
    for a malformed entry, an unknown kind or key, a bad code, or a repeated code or name."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CategoryError(f"{path}: {exc}") from exc
    entries = raw.get("category")
    if not isinstance(entries, list) or not entries:
        raise CategoryError(f"{path}: needs [[category]] entries")
    items: list[Category] = []
    for n, entry in enumerate(entries, start=1):
        where = f"{path.name} [[category]] #{n}"
        if unknown := set(entry) - _KEYS:
            raise CategoryError(f"{where}: unknown key(s) {sorted(unknown)}; "
                                f"expected {sorted(_KEYS)}")
        code, name, kind = entry.get("code"), entry.get("name"), entry.get("kind")
        if not isinstance(code, str) or not _CODE.match(code):
            raise CategoryError(f"{where}: code must be lower-case ASCII (a-z, 0-9, _), "
                                f"got {code!r}")
        if not isinstance(name, str) or not name.strip():
            raise CategoryError(f"{where}: name must be a non-empty string")
        if kind not in KINDS:
            raise CategoryError(f"{where} ({name}): kind must be one of {', '.join(KINDS)}, "
                                f"got {kind!r}")
        public, department = entry.get("public", False), entry.get("department", "")
        if not isinstance(public, bool) or not isinstance(department, str):
            raise CategoryError(f"{where} ({name}): public is true/false, department a name")
        if any(c.code == code or c.name == name for c in items):
            raise CategoryError(f"{where}: code {code!r} or name {name!r} is used twice")
        items.append(Category(code, name.strip(), kind, public, department.strip()))
    return Categories(path, tuple(items))


@lru_cache(maxsize=4)
def load(path: Path = CATEGORIES_FILE) -> Categories:
    """The categories file, read once per path. Raises CategoryError, OSError."""
    return parse(path.read_text(encoding="utf-8"), path)


def is_public(name: str | None) -> bool:
    """A category whose problems are usually outside the home (停车, 公共设施 …)."""
    found = load().get(name)
    return found is not None and found.public

"""The message catalogue: every sentence a resident or worker reads, by key.

Sentences live in ``messages.zh.toml`` (Simplified Chinese) so staff can edit wording
without touching code. ``msg("ticket_opened", no="GD20261122-0007")`` formats one.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

CATALOGUE = Path(__file__).with_name("messages.zh.toml")


class MissingMessage(KeyError):
    """A key that is not in the catalogue (a bug: tests check every key used)."""


def _flatten(table: dict[str, object], prefix: str, into: dict[str, str]) -> None:
    for key, value in table.items():
        if isinstance(value, dict):
            _flatten(value, f"{prefix}{key}.", into)
        else:
            into[f"{prefix}{key}"] = value  # type: ignore[assignment]


@cache
def catalogue() -> dict[str, str]:
    """All entries, flattened: a ``[section]`` table's keys become ``section.key``, a
    ``[section.part]`` sub-table's ``section.part.key`` (at any depth)."""
    raw = tomllib.loads(CATALOGUE.read_text(encoding="utf-8"))
    flat: dict[str, str] = {}
    _flatten(raw, "", flat)
    return flat


def msg(key: str, /, **fields: object) -> str:
    """The catalogue sentence ``key`` with ``{fields}`` filled in.

    Raises MissingMessage for an unknown key and KeyError for a missing field.
    """
    try:
        text = catalogue()[key]
    except KeyError:
        raise MissingMessage(key) from None
    return text.format(**fields) if fields else text


def role_name(role: str | None) -> str:
    """A staff role (``storage.models.Role``) as staff read it, from the ``[role]`` table
    (「网格长」); an unknown role as written, None as ""."""
    return catalogue().get(f"role.{role}", role or "")

"""The every-table walk of the unsubscribe tests: where does a piece of personal data still
appear in the database?

The walk is generic on purpose: it reads every column of every row of every table in
``SQLModel.metadata`` (after ``storage.schema.load_all``), so a table added later that keeps a
resident's phone, address or OpenID makes the unsubscribe tests fail until
``services.privacy`` scrubs it.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine
from sqlmodel import SQLModel

from storage.schema import load_all


def as_text(value: Any) -> str | None:
    """How a stored value is searched: JSON as text with its non-ASCII characters unescaped,
    anything else as ``str``; None for NULL."""
    if value is None:
        return None
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def dump(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table: ``{table name: [row as a dict, …]}`` ordered by the primary key."""
    load_all()
    out: dict[str, list[dict[str, Any]]] = {}
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            query = table.select().order_by(*table.primary_key.columns)
            out[table.name] = [dict(row) for row in conn.execute(query).mappings()]
    return out


def where_found(engine: Engine, needles: list[str]) -> dict[str, list[str]]:
    """``{needle: ["table.column#row", …]}`` for every needle found anywhere (needles found
    nowhere are absent)."""
    found: dict[str, list[str]] = {}
    for table, rows in dump(engine).items():
        for index, row in enumerate(rows):
            for column, value in row.items():
                text = as_text(value)
                if text is None:
                    continue
                for needle in needles:
                    if needle in text:
                        key = row.get("id", index)
                        found.setdefault(needle, []).append(f"{table}.{column}#{key}: {text[:120]}")
    return found


def tables_holding(engine: Engine, needle: str) -> set[str]:
    """Names of the tables where ``needle`` appears in some column."""
    return {place.split(".", 1)[0] for place in where_found(engine, [needle]).get(needle, [])}

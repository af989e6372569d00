"""Demo data for `gridbot serve --demo`: one community, 12 buildings, 3 grids, staff."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import select

from storage.db import session_scope
from storage.importer import ImportReport, import_file
from storage.models import Community

DEMO_FILES = (Path(__file__).with_name("demo_community.yaml"),)


def seed(engine: Engine) -> list[ImportReport]:
    """Import the demo files unless the demo community exists already (idempotent)."""
    with session_scope(engine) as session:
        if session.exec(select(Community).where(Community.name == "幸福新社区")).first():
            return []
        return [import_file(session, path) for path in DEMO_FILES]

"""Schema migrations with alembic (scripts in storage/migrations/versions).

``upgrade(url)`` brings a database to the newest revision (``gridbot db upgrade``; also run
by ``gridbot serve`` at start). ``revision(url, message)`` autogenerates a new script after a
model change. ``pending_changes(url)`` lists differences between the models and a migrated
database (a test asserts it is empty).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from storage.db import make_engine
from storage.schema import load_all

MIGRATIONS = Path(__file__).with_name("migrations")


def config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["url"] = url
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` on the database at ``url``."""
    command.upgrade(config(url), revision)


def revision(url: str, message: str) -> None:
    """Autogenerate a migration script from the models' difference to ``url``'s database."""
    command.revision(config(url), message=message, autogenerate=True)


def pending_changes(url: str) -> list:
    """Differences between the models and the database at ``url`` (empty when in step)."""
    load_all()
    engine = make_engine(url)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, SQLModel.metadata)
    engine.dispose()
    return diff

"""Alembic environment: the URL comes from the caller (storage.migrate) or GRIDBOT_DATABASE_URL."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers the tables)
from storage.db import make_engine
from storage.schema import load_all

load_all()
config = context.config
target_metadata = SQLModel.metadata


def run() -> None:
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    if url is None:
        from bot.settings import Settings

        url = Settings().database_url
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    engine = make_engine(url)
    with engine.connect() as conn:
        _migrate(conn)
    engine.dispose()


def _migrate(connection) -> None:
    """Run the migrations on ``connection``. On SQLite, foreign keys are off meanwhile: a batch
    copy drops and recreates a table that other rows point at (off only outside a
    transaction, so it is set and committed first); afterwards ``PRAGMA foreign_key_check``
    must find no broken reference (RuntimeError) and foreign keys are on again."""
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=sqlite,
        compare_type=True,
    )
    try:
        with context.begin_transaction():
            context.run_migrations()
    finally:
        if sqlite:
            connection.rollback()
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()
    if sqlite and broken:
        raise RuntimeError(f"migration left broken foreign keys (table, rowid, parent): {broken}")


run()

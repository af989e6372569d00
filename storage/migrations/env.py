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
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run()

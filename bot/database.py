"""The database engine of the long-running processes (web and worker), built from settings.

One place decides how they connect: ``GRIDBOT_DB_CONNECT_TIMEOUT_S``,
``GRIDBOT_DB_STATEMENT_TIMEOUT_MS`` and PgBouncer mode (``GRIDBOT_DB_PGBOUNCER``), so the web
and the worker cannot drift apart. One-off commands use ``storage.db.make_engine`` directly
(no statement timeout for reports and migrations).
"""

from __future__ import annotations

from sqlalchemy import Engine

from bot.settings import Settings
from storage.db import make_engine


def service_engine(settings: Settings) -> Engine:
    """Engine for ``settings.database_url`` with the service timeouts and PgBouncer mode."""
    return make_engine(settings.database_url, connect_timeout_s=settings.db_connect_timeout_s,
                       statement_timeout_ms=settings.db_statement_timeout_ms,
                       pgbouncer=settings.db_pgbouncer)

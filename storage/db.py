"""SQLAlchemy engine and sessions for the database named by ``Settings.database_url``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, event
from sqlmodel import Session, SQLModel, create_engine


def make_engine(url: str, *, connect_timeout_s: int | None = None,
                statement_timeout_ms: int | None = None, pgbouncer: bool = False) -> Engine:
    """Engine for ``url``; SQLite gets thread-safe connections, WAL and foreign keys.

    On PostgreSQL, ``connect_timeout_s`` (seconds) bounds connecting and waiting for a pooled
    connection, and ``statement_timeout_ms`` (milliseconds) sets the server's
    ``statement_timeout`` (and ``lock_timeout``) of every session, so a database that is down
    or stuck fails a request fast (sqlalchemy.exc.OperationalError / TimeoutError) instead
    of hanging it. None leaves libpq's and the server's defaults (CLI reports, migrations).

    ``pgbouncer`` (``Settings.db_pgbouncer``): ``url`` is PgBouncer in transaction pooling
    mode, where a session's server connection changes between transactions. psycopg then
    prepares no statements (``prepare_threshold=None``) and no startup ``options`` are sent
    (PgBouncer refuses or ignores them): set the timeouts on the role (docs/deploy.md).
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

        return engine
    connect_args: dict[str, object] = {}
    options: dict[str, object] = {}
    if connect_timeout_s is not None:
        connect_args["connect_timeout"] = connect_timeout_s
        options["pool_timeout"] = connect_timeout_s
    if pgbouncer:
        connect_args["prepare_threshold"] = None
    elif statement_timeout_ms is not None:
        connect_args["options"] = (f"-c statement_timeout={statement_timeout_ms}"
                                   f" -c lock_timeout={statement_timeout_ms}")
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20,
                         connect_args=connect_args, **options)


def create_schema(engine: Engine) -> None:
    """Create every table (tests and first runs; production uses `gridbot db upgrade`)."""
    from storage.schema import load_all

    load_all()

    SQLModel.metadata.create_all(engine)
    if engine.dialect.name == "postgresql":
        from storage.tickets import NUMBER_FUNCTION_SQL

        with engine.begin() as conn:
            conn.exec_driver_sql(NUMBER_FUNCTION_SQL)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on any exception."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise

"""Before a command runs: the configuration and the services it needs, checked in one place.

A misconfiguration becomes one ``ConfigError`` whose message is one line naming the setting
(its GRIDBOT_ variable) and the fix; every `gridbot` command prints that line on stderr and
exits with code 2 (``bot.cli``), instead of a traceback. The line is for staff, so it is
Chinese, from the message catalogue's ``[config_error]`` table (``services/messages.zh.toml``);
what a driver or pydantic said stays as it is, in brackets.

    load_settings(**overrides)   Settings, or ConfigError for an invalid/unsafe configuration
                                 (pydantic ValidationError, pydantic-settings SettingsError,
                                 an unreadable or invalid GRIDBOT_SLA_FILE)
    use_sla_file(settings)       GRIDBOT_SLA_FILE checked and made the policy file of this
                                 process (``storage.sla.use_file``)
    check_services(settings, …)  the database is reachable (and has the schema), Redis answers
    check_workers(settings, n)   n web processes can share the database and Redis (not the
                                 embedded SQLite + memory://)
    explain(exc)                 ConfigError for an error a command met while running (database
                                 or Redis unreachable, schema missing, settings invalid), or None

Exception tree::

    ConfigError        one line for the operator; exit code 2

Database and Redis URLs are shown without their passwords.
"""

from __future__ import annotations

import re
import sys

import redis
import sqlalchemy.exc
from pydantic import ValidationError
from pydantic_settings import SettingsError
from sqlalchemy import Engine, inspect, make_url

from bot.settings import Settings
from services.messages import msg


class ConfigError(Exception):
    """A setting or a service that stops a command; ``str()`` is one line with the fix."""


def load_settings(**overrides: object) -> Settings:
    """``Settings(**overrides)`` read from the environment, with its SLA policy file in use
    (``use_sla_file``). Raises ConfigError."""
    try:
        settings = Settings(**overrides)
    except (ValidationError, SettingsError) as exc:
        raise _settings_error(exc) from None
    use_sla_file(settings)
    return settings


def open_engine(settings: Settings | None = None) -> Engine:
    """The database engine of a CLI command: ``settings`` (default: ``load_settings()``)'s
    database URL with its connect timeout (``settings.db_connect_timeout_s`` seconds)."""
    from storage.db import make_engine

    settings = settings or load_settings()
    return make_engine(settings.database_url, connect_timeout_s=settings.db_connect_timeout_s)


def use_sla_file(settings: Settings) -> None:
    """Check the policy file GRIDBOT_SLA_FILE names (readable, valid TOML, valid policies) and
    make every ``storage.sla.load()`` of this process read it; unset: the packaged
    handlers/sla.toml. Raises ConfigError naming GRIDBOT_SLA_FILE and the fix."""
    path = settings.sla_file
    if path is None:
        if (sla := sys.modules.get("storage.sla")) is not None:  # not loaded: nothing to undo
            sla.use_file(None)
        return
    from storage import sla

    try:
        sla.load(path)
    except OSError as exc:
        raise ConfigError(msg("config_error.sla_unreadable", path=path,
                              reason=exc.strerror or exc)) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(msg("config_error.sla_invalid", path=path,
                              reason=_first_line(exc))) from None
    sla.use_file(path)


def check_services(
    settings: Settings, *, database: bool = True, schema: bool = True, redis_: bool = True
) -> None:
    """Connect to what a command needs, within the configured timeouts.

    ``database``: connect to ``settings.database_url`` (at most ``db_connect_timeout_s``
    seconds on PostgreSQL); ``schema``: every table of the models exists there; ``redis_``:
    PING ``settings.redis_url`` (``redis_timeout_s`` seconds; memory:// always answers).
    Raises ConfigError naming GRIDBOT_DATABASE_URL or GRIDBOT_REDIS_URL and the fix.
    """
    if database or schema:
        _check_database(settings, schema=schema)
    if redis_:
        _check_redis(settings)


def check_workers(settings: Settings, workers: int) -> None:
    """``workers`` web processes can share this configuration's state.

    One process always can. Several need a database and a Redis that live outside the
    process: an in-process Redis (memory://) is one per process, so retry de-duplication,
    dialogue and the job queue would split, and SQLite takes one writer (and the embedded
    worker's claims are safe for one process only).
    Raises ConfigError naming the settings and the fix (PostgreSQL + Redis).
    """
    if workers <= 1:
        return
    embedded = [var for var, bad in (("GRIDBOT_DATABASE_URL", settings.database_url.startswith("sqlite")),
                                      ("GRIDBOT_REDIS_URL", settings.redis_url.startswith("memory://")))
                if bad]
    if embedded:
        raise ConfigError(msg("config_error.workers_embedded", n=workers,
                              vars=msg("config_error.vars_sep").join(embedded)))


def explain(exc: BaseException) -> ConfigError | None:
    """The ConfigError behind ``exc``, an error a command met while running, or None when
    ``exc`` is not about configuration (then it is a bug and keeps its traceback)."""
    if isinstance(exc, ConfigError):
        return exc
    if isinstance(exc, SettingsError) or (
        isinstance(exc, ValidationError) and exc.title == Settings.__name__
    ):
        return _settings_error(exc)
    if isinstance(exc, sqlalchemy.exc.OperationalError | sqlalchemy.exc.ArgumentError) or (
        isinstance(exc, sqlalchemy.exc.ProgrammingError) and _schema_missing(exc)
    ):
        return _database_error(exc)
    if isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
        return ConfigError(msg("config_error.redis_unreachable", where="",
                               detail=_first_line(exc)))
    return None


# -- settings ---------------------------------------------------------------------------------
_FIELD_ERRORS = {
    "missing": ("field_missing", ()), "int_parsing": ("field_int", ()),
    "int_type": ("field_int", ()), "int_from_float": ("field_int", ()),
    "float_parsing": ("field_number", ()), "float_type": ("field_number", ()),
    "bool_parsing": ("field_bool", ()), "bool_type": ("field_bool", ()),
    "greater_than_equal": ("field_min", ("ge",)), "greater_than": ("field_above", ("gt",)),
    "less_than_equal": ("field_max", ("le",)), "string_pattern_mismatch": ("field_pattern", ()),
    "literal_error": ("field_choice", ()),
}
"""pydantic error type → (``config_error`` key, the ``ctx`` value shown as ``limit``)."""


def _settings_error(exc: ValidationError | SettingsError) -> ConfigError:
    if isinstance(exc, SettingsError):
        field = re.search(r'field "(\w+)"', str(exc))
        var = f"GRIDBOT_{field.group(1).upper()}" if field else "GRIDBOT_*"
        example = (msg("config_error.json_example", example='{"ticket_status": "TM0001"}')
                   if field and field.group(1) == "template_ids" else "")
        return ConfigError(msg("config_error.json", var=var, example=example))
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        message = _field_text(error)
        if error["loc"]:
            message = msg("config_error.field", var=f"GRIDBOT_{str(error['loc'][0]).upper()}",
                          text=message)
        problems.append(message)
    return ConfigError(msg("config_error.invalid",
                           problems=msg("config_error.problem_sep").join(problems)))


def _field_text(error: dict) -> str:
    """One pydantic error in Chinese: a validator's own sentence (already Chinese, from
    bot.settings), a known error type, else pydantic's words in brackets."""
    text = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "value_error":
        return text
    key, limits = _FIELD_ERRORS.get(error["type"], ("field_other", ()))
    ctx = error.get("ctx") or {}
    return msg(f"config_error.{key}", detail=text, pattern=ctx.get("pattern", ""),
               expected=str(ctx.get("expected", "")).replace("' or '", "' 或 '"),
               limit=next((ctx[k] for k in limits if k in ctx), ""))


# -- database ---------------------------------------------------------------------------------
def _check_database(settings: Settings, *, schema: bool) -> None:
    from sqlmodel import SQLModel

    from storage.db import make_engine
    from storage.schema import load_all

    url = settings.database_url
    try:
        engine = make_engine(url, connect_timeout_s=settings.db_connect_timeout_s)
    except (sqlalchemy.exc.ArgumentError, ImportError) as exc:
        raise ConfigError(msg("config_error.db_bad_url", detail=_first_line(exc))) from None
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
            tables = set(inspect(conn).get_table_names()) if schema else set()
    except sqlalchemy.exc.DBAPIError as exc:
        raise _database_error(exc, url) from None
    finally:
        engine.dispose()
    if not schema:
        return
    load_all()
    missing = sorted(set(SQLModel.metadata.tables) - tables)
    if len(missing) == len(SQLModel.metadata.tables):
        raise ConfigError(msg("config_error.db_no_tables", url=_safe_url(url)))
    if missing:
        raise ConfigError(msg("config_error.db_out_of_date", url=_safe_url(url),
                              tables=", ".join(missing)))


def _database_error(exc: Exception, url: str | None = None) -> ConfigError:
    """One line for a DBAPIError (psycopg/sqlite3 error in ``.orig``) or a bad URL."""
    where = msg("config_error.at", url=_safe_url(url)) if url else ""
    orig = getattr(exc, "orig", None)
    text = _first_line(orig if orig is not None else exc)
    if isinstance(exc, sqlalchemy.exc.ArgumentError):
        return ConfigError(msg("config_error.db_bad_url", detail=text))
    if _schema_missing(exc):
        return ConfigError(msg("config_error.db_schema_missing", where=where, detail=text))
    if re.search(r'database ".*" does not exist', text):
        return ConfigError(msg("config_error.db_missing", detail=text))
    if "authentication failed" in text or "password" in text:
        return ConfigError(msg("config_error.db_auth", detail=text))
    return ConfigError(msg("config_error.db_unreachable", where=where, detail=text))


def _schema_missing(exc: Exception) -> bool:
    """A table or column of the models is missing (PostgreSQL or SQLite wording)."""
    orig = getattr(exc, "orig", None)
    return type(orig).__name__ in ("UndefinedTable", "UndefinedColumn") or bool(
        re.match(r"no such (table|column)", _first_line(orig if orig is not None else exc))
    )


# -- Redis ------------------------------------------------------------------------------------
def _check_redis(settings: Settings) -> None:
    from storage.redis import is_memory, sync_client

    if is_memory(settings.redis_url):
        return
    try:
        client = sync_client(settings.redis_url, timeout_s=settings.redis_timeout_s)
        client.ping()
    except ValueError as exc:  # not a redis:// URL
        raise ConfigError(msg("config_error.redis_bad_url", detail=_first_line(exc))) from None
    except redis.exceptions.AuthenticationError:
        raise ConfigError(msg("config_error.redis_password",
                              url=_safe_url(settings.redis_url))) from None
    except redis.exceptions.RedisError as exc:
        raise ConfigError(msg("config_error.redis_unreachable",
                              where=msg("config_error.at", url=_safe_url(settings.redis_url)),
                              detail=_first_line(exc))) from None


# -- text -------------------------------------------------------------------------------------
def _safe_url(url: str) -> str:
    """``url`` with its password replaced by ***."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except sqlalchemy.exc.ArgumentError:
        return re.sub(r"://([^:/@]*):[^@]*@", r"://\1:***@", url)


def _first_line(exc: object) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__

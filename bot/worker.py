"""The worker process (arq on Redis): relays the push outbox and runs timed work.

``WorkerSettings`` is arq's settings class: every job (``FUNCTIONS``, ``CRON_JOBS``) and the
``on_startup``/``on_shutdown`` pair. Jobs read what they need from ``ctx``: "settings" and
"clock" (given, ``build_context``), "engine" (given, or built by ``startup``), "pusher" (the
WeChat clients and the synchronous Redis client holding their tokens, built by ``startup``)
and "redis" (arq's pool). ``shutdown`` closes what ``startup`` built. Several worker
processes may run on several hosts: arq hands each job to one of them, and each outbox row
is claimed (with a lease) before it is sent.

Supervision (``run``, i.e. `gridbot worker`): the process outlives Redis and PostgreSQL.

1. Before (re)starting arq: ``PING`` Redis; arq's ``on_startup`` (``startup``) then builds
   the resources and checks the database (``SELECT 1``, its ``outbox`` table exists).
2. Run arq's ``Worker.main`` beside a database watchdog (``SELECT 1`` every
   DB_CHECK_INTERVAL_S seconds). arq raises when Redis drops; the watchdog raises when the
   database does.
3. On either: close that Worker (``shutdown`` closes its resources), log ONE line
   ("… unavailable …; reconnecting in N s"),
   wait (1 s, doubling, at most 30 s; back to 1 s after a run of 30 s or more), go to 1
   with a new Worker. Jobs already in flight finish in their threads; a push whose outcome
   could not be recorded is reconciled by its lease (bot/relay.py).

Only a configuration error ends it: ``bot.preflight.ConfigError`` (wrong Redis password,
no such database, missing schema, bad URL) — `gridbot worker` prints one line and exits
with code 2 (bot/cli.py). Any other error is logged with its traceback and restarted the
same way, so a supervisor (systemd, Kubernetes) sees a process that stays up.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import time
from typing import Any

import arq.worker
import redis.exceptions
import sqlalchemy.exc
from arq import cron
from arq.worker import Worker, func
from sqlalchemy import Engine, inspect

from bot import jobs_privacy, jobs_services, jobs_sla
from bot.database import service_engine
from bot.logs import scrub
from bot.preflight import ConfigError, explain
from bot.push import Pusher
from bot.relay import relay_due, relay_one
from bot.settings import Settings
from services.config_docs import LiveConfig
from services.messages import msg
from storage.redis import arq_pool, is_memory, sync_client
from storage.times import Clock, utcnow

log = logging.getLogger("gridbot.worker")

BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 30.0
"""Waits between reconnection attempts (seconds): 1, 2, 4 … 30."""
DB_CHECK_INTERVAL_S = 5.0
"""How often the watchdog checks the database while arq runs (seconds)."""
CLOSE_WAIT_S = 10.0
"""How long a stopping Worker waits for its running jobs (seconds)."""

DB_DOWN = (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError,
           sqlalchemy.exc.TimeoutError, sqlalchemy.exc.DisconnectionError)
"""Errors of a database that is down, restarting or unreachable (psycopg/sqlite3 wrapped)."""


async def relay(ctx: dict[str, Any], *outbox_ids: int) -> list[str]:
    """Send outbox rows now, in order (enqueued once per transaction by the webhook and the
    jobs right after their commit: one job for all the rows of one change). Returns each
    row's status afterwards."""
    return [await asyncio.to_thread(relay_one, ctx["engine"], outbox_id, ctx["pusher"],
                                    ctx["clock"], ctx["settings"].push_lease_s)
            for outbox_id in outbox_ids]


async def sweep_outbox(ctx: dict[str, Any]) -> int:
    """Reconcile expired leases, then send every due row: retries after backoff, and rows
    whose nudge was lost."""
    return await asyncio.to_thread(relay_due, ctx["engine"], ctx["pusher"], ctx["clock"],
                                   lease_s=ctx["settings"].push_lease_s)


def _tolerant(job: Any) -> Any:
    """``job`` (an arq Function or CronJob) logging ONE line instead of a traceback when the
    database is unavailable; the work is left for the job's next run (every job here is
    re-run by a sweep: a pending push stays pending, a due timer stays due)."""
    inner = job.coroutine

    @functools.wraps(inner)
    async def run(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return await inner(ctx, *args, **kwargs)
        except DB_DOWN as exc:
            log.warning("job %s: database unavailable (%s); left for its next run",
                        job.name, _first_line(exc))
            return None

    return dataclasses.replace(job, coroutine=run)


FUNCTIONS = [_tolerant(f) for f in (func(relay, name="relay", keep_result=0, max_tries=1),
                                    *jobs_sla.FUNCTIONS, *jobs_services.FUNCTIONS,
                                    *jobs_privacy.FUNCTIONS)]
CRON_JOBS = [_tolerant(c) for c in (
    cron(sweep_outbox, second=set(range(0, 60, 10)), unique=True, run_at_startup=True),
    *jobs_sla.CRON_JOBS, *jobs_services.CRON_JOBS, *jobs_privacy.CRON_JOBS)]


def build_context(settings: Settings, clock: Clock = utcnow, engine: Any = None) -> dict[str, Any]:
    """The ctx a Worker starts with: settings, clock and, when the caller shares its own
    (`gridbot serve` runs the worker beside the web app), the engine. ``startup`` adds the
    rest."""
    return {"settings": settings, "clock": clock, "engine": engine}


async def startup(ctx: dict[str, Any]) -> None:
    """arq's ``on_startup``: build the engine (unless given), the synchronous Redis client
    and the pusher (WeChat clients) into ``ctx``, then check the database.

    Raises a DB_DOWN error when the database is unreachable, ConfigError when it has no
    schema (``run`` waits and retries, or exits); what was built is closed by ``shutdown``.
    """
    settings: Settings = ctx["settings"]
    if ctx.get("engine") is None:
        ctx["engine"] = service_engine(settings)
        ctx["own_engine"] = True
    ctx["sync_redis"] = sync_client(settings.redis_url, settings.redis_timeout_s)
    ctx["pusher"] = Pusher(settings, ctx["sync_redis"])
    await asyncio.to_thread(_check_database, ctx["engine"])
    clock: Clock = ctx.get("clock") or utcnow
    ctx["live_config"] = LiveConfig(None, settings.config_reload_s,
                                    monotonic=lambda: clock().timestamp())
    await asyncio.to_thread(ctx["live_config"].refresh, ctx["engine"])
    log.info("worker connected: Redis %s, database %s", scrub(settings.redis_url),
             ctx["engine"].url.render_as_string(hide_password=True))


async def shutdown(ctx: dict[str, Any]) -> None:
    """arq's ``on_shutdown``: close what ``startup`` built (an engine given by the caller
    stays open). Safe to call after a failed or partial ``startup``."""
    if (pusher := ctx.pop("pusher", None)) is not None:
        pusher.close()
    if (client := ctx.pop("sync_redis", None)) is not None:
        client.close()
    if ctx.pop("own_engine", False):
        engine = ctx.pop("engine")
        await asyncio.to_thread(engine.dispose)


async def job_start(ctx: dict[str, Any]) -> None:
    """arq's ``on_job_start``: apply SLA policies saved in the console since the last look
    (``services.config_docs.LiveConfig``, at most every ``settings.config_reload_s`` s)."""
    live: LiveConfig | None = ctx.get("live_config")
    if live is not None and live.due():
        await asyncio.to_thread(live.refresh, ctx["engine"])


class WorkerSettings:
    """arq's settings class (``arq.worker.get_kwargs`` reads it): the jobs, the start-up and
    shut-down hooks, and polling. The Redis pool and ``ctx`` are given by ``build_worker``."""

    functions = FUNCTIONS
    cron_jobs = CRON_JOBS
    on_startup = startup
    on_shutdown = shutdown
    on_job_start = job_start
    handle_signals = False
    poll_delay = 0.2
    """Seconds between polls of the queue."""
    keep_result = 60
    """Seconds a job's result is kept in Redis."""


async def build_worker(settings: Settings, ctx: dict[str, Any], burst: bool = False) -> Worker:
    """An arq Worker from ``WorkerSettings`` on ``settings.redis_url`` (not connected yet;
    Redis calls time out after ``settings.redis_timeout_s`` seconds). ``ctx`` (from
    ``build_context``) is the Worker's own dict: ``startup`` fills it."""
    if is_memory(settings.redis_url):
        # fakeredis has no INFO command, which arq only logs at start-up.
        async def _no_info(*_args: Any, **_kwargs: Any) -> None:
            return None

        arq.worker.log_redis_info = _no_info
    pool = await arq_pool(settings.redis_url, settings.redis_timeout_s)
    return Worker(**arq.worker.get_kwargs(WorkerSettings), redis_pool=pool, ctx=ctx, burst=burst)


class DatabaseDown(Exception):
    """The watchdog's ``SELECT 1`` failed; ``__cause__`` is the database error."""


def _check_database(engine: Engine) -> None:
    """``SELECT 1`` and the ``outbox`` table exists. Raises a DB_DOWN error when the
    database is unreachable, ConfigError when it has no schema."""
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")
        if not inspect(conn).has_table("outbox"):
            raise ConfigError(msg("config_error.db_no_tables",
                                  url=engine.url.render_as_string(hide_password=True)))


async def _watch_database(ctx: dict[str, Any], interval_s: float) -> None:
    """Return never; raise DatabaseDown when ``SELECT 1`` on ``ctx["engine"]`` fails (once
    ``startup`` has put one there)."""
    while True:
        await asyncio.sleep(interval_s)
        if (engine := ctx.get("engine")) is None:
            continue
        try:
            await asyncio.to_thread(_ping, engine)
        except DB_DOWN as exc:
            raise DatabaseDown(_first_line(exc)) from exc


def _ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")


async def _run_worker(worker: Worker, interval_s: float) -> None:
    """``worker.main()`` (which runs ``startup``) until it or the database watchdog raises
    (re-raised here)."""
    main = asyncio.create_task(worker.main(), name="arq-worker")
    watchdog = asyncio.create_task(_watch_database(worker.ctx, interval_s), name="db-watchdog")
    try:
        done, _ = await asyncio.wait({main, watchdog}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (main, watchdog):
            task.cancel()
        await asyncio.gather(main, watchdog, return_exceptions=True)
    for task in done:
        task.result()  # raises the failure


async def _close(worker: Worker, timeout_s: float) -> None:
    """Let ``worker``'s running jobs finish (at most ``timeout_s`` seconds, then cancel them;
    a relay already sending finishes in its thread and records its outcome), run its
    ``on_shutdown`` (``shutdown``), then close its Redis pool. Unlike ``Worker.close`` this
    cancels no job first and survives Redis being down."""
    running = [t for t in worker.tasks.values() if not t.done()]
    if running:
        _, late = await asyncio.wait(running, timeout=timeout_s)
        for task in late:
            task.cancel()
    for task in worker.tasks.values():
        if task.done() and not task.cancelled() and task.exception() is not None:
            log.debug("job ended with %r while the worker stopped", task.exception())
    if worker.on_shutdown is not None:
        await worker.on_shutdown(worker.ctx)
    try:
        await asyncio.wait_for(worker.pool.aclose(close_connection_pool=True), 5)
    except Exception as exc:  # Redis down: nothing to close cleanly
        log.debug("closing the arq pool: %r", exc)


def _config_error(exc: BaseException) -> ConfigError | None:
    """The ConfigError when ``exc`` is a configuration error rather than an outage."""
    if isinstance(exc, ConfigError):
        return exc
    if isinstance(exc, redis.exceptions.AuthenticationError | redis.exceptions.AuthorizationError) \
            or (isinstance(exc, redis.exceptions.ResponseError)
                and any(m in str(exc) for m in ("NOAUTH", "WRONGPASS", "NOPERM"))):
        return ConfigError(msg("config_error.redis_credentials", detail=_first_line(exc)))
    if isinstance(exc, sqlalchemy.exc.ArgumentError | sqlalchemy.exc.ProgrammingError):
        return explain(exc)
    if isinstance(exc, DatabaseDown):
        exc = exc.__cause__ or exc
    if isinstance(exc, DB_DOWN):
        text = _first_line(exc)
        if any(m in text for m in ("does not exist", "authentication failed", "no pg_hba.conf",
                                   "password", "no such table")):
            return explain(exc)
    return None


def _outage(exc: BaseException) -> str | None:
    """"Redis" or "the database" when ``exc`` says that service is unreachable, else None."""
    if isinstance(exc, (DatabaseDown, *DB_DOWN)):
        return "the database"
    if isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError
                  | OSError):  # asyncio's and the socket timeouts are OSErrors too
        return "Redis"
    return None


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    lines = str(orig if orig is not None else exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


async def run(settings: Settings, clock: Clock = utcnow, engine: Any = None, *,
              backoff_first_s: float = BACKOFF_FIRST_S, backoff_max_s: float = BACKOFF_MAX_S,
              db_check_interval_s: float = DB_CHECK_INTERVAL_S) -> None:
    """Run the worker until cancelled (`gridbot worker`, or inside `gridbot serve`),
    reconnecting to Redis and the database whenever they fail (see the module docstring).

    Raises ConfigError for a configuration error (exit code 2 in the CLI); nothing else.
    """
    delay_s = backoff_first_s
    while True:
        started = time.monotonic()
        worker: Worker | None = None
        try:
            worker = await build_worker(settings, build_context(settings, clock, engine))
            await worker.pool.ping()
            await _run_worker(worker, db_check_interval_s)
            return  # only a burst worker ends by itself
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            config = _config_error(exc)
            if config is not None:
                raise config from None
            if time.monotonic() - started >= backoff_max_s:
                delay_s = backoff_first_s  # it ran a good while: start the backoff again
            service = _outage(exc)
            if service is not None:
                log.warning("worker: %s unavailable (%s: %s); reconnecting in %.0f s",
                            service, type(exc).__name__, _first_line(exc), delay_s)
            else:
                log.exception("worker stopped by an unexpected error; restarting in %.0f s",
                              delay_s)
        finally:
            if worker is not None:
                await _close(worker, timeout_s=CLOSE_WAIT_S)
        await asyncio.sleep(delay_s)
        delay_s = min(delay_s * 2, backoff_max_s)


"""``create_app(settings)``: the FastAPI application — how the parts join.

The schema is not touched here: `gridbot serve` and `gridbot db upgrade` run the alembic
migrations before processes start. The lifespan builds the engine, Redis clients, the
classifier (jieba loaded once per process), the inbox pipeline and the job queue; with the
embedded default it also runs the worker in this process. The WeChat stand-in (sandbox) is
mounted when settings ask for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator

from fastapi import FastAPI

from bot import console, open311, webhook
from bot.database import service_engine
from bot.inbox import Inbox
from bot.preflight import use_sla_file
from bot.queue import JobQueue
from bot.settings import Settings
from intents.classify import Classifier
from services.config_docs import LiveConfig
from storage.redis import arq_pool, sync_client
from storage.times import Clock, utcnow

log = logging.getLogger("gridbot.app")
SPOOL_DRAIN_EVERY_S = 5.0


async def _drain_spool_forever(inbox: Inbox) -> None:
    """Every SPOOL_DRAIN_EVERY_S seconds, handle messages spooled while the database was
    down (``Inbox.drain_spool``; a no-op when the spool is empty)."""
    while True:
        await asyncio.sleep(SPOOL_DRAIN_EVERY_S)
        try:
            await asyncio.to_thread(inbox.drain_spool)
        except Exception:  # a bug in one entry must not stop the loop; it is logged
            log.exception("draining the spool failed")


def create_app(
    settings: Settings | None = None, *, clock: Clock = utcnow, classifier: Classifier | None = None
) -> FastAPI:
    """The gridbot web app. ``clock`` returns aware UTC now (tests pass a FrozenClock).

    With no ``settings`` they are read from the environment: this is the app factory that
    `gridbot serve --workers N` (uvicorn) and gunicorn's UvicornWorker call in each process,
    ``bot.app:create_app`` with ``factory=True``, so each builds its own engine and clients."""
    settings = settings or Settings()
    use_sla_file(settings)  # GRIDBOT_SLA_FILE: ConfigError at start-up, not at the first ticket

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = service_engine(settings)
        redis = sync_client(settings.redis_url, settings.redis_timeout_s)
        pool = await arq_pool(settings.redis_url, settings.redis_timeout_s)
        app.state.settings = settings
        app.state.engine = engine
        app.state.redis = redis
        reader = classifier or Classifier.load(ticket_prefix=settings.ticket_prefix)
        app.state.live_config = LiveConfig(reader, settings.config_reload_s,
                                           monotonic=lambda: clock().timestamp())
        app.state.live_config.refresh(engine)  # staff-edited lexicon / SLA before the first message
        app.state.inbox = Inbox(settings, engine, redis, reader, clock, app.state.live_config)
        app.state.queue = JobQueue(pool)
        tasks = [asyncio.create_task(_drain_spool_forever(app.state.inbox))]
        if settings.runs_embedded_worker:
            from bot import worker

            tasks.append(asyncio.create_task(worker.run(settings, clock, engine)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await pool.aclose()
            engine.dispose()

    production = settings.environment == "production"
    # no /docs, /redoc or /openapi.json in production: they would map every route for anyone
    docs = {"docs_url": None, "redoc_url": None, "openapi_url": None} if production else {}
    app = FastAPI(title="gridbot", lifespan=lifespan, **docs)
    app.state.clock = clock
    app.state.settings = settings
    app.include_router(webhook.router)
    console.install(app)  # the staff console at /console (bot/console)
    app.include_router(open311.router)  # Open311 GeoReport v2 at /open311/v2/
    if settings.sandbox and not production:  # Settings refuse it in production; never mount it there
        from bot.devtools.sandbox import sandbox_router

        app.include_router(sandbox_router(sync_client(settings.redis_url)), prefix="/sandbox")

    @app.middleware("http")
    async def live_config(request, call_next):  # noqa: ANN001, ANN202 - Starlette's signature
        """Before a console or Open311 request (their actions start SLA clocks), apply
        staff-edited configuration saved by another process (at most every
        ``settings.config_reload_s`` seconds; the webhook refreshes in ``Inbox``)."""
        live = getattr(request.app.state, "live_config", None)
        if live is not None and live.due() and not request.url.path.startswith("/wechat"):
            await asyncio.to_thread(live.refresh, request.app.state.engine)
        return await call_next(request)

    @app.get("/healthz")
    def healthz() -> dict[str, object]:
        """Liveness for load balancers; ``pid`` tells `serve --workers N` processes apart."""
        return {"status": "ok", "pid": os.getpid()}

    return app

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
from collections.abc import AsyncIterator

from fastapi import FastAPI

from bot import webhook
from bot.inbox import Inbox
from bot.queue import JobQueue
from bot.settings import Settings
from intents.classify import Classifier
from storage.db import make_engine
from storage.redis import arq_pool, sync_client
from storage.times import Clock, utcnow

log = logging.getLogger("gridbot.app")


def create_app(
    settings: Settings | None = None, *, clock: Clock = utcnow, classifier: Classifier | None = None
) -> FastAPI:
    """The gridbot web app. ``clock`` returns aware UTC now (tests pass a FrozenClock)."""
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url)
        redis = sync_client(settings.redis_url)
        pool = await arq_pool(settings.redis_url)
        app.state.settings = settings
        app.state.engine = engine
        app.state.redis = redis
        app.state.inbox = Inbox(settings, engine, redis, classifier or Classifier.load(), clock)
        app.state.queue = JobQueue(pool)
        worker_task = None
        if settings.runs_embedded_worker:
            from bot import worker

            worker_task = asyncio.create_task(worker.run(settings, clock, engine))
        try:
            yield
        finally:
            if worker_task is not None:
                worker_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker_task
            await pool.aclose()
            engine.dispose()

    app = FastAPI(title="gridbot", lifespan=lifespan)
    app.include_router(webhook.router)
    if settings.sandbox:
        from bot.sandbox import sandbox_router

        app.include_router(sandbox_router(sync_client(settings.redis_url)), prefix="/sandbox")

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app

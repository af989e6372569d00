"""Pass 2 of forgetting a resident who unsubscribed, as an arq job of the worker process.

The webhook anonymises the resident's own rows at once and records a durable
``storage.forgetting.PrivacySweep`` row (``services.privacy.forget_resident``);
``privacy_sweep`` (cron, every ``SWEEP_EVERY_S`` seconds and at worker start-up, ``unique``
across workers) finds every such row and runs ``services.privacy.run_sweep`` for it: the
resident's known values out of everyone's free text, and the row deleted, in one
transaction. A crash (worker killed, database gone) rolls the sweep back with the row's
deletion, so the row stays and the next run — after a restart, the start-up run — does it
again; running a done sweep again does nothing. Each try is counted
(``PrivacySweep.attempts``, committed before the try); a sweep that keeps failing is
logged at WARNING with its tries.

The job reads ``ctx["engine"]`` and ``ctx["clock"]`` (aware UTC); the database work runs in
a thread (``asyncio.to_thread``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from arq import cron
from arq.worker import func
from sqlalchemy import Engine

from services import privacy
from storage.db import session_scope
from storage.times import Clock, utcnow

log = logging.getLogger("gridbot.jobs_privacy")

SWEEP_EVERY_S = 10
"""Seconds between runs of ``privacy_sweep``: how long others' rows may still hold an
unsubscribed resident's phone or address while the worker runs."""


def sweep_pending(engine: Engine, clock: Clock = utcnow) -> dict[str, int]:
    """Run every pending sweep, oldest first, each in its own transaction (after a committed
    count of the try). Returns {"swept": sweeps done now, "pushes": pushes changed}. A sweep
    that fails raises (the rest wait for the next run; its row stays)."""
    swept = pushes = 0
    with session_scope(engine) as session:
        pending = privacy.pending_sweeps(session)
    for sweep_id in pending:
        with session_scope(engine) as session:
            attempts = privacy.note_attempt(session, sweep_id, clock())
        if attempts is None:
            continue  # done meanwhile
        if attempts > 1:
            log.warning("privacy sweep %s: try %d (an earlier try did not finish)",
                        sweep_id, attempts)
        with session_scope(engine) as session:
            changed = privacy.run_sweep(session, sweep_id)
        if changed is not None:
            swept += 1
            pushes += changed
            log.info("privacy sweep %s done: %d pushes rewritten", sweep_id, changed)
    return {"swept": swept, "pushes": pushes}


async def privacy_sweep(ctx: dict[str, Any]) -> dict[str, int]:
    """Every pending privacy sweep (``sweep_pending``); returns its counts."""
    return await asyncio.to_thread(sweep_pending, ctx["engine"], ctx["clock"])


FUNCTIONS = [func(privacy_sweep, name="privacy_sweep", keep_result=0, max_tries=1)]
CRON_JOBS = [cron(privacy_sweep, name="cron:privacy_sweep",
                  second=set(range(3, 60, SWEEP_EVERY_S)), unique=True, run_at_startup=True)]
"""At :03, :13 … :53 s past every minute and at start-up, once across all workers."""

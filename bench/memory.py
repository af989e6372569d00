"""Memory of the web and worker processes over many requests: RSS must stay flat.

Usage::

    python bench/memory.py [--requests 100000] [--step 10000] [--clients 4]
                           [--max-seconds 900] [--database-url URL] [--redis-url URL]

What one run does (storage and servers as ``bench/webhook.py`` sets them up, reusing its
functions): a private PostgreSQL database (dropped after) and an *empty* Redis logical
database claimed with an owner key (emptied and released after); the community of
``bench/webhook.py`` imported; one gridbot web process (uvicorn), one arq worker and the
WeChat API sandbox, each its own process. Then ``--requests`` signed deliveries in
``bench/webhook.py``'s mix (reports, 查询, greetings, WeChat retries; unique MsgIds; the same
500 residents throughout, so their tickets pile up) are sent in steps of ``--step``: each
step's deliveries are built just before it (inside the webhook's timestamp window) and sent
by ``--clients`` client processes over keep-alive connections. After each step the resident
set size (VmRSS, /proc) of the web and the worker process is printed with the tickets and
pushes so far.

The run stops early (said so) after ``--max-seconds``. The verdict compares the last RSS with
the RSS after the first step (start-up, imports and caches warmed): "flat" when it grew by
less than ``FLAT_MB`` MB. Figures, not assertions: exit status 0 unless a server failed.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

SCRIPT = Path(__file__).resolve()
if sys.path and Path(sys.path[0] or ".").resolve() == SCRIPT.parent:
    sys.path[0] = str(SCRIPT.parent.parent)  # run as a script: import the project, not bench/

import httpx  # noqa: E402

from bench.webhook import (  # noqa: E402
    PG_ADMIN_URL,
    RESIDENTS,
    bench_storage,
    build_lists,
    import_community,
    servers,
    settings_overrides,
)
from bot.devtools.simulator import WeChatSimulator  # noqa: E402
from bot.settings import Settings  # noqa: E402

FLAT_MB = 20.0
"""RSS growth (MB) after the first step below which a process counts as flat."""


def rss_mb(pid: int) -> float:
    """Resident set size of ``pid`` in MB (VmRSS of /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def served_pid(kind: str) -> int:
    """Pid of this run's ``bench/webhook.py --serve KIND`` child process."""
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            if ppid == me and b"--serve" in argv and argv[argv.index(b"--serve") + 1] == kind.encode():
                return int(entry.name)
    raise RuntimeError(f"no {kind} process")


def _send(args: tuple[str, list[tuple[str, bytes]]]) -> dict[int, int]:
    """Client process: POST each (query string, body) in order over one keep-alive
    connection; returns {HTTP status: count} (0: transport error)."""
    url, items = args
    statuses: dict[int, int] = {}
    with httpx.Client(base_url=url, timeout=15.0, trust_env=False) as client:
        for query, body in items:
            try:
                code = client.post(f"/wechat?{query}", content=body,
                                   headers={"Content-Type": "text/xml"}).status_code
            except httpx.HTTPError:
                code = 0
            statuses[code] = statuses.get(code, 0) + 1
    return statuses


def _counts(database_url: str) -> tuple[int, int]:
    from bench.webhook import _scalar

    return (int(_scalar(database_url, "SELECT count(*) FROM ticket")),
            int(_scalar(database_url, "SELECT count(*) FROM outbox WHERE status = 'sent'")))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=100_000)
    ap.add_argument("--step", type=int, default=10_000)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--max-seconds", type=float, default=900.0)
    ap.add_argument("--database-url")
    ap.add_argument("--redis-url")
    ap.add_argument("--pg-admin-url", default=PG_ADMIN_URL)
    args = ap.parse_args(argv)
    print(f"load average before: {os.getloadavg()}")
    rng = random.Random(9)
    with bench_storage(args.database_url, args.redis_url, args.pg_admin_url) as storage, \
            tempfile.TemporaryDirectory() as tmp:
        import_community(storage.database_url, RESIDENTS)
        log = Path(tmp) / "servers.log"
        base = {"database_url": storage.database_url, "redis_url": storage.redis_url}
        with servers("sandbox", 1, base, log) as sandbox:
            overrides = settings_overrides(storage, None, sandbox)
            settings = Settings(**overrides)
            simulator = WeChatSimulator(settings.wechat_token, settings.wechat_app_id, None)
            with servers("worker", 1, overrides, log), servers("gridbot", 1, overrides, log) as url:
                web, worker = served_pid("gridbot"), served_pid("worker")
                print(f"web pid {web}, worker pid {worker}; start RSS web {rss_mb(web):.1f} MB,"
                      f" worker {rss_mb(worker):.1f} MB")
                print(f"{'requests':>9} {'web MB':>8} {'worker MB':>10} {'req/s':>7}"
                      f" {'tickets':>8} {'pushes sent':>12}  statuses")
                series: list[tuple[int, float, float]] = []
                started, done = time.monotonic(), 0
                with multiprocessing.get_context("spawn").Pool(args.clients) as pool:
                    while done < args.requests:
                        if time.monotonic() - started > args.max_seconds:
                            print(f"stopped after {args.max_seconds:.0f} s (--max-seconds)")
                            break
                        n = min(args.step, args.requests - done)
                        lists = build_lists(simulator, args.clients, -(-n // args.clients),
                                            RESIDENTS, rng, tag="M")
                        jobs = [(url, [(urlencode(i.delivery.params), i.delivery.body)
                                       for i in items]) for items in lists]
                        t0 = time.monotonic()
                        statuses: dict[int, int] = {}
                        for part in pool.map(_send, jobs):
                            for code, k in part.items():
                                statuses[code] = statuses.get(code, 0) + k
                        sent = sum(statuses.values())
                        done += sent
                        point = (done, rss_mb(web), rss_mb(worker))
                        series.append(point)
                        tickets, pushes = _counts(storage.database_url)
                        print(f"{done:>9} {point[1]:>8.1f} {point[2]:>10.1f}"
                              f" {sent / (time.monotonic() - t0):>7.0f} {tickets:>8} {pushes:>12}"
                              f"  {dict(sorted(statuses.items()))}", flush=True)
    if len(series) >= 2:
        for label, k in (("web", 1), ("worker", 2)):
            grew = series[-1][k] - series[0][k]
            verdict = "flat" if grew < FLAT_MB else "GROWING"
            print(f"{label}: {series[0][k]:.1f} MB after {series[0][0]} requests →"
                  f" {series[-1][k]:.1f} MB after {series[-1][0]}: {grew:+.1f} MB ({verdict})")
    print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

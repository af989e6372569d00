"""gunicorn settings for gridbot: the production alternative to `gridbot serve --workers N`.

    gunicorn -c deploy/gunicorn.conf.py --bind 127.0.0.1:8000 --workers 4 'bot.app:create_app()'

Every worker process builds its own app, engine, Redis clients and classifier from the
GRIDBOT_* variables (``bot.app:create_app``). Needs ``pip install -e ".[production]"``
(gunicorn, and uvicorn-worker: ``uvicorn.workers.UvicornWorker`` is deprecated in uvicorn).

Like `gridbot serve`, the master checks the configuration and the services before it forks
(one line on stderr, exit code 2: bot/preflight.py); it does not migrate (run
`gridbot db upgrade` first). Each worker logs through gridbot's secret filters, and the
access log masks WeChat's query values (signature, timestamp, nonce, openid: bot/logs.py).
"""

from __future__ import annotations

import logging
import sys

worker_class = "uvicorn_worker.UvicornWorker"
timeout = 30            # seconds a silent worker lives before the master restarts it
graceful_timeout = 30   # seconds to finish requests on SIGTERM / HUP
keepalive = 75          # nginx keeps upstream connections alive (deploy/nginx.conf)
accesslog = "-"


def on_starting(server) -> None:
    """Master, before forking: refuse a misconfiguration with one line and exit code 2."""
    from bot import preflight

    try:
        settings = preflight.load_settings()
        preflight.check_workers(settings, server.cfg.workers)
        preflight.check_services(settings)
    except Exception as exc:
        error = preflight.explain(exc)
        if error is None:
            raise
        print(f"gridbot: {error}", file=sys.stderr)
        sys.exit(2)


def post_worker_init(worker) -> None:
    """Worker: gridbot's loggers on a filtered handler; secret and query masking on the
    handlers gunicorn gives uvicorn's loggers."""
    from bot import logs
    from bot.settings import Settings

    settings = Settings()
    logs.configure(settings)
    secrets = logs.SecretFilter(logs.secrets_of(settings))
    for name in ("gunicorn.error", "uvicorn.error", "gunicorn.access", "uvicorn.access"):
        for handler in logging.getLogger(name).handlers:
            if name == "uvicorn.access":
                handler.addFilter(logs.AccessLogFilter("uvicorn.access"))
            handler.addFilter(secrets)

"""The staff console (员工控制台) at /console: server-rendered pages (Jinja2 + htmx) for
grid staff in a browser — the ticket queue, kept messages, dashboard, exports, configuration.

``router`` (prefix /console) includes the ``router`` of each page module named in ``PAGES``;
a page module adds ONE line there (its module name under bot/console/). ``bot.app`` calls
``install(app)``: static files at /console/static (bot/console/static), the router and the
error handlers. The shared pieces every page uses (templates, ``render``, the dependencies,
``audit``) are in ``bot.console.web``; business rules stay in services/.
"""

from __future__ import annotations

import importlib

from fastapi import APIRouter, FastAPI

PAGES = [
    "auth",  # /console/login, /console/logout
    # page modules in nav order (工单, 待人工处理, 数据看板, 导出, 配置), one line each, above "home"
    "queue", "ticket",  # GET /console/ + /console/tickets (queue); /console/tickets/{number} (+ actions)
    "kept",  # /console/kept: 待人工处理 (answer a kept message, or turn it into a ticket)
    "dashboard",  # /console/dashboard, /console/dashboard.json
    "exports",  # /console/exports, /console/exports/{what}.{csv|xlsx}
    "config",  # /console/config: organisation, stations, programmes, import with dry run
    "config_rules",  # /console/config/sla, /console/config/lexicon (+ 试一试)
    "audit",  # /console/audit: 审计日志
    "home",  # last: the fallback start page at GET /console/ (a page module's own wins)
]

router = APIRouter(prefix="/console")
for _name in PAGES:
    router.include_router(importlib.import_module(f"bot.console.{_name}").router)


def install(app: FastAPI) -> None:
    """Mount the console on ``app`` (static files, pages, error handlers)."""
    from bot.console import web

    web.install(app, router)

"""The console with the demo's month of history (bot/demo_history.py), as `gridbot serve --demo`
shows it: the street administrator's queue and dashboard have real figures. With
GRIDBOT_UPDATE_DOCS_SCREENSHOT=1 the screenshots become docs/console.png (the queue) and
docs/dashboard.png (the dashboard), the README's pictures."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from bot.demo import MORE_COMMUNITY_FILES, SERVICES_FILE, console_logins
from bot.demo_history import generate
from storage.db import session_scope
from storage.importer import import_file
from tests.browser.conftest import update_docs

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _with_history(server, clock) -> None:
    """The demo's other files (``community`` imported the first) and the history up to the
    server's clock; the street administrator (login ``admin``)."""
    with session_scope(server.engine) as session:
        for path in (SERVICES_FILE, *MORE_COMMUNITY_FILES):
            import_file(session, path)
    made = generate(server.engine, clock())
    assert made is not None and made.tickets > 100
    console_logins(server.engine)


def test_the_demo_queue_and_dashboard_with_a_month_of_history(server, clock, page, staff_login,
                                                                shot):
    _with_history(server, clock)
    staff_login(page, "street-admin")
    queue = page.locator("#queue")
    expect(queue).to_contain_text("GD")
    expect(queue).to_contain_text("阳光一网格")
    shot(page, "queue")
    if update_docs():
        page.screenshot(path=str(DOCS / "console.png"))
    queue.get_by_role("link").first.click()  # the most overdue ticket: its month on the page
    expect(page.locator("main")).to_contain_text("督办")
    expect(page.locator("main")).to_contain_text("演示记录 已发送")
    shot(page, "ticket")
    page.goto("/console/dashboard")
    expect(page.get_by_role("heading", name="数据看板")).to_be_visible()
    page.wait_for_function("() => window.Chart && Chart.getChart('chart-per-day')")
    days = page.evaluate("() => Chart.getChart('chart-per-day').data.labels.length")
    counts = page.evaluate("() => Chart.getChart('chart-per-day').data.datasets"
                           ".map(d => d.data.reduce((a, b) => a + b, 0))")
    assert days >= 28 and sum(counts) > 100, (days, counts)
    figures = page.locator("#figures")
    expect(figures).to_contain_text("幸福新社区")
    expect(figures).to_contain_text("和谐社区")
    page.wait_for_timeout(600)  # let the charts finish their animation
    shot(page, "dashboard")
    if update_docs():
        page.screenshot(path=str(DOCS / "dashboard.png"), full_page=True,
                        clip={"x": 0, "y": 0, "width": 1280, "height": 1480})  # tiles, charts

"""The lexicon editor in a real browser: pick an intent, add a keyword, 「试一试」 shows the
draft's result live (htmx, nothing saved), save, and the bot routes a message by it."""

from __future__ import annotations

from sqlmodel import Session, select

from storage import sla
from storage.models import Ticket

SWING = "3号楼2单元501 秋千"


def test_edit_the_lexicon_try_it_live_and_save(page, server, staff_login, shot) -> None:
    try:
        staff_login(page, "admin-1")  # the community admin of a one-community account
        page.goto("/console/config/lexicon")
        page.get_by_label("选择意图").select_option("repair")
        page.wait_for_url("**/console/config/lexicon?intent=repair")
        editor = page.locator("#doc-text")
        text = editor.input_value()
        header = '[intents.repair.categories."公共设施"]\n'
        assert header in text
        editor.fill(text.replace(header, header + '"秋千" = 4\n'))

        page.get_by_label("居民消息").fill(SWING)
        page.get_by_role("button", name="试一试").click()
        result = page.locator("#try-result")
        result.get_by_text("公共设施").first.wait_for()
        assert "物业报修" in result.inner_text()  # the SLA policy a ticket would get
        shot(page, "lexicon-try")

        page.get_by_role("button", name="保存").click()
        page.get_by_text("已保存（第1版）").wait_for()
        shot(page, "lexicon-saved")
        server.say("swing-resident", SWING)
        with Session(server.engine) as session:
            ticket = session.exec(select(Ticket)).one()
        assert (ticket.kind, ticket.category) == ("repair", "公共设施")
    finally:
        sla.use_text(None)

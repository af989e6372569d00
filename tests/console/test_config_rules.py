"""The SLA and lexicon configuration pages over HTTP: who may open them, save (refused with
the loader's line), 「试一试」 on an unsaved draft, history and diff, reset, CSRF, audit."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from sqlmodel import Session, select

from services import config_docs as docs
from storage import sla
from storage.accounts import AuditEntry, ConfigDocument
from storage.models import Community, GridWorker, Role
from storage.times import local
from tests.chat import START
from tests.console.conftest import login, post

TEXTAREA = re.compile(r'<textarea name="text"[^>]*>(.*?)</textarea>', re.S)
SWING = "3号楼2单元501 秋千"


@pytest.fixture(autouse=True)
def _packaged_sla():
    yield
    sla.use_text(None)


@pytest.fixture
def street_admin(community) -> GridWorker:
    """A 街道管理员 of the demo account."""
    with Session(community, expire_on_commit=False) as session:
        worker = GridWorker(openid="street-1", name="赵街道", phone="13900000009",
                            role=Role.STREET_ADMIN)
        session.add(worker)
        session.commit()
        return worker


def editor_text(page) -> str:
    return unescape(TEXTAREA.search(page.text).group(1))


def with_swing(text: str) -> str:
    header = '[intents.repair.categories."公共设施"]\n'
    return text.replace(header, header + '"秋千" = 4\n')


def test_pages_need_the_capability(console, street_admin) -> None:
    login(console, "worker-g1")
    assert console.get("/console/config/sla").status_code == 403
    assert console.get("/console/config/lexicon?intent=repair").status_code == 403
    assert 'href="/console/config/lexicon"' not in console.get("/console/config").text
    assert post(console, "/console/config/sla", {"text": "x", "version": "0"}).status_code == 403
    assert post(console, "/console/config/try", {"name": "sla", "message": "x"}).status_code == 403
    login(console, street_admin)
    page = console.get("/console/config/sla")
    assert page.status_code == 200 and "时限规则" in page.text
    assert editor_text(page) == sla.POLICY_FILE.read_text(encoding="utf-8")
    assert console.get("/console/config/lexicon?intent=nonsense").status_code == 404


def test_a_community_admin_configures_a_one_community_account(console, community) -> None:
    login(console, "admin-1")
    assert console.get("/console/config/lexicon?intent=repair").status_code == 200
    assert 'href="/console/config/lexicon"' in console.get("/console/config").text
    with Session(community) as session:
        first = session.exec(select(Community)).first()
        session.add(Community(street_id=first.street_id, name="阳光社区"))
        session.commit()
    assert console.get("/console/config/lexicon?intent=repair").status_code == 403
    assert 'href="/console/config/lexicon"' not in console.get("/console/config").text


def test_invalid_toml_is_refused_with_its_line(console, street_admin, community) -> None:
    login(console, street_admin)
    text = editor_text(console.get("/console/config/sla")).replace("warn_at = 0.8", "warn_at = = 0.8")
    line = next(i for i, x in enumerate(text.splitlines(), start=1) if "warn_at = =" in x)
    page = post(console, "/console/config/sla", {"text": text, "version": "0"})
    assert page.status_code == 422
    assert f"第{line}行" in page.text and "未保存" in page.text
    assert "warn_at = = 0.8" in editor_text(page)  # the draft is kept for correcting
    with Session(community) as session:
        assert session.get(ConfigDocument, "sla") is None


def test_try_a_draft_then_save_history_diff_and_reset(console, street_admin, community) -> None:
    login(console, street_admin)
    url = "/console/config/lexicon?intent=repair"
    packaged = editor_text(console.get(url))
    tried = post(console, "/console/config/try", {"name": "lexicon:repair", "message": SWING,
                                                  "text": packaged}, headers={"HX-Request": "true"})
    assert tried.status_code == 200 and "公共设施" not in tried.text
    draft = with_swing(packaged)
    tried = post(console, "/console/config/try", {"name": "lexicon:repair", "message": SWING,
                                                  "text": draft}, headers={"HX-Request": "true"})
    assert "公共设施" in tried.text and "物业报修" in tried.text and "<html" not in tried.text
    assert "handlers." in tried.text  # which handler would answer
    bad = post(console, "/console/config/try", {"name": "lexicon:repair", "message": SWING,
                                                "text": "[intents.repair.keywords]\n\"秋千 = 4\n"})
    assert "草稿有误" in bad.text and "第2行" in bad.text
    with Session(community) as session:
        assert session.get(ConfigDocument, "lexicon:repair") is None  # trying saves nothing

    saved = post(console, "/console/config/lexicon",
                 {"intent": "repair", "text": draft, "version": "0"})
    assert saved.status_code == 200 and "已保存（第1版）" in saved.text
    assert "修改后的配置" in saved.text and "赵街道" in saved.text
    assert editor_text(saved) == draft
    # the live classifier of this process reads the saved lexicon at once
    live = console.app.state.live_config
    assert live.classifier.classify(SWING).category == "公共设施"
    # a stale form (started from version 0) is refused, the draft kept
    stale = post(console, "/console/config/lexicon",
                 {"intent": "repair", "text": draft + "\n", "version": "0"})
    assert stale.status_code == 409 and "有人保存" in stale.text
    diff = console.get(url + "&diff=0")
    assert "+&#34;秋千&#34; = 4" in diff.text or '+"秋千" = 4' in unescape(diff.text)

    reset = post(console, "/console/config/lexicon/reset", {"intent": "repair"})
    assert reset.status_code == 200 and "已恢复默认配置" in reset.text
    assert editor_text(reset) == packaged and "默认配置" in reset.text
    assert live.classifier.classify(SWING).category != "公共设施"
    history = console.get(url).text
    assert "恢复默认" in history and "第1版" in history
    with Session(community) as session:
        entries = session.exec(select(AuditEntry).where(AuditEntry.target_kind == "config")
                               .order_by(AuditEntry.id)).all()
    assert [(e.action, e.target_id, e.worker_id) for e in entries] == [
        ("config.save", "lexicon:repair", street_admin.id),
        ("config.reset", "lexicon:repair", street_admin.id)]
    again = post(console, "/console/config/lexicon", {"intent": "repair", "text": draft,
                                                      "version": "0"})
    assert "已保存（第2版）" in again.text  # versions never go back after a reset


def test_saved_sla_is_used_by_new_tickets(console, street_admin, community) -> None:
    login(console, street_admin)
    text = editor_text(console.get("/console/config/sla"))
    text = text.replace('response_calendar = "office" #', 'response_calendar = "24x7" #')
    text = text.replace('name = "物业报修"\nkind = "repair"\n',
                        'name = "物业报修"\nkind = "repair"\nresponse_minutes = 15\n')
    tried = post(console, "/console/config/try", {"name": "sla", "message": "3号楼2单元501 楼道灯坏了",
                                                  "text": text}, headers={"HX-Request": "true"})
    due = local(START + timedelta(minutes=15))
    assert due.strftime("%Y-%m-%d %H:%M") in tried.text
    page = post(console, "/console/config/sla", {"text": text, "version": "0"})
    assert "已保存（第1版）" in page.text
    with Session(community) as session:
        ticket = docs.try_message(session, console.app.state.live_config.base,
                                  "3号楼2单元501 楼道灯坏了", START)
    assert ticket.response_due_at == START + timedelta(minutes=15)
    assert sla.load().policy_named("物业报修").response_s == 15 * 60


def test_posts_need_the_csrf_token(console, street_admin, community) -> None:
    login(console, street_admin)
    response = console.post("/console/config/sla", data={"text": "x", "version": "0"})
    assert response.status_code == 403
    response = console.post("/console/config/lexicon/reset", data={"intent": "repair"})
    assert response.status_code == 403

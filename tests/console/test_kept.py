"""「待人工处理」 over HTTP: a message the bot could not place (sent through the webhook as a
resident would) is listed for community staff, answered (an outbox push to that resident)
or turned into exactly one ticket in the right grid; CSRF, audit, scope and capability."""

from __future__ import annotations

import html
import re

import pytest
from sqlmodel import Session, select

from bot.demo import MORE_COMMUNITY_FILES
from bot.devtools.simulator import WeChatSimulator
from services.messages import msg
from storage.accounts import AuditEntry
from storage.importer import import_file
from storage.models import (
    Building,
    Community,
    Grid,
    InboundMessage,
    Outbox,
    Place,
    Resident,
    Ticket,
)
from tests.console.conftest import login, post

UNPLACEABLE = "阿巴阿巴"
"""A message the bot cannot place (kept for staff: ``handlers.chitchat.other``)."""


@pytest.fixture
def sim(settings, clock) -> WeChatSimulator:
    return WeChatSimulator(settings.wechat_token, settings.wechat_app_id, None,
                           now=lambda: clock().timestamp())


def say(console, sim: WeChatSimulator, openid: str, text: str) -> str:
    delivery = sim.text(openid, text)
    response = console.post("/wechat", params=delivery.params, content=delivery.body)
    assert response.status_code == 200, response.text
    return sim.reply_text(response.content)


def kept_message(console, sim, openid: str = "oKept1", text: str = UNPLACEABLE,
                 home: int | None = None) -> InboundMessage:
    """Send ``text`` as resident ``openid`` (with home building ``home`` of 幸福新社区) and
    return the kept message."""
    assert say(console, sim, openid, text) == msg("fallback")
    engine = console.app.state.engine
    with Session(engine, expire_on_commit=False) as s:
        resident = s.exec(select(Resident).where(Resident.openid == openid)).one()
        if home is not None:
            building = building_of(s, home)
            resident.building_id, resident.community_id = building.id, building.community_id
            resident.unit, resident.room, resident.phone = 1, "302", "13912340000"
            s.add(resident)
            s.commit()
        return s.exec(select(InboundMessage).where(InboundMessage.openid == openid,
                                                   InboundMessage.content == text)).one()


def building_of(s: Session, number: int, community: str = "幸福新社区") -> Building:
    return s.exec(select(Building).join(Community, Community.id == Building.community_id)
                  .where(Building.number == number, Community.name == community)).one()


def pushes_to(console, openid: str) -> list[Outbox]:
    with Session(console.app.state.engine) as s:
        return list(s.exec(select(Outbox).where(Outbox.openid == openid).order_by(Outbox.id)))


def audits(console, action: str) -> list[AuditEntry]:
    with Session(console.app.state.engine) as s:
        return list(s.exec(select(AuditEntry).where(AuditEntry.action == action)))


def test_the_list_shows_a_message_the_bot_kept(console, sim):
    message = kept_message(console, sim, home=6)
    login(console, "admin-1")
    page = console.get("/console/kept")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert UNPLACEABLE in text and msg("fallback") in text
    assert "139****0000" in text and "6号楼1单元302" in text and "幸福新社区" in text
    assert f'action="/console/kept/{message.id}/answer"' in page.text
    assert f'action="/console/kept/{message.id}/ticket"' in page.text
    assert 'value="complaint:噪音"' in page.text  # the categories file's choices
    assert "未识别" in text  # the bot's guess ("other") as staff read it
    assert "将以客服消息送达" in text  # the resident wrote just now: inside the 48 h window
    assert re.search(r"<h1>待人工处理 <span[^>]*>1</span>", page.text)


def test_the_nav_shows_how_many_wait(console, sim):
    login(console, "admin-1")
    badge = re.compile(r'href="/console/kept"[^>]*>待人工处理 <span class="badge warn"[^>]*>(\d+)</span>')
    assert not badge.search(console.get("/console/").text)  # nothing waits: no badge
    kept_message(console, sim, home=6)
    kept_message(console, sim, openid="oKept2", home=3)
    assert badge.search(console.get("/console/").text).group(1) == "2"


def test_an_answer_goes_to_that_resident_through_the_outbox(console, sim):
    message = kept_message(console, sim, home=6)
    login(console, "admin-1")
    before = len(pushes_to(console, "oKept1"))
    done = post(console, f"/console/kept/{message.id}/answer",
                {"text": "您好，您的问题我们已收到，稍后电话联系您。"})
    assert done.status_code == 200 and "已回复居民" in done.text  # redirected back to the list
    pushes = pushes_to(console, "oKept1")[before:]
    assert [(p.recipient_kind, p.event) for p in pushes] == [("resident", "kept.push_answer")]
    assert "您好，您的问题我们已收到，稍后电话联系您。" in pushes[0].text
    [entry] = audits(console, "kept.answer")
    assert (entry.worker_id, entry.target_id) == (console.me.id, str(message.id))
    assert UNPLACEABLE not in html.unescape(console.get("/console/kept").text)
    assert UNPLACEABLE in html.unescape(console.get("/console/kept?handled=1").text)
    again = post(console, f"/console/kept/{message.id}/answer", {"text": "再发一次"})
    assert again.status_code == 409 and msg("kept.already_handled") in again.text
    assert len(pushes_to(console, "oKept1")) == before + 1


def test_an_answer_needs_the_csrf_token(console, sim):
    message = kept_message(console, sim, home=6)
    login(console, "admin-1")
    refused = console.post(f"/console/kept/{message.id}/answer", data={"text": "您好"})
    assert refused.status_code == 403
    empty = post(console, f"/console/kept/{message.id}/answer", {"text": "  "})
    assert empty.status_code == 422 and msg("kept.answer_empty") in empty.text
    assert not [p for p in pushes_to(console, "oKept1") if p.event == "kept.push_answer"]


def test_to_ticket_makes_exactly_one_ticket_in_the_right_grid(console, sim):
    message = kept_message(console, sim, text="阿巴阿巴 阿巴")  # no home known
    login(console, "admin-1")
    with Session(console.app.state.engine) as s:
        target = building_of(s, 10)  # 第三网格 (worker-g3)
    done = post(console, f"/console/kept/{message.id}/ticket",
                {"category": "repair:楼道灯", "where": f"building:{target.id}"})
    assert done.status_code == 200
    with Session(console.app.state.engine) as s:
        [ticket] = s.exec(select(Ticket)).all()
        assert s.get(Grid, ticket.grid_id).code == "G03"
        assert (ticket.kind, ticket.category, ticket.building_id) == ("repair", "楼道灯", target.id)
        assert ticket.source_msg_id == message.id
    assert f"已转为工单 {ticket.number}" in html.unescape(done.text)
    told = [p for p in pushes_to(console, "oKept1") if p.event == "kept.push_ticket_opened"]
    assert len(told) == 1 and ticket.number in told[0].text
    assert [p.event for p in pushes_to(console, "worker-g3")] == ["task_assigned"]
    [entry] = audits(console, "kept.ticket")
    assert entry.detail["ticket"] == ticket.number
    second = post(console, f"/console/kept/{message.id}/ticket",
                  {"category": "repair:楼道灯", "where": f"building:{target.id}"})
    assert second.status_code == 409
    with Session(console.app.state.engine) as s:
        assert len(s.exec(select(Ticket)).all()) == 1
    page = html.unescape(console.get("/console/kept?handled=1").text)
    assert f'/console/tickets/{ticket.number}' in page


def test_to_ticket_at_home_by_default(console, sim):
    message = kept_message(console, sim, home=6)  # 第二网格
    login(console, "admin-1")
    done = post(console, f"/console/kept/{message.id}/ticket",
                {"category": "complaint:", "where": ""})
    assert done.status_code == 200
    with Session(console.app.state.engine) as s:
        ticket = s.exec(select(Ticket)).one()
        assert s.get(Grid, ticket.grid_id).code == "G02" and ticket.category is None
    bad = post(console, f"/console/kept/{message.id}/ticket", {"category": "praise:x"})
    assert bad.status_code in (409, 422)


def test_to_ticket_needs_a_category(console, sim):
    message = kept_message(console, sim, home=6)
    login(console, "admin-1")
    refused = post(console, f"/console/kept/{message.id}/ticket", {"category": ""})
    assert refused.status_code == 422 and msg("kept.choose_category") in refused.text
    with Session(console.app.state.engine) as s:
        assert s.exec(select(Ticket)).all() == []


def test_staff_of_another_community_neither_see_nor_act(console, sim):
    with Session(console.app.state.engine) as s:
        for path in MORE_COMMUNITY_FILES:
            import_file(s, path)
        s.commit()
    message = kept_message(console, sim, home=6)  # a 幸福新社区 resident
    login(console, "yg-admin")  # 阳光社区
    page = console.get("/console/kept")
    assert page.status_code == 200 and UNPLACEABLE not in html.unescape(page.text)
    for url, data in ((f"/console/kept/{message.id}/answer", {"text": "您好"}),
                      (f"/console/kept/{message.id}/ticket", {"category": "complaint:"})):
        assert post(console, url, data).status_code == 404
    assert not [p for p in pushes_to(console, "oKept1") if p.event.startswith("kept.")]
    with Session(console.app.state.engine) as s:
        assert s.exec(select(Ticket)).all() == []


def test_a_grid_worker_has_no_kept_page(console, sim):
    message = kept_message(console, sim, home=2)  # worker-g1's own grid
    login(console, "worker-g1")
    assert console.get("/console/kept").status_code == 403
    assert post(console, f"/console/kept/{message.id}/answer", {"text": "您好"}).status_code == 403
    assert 'href="/console/kept"' not in console.get("/console/").text  # no nav link


def test_not_logged_in_goes_to_the_login_page(console):
    page = console.get("/console/kept", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/console/login")


def test_the_to_ticket_form_has_unit_and_room_prefilled_from_the_home(console, sim):
    message = kept_message(console, sim, home=6)  # 6号楼1单元302
    stranger = kept_message(console, sim, openid="oKept2", text="阿巴 阿巴阿巴")  # no home
    login(console, "admin-1")
    page = console.get("/console/kept").text
    form = page[page.index(f'action="/console/kept/{message.id}/ticket"'):]
    form = form[:form.index("</form>")]
    assert re.search(r'<input name="unit"[^>]*value="1"', form), form
    assert re.search(r'<input name="room"[^>]*value="302"', form), form
    other = page[page.index(f'action="/console/kept/{stranger.id}/ticket"'):]
    other = other[:other.index("</form>")]
    assert re.search(r'<input name="unit"[^>]*value=""', other), other
    assert re.search(r'<input name="room"[^>]*value=""', other), other


def test_to_ticket_on_a_building_with_unit_and_room(console, sim):
    message = kept_message(console, sim, home=6)
    login(console, "admin-1")
    with Session(console.app.state.engine) as s:
        target = building_of(s, 10)
    done = post(console, f"/console/kept/{message.id}/ticket",
                {"category": "repair:楼道灯", "where": f"building:{target.id}",
                 "unit": "２", "room": " 501"})  # a full-width digit, a space, as typed
    assert done.status_code == 200, done.text
    with Session(console.app.state.engine) as s:
        ticket = s.exec(select(Ticket)).one()
    assert (ticket.building_id, ticket.unit, ticket.room) == (target.id, 2, "501")


def test_at_home_the_prefilled_values_keep_the_home_and_a_changed_room_replaces_it(console, sim):
    same = kept_message(console, sim, home=6)
    moved = kept_message(console, sim, openid="oKept2", text="阿巴 阿巴阿巴", home=6)
    login(console, "admin-1")
    assert post(console, f"/console/kept/{same.id}/ticket",
                {"category": "complaint:", "where": "", "unit": "1", "room": "302"}
                ).status_code == 200
    assert post(console, f"/console/kept/{moved.id}/ticket",
                {"category": "complaint:", "where": "", "unit": "1", "room": "402"}
                ).status_code == 200
    with Session(console.app.state.engine) as s:
        home = building_of(s, 6)
        by_message = {t.source_msg_id: t for t in s.exec(select(Ticket))}
        assert s.get(Grid, by_message[moved.id].grid_id).code == "G02"
    assert [(t.building_id, t.unit, t.room) for t in (by_message[same.id], by_message[moved.id])
            ] == [(home.id, 1, "302"), (home.id, 1, "402")]


@pytest.mark.parametrize(("unit", "room", "error"), [
    ("100", "", "kept.bad_unit"), ("0", "", "kept.bad_unit"), ("二", "", "kept.bad_unit"),
    ("", "50", "kept.bad_room"), ("", "0000", "kept.bad_room"), ("", "12345", "kept.bad_room"),
    ("", "5a1", "kept.bad_room"), ("2单元", "", "kept.bad_unit"), ("", "501室", "kept.bad_room"),
])
def test_a_unit_or_room_the_chat_would_not_read_is_refused(console, sim, unit, room, error):
    message = kept_message(console, sim, home=6)
    login(console, "admin-1")
    with Session(console.app.state.engine) as s:
        target = building_of(s, 10)
    refused = post(console, f"/console/kept/{message.id}/ticket",
                   {"category": "repair:楼道灯", "where": f"building:{target.id}",
                    "unit": unit, "room": room})
    assert refused.status_code == 422
    expected = msg(error, max=99) if error == "kept.bad_unit" else msg(error)
    assert expected in html.unescape(refused.text)
    with Session(console.app.state.engine) as s:
        assert s.exec(select(Ticket)).all() == []
        assert s.get(InboundMessage, message.id).handled_at is None


def test_a_room_at_an_unknown_home_asks_for_a_building(console, sim):
    message = kept_message(console, sim)  # no home registered
    login(console, "admin-1")
    refused = post(console, f"/console/kept/{message.id}/ticket",
                   {"category": "complaint:", "where": "", "room": "501"})
    assert refused.status_code == 422
    assert msg("kept.home_unknown") in html.unescape(refused.text)
    with Session(console.app.state.engine) as s:
        assert s.exec(select(Ticket)).all() == []


def test_a_place_takes_no_unit_or_room(console, sim):
    message = kept_message(console, sim, home=6)
    login(console, "admin-1")
    with Session(console.app.state.engine) as s:
        gate = s.exec(select(Place).where(Place.name == "东门")).one()
    done = post(console, f"/console/kept/{message.id}/ticket",
                {"category": "complaint:", "where": f"place:{gate.id}", "unit": "1",
                 "room": "302"})  # the home's prefilled values, left as they were
    assert done.status_code == 200, done.text
    with Session(console.app.state.engine) as s:
        ticket = s.exec(select(Ticket)).one()
    assert (ticket.place_id, ticket.building_id, ticket.unit, ticket.room) == (
        gate.id, None, None, None)

"""Several communities on one account, over the webhook: the demo's 街道 with 幸福新社区,
阳光社区 (小区 阳光小区, 阳光花园) and 和谐社区 (和谐家园) — all three have a grid G01 and a
building 1. A resident's community comes from the QR code they scanned, an estate they
name, or their answer to one numbered question; routing then stays in that community."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from bot.demo import MORE_COMMUNITY_FILES
from services.messages import msg
from storage import estates
from storage.models import Building, Community, Grid, Resident
from tests.org_support import demo_communities

ASK_OPTIONS = "\n".join(msg("community.option", n=n, name=name) for n, name in enumerate(
    ["幸福新社区", "阳光小区", "阳光花园", "和谐家园"], start=1))


@pytest.fixture
def street(community):
    """The demo community plus 阳光社区 and 和谐社区; {name: id}."""
    with Session(community) as s:
        return demo_communities(s, MORE_COMMUNITY_FILES)


@pytest.fixture
def schat(street, make_chat, clock):
    chat = make_chat()
    chat.clock = clock
    return chat


def _resident(chat, openid: str) -> Resident:
    with Session(chat.engine) as s:
        return s.exec(select(Resident).where(Resident.openid == openid)).one()


def _grid_of(chat, ticket) -> tuple[str, str]:
    """(community name, grid code) of a ticket."""
    with Session(chat.engine) as s:
        grid = s.get(Grid, ticket.grid_id)
        return s.get(Community, grid.community_id).name, grid.code


def test_three_communities_share_grid_code_and_building_number(street, community):
    with Session(community) as s:
        grids = s.exec(select(Grid).where(Grid.code == "G01")).all()
        ones = s.exec(select(Building).where(Building.number == 1)).all()
    assert {g.community_id for g in grids} == set(street.values())
    assert {b.community_id for b in ones} == set(street.values())


def test_subscribe_by_a_community_qr_code_routes_there(schat, street):
    scene = estates.scene_for(community_id=street["阳光社区"])
    reply = schat.event("y1", "subscribe", "qrscene_" + scene)
    assert reply == msg("welcome") + "\n" + msg("community.noted", name="阳光社区")
    assert _resident(schat, "y1").community_id == street["阳光社区"]
    opened = schat.say("y1", "1号楼2单元301 楼道灯坏了")
    assert "陈静" in opened
    [ticket] = schat.tickets()
    assert _grid_of(schat, ticket) == ("阳光社区", "G01")
    assert len(schat.pushes("yg-worker-g1")) == 1 and schat.pushes("worker-g1") == []


def test_scan_by_a_follower_with_a_building_code(schat, street, community):
    with Session(community) as s:
        building = s.exec(select(Building).where(Building.community_id == street["和谐社区"],
                                                 Building.number == 1)).one()
    # an existing follower scans (SCAN: the scene without qrscene_)
    reply = schat.event("h1", "SCAN", estates.scene_for(building_id=building.id))
    assert reply == msg("community.noted", name="和谐社区")
    schat.say("h1", "1号楼1单元101 下水道堵了")
    [ticket] = schat.tickets()
    assert _grid_of(schat, ticket) == ("和谐社区", "G01")
    assert ticket.building_id == building.id


def test_unknown_resident_gets_one_numbered_question_then_the_report_opens(schat, street):
    assert schat.say("u1", "楼道灯坏了") == msg("community.ask", options=ASK_OPTIONS)
    # 3 = 阳光花园 (阳光社区): the waiting report goes on, asking the address there
    assert schat.say("u1", "3") == msg("ask_address")
    resident = _resident(schat, "u1")
    assert (resident.community_id, resident.estate) == (street["阳光社区"], "阳光花园")
    assert "刘洋" in schat.say("u1", "5号楼1单元201")
    [ticket] = schat.tickets()
    assert _grid_of(schat, ticket) == ("阳光社区", "G02")


def test_the_question_is_asked_once_more_then_kept_for_staff(schat):
    schat.say("u2", "楼道灯坏了")
    assert schat.say("u2", "不知道") == msg("community.ask_again", options=ASK_OPTIONS)
    assert schat.say("u2", "随便") == msg("community.gave_up")
    assert schat.tickets() == []


def test_an_estate_name_in_the_message_decides(schat, street):
    opened = schat.say("e1", "和谐家园1号楼2单元502 厨房漏水了")
    assert "吴磊" in opened
    # on an account of several communities, addresses read with their estate
    assert msg("address_saved", address="和谐家园1号楼2单元502") in opened
    [ticket] = schat.tickets()
    assert _grid_of(schat, ticket) == ("和谐社区", "G01")
    resident = _resident(schat, "e1")
    assert (resident.community_id, resident.estate) == (street["和谐社区"], "和谐家园")


def test_an_estate_name_with_another_ending_still_decides(schat, street):
    # 阳光家园 is not a listed name, but only one estate of the account is 阳光…
    assert "陈静" in schat.say("e2", "我住阳光家园2号楼3单元601，楼道灯不亮")
    assert _resident(schat, "e2").community_id == street["阳光社区"]


def test_the_answer_may_be_the_estate_name(schat, street):
    schat.say("u3", "电梯坏了")
    assert schat.say("u3", "阳光小区") == msg("ask_address")
    assert _resident(schat, "u3").community_id == street["阳光社区"]


def test_plain_subscribe_asks_at_once_and_a_report_instead_is_handled(schat, street):
    assert schat.event("s1", "subscribe") == (msg("welcome") + "\n"
                                              + msg("community.ask", options=ASK_OPTIONS))
    schat.clock.advance(1)
    assert schat.say("s1", "2") == msg("community.noted", name=msg(
        "community.label", estate="阳光小区", community="阳光社区"))
    schat.event("s2", "subscribe")
    # the resident ignores the question and names an estate and a problem: it is handled
    assert "吴磊" in schat.say("s2", "和谐家园3号楼1单元101 暖气不热")


def test_same_building_number_in_two_communities_goes_to_each_grid(schat, street):
    schat.event("a", "subscribe", "qrscene_" + estates.scene_for(community_id=street["幸福新社区"]))
    schat.event("b", "subscribe", "qrscene_" + estates.scene_for(community_id=street["阳光社区"]))
    schat.say("a", "1号楼1单元101 楼道灯坏了")
    schat.say("b", "1号楼1单元101 楼道灯坏了")
    first, second = schat.tickets()
    assert _grid_of(schat, first) == ("幸福新社区", "G01")
    assert _grid_of(schat, second) == ("阳光社区", "G01")
    assert first.building_id != second.building_id
    assert len(schat.pushes("worker-g1")) == 1 and len(schat.pushes("yg-worker-g1")) == 1


def test_a_scan_elsewhere_keeps_the_home(schat, street):
    schat.event("m1", "subscribe", "qrscene_" + estates.scene_for(community_id=street["幸福新社区"]))
    schat.say("m1", "5号楼2单元302 楼道灯坏了")  # home saved in 幸福新社区
    schat.clock.advance(1)
    reply = schat.event("m1", "SCAN", estates.scene_for(community_id=street["和谐社区"]))
    assert reply == msg("community.home_elsewhere", address="幸福新社区5号楼2单元302")
    assert _resident(schat, "m1").community_id == street["幸福新社区"]


def test_a_scene_not_ours_on_subscribe_asks(schat):
    reply = schat.event("x1", "subscribe", "qrscene_promo2026")
    assert reply == msg("welcome") + "\n" + msg("community.ask", options=ASK_OPTIONS)


def test_one_community_account_never_asks(chat):
    assert chat.event("o1", "subscribe") == msg("welcome")
    assert chat.say("o1", "楼道灯坏了") == msg("ask_address")


def test_a_transfer_to_a_grid_code_stays_in_the_tickets_community(schat, street):
    schat.event("t1", "subscribe", "qrscene_" + estates.scene_for(community_id=street["阳光社区"]))
    schat.say("t1", "1号楼1单元101 楼道灯坏了")
    [ticket] = schat.tickets()
    assert schat.say("yg-worker-g1", f"转派 {ticket.number} G02 不属本网格").startswith("已转派")
    [ticket] = schat.tickets()
    assert _grid_of(schat, ticket) == ("阳光社区", "G02")
    assert len(schat.pushes("yg-worker-g2")) == 1 and schat.pushes("worker-g2") == []


def test_an_emergency_in_a_building_is_found_in_the_residents_community(schat, street):
    schat.event("f1", "subscribe", "qrscene_" + estates.scene_for(community_id=street["阳光社区"]))
    schat.say("f1", "5号楼电梯里有人被困住了！")
    [ticket] = schat.tickets()
    assert ticket.urgent and _grid_of(schat, ticket) == ("阳光社区", "G02")
    assert schat.pushes("yg-worker-g2") and schat.pushes("worker-g2") == []


def test_naming_another_estate_routes_that_report_but_keeps_the_residents_community(schat, street):
    schat.event("v1", "subscribe", "qrscene_" + estates.scene_for(community_id=street["和谐社区"]))
    schat.say("v1", "阳光小区东门有人乱停车")
    [ticket] = schat.tickets()
    assert _grid_of(schat, ticket) == ("阳光社区", "G01")  # 阳光社区's 东门 is in its G01
    assert _resident(schat, "v1").community_id == street["和谐社区"]


def test_the_question_can_be_cancelled(schat):
    schat.say("c1", "楼道灯坏了")
    assert schat.say("c1", "算了，不用了") == msg("dialogue_cancelled")
    assert schat.tickets() == [] and _resident(schat, "c1").dialogue is None


def test_a_community_notice_reaches_residents_known_only_by_their_qr_code(schat, street):
    from storage.notices import audience

    schat.event("q1", "subscribe", "qrscene_" + estates.scene_for(community_id=street["和谐社区"]))
    schat.event("q2", "subscribe", "qrscene_" + estates.scene_for(community_id=street["阳光社区"]))
    schat.say("q3", "和谐家园2号楼1单元101 楼道灯坏了")  # an address in 和谐社区
    with Session(schat.engine) as s:
        label, residents = audience(s, community="和谐社区")
    assert label == "社区:和谐社区" and [r.openid for r in residents] == ["q1", "q3"]

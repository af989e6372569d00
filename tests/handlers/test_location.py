"""Where the problem is ≠ where the resident lives; photos and locations (over the webhook).

Demo community: buildings 1–4 in 第一网格 (王芳, worker-g1), 5–8 in 第二网格 (李强, worker-g2),
9–12 in 第三网格 (张敏, worker-g3); places 正门/广场/小区主路 (G02), 东门/健身区 (G01),
北门/地下车库/垃圾站 (G03); coordinates for 正门, 东门, 北门 and 12号楼.
"""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from handlers import location
from services.messages import msg
from storage.models import Building, Grid, Place, Resident, Ticket, TicketEvent


def _home(chat, openid: str, address: str = "3号楼2单元501") -> None:
    assert chat.say(openid, f"我家住{address}") == msg("address_saved", address=address)


def _resident(chat, openid: str) -> Resident:
    with Session(chat.engine) as s:
        return s.exec(select(Resident).where(Resident.openid == openid)).one()


def _grid_code(chat, ticket: Ticket) -> str:
    with Session(chat.engine) as s:
        return s.get(Grid, ticket.grid_id).code


def _place(chat, name: str) -> Place:
    with Session(chat.engine) as s:
        return s.exec(select(Place).where(Place.name == name)).one()


def _building(chat, number: int) -> Building:
    with Session(chat.engine) as s:
        return s.exec(select(Building).where(Building.number == number)).one()


def _events(chat, ticket: Ticket, kind: str) -> list[str]:
    with Session(chat.engine) as s:
        return [e.note for e in s.exec(select(TicketEvent).where(
            TicketEvent.ticket_id == ticket.id, TicketEvent.kind == kind).order_by(TicketEvent.id))]


# -- the problem's own building ---------------------------------------------------------------

def test_lift_trapped_in_another_building_keeps_the_home_address(chat):
    _home(chat, "h1")
    chat.say("h1", "5号楼电梯里有人被困住了！")
    ticket = chat.tickets()[0]
    assert ticket.building_id == _building(chat, 5).id and _grid_code(chat, ticket) == "G02"
    resident = _resident(chat, "h1")
    assert (resident.building_id, resident.unit, resident.room) == (_building(chat, 3).id, 2, "501")
    # the next report without a place still goes home (3号楼, 第一网格)
    chat.say("h1", "楼道灯坏了")
    later = chat.tickets()[-1]
    assert later.building_id == _building(chat, 3).id and _grid_code(chat, later) == "G01"
    assert (later.unit, later.room) == (2, "501")


def test_a_building_named_in_a_report_is_where_the_problem_is(chat):
    _home(chat, "h2", "10号楼1单元101")
    reply = chat.say("h2", "6号楼门口的下水道堵了")
    ticket = chat.tickets()[0]
    assert ticket.building_id == _building(chat, 6).id and "李强" in reply
    assert _resident(chat, "h2").building_id == _building(chat, 10).id


def test_first_report_without_a_home_names_a_building_only(chat):
    reply = chat.say("h3", "5号楼电梯坏了")
    assert "第二网格" in reply
    assert _resident(chat, "h3").building_id is None  # a building, not where they live
    # a household address in the first report is where they live (asked once otherwise)
    chat.say("h4", "家里厨房下水道堵了 9号楼3单元402")
    assert _resident(chat, "h4").building_id == _building(chat, 9).id


# -- public places ----------------------------------------------------------------------------

def test_square_dancing_is_filed_at_the_square(chat):
    _home(chat, "p1", "1号楼1单元101")
    reply = chat.say("p1", "晚上广场舞音响开得太大声了，吵得孩子没法写作业")
    ticket = chat.tickets()[0]
    assert ticket.place_id == _place(chat, "广场").id and ticket.building_id is None
    assert _grid_code(chat, ticket) == "G02" and "广场" in reply and "李强" in reply
    assert chat.pushes("worker-g2") and not chat.pushes("worker-g1")


def test_pothole_at_the_east_gate_goes_to_the_east_gate_grid(chat):
    _home(chat, "p2", "9号楼1单元101")
    chat.say("p2", "小区东大门口路面塌了个坑，晚上容易崴脚")
    ticket = chat.tickets()[0]
    assert ticket.place_id == _place(chat, "东门").id and _grid_code(chat, ticket) == "G01"
    assert _resident(chat, "p2").building_id == _building(chat, 9).id


def test_shared_bikes_at_the_gate_go_to_the_gate_not_home(chat):
    _home(chat, "p3", "2号楼1单元101")
    chat.say("p3", "小区门口共享单车乱停，把路都挡了")
    ticket = chat.tickets()[0]
    assert ticket.place_id == _place(chat, "正门").id and _grid_code(chat, ticket) == "G02"


def test_my_own_doorstep_is_home_not_the_estate_gate(chat):
    _home(chat, "p4", "2号楼1单元101")
    chat.say("p4", "我家门口总有人乱停车")
    ticket = chat.tickets()[0]
    assert ticket.place_id is None and ticket.building_id == _building(chat, 2).id


def test_a_second_report_at_the_same_place_is_offered_to_join(chat):
    _home(chat, "p5", "1号楼1单元101")
    _home(chat, "p6", "10号楼1单元101")
    chat.say("p5", "东门那里井盖坏了")
    first = chat.tickets()[0]
    offer = chat.say("p6", "小区东大门的井盖塌了")
    assert offer.startswith(f"东门已有同类工单{first.number}") and len(chat.tickets()) == 1
    assert chat.say("p6", "1").startswith(f"已加入工单{first.number}")
    assert len(chat.tickets()) == 1


def test_public_category_without_a_place_asks_where(chat):
    _home(chat, "w1", "2号楼1单元101")
    assert chat.say("w1", "有人乱停车，消防通道都堵了") == msg(
        "location.ask_where", places="正门、东门、北门、广场、小区主路、地下车库")
    assert not chat.tickets()
    reply = chat.say("w1", "北边后门那里")
    ticket = chat.tickets()[0]
    assert ticket.place_id == _place(chat, "北门").id and "张敏" in reply
    assert ticket.description == "有人乱停车，消防通道都堵了"


def test_where_answered_with_my_home_or_a_building(chat):
    _home(chat, "w2", "4号楼1单元101")
    chat.say("w2", "井盖坏了")
    chat.say("w2", "就在我家楼下")
    assert chat.tickets()[0].building_id == _building(chat, 4).id
    chat.say("w2", "垃圾没人清理，都臭了")
    chat.say("w2", "11号楼")
    assert chat.tickets()[1].building_id == _building(chat, 11).id
    assert _resident(chat, "w2").building_id == _building(chat, 4).id


def test_where_not_understood_twice_is_kept_as_text_for_staff(chat):
    _home(chat, "w3", "4号楼1单元101")
    chat.say("w3", "有棵树歪了快倒了")
    assert chat.say("w3", "就那边") == msg(
        "location.ask_where_again", places="正门、东门、北门、广场、小区主路、地下车库")
    chat.say("w3", "物业办公室后面")
    ticket = chat.tickets()[0]
    assert ticket.location == "物业办公室后面" and ticket.place_id is None
    assert _grid_code(chat, ticket) == "G01"  # home grid; the words are there for staff


# -- the home address changes only when the resident says so -----------------------------------

def test_saying_where_i_live_asks_to_confirm_then_changes_home(chat):
    _home(chat, "a1", "3号楼2单元501")
    assert chat.say("a1", "我家住7号楼1单元302") == msg("location.confirm_home",
                                                      address="7号楼1单元302")
    assert _resident(chat, "a1").building_id == _building(chat, 3).id
    assert chat.say("a1", "是") == msg("location.home_changed", address="7号楼1单元302")
    resident = _resident(chat, "a1")
    assert (resident.building_id, resident.unit, resident.room) == (_building(chat, 7).id, 1, "302")


def test_a_request_naming_the_home_is_still_that_request(chat):
    _home(chat, "a5", "3号楼2单元501")
    chat.say("a5", "楼道灯坏了")
    no = chat.tickets()[0].number
    reply = chat.say("a5", "我家住7号楼1单元302，我的报修到哪一步了")
    assert no in reply and "确认把住址" not in reply


def test_address_change_declined_or_moved(chat):
    _home(chat, "a2", "3号楼2单元501")
    assert chat.say("a2", "地址改为8号楼2单元201") == msg("location.confirm_home",
                                                       address="8号楼2单元201")
    assert chat.say("a2", "不用了") == msg("location.home_kept", address="3号楼2单元501")
    assert _resident(chat, "a2").building_id == _building(chat, 3).id
    assert chat.say("a2", "我搬到11号楼3单元602了") == msg("location.confirm_home",
                                                         address="11号楼3单元602")
    chat.say("a2", "对")
    assert _resident(chat, "a2").building_id == _building(chat, 11).id


def test_saying_my_own_building_again_changes_nothing(chat):
    _home(chat, "a4", "3号楼2单元501")
    assert chat.say("a4", "我家住3号楼") == msg("location.home_same", address="3号楼2单元501")
    reply = chat.say("a4", "您好，我是3号楼的业主，东门外面有人占道摆摊")
    assert chat.tickets()[0].place_id == _place(chat, "东门").id
    assert "确认把住址" not in reply and _resident(chat, "a4").unit == 2


def test_report_that_says_where_i_live_opens_then_asks_to_confirm(chat):
    _home(chat, "a3", "3号楼2单元501")
    reply = chat.say("a3", "我家住6号楼1单元101，楼道灯坏了")
    ticket = chat.tickets()[0]
    assert ticket.building_id == _building(chat, 6).id and "李强" in reply
    assert reply.endswith(msg("location.confirm_home", address="6号楼1单元101"))
    assert _resident(chat, "a3").building_id == _building(chat, 3).id
    chat.say("a3", "是")
    assert _resident(chat, "a3").building_id == _building(chat, 6).id


# -- photos and locations ----------------------------------------------------------------------

def test_photo_then_text_goes_with_the_report(chat):
    _home(chat, "m1", "1号楼1单元101")
    assert chat.send(chat.sim.image("m1", "http://img.example/manhole.jpg")) == msg("photo_kept")
    chat.say("m1", "东门那里有个井盖坏了")
    ticket = chat.tickets()[0]
    assert ticket.place_id == _place(chat, "东门").id
    assert _events(chat, ticket, "photo") == ["http://img.example/manhole.jpg"]


def test_manhole_photo_is_not_put_on_the_earlier_leak_ticket(chat):
    _home(chat, "m2", "1号楼1单元101")
    chat.say("m2", "卫生间漏水了")
    leak = chat.tickets()[0]
    offer = chat.send(chat.sim.image("m2", "http://img.example/manhole.jpg"))
    assert offer.startswith(msg("location.photo_which"))
    assert f"回复1加到工单{leak.number}（漏水" in offer and offer.endswith(msg("location.attach_new"))
    chat.say("m2", "北门井盖坏了，差点掉下去")
    leak_now, manhole = chat.tickets()
    assert _events(chat, leak_now, "photo") == []
    assert _events(chat, manhole, "photo") == ["http://img.example/manhole.jpg"]
    assert manhole.place_id == _place(chat, "北门").id and _grid_code(chat, manhole) == "G03"


def test_photo_with_open_tickets_is_added_only_to_the_picked_one(chat):
    _home(chat, "m3", "1号楼1单元101")
    chat.say("m3", "楼道灯坏了")
    chat.say("m3", "暖气不热")
    lamp, heating = chat.tickets()
    offer = chat.send(chat.sim.image("m3", "http://img.example/lamp.jpg"))
    assert f"回复1加到工单{heating.number}" in offer and f"回复2加到工单{lamp.number}" in offer
    assert chat.say("m3", "2") == msg("photo_attached", no=lamp.number)
    assert _events(chat, lamp, "photo") == ["http://img.example/lamp.jpg"]
    assert _events(chat, heating, "photo") == []
    # 0: kept for a new report
    chat.send(chat.sim.image("m3", "http://img.example/tree.jpg"))
    assert chat.say("m3", "0") == msg("photo_kept")
    chat.say("m3", "健身区旁边的大树枝快断了")
    tree = chat.tickets()[-1]
    assert _events(chat, tree, "photo") == ["http://img.example/tree.jpg"]
    assert tree.place_id == _place(chat, "健身区").id


def test_shared_location_near_a_known_place_routes_there(chat):
    _home(chat, "l1", "9号楼1单元101")
    reply = chat.send(chat.sim.location("l1", 41.80105, 123.43395, "幸福新社区东门"))
    assert reply == msg("location_kept", label="幸福新社区东门")
    chat.say("l1", "这里有人乱倒垃圾")
    ticket = chat.tickets()[0]
    assert ticket.place_id == _place(chat, "东门").id and _grid_code(chat, ticket) == "G01"
    assert (ticket.latitude, ticket.longitude) == (41.80105, 123.43395)


def test_shared_location_then_words_about_home_stays_home(chat):
    _home(chat, "l3", "3号楼2单元501")
    chat.send(chat.sim.location("l3", 41.80295, 123.43205, "幸福新社区12号楼"))
    chat.say("l3", "我家楼道灯坏了")
    ticket = chat.tickets()[0]
    assert ticket.building_id == _building(chat, 3).id and ticket.latitude == 41.80295


def test_shared_location_answers_where_and_far_away_stays_text(chat):
    _home(chat, "l2", "2号楼1单元101")
    chat.say("l2", "有人在路边乱倒建筑垃圾")
    chat.send(chat.sim.location("l2", 41.9, 123.6, "和平大街88号"))
    ticket = chat.tickets()[0]
    assert ticket.place_id is None and ticket.building_id is None
    assert ticket.location.startswith("和平大街88号") and _grid_code(chat, ticket) == "G01"


# -- reading places and home claims (the rules in handlers/location.toml) -----------------------

@pytest.mark.parametrize("text, place", [
    ("小区东门那儿", "东门"), ("东大门口", "东门"), ("东门口的路灯", "东门"), ("东边大门", "东门"),
    ("北面的大门", "北门"), ("南门外面", "正门"), ("小区门口", "正门"), ("中心广场上", "广场"),
    ("健身广场的器材", "健身区"), ("地下停车场里", "地下车库"), ("车库入口", "地下车库"),
    ("我家门口", None), ("单元门口", None), ("楼下门口", None), ("我家3-2-1702门口", None),
    ("物业办公室门口", None), ("3号楼楼道", None), ("快递柜在大门口", "正门"),
    ("楼下广场有人跳舞", "广场"),
])
def test_places_are_found_as_people_write_them(community, text, place):
    with Session(community) as s:
        found = location.find_place(s, text)
        assert (found.name if found else None) == place


@pytest.mark.parametrize("text, address", [
    ("我家住在幸福新社区3号楼2单元501", {"building": "3", "unit": 2, "room": "501"}),
    ("俺家在十号楼一单元", {"building": "10", "unit": 1}),
    ("地址改成5-2-301", {"building": "5", "unit": 2, "room": "301"}),
    ("您好，我是3号楼2单元的业主，想反映东门占道经营", {"building": "3", "unit": 2}),
    ("我家是7栋402的", {"building": "7", "room": "402"}),
    ("我是说5号楼电梯又坏了", None),
    ("住5号楼的人乱扔垃圾", None),
    ("我在5号楼电梯里被困了", None),
])
def test_home_claims_need_a_cue_before_the_address(text, address):
    claim = location.home_claim(text)
    got = claim and {k: v for k, v in claim.address.items() if k in ("building", "unit", "room")}
    assert got == address

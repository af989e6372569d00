"""「待人工处理」 in the business layer (services.kept): the messages the bot kept for staff,
listed within each staff member's scope, answered (a push to the resident) or turned into a
ticket routed like a chat report, each exactly once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from bot.demo import MORE_COMMUNITY_FILES
from services import kept, privacy
from services.errors import Invalid, NotAllowed, NotFound, WrongState
from services.messages import msg
from storage.models import (
    Building,
    Community,
    GridWorker,
    InboundMessage,
    Outbox,
    Resident,
    Role,
    Ticket,
    TicketEvent,
)
from tests.chat import START
from tests.org_support import demo_communities

LATER = START + timedelta(hours=1)


def staff(s: Session, openid: str) -> GridWorker:
    return s.exec(select(GridWorker).where(GridWorker.openid == openid)).one()


def building(s: Session, number: int, community: str = "幸福新社区") -> Building:
    return s.exec(select(Building).join(Community, Community.id == Building.community_id)
                  .where(Building.number == number, Community.name == community)).one()


def resident(s: Session, openid: str, number: int | None = 6, community: str = "幸福新社区",
             phone: str | None = "13712345678") -> Resident:
    home = building(s, number, community) if number is not None else None
    row = Resident(openid=openid, building_id=home.id if home else None,
                   community_id=home.community_id if home else None,
                   unit=2 if home else None, room="501" if home else None, phone=phone)
    s.add(row)
    s.flush()
    return row


def keep(s: Session, openid: str, text: str, minutes: int = 0, **fields) -> InboundMessage:
    """A message the bot could not place, received ``minutes`` after START."""
    values = {"msg_type": "text", "needs_staff": True, "reply": msg("fallback"),
              "intent": "chitchat", "confidence": 0.2, **fields}
    row = InboundMessage(dedup_key=f"msg:{openid}:{minutes}:{text}", openid=openid,
                         content=text, received_at=START + timedelta(minutes=minutes), **values)
    s.add(row)
    s.flush()
    return row


def street_admin(s: Session) -> GridWorker:
    row = GridWorker(openid="street-1", name="街道李科长", role=Role.STREET_ADMIN)
    s.add(row)
    s.flush()
    return row


def pushes_to(s: Session, openid: str) -> list[Outbox]:
    return list(s.exec(select(Outbox).where(Outbox.openid == openid).order_by(Outbox.id)))


@pytest.fixture
def street(community):
    """The demo community plus 阳光社区 and 和谐社区 (three communities on one account)."""
    with Session(community) as s:
        demo_communities(s, MORE_COMMUNITY_FILES)
    return community


# -- the list ---------------------------------------------------------------------------------


def test_community_staff_see_kept_messages_oldest_first(community):
    with Session(community) as s:
        r = resident(s, "oK1")
        keep(s, "oK1", "隔壁天天烧纸，烟味很大", minutes=5)
        keep(s, "oK1", "物业费怎么交", minutes=1)
        s.add(InboundMessage(dedup_key="msg:placed", openid="oK1", msg_type="text",
                             content="楼道灯坏了", received_at=START, intent="repair"))
        keep(s, "oK1", "处理出错的消息", minutes=9, needs_staff=False, error="RuntimeError: x")
        admin = staff(s, "admin-1")
        rows = kept.list_kept(s, admin, LATER)
        assert [row.content for row in rows] == ["物业费怎么交", "隔壁天天烧纸，烟味很大",
                                                 "处理出错的消息"]
        first = rows[0]
        assert (first.resident_id, first.phone, first.address, first.community) == (
            r.id, "137****5678", "6号楼2单元501", "幸福新社区")
        assert (first.reply, first.intent, first.confidence) == (msg("fallback"), "chitchat", 0.2)
        assert first.received_at.replace(tzinfo=None) == (START + timedelta(minutes=1)).replace(
            tzinfo=None)
        assert not first.anonymised and first.handled_at is None
        assert kept.count_kept(s, admin) == 3
        assert [row.content for row in kept.list_kept(s, admin, LATER, limit=1, offset=1)] == [
            "隔壁天天烧纸，烟味很大"]


def test_staff_of_another_community_do_not_see_it(street):
    with Session(street) as s:
        resident(s, "oK1")  # 幸福新社区
        resident(s, "oY1", number=2, community="阳光社区")
        mine = keep(s, "oK1", "物业费怎么交")
        theirs = keep(s, "oY1", "阳光小区有没有老年食堂", minutes=1)
        yg_admin, admin = staff(s, "yg-admin"), staff(s, "admin-1")
        assert [row.id for row in kept.list_kept(s, yg_admin, LATER)] == [theirs.id]
        assert [row.id for row in kept.list_kept(s, admin, LATER)] == [mine.id]
        assert kept.count_kept(s, yg_admin) == 1
        with pytest.raises(NotFound):
            kept.get_kept(s, mine.id, yg_admin)
        with pytest.raises(NotFound):
            kept.answer(s, mine.id, yg_admin, "您好", LATER)
        with pytest.raises(NotFound):
            kept.to_ticket(s, mine.id, yg_admin, "complaint", None, LATER)
        assert mine.handled_at is None and not pushes_to(s, "oK1")
        boss = street_admin(s)
        assert [row.id for row in kept.list_kept(s, boss, LATER)] == [mine.id, theirs.id]


def test_a_sender_of_unknown_community_is_the_only_communitys_or_the_streets(community, street):
    with Session(street) as s:  # three communities: nobody can tell whose it is
        resident(s, "oU1", number=None)
        unknown = keep(s, "oU1", "你们是哪个社区的")
        assert kept.list_kept(s, staff(s, "admin-1"), LATER) == []
        row = kept.list_kept(s, street_admin(s), LATER)[0]
        assert (row.id, row.community, row.address, row.phone) == (unknown.id, None, None,
                                                                    "137****5678")


def test_with_one_community_an_unknown_sender_is_its_staffs(community):
    with Session(community) as s:
        resident(s, "oU1", number=None, phone=None)
        unknown = keep(s, "oU1", "你们是哪个社区的")
        row = kept.get_kept(s, unknown.id, staff(s, "admin-1"))
        assert (row.community, row.phone) == (None, None)


def test_staff_without_the_kept_capability_are_refused(community):
    with Session(community) as s:
        resident(s, "oK1")
        message = keep(s, "oK1", "物业费怎么交")
        keeper = GridWorker(openid="station-x", name="驿站小张", role=Role.STATION_STAFF,
                            community_id=staff(s, "admin-1").community_id)
        s.add(keeper)
        s.flush()
        with pytest.raises(NotAllowed):
            kept.list_kept(s, keeper, LATER)
        with pytest.raises(NotAllowed):
            kept.answer(s, message.id, keeper, "您好", LATER)
        assert kept.count_kept(s, keeper) == 0


# -- answering --------------------------------------------------------------------------------


def test_an_answer_goes_to_the_resident_once(community):
    with Session(community) as s:
        resident(s, "oK1")
        message = keep(s, "oK1", "物业费怎么交")
        admin = staff(s, "admin-1")
        kept.answer(s, message.id, admin, "  物业费可在社区服务大厅或物业App缴纳。 ", LATER)
        [push] = pushes_to(s, "oK1")
        assert push.recipient_kind == "resident" and push.event == "kept.push_answer"
        assert push.text == msg("kept.push_answer", asked="物业费怎么交",
                                text="物业费可在社区服务大厅或物业App缴纳。")
        assert push.data["keyword2"] == "物业费可在社区服务大厅或物业App缴纳。"
        assert (message.handled_by_id, message.staff_reply) == (
            admin.id, "物业费可在社区服务大厅或物业App缴纳。")
        assert message.handled_at == LATER and message.handled_ticket_id is None
        assert kept.list_kept(s, admin, LATER) == [] and kept.count_kept(s, admin) == 0
        [row] = kept.list_kept(s, admin, LATER, include_handled=True)
        assert (row.handled_by, row.staff_reply) == ("赵主任", message.staff_reply)
        with pytest.raises(WrongState, match=msg("kept.already_handled")):
            kept.answer(s, message.id, admin, "再说一遍", LATER)
        with pytest.raises(WrongState):
            kept.to_ticket(s, message.id, admin, "complaint", None, LATER)
        assert len(pushes_to(s, "oK1")) == 1


def test_an_empty_or_overlong_answer_is_refused(community):
    with Session(community) as s:
        resident(s, "oK1")
        message = keep(s, "oK1", "物业费怎么交")
        admin = staff(s, "admin-1")
        with pytest.raises(Invalid, match=msg("kept.answer_empty")):
            kept.answer(s, message.id, admin, "   ", LATER)
        with pytest.raises(Invalid):
            kept.answer(s, message.id, admin, "好" * (kept.ANSWER_MAX_CHARS + 1), LATER)
        assert message.handled_at is None and not pushes_to(s, "oK1")


def test_a_forgotten_resident_cannot_be_answered(community):
    with Session(community) as s:
        r = resident(s, "oK1")
        message = keep(s, "oK1", "我的电话13712345678，麻烦回电")
        privacy.forget_resident(s, r, LATER)
        s.flush()
        s.refresh(message)
        admin = staff(s, "admin-1")
        [row] = kept.list_kept(s, admin, LATER)  # still listed: the building stays known
        assert row.id == message.id and row.anonymised and row.phone is None
        assert (row.resident_id, row.community) == (r.id, "幸福新社区")  # found by "anon:<id>"
        assert "13712345678" not in (row.content or "")
        with pytest.raises(Invalid, match=msg("kept.resident_gone")):
            kept.answer(s, message.id, admin, "您好", LATER)
        with pytest.raises(Invalid):
            kept.to_ticket(s, message.id, admin, "complaint", None, LATER)
        assert message.handled_at is None
        assert s.exec(select(Ticket)).all() == []


# -- turning into a ticket --------------------------------------------------------------------


def test_a_kept_message_becomes_one_ticket_at_the_residents_home(community):
    with Session(community) as s:
        r = resident(s, "oK1", number=6)  # 6号楼: 第二网格, 李强
        message = keep(s, "oK1", "楼上每天晚上十二点还在拖椅子")
        admin = staff(s, "admin-1")
        ticket = kept.to_ticket(s, message.id, admin, "complaint", "噪音", LATER)
        assert (ticket.kind, ticket.category, ticket.description) == (
            "complaint", "噪音", "楼上每天晚上十二点还在拖椅子")
        assert ticket.grid_id == building(s, 6).grid_id
        assert ticket.assignee_id == staff(s, "worker-g2").id
        assert (ticket.resident_id, ticket.source_msg_id) == (r.id, message.id)
        assert (ticket.building_id, ticket.unit, ticket.room) == (building(s, 6).id, 2, "501")
        assert [p.event for p in pushes_to(s, "worker-g2")] == ["task_assigned"]
        [told] = pushes_to(s, "oK1")
        assert told.event == "kept.push_ticket_opened" and told.ticket_id == ticket.id
        assert ticket.number in told.text and "李强" in told.text
        assert told.text.startswith(msg("kept.push_ticket_opened", asked="楼上每天晚上十二点还在拖椅子",
                                        opened="").rstrip())
        assert (message.handled_ticket_id, message.handled_by_id) == (ticket.id, admin.id)
        [row] = kept.list_kept(s, admin, LATER, include_handled=True)
        assert row.ticket_number == ticket.number
        with pytest.raises(WrongState):
            kept.to_ticket(s, message.id, admin, "complaint", "噪音", LATER)
        assert len(s.exec(select(Ticket)).all()) == 1
        assert len(pushes_to(s, "oK1")) == 1


def test_staff_may_say_where_the_problem_is(community):
    with Session(community) as s:
        resident(s, "oK1", number=6)
        message = keep(s, "oK1", "那边的灯一直不亮")
        place_building = building(s, 10)  # 第三网格
        ticket = kept.to_ticket(s, message.id, staff(s, "admin-1"), "repair", None, LATER,
                                building_id=place_building.id, unit=1)
        assert (ticket.building_id, ticket.unit, ticket.room) == (place_building.id, 1, None)
        assert ticket.assignee_id == staff(s, "worker-g3").id


def test_a_picture_becomes_a_ticket_with_the_photo(community):
    with Session(community) as s:
        resident(s, "oK1")
        message = keep(s, "oK1", "http://mmbiz.example/pic.jpg", msg_type="image")
        ticket = kept.to_ticket(s, message.id, staff(s, "admin-1"), "complaint", "楼道堆物",
                                LATER)
        assert ticket.description == msg("kept.photo_description")
        photos = s.exec(select(TicketEvent.note).where(TicketEvent.ticket_id == ticket.id,
                                                        TicketEvent.kind == "photo")).all()
        assert photos == ["http://mmbiz.example/pic.jpg"]


def test_a_bad_kind_category_or_building_makes_nothing(community):
    with Session(community) as s:
        resident(s, "oK1")
        message = keep(s, "oK1", "楼道里堆满了纸箱")
        admin = staff(s, "admin-1")
        with pytest.raises(Invalid):
            kept.to_ticket(s, message.id, admin, "praise", None, LATER)
        with pytest.raises(Invalid, match="噪音"):
            kept.to_ticket(s, message.id, admin, "repair", "噪音", LATER)  # a complaint's
        with pytest.raises(Invalid):
            kept.to_ticket(s, message.id, admin, "complaint", "楼道堆物", LATER,
                           building_id=999_999)
        assert message.handled_at is None and s.exec(select(Ticket)).all() == []


def test_where_choices_are_the_senders_community_buildings_then_places(street):
    with Session(street) as s:
        resident(s, "oY1", number=2, community="阳光社区")
        resident(s, "oU1", number=None)
        keep(s, "oY1", "东门那边有人乱停车")
        keep(s, "oU1", "你们是哪个社区的", minutes=1)
        boss = street_admin(s)
        theirs, unknown = kept.list_kept(s, boss, LATER)
        choices = kept.where_choices(s, boss, theirs)
        assert [label for _, _, label in choices] == [
            "阳光社区1号楼", "阳光社区2号楼", "阳光社区3号楼", "阳光社区4号楼", "阳光社区5号楼",
            "阳光社区6号楼", "阳光社区东门"]
        assert choices[0] == ("building", building(s, 1, "阳光社区").id, "阳光社区1号楼")
        every = kept.where_choices(s, boss, unknown)  # unknown: all the street's
        assert {label[:4] for _, _, label in every} == {"幸福新社", "阳光社区", "和谐社区"}


def test_in_window_tells_whether_a_customer_service_message_still_reaches_them(community):
    with Session(community) as s:
        r = resident(s, "oK1")
        r.last_message_at = START
        keep(s, "oK1", "物业费怎么交")
        admin = staff(s, "admin-1")
        assert kept.list_kept(s, admin, START + timedelta(hours=47))[0].in_window
        assert not kept.list_kept(s, admin, START + timedelta(hours=49))[0].in_window


def test_staff_cannot_file_it_into_another_communitys_building(street):
    with Session(street) as s:
        resident(s, "oK1")  # 幸福新社区
        message = keep(s, "oK1", "那边的路灯不亮")
        elsewhere = building(s, 2, "阳光社区")
        with pytest.raises(NotAllowed):
            kept.to_ticket(s, message.id, staff(s, "admin-1"), "repair", None, LATER,
                           building_id=elsewhere.id)
        assert message.handled_at is None and s.exec(select(Ticket)).all() == []
        ticket = kept.to_ticket(s, message.id, street_admin(s), "repair", None, LATER,
                                building_id=elsewhere.id)  # the street's admin may
        assert ticket.grid_id == elsewhere.grid_id


def test_forgetting_a_resident_scrubs_staffs_answer_too(community):
    with Session(community) as s:
        r = resident(s, "oK1")
        message = keep(s, "oK1", "请回电")
        kept.answer(s, message.id, staff(s, "admin-1"), "好的，稍后拨打13712345678联系您", LATER)
        privacy.forget_resident(s, r, LATER)
        s.flush()
        s.refresh(message)
        assert "13712345678" not in message.staff_reply and "稍后拨打" in message.staff_reply
        assert message.handled_at is not None  # kept for statistics

"""services.emergency called directly (no chat): the same emergency told again, the call-back
phone and the place onto the ticket and to its workers and grid leaders, the numbers to dial
(the property company of the ticket's own community first, then a street-level one)."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, select

from services import emergency, tickets
from services.messages import msg
from storage.models import Community, Department, Outbox, Ticket, TicketEvent
from tests.chat import START
from tests.org_support import org
from tests.services.test_tickets import building, resident


def _urgent(s: Session, who, category: str = "急救", number: int = 3,
            at=START) -> Ticket:
    report = tickets.NewTicket(kind="emergency", category=category, description="老人摔倒了",
                               urgent=True, building_id=building(s, number).id)
    return tickets.open_ticket(s, tickets.Reporter.of(who), report, at)


def _updates(s: Session, ticket: Ticket) -> list[tuple[str, str]]:
    return [(p.openid, p.text) for p in s.exec(
        select(Outbox).where(Outbox.ticket_id == ticket.id,
                             Outbox.event == emergency.UPDATE_EVENT).order_by(Outbox.id))]


def test_the_same_emergency_told_again_is_found_within_the_window_only(community):
    with Session(community) as s:
        r = resident(s, "oE1")
        t = _urgent(s, r)
        soon = START + timedelta(seconds=emergency.REPEAT_WINDOW_S - 60)
        assert emergency.repeat_of(s, r.id, "急救", soon).id == t.id
        assert emergency.repeat_of(s, r.id, "燃气", soon) is None  # another kind of danger
        late = START + timedelta(seconds=emergency.REPEAT_WINDOW_S + 60)
        assert emergency.repeat_of(s, r.id, "急救", late) is None
        other = resident(s, "oE2")
        assert emergency.repeat_of(s, other.id, "急救", soon) is None


def test_call_back_phone_goes_on_resident_timeline_worker_and_leader(community):
    with Session(community) as s:
        r = resident(s, "oE3")
        t = _urgent(s, r)
        emergency.give_phone(s, t, r, "13912345678", START + timedelta(minutes=1))
        assert r.phone == "13912345678"
        notes = [e.note for e in s.exec(select(TicketEvent).where(
            TicketEvent.ticket_id == t.id, TicketEvent.kind == "supplement"))]
        assert notes == [msg("emergency.phone_note", phone="13912345678")]
        text = msg("emergency.push_phone", no=t.number, phone="13912345678")
        assert _updates(s, t) == [("worker-g1", text), ("leader-g1", text)]


def test_place_and_more_words_are_recorded_and_pushed(community):
    with Session(community) as s:
        r = resident(s, "oE4")
        t = _urgent(s, r)
        emergency.give_place(s, t, r, "东门", START)
        emergency.add_words(s, t, r, "人还在地上", START)
        events = [(e.kind, e.note) for e in s.exec(select(TicketEvent).where(
            TicketEvent.ticket_id == t.id).order_by(TicketEvent.id))][-2:]
        assert events == [("location", "东门"), ("supplement", "人还在地上")]
        assert [text for who, text in _updates(s, t) if who == "worker-g1"] == [
            msg("emergency.push_where", no=t.number, where="东门"),
            msg("emergency.push_more", no=t.number, text="人还在地上")]


def test_property_phone_of_the_ticket_community_first_then_the_street_level_one(community):
    with Session(community) as s:
        s.add(Department(name="街道物业管理办", community_id=None, phone="024-11112222"))
        r = resident(s, "oE5")
        t = _urgent(s, r, category="电梯")
        assert emergency.property_phone(s, t) == "024-88886666"  # 幸福新社区's 物业公司
        assert emergency.numbers_text(s, ("96333", "property"), t, "96777") == (
            msg("emergency.joiner").join([msg("emergency.number_96333"),
                                          msg("emergency.number_property",
                                              phone="024-88886666")]))
        # a community with no property company of its own: the street-level one
        home = s.exec(select(Community)).first()
        blank = org(s, {"空白社区": {"G01 一网格": []}}, street_id=home.street_id)
        other, grid = blank.community(), blank.grid("G01")
        t.grid_id = grid.id
        assert emergency.property_phone(s, t) == "024-11112222"
        # once it has one (added after the street-level one), its own comes first
        s.add(Department(name="空白物业", community_id=other.id, phone="024-33334444"))
        s.flush()
        assert emergency.property_phone(s, t) == "024-33334444"


def test_placeless_means_no_building_place_or_point():
    assert emergency.placeless(Ticket(number="x", kind="emergency", description=""))
    assert not emergency.placeless(Ticket(number="x", kind="emergency", description="",
                                          building_id=1))
    assert not emergency.placeless(Ticket(number="x", kind="emergency", description="",
                                          latitude=41.8, longitude=123.4))

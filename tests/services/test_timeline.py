"""The ticket page's data (services.timeline): every step and every push with its delivery,
merged by time, the photos, the location on the grid's building list, the masked phone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from services import notify, tickets
from services.errors import NotAllowed
from services.timeline import can_view, ticket_detail
from storage.models import Outbox, OutboxStatus, Resident, TicketStatus
from storage.times import utcnow
from tests.staff_support import building, staff, street_fixture  # noqa: F401

S = TicketStatus


def test_the_timeline_has_every_step_and_push_in_time_order(street):
    start = utcnow().replace(microsecond=0) - timedelta(minutes=10)  # pushes carry the real clock
    with Session(street) as s:
        g1, admin = staff(s, "worker-g1"), staff(s, "admin-1")
        home = building(s, 2)
        resident = Resident(openid="o-page", building_id=home.id, unit=1, room="301",
                            phone="13712345678")
        s.add(resident)
        s.flush()
        t = tickets.open_ticket(
            s, tickets.Reporter.of(resident),
            tickets.NewTicket(kind="repair", category="楼道灯", description="楼道灯坏了",
                              building_id=home.id, unit=1, room="301",
                              photos=("http://mmbiz.qpic.cn/a.jpg",)),
            start)
        tickets.attach(s, t, resident, start + timedelta(minutes=1),
                       photos=["http://mmbiz.qpic.cn/b.jpg", "javascript:alert(1)"],
                       point=(41.8, 123.43, "二号楼东侧"))
        tickets.accept(s, t, g1, start + timedelta(minutes=2))
        notify.message_resident(s, t, admin, "师傅下午到", start + timedelta(minutes=3))
        s.flush()
        first_push = s.exec(select(Outbox).where(Outbox.ticket_id == t.id)
                            .order_by(Outbox.id)).first()
        first_push.status, first_push.channel = OutboxStatus.SENT, "template"
        first_push.sent_at = start + timedelta(minutes=1)
        s.add(first_push)
        s.flush()

        page = ticket_detail(s, t, admin, start + timedelta(minutes=5))
        kinds = [e.kind for e in page.entries]
        steps = [k for k, e in zip(kinds, page.entries, strict=True) if e.event is not None]
        assert steps == [S.SUBMITTED, "photo", S.ASSIGNED, "photo", "photo", "location",
                         S.ACCEPTED, notify.STAFF_MESSAGE]
        assert {"task_assigned", "ticket_accepted", notify.STAFF_MESSAGE} <= set(kinds)
        assert [e.at for e in page.entries] == sorted(e.at for e in page.entries)
        task = next(e for e in page.entries if e.kind == "task_assigned")
        assert "13712345678" in task.push.text  # the worker was told the number …
        assert "137****5678" in task.text and "13712345678" not in task.text  # … the page masks it
        sent = next(e for e in page.entries if e.push is not None and e.push.id == first_push.id)
        assert (sent.actor_kind, sent.actor_name) == ("worker", g1.name)  # the recipient
        assert (sent.push.status, sent.push.channel) == (OutboxStatus.SENT, "template")
        accepted = next(e for e in page.entries if e.kind == S.ACCEPTED)
        assert (accepted.actor_kind, accepted.actor_name) == ("worker", g1.name)
        submitted = page.entries[0]
        assert (submitted.actor_kind, submitted.actor_name) == ("resident", "")
        to_resident = [e for e in page.entries if e.push is not None and e.actor_kind == "resident"]
        assert {e.kind for e in to_resident} == {"ticket_accepted", notify.STAFF_MESSAGE}

        assert [p.url for p in page.photos] == ["http://mmbiz.qpic.cn/a.jpg",
                                                "http://mmbiz.qpic.cn/b.jpg"]  # http(s) only
        where = page.location
        assert (where.community, where.grid, where.building, where.unit, where.room) == (
            "幸福新社区", "第一网格", home.name, 1, "301")
        assert (where.latitude, where.longitude) == (41.8, 123.43)
        assert where.points == ("二号楼东侧 (41.8,123.43)",)
        assert [number for _, number, _ in where.buildings] == [1, 2, 3, 4]  # G01's list
        assert where.building_id == home.id
        assert page.reporter_phone == "137****5678" and page.reporter_reachable
        assert page.assignee_name == g1.name and page.first_owner_name == g1.name
        assert page.response is None and page.resolve is not None  # answered; resolving


def test_only_staff_in_scope_see_a_ticket(street):
    with Session(street) as s:
        home = building(s, 6)
        t = tickets.open_ticket(s, tickets.Reporter(name="王", phone="13900000000"),
                                tickets.NewTicket(kind="repair", category="水管",
                                                  description="漏水", building_id=home.id),
                                utcnow())
        for openid, may in (("worker-g2", True), ("admin-1", True), ("street-1", True),
                            ("worker-g1", False), ("leader-g1", False), ("yg-admin", False),
                            ("dept-wy", False)):
            assert can_view(s, staff(s, openid), t) is may, openid
        with pytest.raises(NotAllowed):
            ticket_detail(s, t, staff(s, "yg-admin"), utcnow())
        page = ticket_detail(s, t, staff(s, "admin-1"), utcnow())
        assert page.reporter_phone is None and not page.reporter_reachable

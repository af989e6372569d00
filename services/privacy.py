"""Forgetting a resident who unsubscribed: their personal data leaves every table, the
anonymous statistics stay.

WeChat's rules require an official account to delete a follower's personal data when they
unsubscribe (取消关注), and the README promises residents it is done. The ``unsubscribe``
event (handlers/events.py) calls ``forget_resident`` inside the turn's transaction.
Source: developers.weixin.qq.com/doc/offiaccount/Message_Management/Receiving_event_pushes.html

Two passes, both bulk statements (no per-row ORM loads). Pass 1 runs in the webhook's
transaction (``forget_resident``); pass 2 scans whole tables, so it runs in the worker: the
webhook's transaction only records it as a durable ``storage.forgetting.PrivacySweep`` row,
and ``run_sweep`` (arq job ``privacy_sweep`` in bot/jobs_privacy.py, every
``SWEEP_EVERY_S`` seconds there and at worker start-up) does it and deletes the row in one
transaction — a crash rolls both back and the next run starts again; a second run of a
done sweep finds no row (and the values, already masked, no longer match).

1. **Rows about the resident** — found by OpenID, resident id, their tickets, loans and
   enrollments, or the timeline actor "resident:<id>" — have their free text put through
   ``scrub``: phone numbers, addresses (楼/单元/室 forms, 5-3-402), coordinates, a child's name
   after 叫/名字是, and every value known to be theirs become ``MASK``. Rows are read ``CHUNK``
   at a time (key and text columns only) and written back with one executemany UPDATE per
   chunk; structured columns are cleared with plain ``UPDATE … WHERE``.
2. **Everyone else's rows** (a worker's reply listing the address, a push to the station's
   staff, a worker's closing note with the phone) lose the resident's *known* values
   verbatim — phone, full address, child's name, location label, OpenID — with
   ``UPDATE t SET c = replace(c, v, '***') WHERE c LIKE '%v%'`` (``replace`` and ``LIKE``
   exist on PostgreSQL and SQLite alike). Other people's rows are never pattern-scrubbed,
   so their own numbers and addresses survive.

Decision per table and column (tables not listed hold no resident's personal data:
organisation, staff, departments, stations, programmes, sessions, timers, counters, notices,
sent reminders):

=========================  =============================================  ========================
table.column               on unsubscribe                                 kept for statistics
=========================  =============================================  ========================
resident.openid            NULL (unique: following again makes a new row)  id, building_id,
resident.phone/unit/room   NULL                                           created_at,
resident.vulnerability     NULL (care level: sensitive)                   last_message_at
resident.dialogue(+expiry) NULL (a pending report holds text, photos …)
resident.subscribed        False; anonymised_at = now
inboundmessage.openid      "anon:<id>" (NOT NULL, indexed)                msg_type, intent,
inboundmessage.dedup_key   the OpenID inside event keys → "anon:<id>"     confidence, received_at,
inboundmessage.content     scrubbed; NULL for image/location messages     needs_staff
inboundmessage.reply/error scrubbed                                       handled_at/_by,
inboundmessage.staff_reply scrubbed (staff's answer, 待人工处理)          handled_ticket_id
outbox.openid              "anon:<id>" on pushes to them; pending and     event, audience,
                           in-doubt ones become dead ("unsubscribed"),    channel, status, times
                           one being sent (leased) finishes
outbox.text/data/last_err  scrubbed: pushes to them, about their tickets,
                           announcing their join of another ticket
ticket.description         scrubbed (also resolution, rating_comment)     number, kind, category,
ticket.location/unit/room  NULL (and a shared location's latitude,       building, place, grid,
                           longitude)                                     status,
                                                                          priority, urgent, times,
                                                                          SLA fields, rating
ticketevent.note           scrubbed on their tickets and their own steps  kind, actor, at
                           elsewhere; photo/location notes NULL
ticketfollower.note        scrubbed                                       ticket, resident id, at
lend_loan.return_note      scrubbed                                       item, quantity, status,
                                                                          times, renewals, condition
lend_wait.status           waiting → cancelled (nobody left to offer to)  item, quantity, times
lend_event.note            scrubbed (their loans, waits, own steps)       kind, actor, at
lend_item.condition/note   their known values (a damage note on return)   stock, terms
care_enrollment.child_name MASK (NOT NULL)                                session, grade, age,
care_enrollment.guardian_  MASK (NOT NULL)                                status, times
  phone
care_enrollment.notes      NULL, and masked wherever quoted (过敏 …)
care_enrollment.status     waiting → cancelled (holds no place)
care_attendance.note       scrubbed                                       present, on_date
care_event.note            scrubbed (their enrollments, own steps)        kind, actor, at
noticedelivery             kept: ids only (its outbox row is above)       delivery counts
=========================  =============================================  ========================

Outside the database, nothing is deleted here; it all lapses by itself: the replies kept in
Redis for WeChat's retries (``storage.dedup``, keyed by MsgId or OpenID + CreateTime) after
``Settings.dedup_ttl_s`` (15 min), per-OpenID rate-limit counters after their window, and a
message spooled while the database was down once it has been processed.

Cost: pass 1 is proportional to the resident's own history (the webhook answers within
WeChat's 5 s); pass 2 is one scan of each free-text table (about 0.7 s for 200,000 messages
plus 200,000 pushes on PostgreSQL), in the worker. Until it has run (seconds, or after the
worker is back) others' rows still hold the values, and so does the ``privacy_sweep`` row
that lists them.

Limits: another person's text naming the resident in another spelling (the phone with
spaces) is not found; a known value is masked wherever it appears, also in a neighbour's
text that happens to hold the same location label or child's name; open tickets lose unit
and room (and the description its address), so a worker must find the place another way;
a tool still out and an enrolled place stay, under 「***」.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, and_, bindparam, cast, func, or_, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, SQLModel, select

from intents.slots import extract_address, extract_child_name, extract_phone
from storage.care import CareAttendance, CareEvent, Enrollment, EnrollmentStatus
from storage.forgetting import PrivacySweep
from storage.lending import LendEvent, LendItem, LendWait, Loan, WaitStatus
from storage.models import (
    Building,
    InboundMessage,
    Outbox,
    OutboxStatus,
    Resident,
    Ticket,
    TicketEvent,
    TicketFollower,
)
from storage.org import address_of, format_address

MASK = "***"
"""What a removed phone, address, name or place is replaced by."""
CHUNK = 500
"""Rows read and rewritten per statement in the first pass."""
UNSUBSCRIBED = "unsubscribed: personal data deleted"
"""``Outbox.last_error`` of a push to the resident that was still pending or in doubt."""
BLANKED_KINDS = ("photo", "location")
"""Timeline events of the resident's tickets whose note is a photo URL or a place: NULL."""
BLANKED_MSG_TYPES = ("image", "location", "link")
"""Inbound message types whose content is a URL or a place, not words: NULL."""

_CN = "零〇一二两三四五六七八九十百"
_ADDRESS = re.compile(
    rf"(?<![\d{_CN}])(?:(?:\d++|[{_CN}]++)"
    r"(?:号楼|号院|栋|幢|座|单元|门洞|门栋|层|楼|室|号房|房间|房|户)\s*+)++(?:\d{1,4}+(?!\d))?")
"""「3号楼2单元501」「五栋」「402室」「5楼501」: a run of number+unit words (no space between
number and word, so 「501 楼道灯」 stays a room and a lamp) and a bare room after. Possessive
quantifiers and the look-behind keep it linear on long digit runs."""
_ADDRESS_DASH = re.compile(r"(?<![\d.])\d{1,3}[-－—–~～_/]\d{1,2}[-－—–~～_/]\d{3,4}(?!\d)")
"""「5-3-402」."""
_PHONE = re.compile(
    r"(?<![A-Za-z\d])(?:(?:\+?86[\s-]?)?(?:1[3-9]\d[\s-]?\d{4}[\s-]?\d{4}|0\d{2,3}[\s-]?\d{7,8})"
    r"(?!\d)|\d{7,}+)")
"""Mobiles and landlines with spaces or dashes, and any run of 7+ digits — but not the digits
of a ticket number (GD20261122-0001: a letter before)."""
_COORDINATES = re.compile(r"(?<![\d.])-?\d{1,3}\.\d++\s*+[,，]\s*+-?\d{1,3}\.\d++")
"""「41.8,123.4」「(41.8, 123.4)」."""
_DIGIT = re.compile(r"\d")
_MAX_NAMES = 20
"""At most this many child names are looked for in one text."""


def marker(resident_id: int) -> str:
    """Stand-in for the OpenID of anonymised resident ``resident_id`` where a column needs
    one (NOT NULL, unique keys): "anon:<id>"."""
    return f"anon:{resident_id}"


def scrub(text: str | None, known: Iterable[str] = ()) -> str | None:
    """``text`` without phone numbers, addresses, coordinates, children's names and the
    ``known`` values (verbatim, longest first), each replaced by ``MASK``; None stays None.

    A final check uses the classifier's own extractors (``intents.slots``): if they still
    find a phone or a unit/room, every digit is masked. Linear in ``len(text)``.
    """
    if not text:
        return text
    for value in sorted({v for v in known if v}, key=len, reverse=True):
        text = text.replace(value, MASK)
    for pattern in (_COORDINATES, _PHONE, _ADDRESS_DASH, _ADDRESS):
        text = pattern.sub(MASK, text)
    for _ in range(_MAX_NAMES):
        name = extract_child_name(text)
        if not name:
            break
        text = text.replace(name, MASK)
    if _DIGIT.search(text):
        probe = unicodedata.normalize("NFKC", text)
        if extract_phone(probe) or {"unit", "room"} & extract_address(probe).keys():
            text = _DIGIT.sub("*", text)
    return text


def forget_resident(session: Session, resident: Resident, now: datetime) -> dict[str, int]:
    """Delete ``resident``'s personal data from their own rows (pass 1) and request the sweep
    of everyone's rows (pass 2: a ``PrivacySweep`` row for ``run_sweep``), keeping the
    anonymous statistics; ``now`` is aware UTC. Idempotent.

    Runs in the caller's transaction; pending ORM changes are flushed first and every loaded
    object is expired afterwards (the bulk statements bypass the identity map). Returns how
    many rows were rewritten per area, and ``"sweep requested"`` (1 or 0), for the log.
    """
    session.flush()
    who = _Who(resident.id, resident.openid, _known_values(session, resident))
    touched = {
        "inboundmessage + outbox": _forget_messages(session, who),
        "ticket + timeline": _forget_tickets(session, who),
        "lending": _forget_lending(session, who),
        "care": _forget_care(session, who, now),
        "sweep requested": _request_sweep(session, who, now),
    }
    session.expire_all()  # the Core statements above bypassed the identity map
    resident.openid = None
    resident.phone = None
    resident.unit = None
    resident.room = None
    resident.vulnerability = None
    resident.dialogue = None
    resident.dialogue_expires_at = None
    resident.subscribed = False
    resident.anonymised_at = now
    session.add(resident)
    session.flush()
    return touched


@dataclass(frozen=True)
class _Who:
    """The resident being forgotten: id, OpenID (None when already anonymised) and the
    values known to be theirs (``_known_values``)."""

    id: int
    openid: str | None
    known: list[str]

    @property
    def anon(self) -> str:
        return marker(self.id)

    @property
    def actor(self) -> str:
        return f"resident:{self.id}"

    def clean(self, text: str | None) -> str | None:
        return scrub(text, self.known)


def _forget_messages(session: Session, who: _Who) -> int:
    """Their inbound messages and pushes; pushes to staff about their tickets or their join."""
    changed = 0
    if who.openid is not None:
        changed += _rewrite(
            session, InboundMessage, InboundMessage.openid == who.openid,
            ("msg_type", "content", "reply", "error", "staff_reply"),
            lambda r: {"content": None if r["msg_type"] in BLANKED_MSG_TYPES else who.clean(r["content"]),
                       "reply": who.clean(r["reply"]), "error": who.clean(r["error"]),
                       "staff_reply": who.clean(r["staff_reply"])})
        _bulk(session, update(InboundMessage.__table__)
              .where(InboundMessage.openid == who.openid)
              .values(openid=who.anon,
                      dedup_key=func.replace(InboundMessage.dedup_key, who.openid, who.anon)))
        _bulk(session, update(Outbox.__table__)
              .where(Outbox.openid == who.openid,
                     Outbox.status.in_((OutboxStatus.PENDING, OutboxStatus.UNKNOWN)))
              .values(status=OutboxStatus.DEAD, last_error=UNSUBSCRIBED))
        changed += _rewrite_outbox(session, Outbox.openid == who.openid, who.clean)
        _bulk(session, update(Outbox.__table__).where(Outbox.openid == who.openid)
              .values(openid=who.anon))
    own_tickets = select(Ticket.id).where(Ticket.resident_id == who.id)
    changed += _rewrite_outbox(session, Outbox.ticket_id.in_(own_tickets), who.clean)
    for ticket_id, note in session.exec(select(TicketFollower.ticket_id, TicketFollower.note)
                                        .where(TicketFollower.resident_id == who.id)):
        if note:  # staff were told what they wrote when joining someone else's ticket
            changed += _rewrite_outbox(session, and_(
                Outbox.ticket_id == ticket_id, Outbox.text.contains(note, autoescape=True)),
                who.clean)
    return changed


def _forget_tickets(session: Session, who: _Who) -> int:
    """Their tickets' text and place, the timeline of their tickets, their own steps and
    follower notes elsewhere."""
    own_tickets = select(Ticket.id).where(Ticket.resident_id == who.id)
    texts = ("description", "resolution", "rating_comment")
    changed = _rewrite(session, Ticket, Ticket.resident_id == who.id, texts,
                       lambda r: {k: who.clean(r[k]) for k in texts})
    _bulk(session, update(Ticket.__table__).where(Ticket.resident_id == who.id)
          .values(location=None, unit=None, room=None, latitude=None, longitude=None))
    changed += _rewrite(
        session, TicketEvent,
        or_(TicketEvent.ticket_id.in_(own_tickets), TicketEvent.actor == who.actor),
        ("kind", "note"),
        lambda r: {"note": None if r["kind"] in BLANKED_KINDS else who.clean(r["note"])})
    changed += _rewrite_notes(session, TicketFollower, TicketFollower.resident_id == who.id,
                              "note", who.clean)
    return changed


def _forget_lending(session: Session, who: _Who) -> int:
    """Notes on their loans and lending timeline; their places in waiting lists cancelled."""
    changed = _rewrite_notes(session, Loan, Loan.resident_id == who.id, "return_note", who.clean)
    _bulk(session, update(LendWait.__table__)
          .where(LendWait.resident_id == who.id, LendWait.status == WaitStatus.WAITING)
          .values(status=WaitStatus.CANCELLED))
    own_loans = select(Loan.id).where(Loan.resident_id == who.id)
    own_waits = select(LendWait.id).where(LendWait.resident_id == who.id)
    changed += _rewrite_notes(session, LendEvent, or_(
        LendEvent.loan_id.in_(own_loans), LendEvent.wait_id.in_(own_waits),
        LendEvent.actor == who.actor), "note", who.clean)
    return changed


def _forget_care(session: Session, who: _Who, now: datetime) -> int:
    """Their children's names, the guardian phone and notes; waiting sign-ups cancelled."""
    _bulk(session, update(Enrollment.__table__)
          .where(Enrollment.resident_id == who.id, Enrollment.status == EnrollmentStatus.WAITING)
          .values(status=EnrollmentStatus.CANCELLED, closed_at=now))
    _bulk(session, update(Enrollment.__table__).where(Enrollment.resident_id == who.id)
          .values(child_name=MASK, guardian_phone=MASK, notes=None))
    own = select(Enrollment.id).where(Enrollment.resident_id == who.id)
    changed = _rewrite_notes(session, CareAttendance, CareAttendance.enrollment_id.in_(own),
                             "note", who.clean)
    changed += _rewrite_notes(session, CareEvent, or_(
        CareEvent.enrollment_id.in_(own), CareEvent.actor == who.actor), "note", who.clean)
    return changed


def _request_sweep(session: Session, who: _Who, now: datetime) -> int:
    """Record pass 2 for the worker: a ``PrivacySweep`` row with the known values (and the
    OpenID → marker), unless there is nothing to find. Returns 1 when recorded, else 0."""
    swaps = [[value, MASK] for value in who.known]
    if who.openid is not None:
        swaps.append([who.openid, who.anon])
    if not swaps:
        return 0
    session.add(PrivacySweep(resident_id=who.id, swaps=swaps, requested_at=now))
    session.flush()
    return 1


def pending_sweeps(session: Session) -> list[int]:
    """Ids of the sweeps not done yet, oldest request first."""
    return list(session.exec(select(PrivacySweep.id)
                             .order_by(PrivacySweep.requested_at, PrivacySweep.id)))


def note_attempt(session: Session, sweep_id: int, now: datetime) -> int | None:
    """Count a try of sweep ``sweep_id`` starting at ``now`` (aware UTC); commit it before
    the try, so a try that crashes is still counted. Returns the tries so far, or None when
    the sweep is done (no row)."""
    row = session.get(PrivacySweep, sweep_id)
    if row is None:
        return None
    row.attempts += 1
    row.last_attempt_at = now
    session.add(row)
    session.flush()
    return row.attempts


def run_sweep(session: Session, sweep_id: int) -> int | None:
    """Pass 2 for sweep ``sweep_id``: its values out of everyone's free text, then its row
    deleted — all in the caller's transaction, so the row goes only when the sweep commits.

    The row is locked first (``FOR UPDATE SKIP LOCKED`` on PostgreSQL). Returns the pushes
    changed (the SQL sweeps do not count their rows), or None when there is no such row (done
    already) or another transaction holds it. Idempotent.
    """
    row = session.exec(select(PrivacySweep).where(PrivacySweep.id == sweep_id)
                       .with_for_update(skip_locked=True)).first()
    if row is None:
        return None
    swaps = [(str(value), str(replacement)) for value, replacement in row.swaps]
    changed = _sweep_everyone(session, swaps)
    session.delete(row)
    session.flush()
    session.expire_all()  # the Core statements bypassed the identity map
    return changed


def _sweep_everyone(session: Session, swaps: Sequence[tuple[str, str]]) -> int:
    """Pass 2: each ``(value, replacement)`` out of everyone's free text (the known values →
    MASK, the OpenID → marker). Returns the pushes changed (the SQL sweeps do not count their
    rows)."""
    if not swaps:
        return 0
    changed = _sweep_outbox(session, swaps)
    for model, columns in SWEPT:
        _sweep(session, model, columns, swaps)
    return changed


SWEPT: tuple[tuple[type[SQLModel], tuple[str, ...]], ...] = (
    (InboundMessage, ("content", "reply", "error", "staff_reply")),
    (Ticket, ("description", "resolution", "rating_comment", "location")),
    (TicketEvent, ("note",)),
    (TicketFollower, ("note",)),
    (Loan, ("return_note",)),
    (LendItem, ("condition", "note")),
    (LendEvent, ("note",)),
    (Enrollment, ("notes",)),
    (CareAttendance, ("note",)),
    (CareEvent, ("note",)),
)
"""Free-text columns of everyone's rows swept for the resident's known values (pass 2);
``outbox.text/data/last_error`` are swept by ``_sweep_outbox``."""


# ------------------------------------------------------------------ what is known of them
def _known_values(session: Session, resident: Resident) -> list[str]:
    """Strings that identify the resident verbatim: phones, full addresses (with unit or
    room), children's names and notes about them (health, who fetches them), location
    labels and places."""
    rid = resident.id
    values: set[str] = {resident.phone or ""}
    if resident.unit or resident.room:
        values.add(address_of(session, resident) or "")
    buildings = {b.id: b.name for b in session.exec(select(Building))}
    for building_id, unit, room, location in session.exec(
            select(Ticket.building_id, Ticket.unit, Ticket.room, Ticket.location)
            .where(Ticket.resident_id == rid)):
        if unit or room:
            values.add(format_address(buildings.get(building_id, ""), unit, room))
        values.add(location or "")
    for name, phone, notes in session.exec(
            select(Enrollment.child_name, Enrollment.guardian_phone, Enrollment.notes)
            .where(Enrollment.resident_id == rid)):
        values.update((name, phone, notes or ""))
    for note in session.exec(select(TicketEvent.note).where(
            TicketEvent.kind == "location",
            TicketEvent.ticket_id.in_(select(Ticket.id).where(Ticket.resident_id == rid)))):
        values.update((note or "", (note or "").split(" (")[0]))
    if resident.openid is not None:
        for content in session.exec(select(InboundMessage.content).where(
                InboundMessage.openid == resident.openid, InboundMessage.msg_type == "location")):
            values.add(content or "")
    return sorted((v.strip() for v in values if v and len(v.strip()) >= 2 and v != MASK),
                  key=len, reverse=True)


# ------------------------------------------------------------------ bulk helpers
def _bulk(session: Session, statement: Any) -> None:
    """Run one Core UPDATE in the session's transaction (the identity map is not touched)."""
    session.connection().execute(statement)


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _rewrite(session: Session, model: type[SQLModel], where: Any, columns: Sequence[str],
             change: Callable[[dict[str, Any]], dict[str, Any]]) -> int:
    """Apply ``change`` (row dict → new column values, always the same keys) to the rows
    matching ``where``: ids first, then ``CHUNK`` rows per SELECT and one executemany UPDATE
    per chunk. Returns how many rows changed."""
    conn = session.connection()
    table = model.__table__
    ids = list(conn.execute(sa_select(table.c.id).where(where).order_by(table.c.id)).scalars())
    changed = 0
    statement = None
    for chunk in _chunks(ids, CHUNK):
        rows = conn.execute(sa_select(table.c.id, *(table.c[c] for c in columns))
                            .where(table.c.id.in_(chunk))).mappings()
        params = []
        for row in rows:
            new = change(dict(row))
            if any(new[k] != row[k] for k in new):
                params.append({"b_id": row["id"], **{f"b_{k}": v for k, v in new.items()}})
        if not params:
            continue
        if statement is None:
            keys = [k.removeprefix("b_") for k in params[0] if k != "b_id"]
            statement = (update(table).where(table.c.id == bindparam("b_id"))
                         .values({k: bindparam(f"b_{k}", type_=table.c[k].type) for k in keys}))
        conn.execute(statement, params)
        changed += len(params)
    return changed


def _rewrite_notes(session: Session, model: type[SQLModel], where: Any, column: str,
                   clean: Callable[[str | None], str | None]) -> int:
    return _rewrite(session, model, and_(where, getattr(model, column).is_not(None)), (column,),
                    lambda r: {column: clean(r[column])})


def _rewrite_outbox(session: Session, where: Any,
                    clean: Callable[[str | None], str | None]) -> int:
    return _rewrite(session, Outbox, where, ("text", "data", "last_error"),
                    lambda r: {"text": clean(r["text"]), "data": _map_strings(r["data"], clean),
                               "last_error": clean(r["last_error"])})


def _sweep(session: Session, model: type[SQLModel], columns: Sequence[str],
           swaps: Sequence[tuple[str, str]]) -> None:
    """One UPDATE (one scan of the table) replacing every ``(value, replacement)`` in each of
    ``columns``, on the rows where one of them holds at least one value (``replace`` leaves
    the other columns, and NULLs, as they are)."""
    values: dict[str, Any] = {}
    holds = []
    for column in columns:
        target = getattr(model, column)
        expression: Any = target
        for value, replacement in swaps:
            expression = func.replace(expression, value, replacement)
        values[column] = expression
        holds.extend(target.contains(v, autoescape=True) for v, _ in swaps)
    _bulk(session, update(model.__table__).where(or_(*holds)).values(values))


def _sweep_outbox(session: Session, swaps: Sequence[tuple[str, str]]) -> int:
    """Known values out of every push's text, template data and last error (the JSON
    ``data`` is rewritten in Python: its stored form escapes non-ASCII characters)."""

    def swap(text: str | None) -> str | None:
        for value, replacement in swaps:
            text = text.replace(value, replacement) if text else text
        return text

    data_text = cast(Outbox.data, String)
    where = or_(*(column.contains(v, autoescape=True)
                  for v, _ in swaps for column in (Outbox.text, data_text, Outbox.last_error)))
    return _rewrite(session, Outbox, where, ("text", "data", "last_error"),
                    lambda r: {"text": swap(r["text"]), "data": _map_strings(r["data"], swap),
                               "last_error": swap(r["last_error"])})


def _map_strings(value: Any, fn: Callable[[str], str | None]) -> Any:
    """``value`` (JSON: dicts, lists, strings …) with ``fn`` applied to every string."""
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, dict):
        return {k: _map_strings(v, fn) for k, v in value.items()}
    if isinstance(value, list):
        return [_map_strings(v, fn) for v in value]
    return value

"""After-school care sign-up (四点半课堂/托管报名) in chat.

「孩子想报名四点半课堂」 → the open classes with free places → child's name, grade (or age),
guardian phone, notes (过敏、谁来接) → summary → 「确认」 enrolls, or queues when full. What the
first message already says (「给三年级的张小明报四点半课堂」) is not asked again; the grade
range and the sign-up window are checked with a clear reply.

Commands recognised on the text of a ``care_signup`` message: 「我的报名」, 「取消报名 [编号]」,
「保留名额」/「确认报名」 (take an offered place), 「放弃名额」. Dialogue state::

    {"flow": "care", "awaiting": "session" | "name" | "grade" | "phone" | "notes" | "confirm",
     "options": [session ids], "session_id": int,
     "child": {"name", "grade", "age", "phone", "notes"}, "tries": int}
"""

from __future__ import annotations

import re
from typing import Any

from handlers import community, continues, handles
from handlers.turn import Turn
from intents.slots import extract_child, extract_phone
from services import care as care_actions
from services import care_notify as notify
from services.care import AlreadyEnrolled, Child, NotEligible, SignupClosed
from services.errors import NotAllowed, WrongState
from services.messages import msg
from storage import NotFound, care, numbers
from storage.care import CareSession, Enrollment, EnrollmentStatus
from storage.times import as_utc, show

FLOW = "care"
MAX_TRIES = 2
_NAME_RE = re.compile(r"^(?:孩子)?(?:叫|名字是|名字叫|姓名是?[:：]?)?\s*([\u4e00-\u9fff·]{2,5})$")
_NOT_NAMES = {"不知道", "孩子", "小孩", "宝宝", "确认", "取消", "不用了", "好的", "可以"}
_NONE = {"无", "没有", "没", "没了", "不用", "不用了", "无备注", "没有了", "暂无", "无特殊",
         "没有特别的", "不需要"}
_MINE = ("我的报名", "报名情况", "报了什么", "报了哪", "查看报名", "报名记录", "查报名")
NEW_TOPIC = ("repair", "complaint", "tool_lending", "status_query", "rating", "help")
ASK_ORDER = ("name", "grade", "phone", "notes")


def _text(turn: Turn) -> str:
    u = turn.understanding
    return (u.normalized if u is not None and u.normalized else turn.text).strip()


_ACCEPT = ("确认报名", "确认名额", "保留名额", "要这个名额", "名额我要", "接受名额")
_COMMANDS = ("取消报名", "不报名了", "退出候补", "放弃名额", "不要名额", *_ACCEPT, *_MINE)


@handles("care_signup")
def care_signup(turn: Turn) -> str:
    """Start a sign-up, or run one of the care commands."""
    text = _text(turn)
    if "取消报名" in text or "不报名了" in text or "退出候补" in text:
        return cancel(turn, text)
    if "放弃名额" in text or "不要名额" in text:
        return decline_offer(turn)
    if any(word in text for word in _ACCEPT):
        return accept_offer(turn)
    if any(word in text for word in _MINE):
        return mine(turn)
    return start(turn)


def _slots(turn: Turn) -> dict[str, Any]:
    u = turn.understanding
    return dict(u.slots) if u is not None else {}


def start(turn: Turn) -> str:
    """List the open classes (of the programme asked for) of the resident's community
    (``handlers.community.gate`` has asked which one when unknown on an account of several)
    and begin collecting."""
    slots = _slots(turn)
    kind = slots.get("program")
    home = community.community_of(turn)
    rows = care.open_sessions(turn.session, turn.now, kind, home)
    if not rows and kind:
        if _of_kind(turn, kind):
            turn.finish()
            return _nothing_open(turn, kind)
        rows = care.open_sessions(turn.session, turn.now, community_id=home)
    if not rows:
        turn.finish()
        return _nothing_open(turn, None)
    child = {"name": slots.get("child_name"), "grade": slots.get("grade"),
             "age": slots.get("age"), "phone": slots.get("phone"), "notes": None}
    state: dict[str, Any] = {"flow": FLOW, "child": child, "tries": 0}
    if len(rows) == 1:
        state["session_id"] = rows[0].id
        intro = msg("care.intro_one", **_session_line(turn, rows[0])) + "\n"
        return intro + _next(turn, state)
    state["options"] = [r.id for r in rows]
    state["awaiting"] = "session"
    turn.ask(state)
    options = "\n".join(msg("care.option", n=n, **_session_line(turn, r))
                        for n, r in enumerate(rows, start=1))
    return msg("care.ask_session", options=options)


def _of_kind(turn: Turn, kind: str) -> list[CareSession]:
    """Active sessions of programmes whose kind or name is ``kind`` (of the resident's
    community when known: ``handlers.community.community_of``)."""
    return [r for r in care.sessions(turn.session, community_id=community.community_of(turn))
            if kind in (care.programme_of(turn.session, r).kind,
                        care.programme_of(turn.session, r).name)]


def _nothing_open(turn: Turn, kind: str | None) -> str:
    """Why nothing can be signed up for now: opens later, closed, or nothing at all."""
    rows = _of_kind(turn, kind) if kind else care.sessions(
        turn.session, community_id=community.community_of(turn))
    upcoming = [r for r in rows if care.window_state(r, turn.now) == "not_yet"]
    if upcoming:
        row = min(upcoming, key=lambda r: as_utc(r.signup_opens_at))
        return msg("care.not_yet", opens=show(row.signup_opens_at, turn.settings.timezone),
                   **notify.session_fields(turn.session, row))
    if kind and rows:
        return msg("care.closed", **notify.session_fields(turn.session, rows[-1]))
    return msg("care.none_open")


def _session_line(turn: Turn, row: CareSession) -> dict[str, str]:
    free = row.capacity - row.taken
    places = msg("care.places_free", free=free) if free > 0 else msg("care.places_full")
    return {**notify.session_fields(turn.session, row), "places": places}


def _next(turn: Turn, state: dict[str, Any]) -> str:
    """Check what is known, then ask the next missing field (or for confirmation)."""
    child = state["child"]
    row = turn.session.get(CareSession, state["session_id"])
    if child.get("grade") is not None or child.get("age") is not None:
        refusal = _eligibility(turn, row, child)
        if refusal:
            turn.finish()
            return refusal
    if not child.get("phone") and turn.resident.phone:
        child["phone"] = turn.resident.phone
    for field in ASK_ORDER:
        if field == "grade":
            missing = child.get("grade") is None and child.get("age") is None
        elif field == "notes":
            missing = "notes_done" not in state
        else:
            missing = not child.get(field)
        if missing:
            turn.ask({**state, "awaiting": field, "tries": 0})
            return msg(f"care.ask_{field}", name=child.get("name") or "")
    turn.ask({**state, "awaiting": "confirm", "tries": 0})
    return msg("care.confirm", session=notify.session_fields(turn.session, row)["session"],
               name=child["name"], grade=notify.grade_text(child.get("grade"), child.get("age")),
               phone=child["phone"], notes=child.get("notes") or msg("care.no_notes"))


def _eligibility(turn: Turn, row: CareSession, child: dict[str, Any]) -> str | None:
    prog = care.programme_of(turn.session, row)
    try:
        care_actions.check_eligible(prog, child.get("grade"), child.get("age"))
    except NotEligible:
        if child.get("grade") is not None:
            return msg("care.not_eligible_grade", programme=prog.name, min=prog.grade_min,
                       max=prog.grade_max, name=child.get("name") or msg("care.child"),
                       grade=notify.grade_text(child["grade"], None))
        low = prog.age_min if prog.age_min is not None else prog.grade_min + 5
        high = prog.age_max if prog.age_max is not None else prog.grade_max + 7
        return msg("care.not_eligible_age", programme=prog.name, low=low, high=high,
                   name=child.get("name") or msg("care.child"), age=child["age"])
    return None


@continues(FLOW)
def continue_care(turn: Turn) -> str | None:
    """The answer to the current question; None when the parent changed topic."""
    state = dict(turn.state or {})
    state["child"] = dict(state.get("child") or {})
    awaiting = state.get("awaiting")
    u = turn.understanding
    text = _text(turn)
    new_topic = (u is not None and u.intent in NEW_TOPIC
                 and u.confidence >= turn.classifier.threshold)
    if awaiting == "name" and new_topic:
        return None  # a new request could pass for a name: ask nothing more
    if any(command in text for command in _COMMANDS):
        turn.finish()
        return care_signup(turn)
    handler = {"session": _answer_session, "name": _answer_name, "grade": _answer_grade,
               "phone": _answer_phone, "notes": _answer_notes,
               "confirm": _answer_confirm}.get(awaiting)
    if handler is None:
        return None
    reply = handler(turn, state, text)
    if reply is None:  # not an answer to the question
        if new_topic:
            return None
        return _retry(turn, state, _AGAIN[awaiting])
    return reply


_AGAIN = {"session": "care.ask_session_again", "name": "care.bad_name",
          "grade": "care.bad_grade", "phone": "care.bad_phone",
          "confirm": "care.ask_confirm_again"}


def _retry(turn: Turn, state: dict[str, Any], key: str) -> str | None:
    tries = int(state.get("tries", 0)) + 1
    if tries > MAX_TRIES:
        turn.finish()
        return msg("care.gave_up")
    turn.ask({**state, "tries": tries})
    return msg(key)


# Answer handlers: the next reply, or None when the message does not answer the question.
def _answer_session(turn: Turn, state: dict[str, Any], text: str) -> str | None:
    options: list[int] = state.get("options", [])
    choice = None
    digits = text.strip().translate(str.maketrans("１２３４５６７８９", "123456789"))
    if digits.isdigit() and 1 <= int(digits) <= len(options):
        choice = options[int(digits) - 1]
    else:
        for session_id in options:
            row = turn.session.get(CareSession, session_id)
            prog = care.programme_of(turn.session, row)
            program = _slots(turn).get("program")
            if row.name in text or prog.name in text or (program and program == prog.kind):
                choice = session_id
                break
    if choice is None:
        return None
    state.pop("options", None)
    state["session_id"] = choice
    _absorb(turn, state["child"])
    return _next(turn, state)


def _absorb(turn: Turn, child: dict[str, Any]) -> None:
    """Take any child details the message carries (name, grade, age, phone)."""
    slots = _slots(turn)
    for slot, key in (("child_name", "name"), ("grade", "grade"), ("age", "age"),
                      ("phone", "phone")):
        if slots.get(slot) is not None and not child.get(key):
            child[key] = slots[slot]


def _answer_name(turn: Turn, state: dict[str, Any], text: str) -> str | None:
    child = state["child"]
    found = extract_child(text)
    name = found.get("child_name")
    if name is None:
        head = re.split(r"[\s,，。、;；]+", text.strip())[0] if text.strip() else ""
        m = _NAME_RE.match(head)
        if m and m.group(1) not in _NOT_NAMES and not re.search(r"年级|岁|初[一二三]", m.group(1)):
            name = m.group(1)
    if name is None:
        return None
    child["name"] = name
    _absorb(turn, child)
    return _next(turn, state)


def _answer_grade(turn: Turn, state: dict[str, Any], text: str) -> str | None:
    child = state["child"]
    found = extract_child(text)
    if "grade" not in found and "age" not in found:
        digits = text.strip().rstrip("年级")
        if digits.isdigit() and 1 <= int(digits) <= 9:
            found["grade"] = int(digits)
    if "grade" not in found and "age" not in found:
        return None
    child["grade"] = found.get("grade")
    child["age"] = found.get("age") if child["grade"] is None else None
    _absorb(turn, child)
    return _next(turn, state)


def _answer_phone(turn: Turn, state: dict[str, Any], text: str) -> str | None:
    phone = extract_phone(text)
    if phone is None or not (len(phone) == 11 and phone.startswith("1")):
        return None
    state["child"]["phone"] = phone
    return _next(turn, state)


def _answer_notes(turn: Turn, state: dict[str, Any], text: str) -> str | None:
    u = turn.understanding
    core = text.strip(" 。.!！~")
    if core in _NONE or (u is not None and u.intent == "deny"):
        state["child"]["notes"] = None
    else:
        state["child"]["notes"] = turn.text.strip()[:200]
    state["notes_done"] = True
    return _next(turn, state)


def _answer_confirm(turn: Turn, state: dict[str, Any], text: str) -> str | None:
    u = turn.understanding
    if u is not None and u.intent == "deny":
        turn.finish()
        return msg("care.declined")
    if u is None or u.intent != "confirm":
        return None
    return _enroll(turn, state)


def _enroll(turn: Turn, state: dict[str, Any]) -> str:
    turn.finish()
    c = state["child"]
    child = Child(name=c["name"], guardian_phone=c["phone"], grade=c.get("grade"),
                  age=c.get("age"), notes=c.get("notes"))
    tz = turn.settings.timezone
    row = turn.session.get(CareSession, state["session_id"])
    try:
        enrollment = care_actions.enroll(turn.session, state["session_id"], turn.resident, child,
                                 turn.now, tz=tz)
    except SignupClosed as exc:
        if exc.opens_at is not None and turn.now < as_utc(exc.opens_at):
            return msg("care.not_yet", opens=show(exc.opens_at, tz),
                       **notify.session_fields(turn.session, row))
        return msg("care.closed", **notify.session_fields(turn.session, row))
    except NotEligible:
        return _eligibility(turn, row, c) or msg("care.none_open")
    except AlreadyEnrolled as exc:
        return msg("care.duplicate", **notify.fields(turn.session, exc.existing, tz))
    if turn.resident.phone is None:
        turn.resident.phone = child.guardian_phone
        turn.session.add(turn.resident)
    f = notify.fields(turn.session, enrollment, tz)
    if enrollment.status == EnrollmentStatus.ENROLLED:
        return msg("care.enrolled", **f)
    return msg("care.waiting", position=care.waiting_position(turn.session, enrollment), **f)


# ------------------------------------------------------------------ commands
def mine(turn: Turn) -> str:
    """「我的报名」: the family's enrollments, queue places and offers."""
    turn.finish()
    tz = turn.settings.timezone
    rows = care.of_resident(turn.session, turn.resident.id)
    if not rows:
        return msg("care.mine_none")
    lines = [msg("care.mine_header")]
    for e in rows:
        f = notify.fields(turn.session, e, tz)
        if e.status == EnrollmentStatus.WAITING:
            extra = msg("care.mine_position", position=care.waiting_position(turn.session, e))
        elif e.status == EnrollmentStatus.OFFERED:
            extra = msg("care.mine_offer", deadline=f["deadline"])
        else:
            extra = msg("care.mine_first", first=f["first"])
        lines.append(msg("care.mine_line", extra=extra, **f))
    lines.append(msg("care.mine_footer"))
    return "\n".join(lines)


def _named(turn: Turn, text: str, rows: list[Enrollment]) -> Enrollment | str | None:
    """The enrollment named by number (or the refusal), the only one, the child named, or None."""
    if number := numbers.ENROLLMENTS.find(text):
        try:
            enrollment = care.by_number(turn.session, number)
        except NotFound:
            return msg("care.not_found", no=number)
        if enrollment.resident_id != turn.resident.id:
            return msg("care.not_yours", no=enrollment.number)
        return enrollment
    if len(rows) == 1:
        return rows[0]
    named = [e for e in rows if e.child_name in text]
    return named[0] if len(named) == 1 else None


def cancel(turn: Turn, text: str) -> str:
    """「取消报名 [编号]」: withdraw; a freed place is offered to the next family."""
    turn.finish()
    tz = turn.settings.timezone
    rows = care.of_resident(turn.session, turn.resident.id)
    enrollment = _named(turn, text, rows)
    if isinstance(enrollment, str):
        return enrollment
    if enrollment is None:
        if not rows:
            return msg("care.cancel_none")
        return msg("care.cancel_which", numbers=msg("text.list_sep").join(
            msg("text.with_aside", main=e.number, aside=e.child_name) for e in rows))
    try:
        freed = care_actions.cancel(turn.session, enrollment, turn.resident, turn.now)
    except (WrongState, NotAllowed):
        return msg("care.cancel_not_active", **notify.fields(turn.session, enrollment, tz))
    notify.tell_offers(turn.session, freed, turn.now, tz)
    return msg("care.cancel_done", **notify.fields(turn.session, enrollment, tz))


def _offered(turn: Turn) -> list[Enrollment]:
    return [e for e in care.of_resident(turn.session, turn.resident.id)
            if e.status == EnrollmentStatus.OFFERED]


def accept_offer(turn: Turn) -> str:
    """「保留名额」/「确认报名」: take the place offered to this family."""
    turn.finish()
    tz = turn.settings.timezone
    offers = _offered(turn)
    if not offers:
        return msg("care.accept_none")
    enrollment = offers[0]
    try:
        care_actions.accept_offer(turn.session, enrollment, turn.resident, turn.now, tz)
    except (WrongState, NotAllowed):
        return msg("care.offer_expired", **notify.fields(turn.session, enrollment, tz))
    return msg("care.accepted", **notify.fields(turn.session, enrollment, tz))


def decline_offer(turn: Turn) -> str:
    """「放弃名额」: give the offered place to the next family."""
    turn.finish()
    tz = turn.settings.timezone
    offers = _offered(turn)
    if not offers:
        return msg("care.accept_none")
    freed = care_actions.cancel(turn.session, offers[0], turn.resident, turn.now)
    notify.tell_offers(turn.session, freed, turn.now, tz)
    return msg("care.declined_offer", **notify.fields(turn.session, offers[0], tz))

"""Tool lending (工具借用) in chat: 「想借个梯子」 → where, how many are free, loan period and
opening hours → 「确认」 reserves (or joins the waiting list when none is free).

Resident commands recognised here on the text of a ``tool_lending`` message:
「我借的东西」 lists loans, holds and places in queues; 「续借 [单号]」 (or 「多借几天」)
extends an out loan once when nobody waits; 「取消预约 [单号]」 releases a hold (or leaves a queue);
「还梯子」/「归还」 says how to return. Dialogue state while waiting for an answer::

    {"flow": "lending", "awaiting": "item" | "confirm", "lines": [[item_id, quantity], …],
     "tries": 0}
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from handlers import community, continues, handles
from handlers.turn import Turn
from intents.slots import cn_to_int
from services import lending as lending_actions
from services import lending_notify as notify
from services.errors import Invalid, NotAllowed, WrongState
from services.messages import msg
from storage import NotFound, lending, numbers
from storage.lending import LendItem, LendWait, Loan, LoanStatus, Station
from storage.times import as_utc

FLOW = "lending"
MAX_TRIES = 2
# Linear patterns: a count is a whole run of digits (tried only at the run's start) or at
# most 6 numerals, optional parts carry their own spaces, and _BEFORE is searched only near
# the name (_before_start). An absurd count (「借99999…9个梯子」) is a bad count, never an error.
_CN = "零〇一二两俩三四五六七八九十百千万"
_NUM = rf"(?:(?<!\d)\d+(?!\d)|[{_CN}]{{1,6}}(?![{_CN}]))"
_MEASURE = r"(?:个|把|台|副|辆|张|根|只|套|件|架|部|条|块|双|盒)"
_BEFORE = re.compile(rf"(负|-|−)?\s{{0,3}}({_NUM})\s{{0,3}}(?:{_MEASURE}\s{{0,3}})?$")
_BEFORE_CHARS = 24
_AFTER = re.compile(rf"^\s*(?:(负|-|−)\s*)?({_NUM})\s*{_MEASURE}")
_UNKNOWN = re.compile(r"借(?:用|个|一个|一下|把|台|点|些)*\s*([\u4e00-\u9fffa-z]{1,8})")
_NOT_ITEMS = {"东西", "工具", "什么", "啥", "吗", "一下", "的"}
_RENEW = ("续借", "再借几天", "多借几天", "多用几天", "延长借期", "延期归还")
_MINE = ("我借的", "我的借用", "借了什么", "借了啥", "借用记录", "我借了")
_RETURN = re.compile(r"(归还|还回|怎么还|去还|要还|想还|来还|还给|^还(?![有能可剩没在是要得]))")
_BORROW = re.compile(r"(想|要|能|可以|再)借|借(个|一|用|把|台|些|点|\d|[两二三四五])")
_BARE_QUANTITY = re.compile(rf"^(负|-|−)?\s*({_NUM})\s*(?:{_MEASURE})?$")
NEW_TOPIC = ("repair", "complaint", "care_signup", "status_query", "rating", "help")


@dataclass(frozen=True)
class Wanted:
    """One thing asked for: canonical ``name`` and ``quantity`` (None = not said; <1 = bad)."""

    name: str
    quantity: int | None


def _before_start(before: str) -> int:
    """Where to search ``before`` for a count that ends it: its last _BEFORE_CHARS characters,
    widened to the start of a run of digits cut there."""
    start = max(0, len(before) - _BEFORE_CHARS)
    while start > 0 and before[start - 1].isdigit():
        start -= 1
    return start


def parse_wanted(text: str, aliases: dict[str, str]) -> list[Wanted]:
    """Items and counts in ``text`` (normalised): 「借两把梯子和1个电钻」 →
    [Wanted("梯子", 2), Wanted("电钻", 1)]. ``aliases`` maps alias → canonical name;
    the longest alias wins at each position. A count may stand before (「2个梯子」) or after
    (「梯子2个」) the name; 「负1个」/「-1个」 give a negative count."""
    hits: list[tuple[int, int, str]] = []
    i = 0
    ordered = sorted(aliases, key=len, reverse=True)
    while i < len(text):
        for alias in ordered:
            if text.startswith(alias, i):
                hits.append((i, i + len(alias), aliases[alias]))
                i += len(alias)
                break
        else:
            i += 1
    wanted: dict[str, Wanted] = {}
    for n, (start, end, name) in enumerate(hits):
        before = text[hits[n - 1][1] if n else 0:start]
        after = text[end:hits[n + 1][0] if n + 1 < len(hits) else len(text)]
        quantity = None
        m = _BEFORE.search(before, _before_start(before)) or _AFTER.match(after)
        if m and (value := cn_to_int(m.group(2))) is not None:
            quantity = -value if m.group(1) else value
        elif m and m.group(2).isdigit():
            quantity = 0  # too many digits for a number: a bad count
        if name not in wanted:
            wanted[name] = Wanted(name, quantity)
    return list(wanted.values())


def _aliases(turn: Turn) -> dict[str, str]:
    """The classifier's tool aliases plus every stocked item's own name."""
    names = dict(getattr(turn.classifier.lexicon, "tools", {}) or {})
    for item in lending.all_items(turn.session):
        names.setdefault(item.name, item.name)
    return names


def _text(turn: Turn) -> str:
    u = turn.understanding
    return (u.normalized if u is not None and u.normalized else turn.text).strip()


@handles("tool_lending")
def lend_tool(turn: Turn) -> str:
    """Answer a lending request or one of the residents' lending commands."""
    text = _text(turn)
    if any(word in text for word in _RENEW):
        return renew(turn, text)
    if "取消预约" in text or "不借了" in text or "退出排队" in text:
        return cancel(turn, text)
    if any(word in text for word in _MINE):
        return mine(turn)
    if _RETURN.search(text) and not _BORROW.search(text):
        return how_to_return(turn)
    return _propose(turn, text, parse_wanted(text, _aliases(turn)), tries=0)


def _catalogue_lines(turn: Turn) -> str:
    lines = []
    for item in lending.all_items(turn.session):
        lines.append(msg("lending.item_line", name=item.name, available=item.available,
                         total=item.total))
    return "\n".join(lines)


def _propose(turn: Turn, text: str, wanted: list[Wanted], tries: int) -> str:
    """Say where/how many/how long for each wanted item and ask to confirm."""
    if not lending.all_items(turn.session):
        turn.finish()
        return msg("lending.none_stocked")
    if not wanted:
        unknown = _unknown_name(text)
        turn.ask({"flow": FLOW, "awaiting": "item", "tries": tries})
        if unknown:
            return msg("lending.unknown_item", name=unknown, items=_catalogue_lines(turn))
        return msg("lending.ask_item", items=_catalogue_lines(turn))
    lines: list[list[int]] = []
    parts: list[str] = []
    for w in wanted:
        # the resident's community's stations first, then the other stations of the account
        candidates = (lending.items_named(turn.session, w.name, community.community_of(turn))
                      or lending.items_named(turn.session, w.name))
        if not candidates:
            turn.ask({"flow": FLOW, "awaiting": "item", "tries": tries})
            return msg("lending.unknown_item", name=w.name, items=_catalogue_lines(turn))
        item = candidates[0]
        quantity = 1 if w.quantity is None else w.quantity
        try:
            lending_actions.check_quantity(item, quantity)
        except Invalid:
            turn.ask({"flow": FLOW, "awaiting": "item", "tries": tries})
            return msg("lending.bad_quantity", name=item.name, max=item.max_per_loan)
        lines.append([item.id, quantity])
        parts.append(_offer_line(turn, item, quantity))
    wanted_units = sum(q for _, q in lines)
    cap = max(turn.session.get(Station, turn.session.get(LendItem, i).station_id)
              .max_open_per_resident for i, _ in lines)
    open_now = lending.open_units(turn.session, turn.resident.id)
    if open_now + wanted_units > cap:
        turn.finish()
        return msg("lending.over_cap", open=open_now, max=cap)
    first = turn.session.get(LendItem, lines[0][0])
    station = turn.session.get(Station, first.station_id)
    turn.ask({"flow": FLOW, "awaiting": "confirm", "lines": lines, "tries": 0})
    return msg("lending.offer", lines="\n".join(parts), hours=station.opening_hours or "-",
               hold_hours=station.hold_hours)


def _offer_line(turn: Turn, item: LendItem, quantity: int) -> str:
    station = turn.session.get(Station, item.station_id)
    terms = notify.terms(item)
    if item.available >= quantity:
        return msg("lending.offer_line", name=item.name, quantity=quantity, station=station.name,
                   address=station.address or "-", available=item.available,
                   days=item.loan_days, terms=(msg("text.clause_sep") + terms) if terms else "")
    return msg("lending.offer_line_full", name=item.name, quantity=quantity,
               station=station.name, days=item.loan_days)


def _unknown_name(text: str) -> str | None:
    m = _UNKNOWN.search(text)
    if m is None:
        return None
    name = m.group(1).rstrip("吗呢吧啊呀了的")
    for stop in ("用", "几天", "一天", "两天"):
        name = name.split(stop)[0]
    if not name or name in _NOT_ITEMS or len(name) < 2:
        return None
    return name


@continues(FLOW)
def continue_lending(turn: Turn) -> str | None:
    """The answer to 「想借什么？」 or 「确认预约吗？」; None when the resident changed topic."""
    state = turn.state or {}
    u = turn.understanding
    text = _text(turn)
    wanted = parse_wanted(text, _aliases(turn))
    confident = u is not None and u.confidence >= turn.classifier.threshold
    if state.get("awaiting") == "confirm" and u is not None and u.intent == "confirm" and not wanted:
        return _reserve(turn, state.get("lines", []))
    lines = state.get("lines") or []
    bare = _BARE_QUANTITY.match(text)
    if bare and len(lines) == 1 and (count := cn_to_int(bare.group(2))) is not None:
        # 「2根」 after 「拐杖×1 …确认吗？」: the same item, another count
        name = turn.session.get(LendItem, lines[0][0]).name
        return _propose(turn, text, [Wanted(name, -count if bare.group(1) else count)],
                        tries=int(state.get("tries", 0)))
    if u is not None and u.intent == "deny" and not wanted:
        turn.finish()
        return msg("lending.declined")
    if wanted:
        return _propose(turn, text, wanted, tries=int(state.get("tries", 0)))
    if u is not None and u.intent in NEW_TOPIC and confident:
        return None
    if u is not None and u.intent == "tool_lending" and confident:
        turn.finish()
        return lend_tool(turn)
    tries = int(state.get("tries", 0)) + 1
    if tries >= MAX_TRIES:
        return None
    turn.ask({**state, "tries": tries})
    if state.get("awaiting") == "confirm":
        return msg("lending.ask_confirm_again")
    plain = u is None or u.intent not in ("confirm", "greeting", "help", "thanks", "chitchat")
    unknown = _unknown_name("借" + text) if len(text) <= 8 and plain else None
    if unknown:
        return msg("lending.unknown_item", name=unknown, items=_catalogue_lines(turn))
    return msg("lending.ask_item", items=_catalogue_lines(turn))


def _reserve(turn: Turn, lines: list[list[int]]) -> str:
    """Reserve each confirmed line (or queue it); one reply line per item."""
    turn.finish()
    tz = turn.settings.timezone
    out = []
    for item_id, quantity in lines:
        try:
            result = lending_actions.request(turn.session, int(item_id), turn.resident,
                                             int(quantity), turn.now)
        except NotFound:
            continue
        except Invalid:
            item = turn.session.get(LendItem, item_id)
            out.append(msg("lending.bad_quantity", name=item.name, max=item.max_per_loan))
            continue
        except WrongState:
            station = turn.session.get(Station, turn.session.get(LendItem, item_id).station_id)
            out.append(msg("lending.over_cap", open=lending.open_units(turn.session,
                                                                       turn.resident.id),
                           max=station.max_open_per_resident))
            continue
        if isinstance(result, Loan):
            f = notify.fields(turn.session, result, tz)
            out.append(msg("lending.held", **{**f, "terms": ("\n" + f["terms"]) if f["terms"]
                                                   else ""}))
        else:
            item = turn.session.get(LendItem, result.item_id)
            out.append(msg("lending.waiting", name=item.name,
                           position=lending.wait_position(turn.session, result)))
    return "\n\n".join(out) or msg("lending.declined")


# ------------------------------------------------------------------ residents' commands
def mine(turn: Turn) -> str:
    """「我借的东西」: holds, loans and places in queues."""
    tz = turn.settings.timezone
    loans = lending.loans_of(turn.session, turn.resident.id)
    waits = lending.waits_of(turn.session, turn.resident.id)
    turn.finish()
    if not loans and not waits:
        return msg("lending.mine_none")
    lines = [msg("lending.mine_header")]
    for loan in loans:
        f = notify.fields(turn.session, loan, tz)
        if loan.status == LoanStatus.HELD:
            lines.append(msg("lending.mine_held", **f))
        else:
            overdue = msg("lending.overdue_flag") if as_utc(loan.due_at) < turn.now else ""
            lines.append(msg("lending.mine_out", overdue=overdue, **f))
    for wait in waits:
        item = turn.session.get(LendItem, wait.item_id)
        lines.append(msg("lending.mine_wait", name=item.name, quantity=wait.quantity,
                         position=lending.wait_position(turn.session, wait)))
    lines.append(msg("lending.mine_footer"))
    return "\n".join(lines)


def _named(turn: Turn, text: str, loans: list[Loan]) -> Loan | str | None:
    """The loan named by number in ``text`` (the refusal reply when it is unknown or not the
    resident's), the only loan in ``loans``, the one whose item is named, or None."""
    if number := numbers.LOANS.find(text):
        try:
            loan = lending.loan_by_number(turn.session, number)
        except NotFound:
            return msg("lending.not_found", no=number)
        if loan.resident_id != turn.resident.id:
            return msg("lending.not_yours", no=loan.number)
        return loan
    if len(loans) == 1:
        return loans[0]
    wanted = {w.name for w in parse_wanted(text, _aliases(turn))}
    matching = [loan for loan in loans
                if turn.session.get(LendItem, loan.item_id).name in wanted]
    return matching[0] if len(matching) == 1 else None


def renew(turn: Turn, text: str) -> str:
    """「续借 [单号]」: extend an out loan once when nobody waits for the item."""
    turn.finish()
    tz = turn.settings.timezone
    out = [loan for loan in lending.loans_of(turn.session, turn.resident.id)
           if loan.status == LoanStatus.OUT]
    loan = _named(turn, text, out)
    if isinstance(loan, str):
        return loan
    if loan is None:
        if not out:
            return msg("lending.renew_none")
        return msg("lending.renew_which", numbers=msg("text.list_sep").join(x.number for x in out))
    try:
        lending_actions.renew(turn.session, loan, turn.resident, turn.now)
    except (WrongState, NotAllowed):
        f = notify.fields(turn.session, loan, tz)
        if loan.status != LoanStatus.OUT:
            return msg("lending.renew_not_out", **f)
        if loan.renewals >= 1:
            return msg("lending.renew_twice", **f)
        return msg("lending.renew_waiting", **f)
    return msg("lending.renew_done", **notify.fields(turn.session, loan, tz))


def cancel(turn: Turn, text: str) -> str:
    """「取消预约 [单号]」: release a hold (its units go to the next in the queue), or leave
    the waiting list when the resident only waits."""
    turn.finish()
    held = [loan for loan in lending.loans_of(turn.session, turn.resident.id)
            if loan.status == LoanStatus.HELD]
    loan = _named(turn, text, held)
    if isinstance(loan, str):
        return loan
    if loan is None:
        waits = lending.waits_of(turn.session, turn.resident.id)
        if not held and len(waits) >= 1 and not numbers.LOANS.find(text):
            return _leave_queue(turn, waits, text)
        if not held:
            return msg("lending.cancel_none")
        return msg("lending.cancel_which", numbers=msg("text.list_sep").join(x.number for x in held))
    try:
        released = lending_actions.cancel_hold(turn.session, loan, turn.resident, turn.now)
    except (WrongState, NotAllowed):
        return msg("lending.cancel_not_held", no=loan.number,
                   status=msg(f"lending.status_{loan.status}"))
    notify.tell_offers(turn.session, released, turn.now, turn.settings.timezone)
    return msg("lending.cancel_done", no=loan.number,
               name=turn.session.get(LendItem, loan.item_id).name)


def _leave_queue(turn: Turn, waits: list[LendWait], text: str) -> str:
    wanted = {w.name for w in parse_wanted(text, _aliases(turn))}
    chosen = [w for w in waits if turn.session.get(LendItem, w.item_id).name in wanted] or waits
    names = []
    for wait in chosen:
        lending_actions.cancel_wait(turn.session, wait, turn.resident, turn.now)
        names.append(turn.session.get(LendItem, wait.item_id).name)
    return msg("lending.wait_cancelled", names=msg("text.list_sep").join(names))


def how_to_return(turn: Turn) -> str:
    """「还梯子」: where and when to bring it back."""
    turn.finish()
    out = [loan for loan in lending.loans_of(turn.session, turn.resident.id)
           if loan.status == LoanStatus.OUT]
    if not out:
        return msg("lending.return_nothing")
    f = notify.fields(turn.session, out[0], turn.settings.timezone)
    return msg("lending.how_to_return", **f)

r"""Slot extraction: addresses, phone numbers, times, tools, children, ratings, ticket numbers.

All functions take *normalised* text (see ``intents.normalize``) except ``extract_address``,
which normalises full-width digits itself because the bot calls it on raw replies to
「您住几号楼几单元几室？」. Every extractor returns only what it found; absent slots are
absent keys, never None values.

Slot types and ranges (a number outside its range is no slot at all, never an error):

    building  str label: "5" (1..9999), "A", "C5", "12A"         buildings  list[str], ≥ 2
    estate    str (阳光小区)       unit      int 1..99          room   str of 3–4 digits
    phone     str, 11-digit mobile, "0dd(d)-ddddddd(d)" or 8 digits
    ticket_no str "GD<yyyymmdd>-<nnnn>" (storage.numbers)      when   str ≤ MAX_WHEN_CHARS
    date      ISO str              quantity  int 1..999         days   int 1..366
    grade     int 1..9             age       int 1..99          child_name  str, 2–4 chars
    rating    int 1..5

Hostile input: every pattern runs in time linear in the text, and every extractor reads
only the first ``MAX_TEXT_CHARS`` characters. Numbers are tokens of bounded length — ``_num``
never matches inside a longer run of digits, so 「999…9号楼」 is rejected at its first digit
instead of being re-scanned from every position — and no two unbounded repetitions of the
same characters follow each other (「\s*X?\s*」 is written 「\s*(?:X\s*)?」). Addresses are
read by a tokenizer (one linear pattern) and a grammar whose every step looks a bounded
number of tokens ahead.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Mapping
from datetime import date, timedelta
from typing import Any, Concatenate, ParamSpec, TypeVar

from intents.phrases import PhraseIndex
from storage import numbers
from storage.numbers import DEFAULT_TICKET_PREFIX

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "俩": 2, "三": 3, "四": 4,
              "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_NUMERALS = "零〇一二两三四五六七八九十百"
_MAX_NUMBER_CHARS = 9
"""cn_to_int refuses longer tokens: no absurd values, no int() of a 5,000-digit string."""
_SP = r"\s{0,3}"
"""Whitespace between the parts of a phrase (normalised text has at most one space)."""
MAX_WHEN_CHARS = 40
"""Upper bound of the ``when`` slot's length (the longest phrase _WHEN can match)."""
MAX_TEXT_CHARS = 2000
"""Every extractor reads only this many leading characters of its text (defence in depth:
the bot cuts messages shorter before; the patterns are linear anyway)."""

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _capped(extract: Callable[Concatenate[str, _P], _R]) -> Callable[Concatenate[str, _P], _R]:
    """Make ``extract`` read only the first MAX_TEXT_CHARS characters of its text."""
    @functools.wraps(extract)
    def wrapper(text: str, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        return extract(text[:MAX_TEXT_CHARS], *args, **kwargs)
    return wrapper


def _num(max_digits: int) -> str:
    """Pattern of one number: 1..``max_digits`` digits, never part of a longer run of digits
    (「99999号楼」 holds no building), or the last 1..5 Chinese numerals of a run (九百九十九;
    no look-behind there, so 「周二十点」 is still 周二 + 十点). Bounded both ways, so a
    search costs a constant per position, whatever runs of digits or numerals the text holds.
    """
    cn = _CN_NUMERALS
    return rf"(?:(?<!\d)\d{{1,{max_digits}}}(?!\d)|[{cn}]{{1,5}}(?![{cn}]))"


def _in(value: int | None, low: int, high: int) -> int | None:
    """``value`` when ``low <= value <= high``, else None."""
    return value if value is not None and low <= value <= high else None


def cn_to_int(token: str) -> int | None:
    """Integer value of ``"12"``, ``"十二"``, ``"二十一"``, ``"两"``, ``"一百零五"``; else None.

    None also for tokens longer than 9 characters (no absurd values, never raises).
    """
    if len(token) > _MAX_NUMBER_CHARS:
        return None
    if token.isascii() and token.isdigit():
        return int(token)
    if not token or any(ch not in _CN_DIGITS and ch not in "十百" for ch in token):
        return None
    total, current = 0, 0
    for ch in token:
        if ch == "百":
            total += (current or 1) * 100
            current = 0
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        else:
            current = _CN_DIGITS[ch]
    return total + current


def _first_number(pattern: re.Pattern[str], text: str, high: int) -> int | None:
    """Value of the first match of ``pattern`` whose group 1 is a number in 1..``high``."""
    for m in pattern.finditer(text):
        if (value := _in(cn_to_int(m.group(1)), 1, high)) is not None:
            return value
    return None


# ---------------------------------------------------------------- address
# A tokenizer and a small grammar over its tokens (not patterns shaped like examples):
#
#   address   := compact | [estate] buildings [chain] | unit [chain] | room-with-suffix
#   buildings := label {sep label} bsuffix {sep label {sep label} bsuffix}
#   label     := LETTER [1–3 digits] | 1–4 digits [LETTER] | Chinese numeral
#   bsuffix   := 号楼 | 栋 | 幢 | 座 | # | #楼 | 号栋 …; 号 only before a unit or a room,
#                楼 only before a unit (「5楼」 is a floor)
#   chain     := [unit | unit DASH room] [floor] [room]
#   unit      := number 单元 | 门洞 | 门栋 (after a building also 门 | 梯)
#   room      := 3–4 digits | 3–4 Chinese digits (六零一) | floor + 1–2 digits (3楼2 → 302),
#                then 室 | 房 | 号 | 户 … or nothing, but never a counter (年 月 天 元 岁 点 …)
#   compact   := label DASH unit DASH room                         (3-2-501, A-2-501)
#
# A number is an address part only when an address word follows it, so years, dates, times,
# money, ages, durations and phone numbers are none; a number right after 月 (「11月3号楼」)
# or after a determiner (「这两栋楼」「每栋」) is no label either.
_ADDR_TOKEN = re.compile(
    r"(?P<num>[0-9]+)|(?P<cn>[零〇一二两俩三四五六七八九十百]+)|(?P<let>[A-Za-z]+)|(?P<sp>\s+)"
    r"|(?P<w>号院楼|号楼|号栋|号幢|号座|栋楼|幢楼|座楼|#楼|#栋|号房|房间|单元|门洞|门栋|.)",
    re.ASCII | re.DOTALL)
_STRONG_SUFFIXES = frozenset({"号楼", "号院楼", "号栋", "号幢", "号座", "栋", "幢", "#", "#楼", "#栋"})
_COUNT_SUFFIXES = frozenset({"栋楼", "幢楼", "座楼", "座"})
"""Building words that are also measure words: after 一 or 两 they count buildings (「一栋楼都
停电」「两座楼之间」), after any other label they name one (「2栋楼下」「五栋楼道」「B座」)."""
_UNIT_SUFFIXES = frozenset({"单元", "门洞", "门栋"})
_CHAIN_UNIT_SUFFIXES = frozenset({"门", "梯"})
_ROOM_SUFFIXES = frozenset({"室", "房", "号房", "房间", "户"})
_FLOOR_WORDS = frozenset({"楼", "层"})
_NOT_A_ROOM_BEFORE = frozenset("年月日天周点时分秒元块毛角岁斤米层楼次个人位件台辆只克度%."
                               ":：栋幢座#门梯") | _STRONG_SUFFIXES | _COUNT_SUFFIXES | \
    _UNIT_SUFFIXES
"""Words after a number that make it a count, a date, a price … or another part, not a room."""
_NOT_A_LABEL_AFTER = frozenset("月.:：这那每整几共")
_LIST_SEPARATORS = frozenset("、和与跟及或/")
_RANGE_SEPARATORS = frozenset("-－—–~～到至")
_DASHES = frozenset("-－—–~～_/")
_FILLERS = frozenset({"的", ",", "，", "-", "—", "–"})
_MAX_LIST = 12
"""Most labels in one list or range of buildings (「7-8-9栋」); bounds the work per token."""
_MAX_RANGE = 30
"""A range 「3到8号楼」 is expanded when it spans at most this many buildings."""
ESTATE_SUFFIXES = ("小区", "花园", "家园", "嘉园", "新村", "新城", "公寓", "山庄", "社区", "苑",
                   "府", "庭", "湾", "城")
"""Endings of estate (小区) names: 阳光小区, 幸福家园, 锦绣苑, 万达城."""
_ESTATE_STOPS = frozenset("我你他她它们咱住在是的了这那个该本从到去、，,。 ")
"""Characters that end an estate name read backwards (「我住在阳光小区」 → 阳光小区)."""
_ESTATE_NAME_MAX = 6
BUILDING_MAX = 9999
UNIT_MAX = 99


def is_room_number(room: str) -> bool:
    """Whether ``room`` is a room number as residents write them: 3–4 ASCII digits, not all
    zeros (「501」「1203」)."""
    return room.isascii() and room.isdigit() and 3 <= len(room) <= 4 and int(room) != 0


def _tokens(text: str) -> list[tuple[str, str, int]]:
    """(kind, text, start) of each token: kinds num, cn, let, sp and w (a word or a char)."""
    return [(m.lastgroup or "w", m.group(), m.start()) for m in _ADDR_TOKEN.finditer(text)]


class _Reader:
    """The grammar of the block comment above, over the tokens of one text; every method
    takes a token index and returns what it read and the index after it, or None."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self._labels: dict[int, tuple[str, int | None, int] | None] = {}

    def kind(self, i: int) -> str | None:
        return self.toks[i][0] if 0 <= i < len(self.toks) else None

    def word(self, i: int) -> str | None:
        """The token's text when it is a word (or a single other character)."""
        return self.toks[i][1] if 0 <= i < len(self.toks) and self.toks[i][0] == "w" else None

    def space(self, i: int) -> int:
        return i + 1 if self.kind(i) == "sp" else i

    def filler(self, i: int) -> int:
        """Skip a space, 的, a comma or a dash between the parts of one address (at most
        three: 「5栋-402」「3号楼，2单元」)."""
        for _ in range(3):
            if self.kind(i) == "sp" or self.word(i) in _FILLERS:
                i += 1
        return i

    def number(self, i: int, high: int) -> tuple[int, int] | None:
        """A number 1..high written in digits or in Chinese (not 两/俩, which count)."""
        kind = self.kind(i)
        if kind == "num" or (kind == "cn" and self.toks[i][1] not in ("两", "俩")):
            value = _in(_cn_number(self.toks[i][1]), 1, high)
            if value is not None:
                return value, i + 1
        return None

    def label(self, i: int) -> tuple[str, int | None, int] | None:
        """(canonical label, its number or None, next) of a building label at ``i``."""
        if i not in self._labels:
            self._labels[i] = self._label(i)
        return self._labels[i]

    def _label(self, i: int) -> tuple[str, int | None, int] | None:
        if not 0 <= i < len(self.toks) or self.word(i - 1) in _NOT_A_LABEL_AFTER:
            return None
        kind, text, _ = self.toks[i]
        if kind == "let" and len(text) == 1:
            if self.kind(i + 1) == "num" and len(self.toks[i + 1][1]) <= 3 and (
                    n := int(self.toks[i + 1][1])):
                return f"{text.upper()}{n}", None, i + 2
            return text.upper(), None, i + 1
        if kind == "num" and len(text) > 4:
            return None
        found = self.number(i, BUILDING_MAX)
        if found is None:
            return None
        value, j = found
        if kind == "num" and self.kind(j) == "let" and len(self.toks[j][1]) == 1:
            return f"{value}{self.toks[j][1].upper()}", None, j + 1
        return str(value), value, j

    def labels(self, i: int) -> tuple[list[str], int, int] | None:
        """(labels, index of the last, next) of 「7」「7-8-9」「7、8」「3到5」 at ``i``."""
        first = self.label(i)
        if first is None:
            return None
        label, value, j = first
        found, last = [label], i
        while len(found) < _MAX_LIST:
            sep = self.word(j)
            if sep not in _LIST_SEPARATORS and sep not in _RANGE_SEPARATORS:
                break
            nxt = self.label(self.space(j + 1))
            if nxt is None or (self.kind(i) == "let") != (self.kind(self.space(j + 1)) == "let"):
                break
            if sep in _RANGE_SEPARATORS and value is not None and nxt[1] is not None and (
                    0 < nxt[1] - value <= _MAX_RANGE):
                found += [str(n) for n in range(value + 1, nxt[1])]
            found.append(nxt[0])
            last = self.space(j + 1)
            label, value, j = nxt
        return found, last, j

    def building(self, i: int, budget: int = _MAX_LIST) -> tuple[dict[str, Any], int] | None:
        """Building(s) and the rest of the address from a label at ``i``; ``budget`` bounds
        the labels read (「1号楼和2号楼和…」 costs at most _MAX_LIST labels)."""
        parsed = self.labels(i)
        if parsed is None:
            return None
        labels, _, j = parsed
        letter = self.kind(i) == "let"
        k = j if letter else self.space(j)
        suffix = self.word(k)
        if suffix in _STRONG_SUFFIXES and not (letter and suffix == "#") or (
                suffix in _COUNT_SUFFIXES and self.toks[i][1] != "一"):
            out, end = self.chain(k + 1, after_building=True)
        elif suffix in ("号", "楼") and len(labels) == 1:
            out, end = self.chain(k + 1, after_building=True)
            if "unit" not in out and (suffix == "楼" or "room" not in out):
                return None
        else:
            return None
        sep = self.word(end)
        budget -= len(labels)
        if not out and budget > 0 and (sep in _LIST_SEPARATORS or sep in _RANGE_SEPARATORS):
            # 「7号楼和8号楼之间」「1号楼到3号楼」: more buildings may follow
            more = self.building(self.space(end + 1), budget)
            if more is not None:
                following = more[0].get("buildings", [more[0]["building"]])
                if sep in _RANGE_SEPARATORS and labels[-1].isdigit() and following[0].isdigit() \
                        and 0 < int(following[0]) - int(labels[-1]) <= _MAX_RANGE:
                    labels += [str(n) for n in range(int(labels[-1]) + 1, int(following[0]))]
                labels += following
                out = {key: v for key, v in more[0].items() if key not in ("building", "buildings")}
                end = more[1]
        labels = list(dict.fromkeys(labels))
        out = {"building": labels[0], **out}
        if len(labels) > 1:
            out["buildings"] = labels
        return out, end

    def unit(self, i: int, after_building: bool) -> tuple[int, int] | None:
        """A unit 1..UNIT_MAX: 「2单元」「二门洞」, and after a building also 「2门」「2梯」."""
        found = self.number(i, UNIT_MAX)
        if found is not None and self.kind(i) == "num" and len(self.toks[i][1]) > 2:
            found = None
        if found is None:
            return None
        value, j = found
        j = self.space(j)
        word = self.word(j)
        if word in _UNIT_SUFFIXES or (after_building and word in _CHAIN_UNIT_SUFFIXES):
            return value, j + 1
        return None

    def room(self, i: int, in_chain: bool) -> tuple[str, int] | None:
        """A room number; bare (「5号楼402」) only ``in_chain``, else with 室/房/户."""
        if self.word(i - 1) in _NOT_A_LABEL_AFTER:
            return None
        kind = self.kind(i)
        if kind not in ("num", "cn"):
            return None
        text = self.toks[i][1]
        room: str | None = None
        j = i + 1
        if in_chain and self.word(j) in _FLOOR_WORDS and (floor := self.number(i, 99)):
            # 「3楼02」「3楼2」 → 302; 「12层1203」 → 1203
            after = j + 1
            short = self.kind(after) == "num" and len(self.toks[after][1]) <= 2 or (
                self.kind(after) == "cn" and len(self.toks[after][1]) <= 2)
            if short and (n := self.number(after, 99)) is not None:
                room, j = f"{floor[0]}{n[0]:02d}", after + 1
            elif self.kind(after) in ("num", "cn"):
                i, j, kind, text = after, after + 1, self.kind(after) or "", self.toks[after][1]
        if room is None:
            if kind == "num":
                room = text if 3 <= len(text) <= 4 and int(text) else None
            elif not ("十" in text or "百" in text) and 3 <= len(text) <= 4:
                room = str(_cn_number(text))  # 六零一 → 601
            elif (value := _in(cn_to_int(text), 100, 9999)) is not None:
                room = str(value)
        if room is None or not is_room_number(room):
            return None
        nxt = self.word(j)
        if nxt in _ROOM_SUFFIXES or (in_chain and nxt == "号"):
            return room, j + 1
        if in_chain and nxt == "门" and self.kind(j + 1) not in ("num", "cn"):
            return room, j  # 「501门口」「501门坏了」: the room's door (a unit 门 is 1–2 digits)
        if not in_chain or nxt in _NOT_A_ROOM_BEFORE or self.kind(j) in ("let", "num") or (
                nxt in _DASHES and self.kind(j + 1) == "num"):
            return None
        return room, j

    def chain(self, i: int, after_building: bool) -> tuple[dict[str, Any], int]:
        """Unit, floor and room after a building (or after a unit)."""
        out: dict[str, Any] = {}
        j = self.filler(i)
        unit = self.unit(j, after_building)
        if unit is not None:
            out["unit"], i = unit
            j = self.filler(i)
        elif after_building and (pair := self.unit_room(j)) is not None:
            out["unit"], out["room"], i = pair
            return out, i
        room = self.room(j, in_chain=True)
        if room is not None:
            out["room"], i = room
        return out, i

    def unit_room(self, i: int) -> tuple[int, str, int] | None:
        """「2-501」 after a building: unit, dash, room."""
        if self.kind(i) != "num" or len(self.toks[i][1]) > 2 or self.word(i + 1) not in _DASHES:
            return None
        unit = _in(int(self.toks[i][1]), 1, UNIT_MAX)
        room = self.room(i + 2, in_chain=True) if unit is not None else None
        if unit is None or room is None or self.kind(i + 2) != "num":
            return None
        return unit, room[0], room[1]

    def compact(self, i: int) -> dict[str, Any] | None:
        """「3-2-501」: building, unit and room joined by dashes (not a date 11-22-2026)."""
        if self.word(i - 1) in _DASHES or self.kind(i) not in ("num", "let"):
            return None
        if self.kind(i) == "num" and len(self.toks[i][1]) > 3:
            return None
        label = self.label(i)
        if label is None or self.word(label[2]) not in _DASHES:
            return None
        pair = self.unit_room(label[2] + 1)
        if pair is None:
            return None
        unit, room, _ = pair
        if label[1] is not None and label[1] <= 12 and unit <= 31 and 1900 <= int(room) <= 2099:
            return None
        return {"building": label[0], "unit": unit, "room": room}

    def estate(self, i: int) -> str | None:
        """The estate name written right before token ``i`` (「阳光小区3号楼」 → 阳光小区)."""
        before = self.text[max(0, self.toks[i][2] - 24):self.toks[i][2]].rstrip()
        before = before.removesuffix("的").rstrip()
        for suffix in ESTATE_SUFFIXES:
            if before.endswith(suffix):
                head = before[:-len(suffix)]
                n = 0
                while n < len(head) and head[-1 - n] not in _ESTATE_STOPS and \
                        "\u4e00" <= head[-1 - n] <= "\u9fff":
                    n += 1
                if 0 < n <= _ESTATE_NAME_MAX and (n > 1 or len(suffix) > 1):
                    return head[len(head) - n:] + suffix
                return None
        return None


def _cn_number(token: str) -> int | None:
    """Value of a digit or Chinese-numeral token; 「一二零三」 (no 十/百) reads digit by digit."""
    if token.isascii():
        return int(token) if token.isdigit() and len(token) <= _MAX_NUMBER_CHARS else None
    if len(token) > 1 and "十" not in token and "百" not in token:
        if len(token) > _MAX_NUMBER_CHARS:
            return None
        return int("".join(str(_CN_DIGITS[ch]) for ch in token))
    return cn_to_int(token)


@_capped
def extract_address(text: str) -> dict[str, Any]:
    """Estate, building(s), unit and room from free text, in the forms residents write.

    ``{"building": "5", "unit": 3, "room": "402"}`` from 「5号楼3单元402」「5-3-402」「五栋3门402」
    「5#楼3单元402室」; only the parts present, ``{}`` when none. Shapes:

    - ``building``: str, the canonical label — "5" for 5号楼/五栋/5#楼/5幢 (digits without
      leading zeros, 1..BUILDING_MAX), "A" for A栋/A座, "C5" for C5栋 (upper case); look it
      up with ``storage.org.find_building``.
    - ``buildings``: list[str], only when several are named (「7-8-9栋」「7、8号楼之间」「3到5号楼」
      → ["7", "8", "9"], ["7", "8"], ["3", "4", "5"]); ``building`` is then the first.
    - ``unit``: int 1..UNIT_MAX (单元, 门洞, or 门/梯 after a building).
    - ``room``: str of 3–4 ASCII digits (「六零一」 → "601", 「3楼2」 after a unit → "302").
    - ``estate``: str, the estate (小区) named right before the building (「阳光小区3号楼」).

    Years, dates, times, money, ages, durations, floors and phone numbers are never address
    parts (「住了18年」「11月3号」「12点」「50元」「80岁」「我家住5楼」). Normalises full-width
    characters itself (the bot calls it on raw replies). Never raises.
    """
    text = " ".join(unicodedata.normalize("NFKC", text).split())[:MAX_TEXT_CHARS]
    reader = _Reader(text)
    skip_to = 0
    for i in range(len(reader.toks)):
        if i < skip_to or reader.kind(i) not in ("num", "cn", "let"):
            continue
        if (compact := reader.compact(i)) is not None:
            return compact
        if (found := reader.building(i)) is not None:
            out = found[0]
            if (estate := reader.estate(i)) is not None:
                out["estate"] = estate
            return out
        # A list that is no building (「1、2、3点」) is none from its inner labels either.
        skip_to = listed[1] if (listed := reader.labels(i)) is not None else i
    for i in range(len(reader.toks)):
        unit = reader.unit(i, after_building=False)
        if unit is not None:
            out, _ = reader.chain(unit[1], after_building=False)
            return {"unit": unit[0], **out}
    for i in range(len(reader.toks)):
        room = reader.room(i, in_chain=False)
        if room is not None:
            return {"room": room[0]}
    return {}


# ---------------------------------------------------------------- phone, ticket
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)[\s-]?(\d{4})[\s-]?(\d{4})(?!\d)", re.ASCII)
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3})[\s-]?(\d{7,8})(?!\d)|(?<![\d-])(\d{8})(?![\d-])",
                       re.ASCII)


@_capped
def extract_phone(text: str) -> str | None:
    """An 11-digit mobile (spaces/dashes removed) or a landline (``024-12345678``)."""
    m = _MOBILE.search(text)
    if m:
        return "".join(m.groups())
    m = _LANDLINE.search(text)
    if m:
        return f"{m.group(1)}-{m.group(2)}" if m.group(1) else m.group(3)
    return None


@_capped
def extract_ticket_no(text: str, prefix: str = DEFAULT_TICKET_PREFIX) -> str | None:
    """Ticket number ``<prefix><yyyymmdd>-<nnnn>`` in any case → its stored form, e.g.
    GD20261122-0001 (``storage.numbers`` owns the format)."""
    return numbers.tickets(prefix).find(text)


# ---------------------------------------------------------------- time
_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "末": 5}
_DAY_WORDS = {"今天": 0, "今儿": 0, "今日": 0, "今晚": 0, "今早": 0, "明天": 1, "明儿": 1,
              "明日": 1, "明早": 1, "明晚": 1, "后天": 2, "大后天": 3, "昨天": -1, "昨晚": -1,
              "前天": -2}
_PART = r"(?:上午|下午|中午|晚上|早上|早晨|傍晚|凌晨|夜里|半夜|白天|晚点|一早)"
_CLOCK = (rf"(?:{_num(2)}{_SP}(?:点|时|:\d\d)"
          rf"(?:半|{_num(2)}{_SP}分?|左右|前|后|以前|以后)?)")
_MONTH_DAY = rf"({_num(2)}){_SP}月{_SP}({_num(2)}){_SP}[日号]"
_DAY = (r"(?:大后天|今天|今儿|今日|今晚|今早|明天|明儿|明日|明早|明晚|后天|昨天|昨晚|前天"
        r"|(?:上|下|这|本|下个)?(?:周|星期|礼拜)[一二三四五六日天末]"
        rf"|{_MONTH_DAY}|(?<![\d月])\d{{1,2}}{_SP}号(?!楼|院|房|{_SP}\d|线))")
# Optional parts carry their own leading space: 「\s*X?\s*」 would backtrack quadratically.
_WHEN = re.compile(rf"{_DAY}(?:{_SP}{_PART})?(?:{_SP}{_CLOCK})?|{_PART}(?:{_SP}{_CLOCK})?"
                   rf"|{_CLOCK}(?!课堂|驿站)(?=.{{0,4}}(?:来|到|修|上门|借|之前|以前))", re.ASCII)


@_capped
def extract_when(text: str, today: date | None = None) -> dict[str, Any]:
    """Time phrase as written (``when``) and, given ``today``, the ISO ``date`` it names.

    「明天下午」→ when="明天下午", date=today+1; 「周六」→ the coming Saturday (today if
    today is Saturday); 「下周三」→ Wednesday of next week; 「11月30号」→ that day this year;
    「5号」→ that day of this month. No ``date`` when the phrase has no day (「下午3点」).
    """
    m = _WHEN.search(text)
    if not m:
        return {}
    phrase = m.group(0).strip()
    out: dict[str, Any] = {"when": phrase}
    if today is not None and (resolved := _resolve_date(phrase, today)) is not None:
        out["date"] = resolved.isoformat()
    return out


def _resolve_date(phrase: str, today: date) -> date | None:
    for word in sorted(_DAY_WORDS, key=len, reverse=True):
        if phrase.startswith(word):
            return today + timedelta(days=_DAY_WORDS[word])
    m = re.match(r"(上|下个|下|这|本)?(?:周|星期|礼拜)([一二三四五六日天末])", phrase)
    if m:
        target = _WEEKDAYS[m.group(2)]
        monday = today - timedelta(days=today.weekday())
        if m.group(1) in ("下", "下个"):
            return monday + timedelta(days=7 + target)
        if m.group(1) == "上":
            return monday + timedelta(days=target - 7)
        if m.group(1) in ("这", "本"):
            return monday + timedelta(days=target)
        ahead = (target - today.weekday()) % 7
        return today + timedelta(days=ahead)
    m = re.match(_MONTH_DAY, phrase, re.ASCII)
    if m:
        month, day = cn_to_int(m.group(1)), cn_to_int(m.group(2))
        return _safe_date(today.year, month, day)
    m = re.match(rf"(\d{{1,2}}){_SP}号", phrase, re.ASCII)
    if m:
        return _safe_date(today.year, today.month, int(m.group(1)))
    return None


def _safe_date(year: int, month: int | None, day: int | None) -> date | None:
    try:
        return date(year, month or 0, day or 0)
    except ValueError:
        return None


# ---------------------------------------------------------------- lending
_MEASURE = r"(?:个|把|台|副|辆|张|根|只|套|件|瓶|桶|架|部|条|块|双|盒)"
_QUANTITY = re.compile(rf"({_num(3)}){_SP}{_MEASURE}", re.ASCII)
_DAYS = re.compile(rf"({_num(3)}|半|一个|两个|几){_SP}(天|日|周|星期|个星期|礼拜|个礼拜|个月)"
                   r"(?!了|没|都|啦|前|以前|之前|天)", re.ASCII)
QUANTITY_MAX = 999
DAYS_MAX = 366


@_capped
def extract_quantity(text: str) -> int | None:
    """Count before a measure word (「两把椅子」→ 2), 1..QUANTITY_MAX; None without an
    explicit number or with an absurd one."""
    return _first_number(_QUANTITY, text, QUANTITY_MAX)


@_capped
def extract_days(text: str) -> int | None:
    """Borrowing duration in days: 「借两天」→ 2, 「一周」→ 7, 「一个月」→ 30.

    Durations of the past (「坏了两天了」) are not borrowing durations and are skipped, and
    so are durations over DAYS_MAX days.
    """
    for m in _DAYS.finditer(text):
        raw, unit = m.group(1), m.group(2)
        if raw == "几" or raw == "半":
            continue
        n = 1 if raw == "一个" else 2 if raw == "两个" else cn_to_int(raw)
        if n is None or n == 0:
            continue
        factor = 30 if unit == "个月" else 7 if unit in ("周", "星期", "个星期", "礼拜",
                                                          "个礼拜") else 1
        if n * factor <= DAYS_MAX:
            return n * factor
    return None


@_capped
def extract_tool(text: str, tools: Mapping[str, str] | PhraseIndex[str]) -> str | None:
    """Canonical tool name of the longest alias found in ``text`` (aliases from the lexicon)."""
    index = tools if isinstance(tools, PhraseIndex) else PhraseIndex(tools)
    return index.longest(text)


# ---------------------------------------------------------------- children
_GRADE = re.compile(rf"(?:小学)?([一二三四五六七八九1-9]){_SP}年级")
_JUNIOR = re.compile(r"初([一二三])")
_AGE = re.compile(rf"({_num(3)}){_SP}(?:周岁|岁)", re.ASCII)
AGE_MAX = 99
_NAME = re.compile(rf"(?:叫|名字是|名字叫|姓名是|姓名[:：]?|名叫){_SP}([\u4e00-\u9fff]{{2,4}}?)"
                   r"(?=$|[\s,.，。!！?？、:：;；]|今年|上|读|在|是|\d|[一二三四五六七八九]"
                   r"(?:年级|岁)|和|想|要|能)")
_NOT_NAMES = {"什么", "啥名", "孩子", "小孩", "宝宝", "我家", "一下"}


@_capped
def extract_child(text: str) -> dict[str, Any]:
    """``child_name``, ``grade`` (1–6 primary, 7–9 junior) and ``age`` when written."""
    out: dict[str, Any] = {}
    m = _GRADE.search(text)
    if m:
        out["grade"] = cn_to_int(m.group(1))
    else:
        m = _JUNIOR.search(text)
        if m:
            out["grade"] = 6 + (cn_to_int(m.group(1)) or 0)
    if (age := _first_number(_AGE, text, AGE_MAX)) is not None:
        out["age"] = age
    name = extract_child_name(text)
    if name:
        out["child_name"] = name
    return out


@_capped
def extract_child_name(text: str) -> str | None:
    """A child's name after 叫 / 名字是 / 姓名: (「孩子叫王子涵」→ 王子涵), else None."""
    m = _NAME.search(text)
    if m and m.group(1) not in _NOT_NAMES:
        return m.group(1)
    return None


@_capped
def extract_program(text: str,
                    programs: Mapping[str, str] | PhraseIndex[str]) -> str | None:
    """Canonical care programme (四点半课堂 | 假期托管 …) of the longest alias in ``text``."""
    return extract_tool(text, programs)


# ---------------------------------------------------------------- rating
_STARS = re.compile(r"(?<!\d)([1-5一二三四五])\s*(?:分|星|颗星)")
# Optional parts carry their trailing space: 「\s*X?\s*」 would backtrack quadratically.
_BARE = re.compile(r"^\s*(?:(?:给|打)\s*)?([1-5一二三四五])\s*(?:(?:分|星|颗星)\s*)?"
                   r"(?:[!！。.]\s*)?$")


@_capped
def extract_rating(text: str, phrases: Mapping[str, int] | PhraseIndex[int]) -> int | None:
    """Satisfaction 1..5 from 「5」「5分」「五星」 or a phrase of the lexicon (满意 → 5)."""
    m = _BARE.match(text) or _STARS.search(text)
    if m:
        return cn_to_int(m.group(1))
    index = phrases if isinstance(phrases, PhraseIndex) else PhraseIndex(phrases)
    return index.longest(text)

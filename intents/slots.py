r"""Slot extraction: addresses, phone numbers, times, tools, children, ratings, ticket numbers.

All functions take *normalised* text (see ``intents.normalize``) except ``extract_address``,
which normalises full-width digits itself because the bot calls it on raw replies to
「您住几号楼几单元几室？」. Every extractor returns only what it found; absent slots are
absent keys, never None values.

Slot types and ranges (a number outside its range is no slot at all, never an error):

    building  int 1..9999         unit      int 1..99          room   str of 3–4 digits
    phone     str, 11-digit mobile, "0dd(d)-ddddddd(d)" or 8 digits
    ticket_no str "GD<yyyymmdd>-<nnnn>"                        when   str ≤ MAX_WHEN_CHARS
    date      ISO str              quantity  int 1..999         days   int 1..366
    grade     int 1..9             age       int 1..99          child_name  str, 2–4 chars
    rating    int 1..5

Hostile input: every pattern runs in time linear in the text, and every extractor reads
only the first ``MAX_TEXT_CHARS`` characters. Numbers are tokens of bounded length — ``_num``
never matches inside a longer run of digits, so 「999…9号楼」 is rejected at its first digit
instead of being re-scanned from every position — and no two unbounded repetitions of the
same characters follow each other (「\s*X?\s*」 is written 「\s*(?:X\s*)?」).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Mapping
from datetime import date, timedelta
from typing import Any, Concatenate, ParamSpec, TypeVar

from intents.phrases import PhraseIndex

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


# ---------------------------------------------------------------- address
_DASH = r"[-－—–~～_/]"
_ADDR_DASH = re.compile(rf"(?<!\d)(\d{{1,3}}){_DASH}(\d{{1,2}}){_DASH}(\d{{3,4}})(?!\d)", re.ASCII)
_BUILDING = re.compile(rf"({_num(4)}){_SP}(?:号楼|号院楼|栋楼|栋|幢|座"
                       rf"|号(?={_SP}\d{{1,2}}{_SP}单元)|楼(?={_SP}{_num(2)}{_SP}单元))", re.ASCII)
_UNIT = re.compile(rf"({_num(2)}){_SP}(?:单元|门洞|门栋)", re.ASCII)
_ROOM_AFTER_UNIT = re.compile(rf"(?:单元|门洞){_SP}(?:的{_SP})?"
                              rf"(\d{{3,4}}|\d{{1,2}}{_SP}楼{_SP}\d{{1,2}})(?!\d)", re.ASCII)
_ROOM = re.compile(rf"(?<![\d.])(\d{{3,4}}){_SP}(?:室|号房|房间|房|户)", re.ASCII)
_ROOM_AFTER_BUILDING = re.compile(rf"(?:号楼|栋|幢){_SP}(\d{{3,4}})(?!\d)"
                                  rf"(?!{_SP}(?:单元|号楼|栋|元|块))", re.ASCII)
BUILDING_MAX = 9999
UNIT_MAX = 99


def _first_number(pattern: re.Pattern[str], text: str, high: int) -> int | None:
    """Value of the first match of ``pattern`` whose group 1 is a number in 1..``high``."""
    for m in pattern.finditer(text):
        if (value := _in(cn_to_int(m.group(1)), 1, high)) is not None:
            return value
    return None


@_capped
def extract_address(text: str) -> dict[str, Any]:
    """Building, unit and room from free text, in the forms residents write.

    「5号楼3单元402」「5-3-402」「5栋3单元402室」「五号楼」「5栋」「3单元501」「402室」 →
    ``{"building": 5, "unit": 3, "room": "402"}`` (only the parts present). ``building``
    and ``unit`` are ints (1..BUILDING_MAX, 1..UNIT_MAX: 「99999号楼」 is no building),
    ``room`` a string of 3–4 ASCII digits. Never raises; ``{}`` when nothing found.
    """
    text = " ".join(unicodedata.normalize("NFKC", text).split())[:MAX_TEXT_CHARS]
    out: dict[str, Any] = {}
    for m in _ADDR_DASH.finditer(text):
        if int(m.group(1)) >= 1 and int(m.group(2)) >= 1:
            return {"building": int(m.group(1)), "unit": int(m.group(2)), "room": m.group(3)}
    if (value := _first_number(_BUILDING, text, BUILDING_MAX)) is not None:
        out["building"] = value
    if (value := _first_number(_UNIT, text, UNIT_MAX)) is not None:
        out["unit"] = value
    m = _ROOM_AFTER_UNIT.search(text) if "unit" in out else None
    if m is None:
        m = _ROOM.search(text) or _ROOM_AFTER_BUILDING.search(text)
    if m:
        out["room"] = re.sub(r"\D", "", m.group(1)) if "楼" not in m.group(1) else \
            "".join(f"{int(p):02d}" if i else p for i, p in enumerate(re.findall(r"\d+",
                                                                                m.group(1))))
    return out


# ---------------------------------------------------------------- phone, ticket
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)[\s-]?(\d{4})[\s-]?(\d{4})(?!\d)", re.ASCII)
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3})[\s-]?(\d{7,8})(?!\d)|(?<![\d-])(\d{8})(?![\d-])",
                       re.ASCII)
TICKET_RE = re.compile(r"gd\s*(\d{8})\s*-\s*(\d{4,6})(?!\d)", re.IGNORECASE | re.ASCII)


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
def extract_ticket_no(text: str) -> str | None:
    """Ticket number ``GD<yyyymmdd>-<nnnn>`` in any case → upper case, e.g. GD20261122-0001
    (four digits at least: a city's busy day goes on to GD20261122-10000)."""
    m = TICKET_RE.search(text)
    return f"GD{m.group(1)}-{m.group(2)}" if m else None


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

"""Slot extraction: addresses, phone numbers, times, tools, children, ratings, ticket numbers.

All functions take *normalised* text (see ``intents.normalize``) except ``extract_address``,
which normalises full-width digits itself because the bot calls it on raw replies to
「您住几号楼几单元几室？」. Every extractor returns only what it found; absent slots are
absent keys, never None values.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from intents.phrases import PhraseIndex

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "俩": 2, "三": 3, "四": 4,
              "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_NUM = r"(?:\d+|[零〇一二两三四五六七八九十百]+)"


def cn_to_int(token: str) -> int | None:
    """Integer value of ``"12"``, ``"十二"``, ``"二十一"``, ``"两"``, ``"一百零五"``; else None."""
    if token.isdigit():
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
_ADDR_DASH = re.compile(rf"(?<!\d)(\d{{1,3}}){_DASH}(\d{{1,2}}){_DASH}(\d{{3,4}})(?!\d)")
_BUILDING = re.compile(rf"({_NUM})\s*(?:号楼|号院楼|栋楼|栋|幢|座|号(?=\s*\d+\s*单元)"
                       rf"|楼(?=\s*{_NUM}\s*单元))")
_UNIT = re.compile(rf"({_NUM})\s*(?:单元|门洞|门栋)")
_ROOM_AFTER_UNIT = re.compile(r"(?:单元|门洞)\s*(?:的)?\s*(\d{3,4}|\d{1,2}\s*楼\s*\d{1,2})"
                              r"(?!\d)\s*(?:室|号|房)?")
_ROOM = re.compile(r"(?<![\d.])(\d{3,4})\s*(?:室|号房|房间|房|户)")
_ROOM_AFTER_BUILDING = re.compile(r"(?:号楼|栋|幢)\s*(\d{3,4})(?!\d)(?!\s*(?:单元|号楼|栋|元|块))")


def extract_address(text: str) -> dict[str, Any]:
    """Building, unit and room from free text, in the forms residents write.

    「5号楼3单元402」「5-3-402」「5栋3单元402室」「五号楼」「5栋」「3单元501」「402室」 →
    ``{"building": 5, "unit": 3, "room": "402"}`` (only the parts present). ``building``
    and ``unit`` are ints, ``room`` a digit string. Never raises; ``{}`` when nothing found.
    """
    text = unicodedata.normalize("NFKC", text)
    out: dict[str, Any] = {}
    m = _ADDR_DASH.search(text)
    if m:
        return {"building": int(m.group(1)), "unit": int(m.group(2)), "room": m.group(3)}
    m = _BUILDING.search(text)
    if m and (value := cn_to_int(m.group(1))) is not None:
        out["building"] = value
    m = _UNIT.search(text)
    if m and (value := cn_to_int(m.group(1))) is not None:
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
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)[\s-]?(\d{4})[\s-]?(\d{4})(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3})[\s-]?(\d{7,8})(?!\d)|(?<![\d-])(\d{8})(?![\d-])")
TICKET_RE = re.compile(r"gd\s*(\d{8})\s*-\s*(\d{4})", re.IGNORECASE)


def extract_phone(text: str) -> str | None:
    """An 11-digit mobile (spaces/dashes removed) or a landline (``024-12345678``)."""
    m = _MOBILE.search(text)
    if m:
        return "".join(m.groups())
    m = _LANDLINE.search(text)
    if m:
        return f"{m.group(1)}-{m.group(2)}" if m.group(1) else m.group(3)
    return None


def extract_ticket_no(text: str) -> str | None:
    """Ticket number ``GD<yyyymmdd>-<nnnn>`` in any case → upper case, e.g. GD20261122-0001."""
    m = TICKET_RE.search(text)
    return f"GD{m.group(1)}-{m.group(2)}" if m else None


# ---------------------------------------------------------------- time
_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "末": 5}
_DAY_WORDS = {"今天": 0, "今儿": 0, "今日": 0, "今晚": 0, "今早": 0, "明天": 1, "明儿": 1,
              "明日": 1, "明早": 1, "明晚": 1, "后天": 2, "大后天": 3, "昨天": -1, "昨晚": -1,
              "前天": -2}
_PART = r"(?:上午|下午|中午|晚上|早上|早晨|傍晚|凌晨|夜里|半夜|白天|晚点|一早)"
_CLOCK = rf"(?:{_NUM}\s*(?:点|时|:\d\d)(?:半|{_NUM}\s*分?|左右|前|后|以前|以后)?)"
_DAY = (r"(?:大后天|今天|今儿|今日|今晚|今早|明天|明儿|明日|明早|明晚|后天|昨天|昨晚|前天"
        r"|(?:上|下|这|本|下个)?(?:周|星期|礼拜)[一二三四五六日天末]"
        rf"|{_NUM}\s*月\s*{_NUM}\s*[日号]|(?<![\d月])\d{{1,2}}\s*号(?!楼|院|房|\s*\d|线))")
_WHEN = re.compile(rf"{_DAY}\s*{_PART}?\s*{_CLOCK}?|{_PART}\s*{_CLOCK}?"
                   rf"|{_CLOCK}(?!课堂|驿站)(?=.{{0,4}}(?:来|到|修|上门|借|之前|以前))")


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
    m = re.match(rf"({_NUM})\s*月\s*({_NUM})\s*[日号]", phrase)
    if m:
        month, day = cn_to_int(m.group(1)), cn_to_int(m.group(2))
        return _safe_date(today.year, month, day)
    m = re.match(r"(\d{1,2})\s*号", phrase)
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
_QUANTITY = re.compile(rf"({_NUM})\s*{_MEASURE}")
_DAYS = re.compile(rf"({_NUM}|半|一个|两个|几)\s*(天|日|周|星期|个星期|礼拜|个礼拜|个月)"
                   r"(?!了|没|都|啦|前|以前|之前|天)")


def extract_quantity(text: str) -> int | None:
    """Count before a measure word (「两把椅子」→ 2); None without an explicit number."""
    m = _QUANTITY.search(text)
    if m:
        return cn_to_int(m.group(1))
    return None


def extract_days(text: str) -> int | None:
    """Borrowing duration in days: 「借两天」→ 2, 「一周」→ 7, 「一个月」→ 30.

    Durations of the past (「坏了两天了」) are not borrowing durations and are skipped.
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
        return n * factor
    return None


def extract_tool(text: str, tools: Mapping[str, str] | PhraseIndex[str]) -> str | None:
    """Canonical tool name of the longest alias found in ``text`` (aliases from the lexicon)."""
    index = tools if isinstance(tools, PhraseIndex) else PhraseIndex(tools)
    return index.longest(text)


# ---------------------------------------------------------------- children
_GRADE = re.compile(r"(?:小学)?([一二三四五六七八九1-9])\s*年级")
_JUNIOR = re.compile(r"初([一二三])")
_AGE = re.compile(rf"({_NUM})\s*(?:周岁|岁)")
_NAME = re.compile(r"(?:叫|名字是|名字叫|姓名是|姓名[:：]?|名叫)\s*([\u4e00-\u9fff]{2,4}?)"
                   r"(?=$|[\s,.，。!！?？、:：;；]|今年|上|读|在|是|\d|[一二三四五六七八九]"
                   r"(?:年级|岁)|和|想|要|能)")
_NOT_NAMES = {"什么", "啥名", "孩子", "小孩", "宝宝", "我家", "一下"}


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
    m = _AGE.search(text)
    if m and (age := cn_to_int(m.group(1))) is not None and 0 < age < 100:
        out["age"] = age
    name = extract_child_name(text)
    if name:
        out["child_name"] = name
    return out


def extract_child_name(text: str) -> str | None:
    """A child's name after 叫 / 名字是 / 姓名: (「孩子叫王子涵」→ 王子涵), else None."""
    m = _NAME.search(text)
    if m and m.group(1) not in _NOT_NAMES:
        return m.group(1)
    return None


def extract_program(text: str,
                    programs: Mapping[str, str] | PhraseIndex[str]) -> str | None:
    """Canonical care programme (四点半课堂 | 假期托管 …) of the longest alias in ``text``."""
    return extract_tool(text, programs)


# ---------------------------------------------------------------- rating
_STARS = re.compile(r"(?<!\d)([1-5一二三四五])\s*(?:分|星|颗星)")
_BARE = re.compile(r"^\s*(?:给|打)?\s*([1-5一二三四五])\s*(?:分|星|颗星)?\s*[!！。.]?\s*$")


def extract_rating(text: str, phrases: Mapping[str, int] | PhraseIndex[int]) -> int | None:
    """Satisfaction 1..5 from 「5」「5分」「五星」 or a phrase of the lexicon (满意 → 5)."""
    m = _BARE.match(text) or _STARS.search(text)
    if m:
        return cn_to_int(m.group(1))
    index = phrases if isinstance(phrases, PhraseIndex) else PhraseIndex(phrases)
    return index.longest(text)

"""Where a problem is, read from what the resident sent: a building, a public place, the
resident's home, or a shared WeChat location — and, apart from it, where the resident says
they live (「我家住3号楼2单元501」).

A location travels in a report's ``pending`` dict under ``"where"`` (the contract between
handlers), one of::

    {"building_id": int, "unit": int | None, "room": str | None}
    {"place_id": int}
    {"latitude": float, "longitude": float, "label": str}

and no ``"where"`` means the resident's home. ``services.places.ticket_fields`` turns it
into ``services.tickets.NewTicket`` fields; a shared location becomes the nearest building or
place with imported coordinates, else stays text for staff.

Places are organisation data (``storage.models.Place``: name, aliases, grid); the rules that
generalise how people write them (东门 ← 小区东门 / 东大门 / 东门口; 家门口 is not the
estate's 门口) and which categories are public live in ``handlers/location.toml``.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlmodel import Session

from intents.slots import extract_address
from services.messages import msg
from storage import categories, org
from storage.models import Building, Place, Resident

RULES_FILE = Path(__file__).with_name("location.toml")


@dataclass(frozen=True)
class Rules:
    """``handlers/location.toml``, compiled."""

    neutral: tuple[str, ...]
    owned: re.Pattern[str]
    doors: tuple[str, ...]
    home_words: tuple[str, ...]
    home_cue: re.Pattern[str]
    clause_end: re.Pattern[str]
    variants: dict[str, tuple[str, ...]]


@lru_cache(maxsize=1)
def rules() -> Rules:
    """The rules file, read once. Raises tomllib.TOMLDecodeError, re.error, KeyError."""
    raw = tomllib.loads(RULES_FILE.read_text(encoding="utf-8"))
    return Rules(
        neutral=tuple(sorted(raw["neutral"], key=len, reverse=True)),
        # an address may stand between an owner and the door: 我家3-2-1702门口
        owned=re.compile("(?:" + "|".join(map(re.escape, raw["owners"])) + ")"
                         + "[0-9a-z#\\s" + re.escape(raw["address_chars"]) + "]*$"),
        home_words=tuple(raw["home_words"]),
        home_cue=re.compile("|".join(f"(?:{c})" for c in raw["home_cues"])),
        clause_end=re.compile(raw["clause_end"]),
        variants={k: tuple(v) for k, v in raw.get("variants", {}).items()},
        doors=tuple(raw["doors"]),
    )


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def is_public(category: str | None) -> bool:
    """A category whose problems are usually outside the home (停车, 公共设施 …): ``public``
    in storage/categories.toml."""
    return categories.is_public(category)


def mentions_home(text: str) -> bool:
    """The text says the problem is at the resident's own home or building (我家, 楼下 …)."""
    text = _norm(text)
    return any(word in text for word in rules().home_words)


@dataclass(frozen=True)
class HomeClaim:
    """「我家住3号楼2单元501」: the ``address`` slots (``intents.slots.extract_address``)
    the resident says they live at, and the ``rest`` of the text without that clause."""

    address: dict[str, Any]
    rest: str


def home_claim(text: str) -> HomeClaim | None:
    """Where the resident says they live, or None. The address must follow a home cue
    (``home_cues``) in the same clause: 「住5号楼的人乱扔垃圾」 is no claim."""
    text = _norm(text)
    for cue in rules().home_cue.finditer(text):
        end = rules().clause_end.search(text, cue.end())
        clause_end = end.start() if end else len(text)
        address = extract_address(text[cue.end():clause_end])
        if "building" in address:
            return HomeClaim(address, (text[:cue.start()] + " " + text[clause_end:]).strip())
    return None


def _forms(name: str) -> list[str]:
    """``name`` and the variant spellings of its ending (东门 → 东大门, 东侧门 …)."""
    forms = [name]
    for ending, alternatives in rules().variants.items():
        if name.endswith(ending) and len(name) > len(ending):
            stem = name[: -len(ending)]
            forms += [stem + alt for alt in alternatives]
    return forms


def find_place(session: Session, text: str, community_id: int | None = None) -> Place | None:
    """The public place the text names (by name, alias or a variant of either), the longest
    match winning (健身广场 over 广场; of equal ones the first: 东大门口 is 东大门, not
    大门口), after ``neutral`` words are removed; a place word right after an owner
    (我家门口, 楼下门口) is not the estate's. None when no place is named."""
    text = _norm(text)
    for word in rules().neutral:
        text = text.replace(word, " ")
    best: tuple[int, int, int] | None = None  # (length, -start, place id)
    for place in org.places(session, community_id):
        for name in (place.name, *place.aliases):
            for form in _forms(_norm(name)):
                start = _free_at(text, form)
                if start >= 0 and (best is None or (len(form), -start) > best[:2]):
                    best = (len(form), -start, place.id)
    return org.place(session, best[2]) if best else None


def _free_at(text: str, form: str) -> int:
    """Where ``form`` first occurs in ``text``; a door word (门口 …) not right after an owner
    (家, 楼, 单元 …, maybe with an address between: the owner's door, not the estate's);
    -1 when nowhere."""
    start = text.find(form) if form else -1
    if not form.endswith(rules().doors):
        return start
    while start >= 0 and rules().owned.search(text, 0, start):
        start = text.find(form, start + 1)
    return start


def find_building(session: Session, label: Any, community_id: int | None = None
                  ) -> Building | None:
    """The building of the community (default: the account's first) for an address slot
    (``extract_address(...)["building"]``); building names are read the same way."""
    return org.find_building(session, str(label), community_id, building_label)


def building_label(name: str) -> str | None:
    """The label residents would write for a building named ``name`` (「A座」 → "A",
    「五栋」 → "5"), or None."""
    return extract_address(name).get("building")


@dataclass(frozen=True)
class Found:
    """What a message says about location: ``where`` (a pending "where" dict, or None when it
    names no building or place), ``unknown_building`` (a building label not in the community),
    ``at_home`` (it says 我家/楼下 …) and ``claim`` (where the resident says they live)."""

    where: dict[str, Any] | None = None
    unknown_building: str | None = None
    at_home: bool = False
    claim: HomeClaim | None = None


def locate(session: Session, text: str, community_id: int | None = None) -> Found:
    """Read the location of the problem in ``text``: a building of the community (default:
    the account's first) named outside a home claim (with its unit and room), else one of
    its public places, else nothing."""
    claim = home_claim(text)
    rest = claim.rest if claim else _norm(text)
    address = extract_address(rest)
    at_home = mentions_home(rest)
    if "building" in address:
        building = find_building(session, address["building"], community_id)
        if building is None:
            return Found(unknown_building=str(address["building"]), claim=claim)
        where = {"building_id": building.id, "unit": address.get("unit"),
                 "room": address.get("room")}
        return Found(where=where, at_home=at_home, claim=claim)
    place = find_place(session, rest, community_id)
    if place is not None:
        return Found(where={"place_id": place.id}, claim=claim)
    return Found(at_home=at_home, claim=claim)


def shared(latitude: float, longitude: float, label: str | None) -> dict[str, Any]:
    """The "where" of a WeChat location message (WGS-84 degrees; ``label`` as WeChat gives)."""
    return {"latitude": float(latitude), "longitude": float(longitude),
            "label": label or f"{latitude},{longitude}"}


def label(session: Session, where: dict[str, Any] | None, resident: Resident) -> str:
    """How people read a "where": 「5号楼」「东门」, the shared location's label, or the
    resident's home address (「您家」 when unknown)."""
    if where and "building_id" in where:
        building = org.building(session, where["building_id"])
        return org.format_address(building.name if building else "?", where.get("unit"),
                                  where.get("room"))
    if where and "place_id" in where:
        place = org.place(session, where["place_id"])
        return place.name if place else "?"
    if where and "label" in where:
        return str(where["label"])
    return org.address_of(session, resident) or msg("location.your_home")

"""Which community a resident lives in, when one official account serves several (a 街道's
社区, each with its 小区).

How the resident arrived decides first: a parametric QR code (带参数二维码) per community
or per building carries a scene string — ``"c<community id>"`` or ``"b<building id>"``
(``scene_for``) — which WeChat hands back in the ``subscribe`` (``EventKey qrscene_<scene>``)
or ``SCAN`` (``EventKey <scene>``) event. Otherwise an estate (小区) or community name
written in a message (「阳光小区3号楼」, ``named_in``) decides it, or the resident's choice
from the numbered list of the account's estates (``choices``). Saving a home building
settles it too (a building belongs to one community).

Ids in scenes are the database's: ``gridbot import`` keeps rows (it updates them by code),
so printed codes stay valid across imports.
Source: developers.weixin.qq.com/doc/offiaccount/Account_Management/Generating_a_Parametric_QR_Code.html
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from sqlmodel import Session

from storage import org
from storage.models import Community, Resident

SCENE_RE = re.compile(r"^(?P<kind>[cb])(?P<id>[1-9][0-9]{0,9})$")
"""A scene string: "c12" (community 12) or "b345" (building 345)."""


@dataclass(frozen=True)
class Estate:
    """One entry of the account's numbered list: the community and the name shown (an estate
    of it, or the community's own name when it lists no estates)."""

    community_id: int
    name: str
    estate: str | None
    """The estate (``Community.estates`` entry), None when ``name`` is the community's."""


def scene_for(*, community_id: int | None = None, building_id: int | None = None) -> str:
    """The scene string of a community's or a building's QR code ("c3", "b17"); at most 11
    characters (WeChat allows 64). Raises ValueError unless exactly one id is given."""
    if (community_id is None) == (building_id is None):
        raise ValueError("give exactly one of community_id, building_id")
    return f"c{community_id}" if community_id is not None else f"b{building_id}"


def from_scene(session: Session, scene: str | None) -> tuple[Community, int | None] | None:
    """(community, building id or None) of a scene string as WeChat sends it (a leading
    ``qrscene_`` is removed); None for a scene that is not ours or names no row."""
    scene = (scene or "").strip().removeprefix("qrscene_")
    match = SCENE_RE.match(scene)
    if match is None:
        return None
    row_id = int(match["id"])
    if match["kind"] == "b":
        building = org.building(session, row_id)
        if building is None:
            return None
        community = _community(session, building.community_id)
        return (community, building.id) if community is not None else None
    community = _community(session, row_id)
    return (community, None) if community is not None else None


def _community(session: Session, community_id: int) -> Community | None:
    return next((c for c in org.communities(session) if c.id == community_id), None)


def choices(session: Session) -> list[Estate]:
    """The account's estates in a stable order (community id, then as listed): the numbered
    list a resident of unknown community chooses from."""
    out: list[Estate] = []
    for community in org.communities(session):
        names = [n for n in community.estates if n.strip()]
        out += [Estate(community.id, n, n) for n in names] or [
            Estate(community.id, community.name, None)]
    return out


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower().replace(" ", "")


def named_in(session: Session, text: str, estate_slot: str | None = None,
             stem: Callable[[str], str] | None = None) -> Estate | None:
    """The estate or community the text names, or None (none, or a name two communities
    share). The longest name written in full wins (阳光花园 over 阳光); else ``estate_slot``
    (``extract_address(...)["estate"]``, 「阳光家园3号楼」) matches the one community whose
    estates or name have the same ``stem`` (阳光家园 → 阳光; the caller's reading of estate
    names, ``handlers.community.estate_stem``) — residents vary the ending; the estate is
    then left None (which of the community's estates is meant is not known)."""
    text = _norm(text)
    named: list[tuple[str, Estate]] = []
    for community in org.communities(session):
        named += [(_norm(n), Estate(community.id, n, n)) for n in community.estates if n.strip()]
        named.append((_norm(community.name), Estate(community.id, community.name, None)))
    found = [(key, e) for key, e in named if key and key in text]
    if found:
        longest = max(len(key) for key, _ in found)
        hits = {e.community_id: e for key, e in found if len(key) == longest}
        return next(iter(hits.values())) if len(hits) == 1 else None
    if estate_slot and stem is not None:
        wanted = stem(_norm(estate_slot))
        hits = {e.community_id for key, e in named if stem(key) == wanted}
        if len(hits) == 1:
            community_id = hits.pop()
            return next(e for _, e in named if e.community_id == community_id and e.estate is None)
    return None


def home_community_id(session: Session, resident: Resident | None) -> int | None:
    """The community the resident lives in: theirs when known, their building's, the only
    one of a one-community account; None when still unknown."""
    if resident is not None and resident.community_id is not None:
        return resident.community_id
    if resident is not None and resident.building_id is not None:
        building = org.building(session, resident.building_id)
        if building is not None:
            return building.community_id
    all_ = org.communities(session)
    return all_[0].id if len(all_) == 1 else None


def unknown(session: Session, resident: Resident | None) -> bool:
    """True when the account has several communities and none is known for ``resident``."""
    return resident is not None and home_community_id(session, resident) is None and len(
        org.communities(session)) > 1


def settle(session: Session, resident: Resident, community_id: int,
           estate: str | None = None) -> bool:
    """Record that ``resident`` lives in ``community_id`` (and ``estate``, when named);
    False, changing nothing, when their home building is in another community (the home
    wins: a code scanned or an estate named elsewhere is a visit, and moving home is the
    home dialogue's business)."""
    if resident.building_id is not None:
        building = org.building(session, resident.building_id)
        if building is not None and building.community_id != community_id:
            return False
    if resident.community_id != community_id:
        resident.estate = None
    resident.community_id = community_id
    if estate is not None:
        resident.estate = estate
    session.add(resident)
    return True

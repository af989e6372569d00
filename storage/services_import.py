"""Import lending stations (驿站) with their items, and care programmes with their sessions,
from the same YAML file staff write for ``gridbot import`` (keys ``stations``/``programmes``
next to ``community``)::

    street: 和平街道
    community: 幸福新社区
    stations:
      - name: 幸福新社区便民服务驿站
        address: 社区服务中心一楼
        hours: 每天 8:30–17:30          # opening hours, as people read them
        phone: 024-12345678
        max_open_per_resident: 3       # units one resident may hold/borrow at once
        hold_hours: 24                 # a reservation not collected by then expires
        items:
          - {name: 梯子, count: 2, loan_days: 3, max_per_loan: 1}
          - {name: 轮椅, count: 2, loan_days: 14, deposit: 200, id_required: true,
             condition: 良好, photo: "https://example.org/wheelchair.jpg"}
    programmes:
      - name: 四点半课堂
        kind: 四点半课堂               # the classifier's programme slot (四点半课堂 | 假期托管)
        location: 社区活动室
        grades: 1-6                   # or grade_min/grade_max; ages: 6-12 optional
        fee: 0                        # yuan
        offer_hours: 12               # a freed place is kept this long for the next family
        sessions:
          - name: 2026秋季学期
            start: 2026-09-01         # optional local dates
            end: 2027-01-15
            weekdays: 1-5             # 1 = Monday; or [1, 3, 5] or 周一至周五
            time: "16:30-18:00"
            capacity: 30
            signup_opens: 2026-08-20 09:00   # optional, local time
            signup_closes: 2026-09-10 18:00

Names match existing rows (station, item within its station, programme, session within its
programme), so importing again updates in place; stock changes keep the units held or out.
Raises ``storage.ImportFormatError`` naming the entry for anything malformed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from storage import Conflict, ImportFormatError, care, lending
from storage.models import Community
from storage.times import as_utc, utcnow

NUMBER_MAX = 1_000_000
"""Largest whole number (count, days, yuan, grade …) an import file may give."""
_quote = ImportFormatError.quote


@dataclass
class ServicesReport:
    """Counts of rows created or updated."""

    stations: int = 0
    items: int = 0
    programmes: int = 0
    sessions: int = 0
    notes: list[str] = field(default_factory=list)


def parse_range(spec: Any, where: str) -> tuple[int, int]:
    """"1-6" / "1–6" / "3" → (1, 6) / (3, 3), each within ±NUMBER_MAX.
    Raises ImportFormatError naming ``where``."""
    text = str(spec).replace("–", "-").replace("~", "-").replace("至", "-")
    try:
        if "-" in text:
            lo, hi = (int(x) for x in text.split("-", 1))
        else:
            lo = hi = int(text)
        if max(abs(lo), abs(hi)) > NUMBER_MAX:
            raise ValueError
    except ValueError:
        raise ImportFormatError(f"{where}: bad range {_quote(spec)} (e.g. 1-6)", "bad_range",
                                entry=where, value=_quote(spec)) from None
    return lo, hi


def _date(value: Any, where: str) -> date | None:
    if value is None or isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ImportFormatError(f"{where}: bad date {_quote(value)} (YYYY-MM-DD)", "bad_date",
                                entry=where, value=_quote(value)) from None


def parse_local_moment(value: Any, where: str, tz: str) -> datetime | None:
    """A local 'YYYY-MM-DD HH:MM' (or a YAML datetime) → aware UTC; None stays None.
    Raises ImportFormatError naming ``where``."""
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            raise ImportFormatError(f"{where}: bad time {_quote(value)} (YYYY-MM-DD HH:MM)",
                                    "bad_time", entry=where, value=_quote(value)) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(tz))
    return as_utc(moment)


def _bad_value(where: str, exc: Exception) -> ImportFormatError:
    """An entry's value refused by ``storage.lending``/``storage.care`` (a ValueError or
    Conflict, with its ``key`` when it has one) as an ImportFormatError naming the entry;
    ``fields["error"]`` is the original error."""
    return ImportFormatError(f"{where}: {exc}", "bad_value", entry=where, error=exc)


def _int(spec: dict, key: str, where: str, default: int | None = None) -> int | None:
    value = spec.get(key, default)
    if value is None:
        return None
    try:
        number = int(value)
        if abs(number) > NUMBER_MAX:
            raise ValueError
    except (TypeError, ValueError):
        raise ImportFormatError(f"{where}: {key} must be a whole number up to {NUMBER_MAX}, "
                                f"not {_quote(value)}", "bad_number", entry=where, field=key,
                                max=NUMBER_MAX, value=_quote(value)) from None
    return number


def import_services(session: Session, doc: dict, now: datetime | None = None,
                    tz: str = "Asia/Shanghai") -> ServicesReport:
    """Create or update the ``stations`` and ``programmes`` of ``doc`` (a parsed YAML
    mapping) in the caller's transaction. Rows belong to ``doc["community"]`` when that
    community exists, else to the account's only community (ImportFormatError when it has
    several). Raises ImportFormatError.
    """
    now = now or utcnow()
    report = ServicesReport()
    community_id = None
    if doc.get("community"):
        row = session.exec(select(Community).where(Community.name == str(doc["community"]))).first()
        community_id = row.id if row else None
    for i, spec in enumerate(doc.get("stations") or [], start=1):
        _station(session, spec, f"stations[{i}]", community_id, now, report)
    for i, spec in enumerate(doc.get("programmes") or [], start=1):
        _programme(session, spec, f"programmes[{i}]", community_id, now, tz, report)
    return report


def _station(session: Session, spec: Any, where: str, community_id: int | None, now: datetime,
             report: ServicesReport) -> None:
    if not isinstance(spec, dict) or not spec.get("name"):
        raise ImportFormatError(f"{where}: a station needs a name", "station_needs_name",
                                entry=where)
    try:
        station = lending.upsert_station(
            session, str(spec["name"]), now, actor="staff:import", community_id=community_id,
            address=spec.get("address"), opening_hours=spec.get("hours"),
            phone=str(spec["phone"]) if spec.get("phone") else None,
            max_open_per_resident=_int(spec, "max_open_per_resident", where),
            hold_hours=_int(spec, "hold_hours", where))
    except ValueError as exc:
        raise _bad_value(where, exc) from None
    report.stations += 1
    for j, item in enumerate(spec.get("items") or [], start=1):
        here = f"{where}.items[{j}]"
        if not isinstance(item, dict) or not item.get("name"):
            raise ImportFormatError(f"{here}: an item needs a name", "item_needs_name",
                                    entry=here)
        try:
            lending.set_item(
                session, station, str(item["name"]), now, actor="staff:import",
                total=_int(item, "count", here, 0), loan_days=_int(item, "loan_days", here),
                condition=item.get("condition"), photo_url=item.get("photo"),
                deposit_yuan=_int(item, "deposit", here),
                needs_id=bool(item["id_required"]) if "id_required" in item else None,
                max_per_loan=_int(item, "max_per_loan", here), note=item.get("note"))
        except (ValueError, Conflict) as exc:
            raise _bad_value(here, exc) from None
        report.items += 1


def _programme(session: Session, spec: Any, where: str, community_id: int | None,
               now: datetime, tz: str, report: ServicesReport) -> None:
    if not isinstance(spec, dict) or not spec.get("name"):
        raise ImportFormatError(f"{where}: a programme needs a name", "programme_needs_name",
                                entry=where)
    grade_min, grade_max = parse_range(spec["grades"], where) if spec.get("grades") else (
        _int(spec, "grade_min", where), _int(spec, "grade_max", where))
    age_min, age_max = parse_range(spec["ages"], where) if spec.get("ages") else (None, None)
    try:
        prog = care.upsert_programme(
            session, str(spec["name"]), community_id=community_id, kind=spec.get("kind"),
            description=spec.get("description"), location=spec.get("location"),
            grade_min=grade_min, grade_max=grade_max, age_min=age_min, age_max=age_max,
            fee_yuan=_int(spec, "fee", where), offer_hours=_int(spec, "offer_hours", where))
    except ValueError as exc:
        raise _bad_value(where, exc) from None
    report.programmes += 1
    for j, s in enumerate(spec.get("sessions") or [], start=1):
        here = f"{where}.sessions[{j}]"
        if not isinstance(s, dict) or not s.get("name"):
            raise ImportFormatError(f"{here}: a session needs a name", "session_needs_name",
                                    entry=here)
        start_time = end_time = None
        if s.get("time"):
            parts = str(s["time"]).replace("–", "-").split("-")
            if len(parts) != 2:
                raise ImportFormatError(f"{here}: time must look like 16:30-18:00",
                                        "session_time", entry=here, value=_quote(s["time"]))
            start_time, end_time = parts[0].strip(), parts[1].strip()
        try:
            care.upsert_session(
                session, prog, str(s["name"]), now, actor="staff:import",
                starts_on=_date(s.get("start"), here), ends_on=_date(s.get("end"), here),
                weekdays=s.get("weekdays"), start_time=start_time, end_time=end_time,
                location=s.get("location"), capacity=_int(s, "capacity", here),
                signup_opens_at=parse_local_moment(s.get("signup_opens"), here, tz),
                signup_closes_at=parse_local_moment(s.get("signup_closes"), here, tz))
        except (ValueError, Conflict) as exc:
            raise _bad_value(here, exc) from None
        report.sessions += 1

"""Staff commands for the lending station and the care programmes (typer sub-apps).

Registered by ``bot/cli.py`` as ``gridbot station …`` and ``gridbot care …``::

    gridbot station add NAME [--address --hours --phone --max-open --hold-hours]
    gridbot station list
    gridbot station item STATION NAME --count N [--loan-days --deposit --id --photo …]
    gridbot station stock STATION NAME COUNT          units in service (held/out stay so)
    gridbot station loans [--station S] [--overdue]   holds and loans, overdue first

    gridbot care programme NAME [--kind --grades 1-6 --location --fee --offer-hours]
    gridbot care list                                  programmes, sessions, places
    gridbot care session PROGRAMME NAME [--weekdays 1-5 --time 16:30-18:00 --capacity 30
                                         --start --end --opens --closes --location]
    gridbot care roster SESSION_ID [--csv FILE] [--waiting]
    gridbot care attend SESSION_ID NAME_OR_NO… [--date D] [--absent] [--note]
    gridbot care notice SESSION_ID TEXT                push to every enrolled family
    gridbot care enroll SESSION_ID NAME --phone P [--grade G | --age A] [--notes N]
    gridbot care cancel NUMBER                         withdraw an enrollment (staff)

Settings (the database) come from GRIDBOT_* environment variables. Changes that tell
residents something (stock that serves the queue, a notice, a cancellation) stage outbox rows;
the worker sends them. Errors are printed in Chinese for staff and exit with status 1.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bot.lazy import lazy_module
from storage import NotFound, StorageError
from storage.times import as_utc, local, show, utcnow

if TYPE_CHECKING:
    from sqlmodel import Session

    from bot.settings import Settings

# Loaded when a command first uses them, not when `gridbot --help` registers the commands.
care = lazy_module("storage.care")
lending = lazy_module("storage.lending")

station_app = typer.Typer(help="Lending stations 便民服务驿站: items, stock, loans.",
                          no_args_is_help=True)
care_app = typer.Typer(help="Care programmes 四点半课堂/托管: sessions, rosters, attendance, notices.",
                       no_args_is_help=True)


@contextmanager
def _session() -> Iterator[tuple[Session, Settings]]:
    """One committed transaction on the configured database; storage errors end the command."""
    from bot.preflight import load_settings
    from storage.db import make_engine, session_scope

    settings = load_settings()
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as session:
            yield session, settings
    except (StorageError, ValueError) as exc:
        typer.echo(f"错误：{exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()


# ------------------------------------------------------------------ stations
@station_app.command("add")
def station_add(
    name: Annotated[str, typer.Argument(help="Station name 驿站名称.")],
    address: Annotated[str | None, typer.Option(help="Where it is 地址.")] = None,
    hours: Annotated[str | None, typer.Option(help="Opening hours 开放时间, e.g. 每天 8:30–17:30.")] = None,
    phone: Annotated[str | None, typer.Option(help="Phone 电话.")] = None,
    max_open: Annotated[int | None, typer.Option(help="Units one resident may hold/borrow at once.")] = None,
    hold_hours: Annotated[int | None, typer.Option(help="Hours a reservation waits for pick-up.")] = None,
) -> None:
    """Add a station, or update the fields given."""
    with _session() as (session, _):
        station = lending.upsert_station(session, name, utcnow(), address=address,
                                         opening_hours=hours, phone=phone,
                                         max_open_per_resident=max_open, hold_hours=hold_hours)
        typer.echo(f"驿站 #{station.id} {station.name} 已保存")


@station_app.command("list")
def station_list() -> None:
    """Stations with their items (free/total)."""
    with _session() as (session, _):
        for station in lending.stations(session):
            typer.echo(f"#{station.id} {station.name}  {station.address}  {station.opening_hours}"
                       f"  每人最多{station.max_open_per_resident}件  预约保留{station.hold_hours}小时")
            for item in lending.all_items(session, station.id):
                typer.echo("    " + _item_line(item))


def _item_line(item: lending.LendItem) -> str:
    terms = []
    if item.deposit_yuan:
        terms.append(f"押金{item.deposit_yuan}元")
    if item.needs_id:
        terms.append("需身份证")
    return (f"{item.name}: 可借 {item.available}/{item.total}  借期{item.loan_days}天  "
            f"每次最多{item.max_per_loan}件  {item.condition}"
            + (f"  {'，'.join(terms)}" if terms else "")
            + (f"  {item.photo_url}" if item.photo_url else ""))


@station_app.command("item")
def station_item(
    station: Annotated[str, typer.Argument(help="Station name or id.")],
    name: Annotated[str, typer.Argument(help="Item name 物品, e.g. 梯子 (as residents say it).")],
    count: Annotated[int | None, typer.Option(help="Units in service.")] = None,
    loan_days: Annotated[int | None, typer.Option(help="Loan period in days 借期.")] = None,
    max_per_loan: Annotated[int | None, typer.Option(help="Units one resident may take at once.")] = None,
    deposit: Annotated[int | None, typer.Option(help="Deposit in yuan 押金 (0 = none).")] = None,
    needs_id: Annotated[bool | None, typer.Option("--id/--no-id", help="ID card needed 需身份证.")] = None,
    condition: Annotated[str | None, typer.Option(help="Condition 状况, e.g. 良好.")] = None,
    photo: Annotated[str | None, typer.Option(help="Photo URL.")] = None,
) -> None:
    """Add an item to a station, or update it."""
    with _session() as (session, settings):
        row = lending.station_by_name(session, station)
        item, released = lending.set_item(
            session, row, name, utcnow(), total=count, loan_days=loan_days,
            max_per_loan=max_per_loan, deposit_yuan=deposit, needs_id=needs_id,
            condition=condition, photo_url=photo)
        _tell_lending_offers(session, released, settings)
        typer.echo(_item_line(item))


@station_app.command("stock")
def station_stock(
    station: Annotated[str, typer.Argument(help="Station name or id.")],
    name: Annotated[str, typer.Argument(help="Item name.")],
    count: Annotated[int, typer.Argument(help="Units in service now.")],
) -> None:
    """Set how many units of an item are in service; new units serve the queue first."""
    with _session() as (session, settings):
        row = lending.station_by_name(session, station)
        if not any(i.name == name for i in lending.all_items(session, row.id)):
            raise NotFound(f"{row.name} 没有 {name}")
        item, released = lending.set_item(session, row, name, utcnow(), total=count)
        _tell_lending_offers(session, released, settings)
        typer.echo(_item_line(item))


def _tell_lending_offers(session: Session, released: lending.Released, settings: Settings) -> None:
    from handlers.lending_notify import tell_offers

    if released.offers:
        tell_offers(session, released, utcnow(), settings.timezone)
        typer.echo(f"已通知 {len(released.offers)} 位排队居民领取")


@station_app.command("loans")
def station_loans(
    station: Annotated[str | None, typer.Option(help="Only this station (name or id).")] = None,
    overdue: Annotated[bool, typer.Option(help="Only overdue loans.")] = False,
) -> None:
    """Holds and loans, overdue first (单号, item, status, due or pick-up deadline, phone)."""
    from storage.models import Resident

    LendItem, LoanStatus, Station = lending.LendItem, lending.LoanStatus, lending.Station  # noqa: N806
    with _session() as (session, settings):
        station_id = lending.station_by_name(session, station).id if station else None
        now = utcnow()
        rows = lending.open_loans(session, station_id)

        def late(loan) -> bool:
            return loan.status == LoanStatus.OUT and as_utc(loan.due_at) < now

        rows = [r for r in rows if late(r)] if overdue else rows
        rows.sort(key=lambda r: (not late(r), r.status != LoanStatus.OUT, r.id))
        if not rows:
            typer.echo("没有记录")
        for loan in rows:
            item = session.get(LendItem, loan.item_id)
            resident = session.get(Resident, loan.resident_id)
            when = show(loan.due_at if loan.status == LoanStatus.OUT else loan.hold_expires_at,
                        settings.timezone)
            status = {"held": "待领取", "out": "在借"}[loan.status] + ("（逾期）" if late(loan) else "")
            typer.echo(f"{loan.number}  {item.name}×{loan.quantity}  {status}  {when}  "
                       f"{(resident.phone if resident else None) or '-'}  "
                       f"{session.get(Station, item.station_id).name}")


# ------------------------------------------------------------------ care
@care_app.command("programme")
def care_programme(
    name: Annotated[str, typer.Argument(help="Programme name, e.g. 四点半课堂.")],
    kind: Annotated[str | None, typer.Option(help="四点半课堂 or 假期托管 (what residents ask for).")] = None,
    grades: Annotated[str | None, typer.Option(help="Grade range, e.g. 1-6.")] = None,
    ages: Annotated[str | None, typer.Option(help="Age range, e.g. 6-12 (optional).")] = None,
    location: Annotated[str | None, typer.Option(help="Where 地点.")] = None,
    fee: Annotated[int | None, typer.Option(help="Fee in yuan (0 = free).")] = None,
    offer_hours: Annotated[int | None, typer.Option(
        help="Hours a freed place waits for the next family.")] = None,
    description: Annotated[str | None, typer.Option(help="Short description.")] = None,
) -> None:
    """Add a programme, or update the fields given."""
    from storage.services_import import parse_range

    with _session() as (session, _):
        gmin, gmax = parse_range(grades, "--grades") if grades else (None, None)
        amin, amax = parse_range(ages, "--ages") if ages else (None, None)
        prog = care.upsert_programme(session, name, kind=kind, grade_min=gmin, grade_max=gmax,
                                     age_min=amin, age_max=amax, location=location,
                                     fee_yuan=fee, offer_hours=offer_hours,
                                     description=description)
        typer.echo(f"项目 #{prog.id} {prog.name} 已保存")


@care_app.command("session")
def care_session(
    programme: Annotated[str, typer.Argument(help="Programme name or id.")],
    name: Annotated[str, typer.Argument(help="Session/term name, e.g. 2026秋季学期.")],
    weekdays: Annotated[str | None, typer.Option(help="1 = Monday: 1-5, 1,3,5 or 周一至周五.")] = None,
    time: Annotated[str | None, typer.Option(help="Local times, e.g. 16:30-18:00.")] = None,
    capacity: Annotated[int | None, typer.Option(help="Places.")] = None,
    start: Annotated[str | None, typer.Option(help="First day YYYY-MM-DD.")] = None,
    end: Annotated[str | None, typer.Option(help="Last day YYYY-MM-DD.")] = None,
    opens: Annotated[str | None, typer.Option(help="Sign-up opens, local 'YYYY-MM-DD HH:MM'.")] = None,
    closes: Annotated[str | None, typer.Option(help="Sign-up closes, local 'YYYY-MM-DD HH:MM'.")] = None,
    location: Annotated[str | None, typer.Option(help="Where, if not the programme's place.")] = None,
) -> None:
    """Add a session of a programme, or update it (more places serve the queue first)."""
    from storage.services_import import parse_local_moment

    with _session() as (session, settings):
        prog = care.programme_by_name(session, programme)
        start_time = end_time = None
        if time:
            start_time, _, end_time = time.replace("–", "-").partition("-")
        tz = settings.timezone
        row, freed = care.upsert_session(
            session, prog, name, utcnow(), weekdays=weekdays, start_time=start_time or None,
            end_time=end_time or None, capacity=capacity,
            starts_on=date.fromisoformat(start) if start else None,
            ends_on=date.fromisoformat(end) if end else None,
            signup_opens_at=parse_local_moment(opens, "--opens", tz),
            signup_closes_at=parse_local_moment(closes, "--closes", tz),
            location=location)
        if freed.offers:
            from handlers.care_notify import tell_offers

            tell_offers(session, freed, utcnow(), tz)
            typer.echo(f"已通知 {len(freed.offers)} 个候补家庭确认名额")
        typer.echo(f"班级 #{row.id} {prog.name}（{row.name}）已保存：{row.taken}/{row.capacity}")


@care_app.command("list")
def care_list() -> None:
    """Programmes and their sessions: schedule, places taken, queue, sign-up window."""
    with _session() as (session, settings):
        now = utcnow()
        tz = settings.timezone
        for row in care.sessions(session):
            prog = care.programme_of(session, row)
            waiting = len(care.roster(session, row.id, (care.EnrollmentStatus.WAITING,)))
            window = {"open": "报名中", "not_yet": f"{show(row.signup_opens_at, tz)}开放",
                      "closed": "已截止"}[care.window_state(row, now)]
            typer.echo(f"#{row.id} {prog.name}（{row.name}） {care.weekdays_text(row)} "
                       f"{row.start_time}-{row.end_time}  {prog.grade_min}-{prog.grade_max}年级  "
                       f"{row.taken}/{row.capacity}  候补{waiting}  {window}")


ROSTER_COLUMNS = ("编号", "状态", "孩子", "年级", "年龄", "家长电话", "备注", "第一次课", "报名时间")


@care_app.command("roster")
def care_roster(
    session_id: Annotated[int, typer.Argument(help="Session id (see `gridbot care list`).")],
    csv_file: Annotated[Path | None, typer.Option("--csv", help="Write the roster to this CSV file.")] = None,
    waiting: Annotated[bool, typer.Option(help="Also list offered and waiting families.")] = False,
) -> None:
    """The enrolled children of a session (CSV: UTF-8 with BOM, opens in Excel)."""
    statuses = care.EnrollmentStatus.ACTIVE if waiting else (care.EnrollmentStatus.ENROLLED,)
    with _session() as (session, settings):
        row = care.session_by_id(session, session_id)
        status_words = {"enrolled": "已报名", "waiting": "候补", "offered": "待确认"}
        records = [
            (e.number, status_words.get(e.status, e.status), e.child_name,
             e.grade or "", e.age or "", e.guardian_phone, e.notes or "",
             e.first_session_on.isoformat() if e.first_session_on else "",
             local(e.created_at, settings.timezone).strftime("%Y-%m-%d %H:%M"))
            for e in care.roster(session, row.id, statuses)]
        if csv_file is not None:
            with csv_file.open("w", encoding="utf-8-sig", newline="") as fh:
                writer = csv.writer(fh)
                writer.writerow(ROSTER_COLUMNS)
                writer.writerows(records)
            typer.echo(f"已导出 {len(records)} 人到 {csv_file}")
            return
        writer = csv.writer(sys.stdout)
        writer.writerow(ROSTER_COLUMNS)
        writer.writerows(records)


@care_app.command("attend")
def care_attend(
    session_id: Annotated[int, typer.Argument(help="Session id.")],
    children: Annotated[list[str], typer.Argument(help="Child names or enrollment numbers.")],
    on: Annotated[str | None, typer.Option("--date", help="Class day YYYY-MM-DD (default today).")] = None,
    absent: Annotated[bool, typer.Option(help="Mark absent instead of present.")] = False,
    note: Annotated[str | None, typer.Option(help="Note, e.g. 病假.")] = None,
) -> None:
    """Mark attendance of enrolled children on one class day."""
    with _session() as (session, settings):
        day = date.fromisoformat(on) if on else local(utcnow(), settings.timezone).date()
        enrolled = care.roster(session, session_id)
        for who in children:
            matches = [e for e in enrolled if who.upper() == e.number or who == e.child_name]
            if len(matches) != 1:
                raise NotFound(f"{who}：{'有重名，请用编号' if matches else '不在名单上'}")
            care.mark_attendance(session, matches[0], day, not absent, utcnow(), note=note)
        marks = care.attendance(session, session_id, day)
        present = sum(1 for m in marks.values() if m.present)
        typer.echo(f"{day.isoformat()} 已记录：到 {present} 人，缺 {len(marks) - present} 人，"
                   f"未记 {len(enrolled) - len(marks)} 人")


@care_app.command("notice")
def care_notice(
    session_id: Annotated[int, typer.Argument(help="Session id.")],
    text: Annotated[str, typer.Argument(help="The notice, e.g. 明天停课一天。")],
) -> None:
    """Push a notice to every enrolled family of the session (e.g. 停课通知)."""
    from handlers.care_notify import send_notice

    with _session() as (session, _):
        row = care.session_by_id(session, session_id)
        sent = send_notice(session, row, text, utcnow())
        typer.echo(f"已发送给 {sent} 个家庭")


@care_app.command("enroll")
def care_enroll(
    session_id: Annotated[int, typer.Argument(help="Session id.")],
    name: Annotated[str, typer.Argument(help="Child's name.")],
    phone: Annotated[str, typer.Option(help="Guardian's phone.")],
    grade: Annotated[int | None, typer.Option(help="Grade 1–9 (7 = 初一).")] = None,
    age: Annotated[int | None, typer.Option(help="Age in years, when no grade.")] = None,
    notes: Annotated[str | None, typer.Option(help="Allergies, who picks up …")] = None,
) -> None:
    """Enroll a child at the desk (same rules as in chat; queued when full)."""
    with _session() as (session, settings):
        enrollment = care.enroll(session, session_id, None,
                                 care.Child(name, phone, grade=grade, age=age, notes=notes),
                                 utcnow(), actor="staff:cli", tz=settings.timezone)
        status = "已报名" if enrollment.status == care.EnrollmentStatus.ENROLLED else (
            f"候补第{care.waiting_position(session, enrollment)}位")
        typer.echo(f"{enrollment.number} {enrollment.child_name} {status}")


@care_app.command("cancel")
def care_cancel(number: Annotated[str, typer.Argument(help="Enrollment number BM…")]) -> None:
    """Withdraw an enrollment for a family; a freed place is offered to the next one."""
    from handlers.care_notify import tell_offers

    with _session() as (session, settings):
        enrollment = care.by_number(session, number)
        freed = care.cancel(session, enrollment, None, utcnow())
        tell_offers(session, freed, utcnow(), settings.timezone)
        typer.echo(f"{enrollment.number} {enrollment.child_name} 已取消"
                   + (f"，已通知 {len(freed.offers)} 个候补家庭" if freed.offers else ""))

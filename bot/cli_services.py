"""Staff commands for the lending station and the care programmes (typer sub-apps).

Registered by ``bot/cli.py`` as ``gridbot station …`` and ``gridbot care …``::

    gridbot station add NAME [--community C --address --hours --phone --max-open --hold-hours]
    gridbot station list
    gridbot station item STATION NAME --count N [--community C --loan-days --deposit --id …]
    gridbot station stock STATION NAME COUNT [--community C]   units in service
    gridbot station loans [--station S --community C] [--overdue]   overdue first

    gridbot care programme NAME [--community C --kind --grades 1-6 --location --fee …]
    gridbot care list                                  programmes, sessions, places
    gridbot care session PROGRAMME NAME [--community C --weekdays 1-5 --time 16:30-18:00
                                         --capacity 30 --start --end --opens --closes …]
    gridbot care roster SESSION_ID [--csv FILE] [--waiting]
    gridbot care attend SESSION_ID NAME_OR_NO… [--date D] [--absent] [--note]
    gridbot care notice SESSION_ID TEXT                push to every enrolled family
    gridbot care enroll SESSION_ID NAME --phone P [--grade G | --age A] [--notes N]
    gridbot care cancel NUMBER                         withdraw an enrollment (staff)

``--community`` names the community of a new station or programme, or of the one named;
it is needed only when the account serves several communities (the error lists them).
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
from storage import ImportFormatError, NotFound, StorageError
from storage.times import as_utc, local, show, utcnow

if TYPE_CHECKING:
    from sqlmodel import Session

    from bot.settings import Settings

# Loaded when a command first uses them, not when `gridbot --help` registers the commands.
care = lazy_module("storage.care")
lending = lazy_module("storage.lending")
care_actions = lazy_module("services.care")
care_notify = lazy_module("services.care_notify")

station_app = typer.Typer(help="便民服务驿站：物品、库存、借还。",
                          no_args_is_help=True)
care_app = typer.Typer(help="托管服务（四点半课堂、假期托管）：班次、名单、考勤、通知、报名。",
                       no_args_is_help=True)


@contextmanager
def _session() -> Iterator[tuple[Session, Settings]]:
    """One committed transaction on the configured database; storage errors end the command."""
    from bot.preflight import load_settings
    from storage.db import make_engine, session_scope

    settings = load_settings()
    engine = make_engine(settings.database_url)
    from storage.org import CommunityNeeded

    try:
        with session_scope(engine) as session:
            yield session, settings
    except CommunityNeeded as exc:
        typer.echo(f"错误：这个账号有多个社区（{'、'.join(exc.choices)}），"
                   f"请用 --community 指明是哪个社区。", err=True)
        raise typer.Exit(1) from None
    except ImportFormatError as exc:  # a bad --grades / --opens value
        from bot.import_report import error_text

        typer.echo(f"错误：{error_text(exc)}", err=True)
        raise typer.Exit(1) from None
    except (StorageError, ValueError) as exc:
        from bot.import_report import value_text

        typer.echo(f"错误：{value_text(exc)}", err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()


def _community_id(session: Session, name: str | None, default: bool = False) -> int | None:
    """The id of community ``name``; with no name and ``default``, the account's only one
    (None before any import); else None (look in every community). Raises NotFound,
    ``storage.org.CommunityNeeded`` (several communities and no name, with ``default``)."""
    from storage import org

    if name or default:
        try:
            return org.which_community(session, name).id
        except NotFound:
            known = [c.name for c in org.communities(session)]
            if name:
                raise NotFound(f"没有叫「{name}」的社区（现有：{'、'.join(known) or '无'}）"
                               ) from None
    return None


# ------------------------------------------------------------------ stations
@station_app.command("add", help="新增驿站，或修改已有驿站的所给字段。")
def station_add(
    name: Annotated[str, typer.Argument(help="驿站名称。")],
    community: Annotated[str | None, typer.Option(
        metavar="社区名", show_default=False,
        help="所属社区（账号有多个社区时必填）。")] = None,
    address: Annotated[str | None, typer.Option(help="地址。")] = None,
    hours: Annotated[str | None, typer.Option(help="开放时间，如 每天 8:30–17:30。")] = None,
    phone: Annotated[str | None, typer.Option(help="联系电话。")] = None,
    max_open: Annotated[int | None, typer.Option(help="每位居民同时最多预约或借用的件数。")] = None,
    hold_hours: Annotated[int | None, typer.Option(help="预约后保留多少小时等居民来取。")] = None,
) -> None:
    """Add a station, or update the fields given."""
    with _session() as (session, _):
        station = lending.upsert_station(session, name, utcnow(),
                                         community_id=_community_id(session, community, True),
                                         address=address,
                                         opening_hours=hours, phone=phone,
                                         max_open_per_resident=max_open, hold_hours=hold_hours)
        typer.echo(f"驿站 #{station.id} {station.name} 已保存")


@station_app.command("list", help="列出驿站及其物品（可借/总数）。")
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


@station_app.command("item", help="给驿站新增可借物品，或修改物品的所给字段。")
def station_item(
    station: Annotated[str, typer.Argument(help="驿站名称或编号。")],
    name: Annotated[str, typer.Argument(help="物品名称，用居民常说的叫法，如 梯子。")],
    community: Annotated[str | None, typer.Option(
        metavar="社区名", show_default=False,
        help="所属社区（账号有多个社区时必填）。")] = None,
    count: Annotated[int | None, typer.Option(help="可用件数。")] = None,
    loan_days: Annotated[int | None, typer.Option(help="借期（天）。")] = None,
    max_per_loan: Annotated[int | None, typer.Option(help="每次最多借几件。")] = None,
    deposit: Annotated[int | None, typer.Option(help="押金（元，0 为不收）。")] = None,
    needs_id: Annotated[bool | None, typer.Option("--id/--no-id", help="借用时是否需要身份证。")] = None,
    condition: Annotated[str | None, typer.Option(help="物品状况，如 良好。")] = None,
    photo: Annotated[str | None, typer.Option(help="物品照片的网址。")] = None,
) -> None:
    """Add an item to a station, or update it."""
    with _session() as (session, settings):
        row = lending.station_by_name(session, station, _community_id(session, community))
        item, released = lending.set_item(
            session, row, name, utcnow(), total=count, loan_days=loan_days,
            max_per_loan=max_per_loan, deposit_yuan=deposit, needs_id=needs_id,
            condition=condition, photo_url=photo)
        _tell_lending_offers(session, released, settings)
        typer.echo(_item_line(item))


@station_app.command("stock", help="设定某物品现有可用件数；新增的件数先给排队的居民。")
def station_stock(
    station: Annotated[str, typer.Argument(help="驿站名称或编号。")],
    name: Annotated[str, typer.Argument(help="物品名称。")],
    count: Annotated[int, typer.Argument(help="现在可用的件数。")],
    community: Annotated[str | None, typer.Option(
        metavar="社区名", show_default=False,
        help="所属社区（账号有多个社区时必填）。")] = None,
) -> None:
    """Set how many units of an item are in service; new units serve the queue first."""
    with _session() as (session, settings):
        row = lending.station_by_name(session, station, _community_id(session, community))
        if not any(i.name == name for i in lending.all_items(session, row.id)):
            raise NotFound(f"{row.name} 没有 {name}")
        item, released = lending.set_item(session, row, name, utcnow(), total=count)
        _tell_lending_offers(session, released, settings)
        typer.echo(_item_line(item))


def _tell_lending_offers(session: Session, released: lending.Released, settings: Settings) -> None:
    from services.lending_notify import tell_offers

    if released.offers:
        tell_offers(session, released, utcnow(), settings.timezone)
        typer.echo(f"已通知 {len(released.offers)} 位排队居民领取")


@station_app.command("loans", help="列出预约和借出记录，逾期的在前"
                     "（单号、物品、状态、归还或取件期限、电话）。")
def station_loans(
    station: Annotated[str | None, typer.Option(help="只看这个驿站（名称或编号）。")] = None,
    community: Annotated[str | None, typer.Option(
        metavar="社区名", show_default=False,
        help="所属社区（账号有多个社区时必填）。")] = None,
    overdue: Annotated[bool, typer.Option(help="只看逾期未还的。")] = False,
) -> None:
    """Holds and loans, overdue first (单号, item, status, due or pick-up deadline, phone)."""
    from storage.models import Resident

    LendItem, LoanStatus, Station = lending.LendItem, lending.LoanStatus, lending.Station  # noqa: N806
    with _session() as (session, settings):
        station_id = lending.station_by_name(
            session, station, _community_id(session, community)).id if station else None
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
@care_app.command("programme", help="新增托管项目，或修改已有项目的所给字段。")
def care_programme(
    name: Annotated[str, typer.Argument(help="项目名称，如 四点半课堂。")],
    community: Annotated[str | None, typer.Option(
        metavar="社区名", show_default=False,
        help="所属社区（账号有多个社区时必填）。")] = None,
    kind: Annotated[str | None, typer.Option(help="类型：四点半课堂 或 假期托管。")] = None,
    grades: Annotated[str | None, typer.Option(help="年级范围，如 1-6。")] = None,
    ages: Annotated[str | None, typer.Option(help="年龄范围，如 6-12（可不填）。")] = None,
    location: Annotated[str | None, typer.Option(help="地点。")] = None,
    fee: Annotated[int | None, typer.Option(help="费用（元，0 为免费）。")] = None,
    offer_hours: Annotated[int | None, typer.Option(
        help="空出的名额等下一个排队家庭确认的小时数。")] = None,
    description: Annotated[str | None, typer.Option(help="简介。")] = None,
) -> None:
    """Add a programme, or update the fields given."""
    from storage.services_import import parse_range

    with _session() as (session, _):
        gmin, gmax = parse_range(grades, "--grades") if grades else (None, None)
        amin, amax = parse_range(ages, "--ages") if ages else (None, None)
        prog = care.upsert_programme(session, name,
                                     community_id=_community_id(session, community, True),
                                     kind=kind, grade_min=gmin, grade_max=gmax,
                                     age_min=amin, age_max=amax, location=location,
                                     fee_yuan=fee, offer_hours=offer_hours,
                                     description=description)
        typer.echo(f"项目 #{prog.id} {prog.name} 已保存")


@care_app.command("session", help="给托管项目新增班次（学期），或修改班次；增加的名额先给排队的家庭。")
def care_session(
    programme: Annotated[str, typer.Argument(help="项目名称或编号。")],
    name: Annotated[str, typer.Argument(help="班次名称，如 2026秋季学期。")],
    community: Annotated[str | None, typer.Option(
        metavar="社区名", show_default=False,
        help="所属社区（账号有多个社区时必填）。")] = None,
    weekdays: Annotated[str | None, typer.Option(help="上课日，1 为周一：1-5、1,3,5 或 周一至周五。")] = None,
    time: Annotated[str | None, typer.Option(help="上课时间（北京时间），如 16:30-18:00。")] = None,
    capacity: Annotated[int | None, typer.Option(help="名额。")] = None,
    start: Annotated[str | None, typer.Option(help="第一天，YYYY-MM-DD。")] = None,
    end: Annotated[str | None, typer.Option(help="最后一天，YYYY-MM-DD。")] = None,
    opens: Annotated[str | None, typer.Option(help="开始报名时间（北京时间），'YYYY-MM-DD HH:MM'。")] = None,
    closes: Annotated[str | None, typer.Option(help="截止报名时间（北京时间），'YYYY-MM-DD HH:MM'。")] = None,
    location: Annotated[str | None, typer.Option(help="上课地点（与项目地点不同时填写）。")] = None,
) -> None:
    """Add a session of a programme, or update it (more places serve the queue first)."""
    from storage.services_import import parse_local_moment

    with _session() as (session, settings):
        prog = care.programme_by_name(session, programme, _community_id(session, community))
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
            from services.care_notify import tell_offers

            tell_offers(session, freed, utcnow(), tz)
            typer.echo(f"已通知 {len(freed.offers)} 个候补家庭确认名额")
        typer.echo(f"班级 #{row.id} {prog.name}（{row.name}）已保存：{row.taken}/{row.capacity}")


@care_app.command("list", help="列出托管项目及其班次：上课安排、已报名额、排队、报名时间。")
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
            typer.echo(f"#{row.id} {prog.name}（{row.name}） {care_notify.weekdays_text(row)} "
                       f"{row.start_time}-{row.end_time}  {prog.grade_min}-{prog.grade_max}年级  "
                       f"{row.taken}/{row.capacity}  候补{waiting}  {window}")


ROSTER_COLUMNS = ("编号", "状态", "孩子", "年级", "年龄", "家长电话", "备注", "第一次课", "报名时间")


@care_app.command("roster", help="班次的在读名单（CSV 为带 BOM 的 UTF-8，可直接用 Excel 打开）。")
def care_roster(
    session_id: Annotated[int, typer.Argument(help="班次编号（见 gridbot care list）。")],
    csv_file: Annotated[Path | None, typer.Option("--csv", help="把名单写入这个 CSV 文件。")] = None,
    waiting: Annotated[bool, typer.Option(help="同时列出已通知补位和排队中的家庭。")] = False,
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


@care_app.command("attend", help="记录某一上课日的考勤。")
def care_attend(
    session_id: Annotated[int, typer.Argument(help="班次编号。")],
    children: Annotated[list[str], typer.Argument(help="孩子姓名或报名单号，可写多个。")],
    on: Annotated[str | None, typer.Option("--date", help="上课日 YYYY-MM-DD（默认今天）。")] = None,
    absent: Annotated[bool, typer.Option(help="记为缺勤（默认记为出勤）。")] = False,
    note: Annotated[str | None, typer.Option(help="备注，如 病假。")] = None,
) -> None:
    """Mark attendance of enrolled children on one class day."""
    with _session() as (session, settings):
        day = date.fromisoformat(on) if on else local(utcnow(), settings.timezone).date()
        enrolled = care.roster(session, session_id)
        for who in children:
            matches = [e for e in enrolled if who.upper() == e.number or who == e.child_name]
            if len(matches) != 1:
                raise NotFound(f"{who}：{'有重名，请用编号' if matches else '不在名单上'}")
            care_actions.mark_attendance(session, matches[0], day, not absent, utcnow(), note=note)
        marks = care.attendance(session, session_id, day)
        present = sum(1 for m in marks.values() if m.present)
        typer.echo(f"{day.isoformat()} 已记录：到 {present} 人，缺 {len(marks) - present} 人，"
                   f"未记 {len(enrolled) - len(marks)} 人")


@care_app.command("notice", help="给班次的所有在读家庭推送通知，如 停课通知。")
def care_notice(
    session_id: Annotated[int, typer.Argument(help="班次编号。")],
    text: Annotated[str, typer.Argument(help="通知内容，如 明天停课一天。")],
) -> None:
    """Push a notice to every enrolled family of the session (e.g. 停课通知)."""
    from services.care_notify import send_notice

    with _session() as (session, _):
        row = care.session_by_id(session, session_id)
        sent = send_notice(session, row, text, utcnow())
        typer.echo(f"已发送给 {sent} 个家庭")


@care_app.command("enroll", help="在服务台替家庭报名（规则与微信报名相同；满员时排队）。")
def care_enroll(
    session_id: Annotated[int, typer.Argument(help="班次编号。")],
    name: Annotated[str, typer.Argument(help="孩子姓名。")],
    phone: Annotated[str, typer.Option(help="家长电话。")],
    grade: Annotated[int | None, typer.Option(help="年级 1–9（7 为初一）。")] = None,
    age: Annotated[int | None, typer.Option(help="年龄（没有年级时填写）。")] = None,
    notes: Annotated[str | None, typer.Option(help="备注：过敏、谁来接等。")] = None,
) -> None:
    """Enroll a child at the desk (same rules as in chat; queued when full)."""
    with _session() as (session, settings):
        child = care_actions.Child(name, phone, grade=grade, age=age, notes=notes)
        enrollment = care_actions.enroll(session, session_id, None, child, utcnow(),
                                         actor="staff:cli", tz=settings.timezone)
        status = "已报名" if enrollment.status == care.EnrollmentStatus.ENROLLED else (
            f"候补第{care.waiting_position(session, enrollment)}位")
        typer.echo(f"{enrollment.number} {enrollment.child_name} {status}")


@care_app.command("cancel", help="替家庭取消报名；空出的名额通知下一个排队的家庭。")
def care_cancel(number: Annotated[str, typer.Argument(help="报名单号 BM…。")]) -> None:
    """Withdraw an enrollment for a family; a freed place is offered to the next one."""
    from services.care_notify import tell_offers

    with _session() as (session, settings):
        enrollment = care.by_number(session, number)
        freed = care_actions.cancel(session, enrollment, None, utcnow())
        tell_offers(session, freed, utcnow(), settings.timezone)
        typer.echo(f"{enrollment.number} {enrollment.child_name} 已取消"
                   + (f"，已通知 {len(freed.offers)} 个候补家庭" if freed.offers else ""))

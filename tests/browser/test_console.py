"""The staff console in a real browser (chromium through Playwright): logging in, the queue,
a resident's report (sent through the webhook) taken to 办结 by clicking, answering a kept
message, an import's dry run and the dashboard's charts."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlmodel import Session, select

from storage.models import (
    Building,
    Grid,
    InboundMessage,
    Outbox,
    Resident,
    Ticket,
    TicketStatus,
)
from tests.console.conftest import set_password

NUMBER = re.compile(r"GD\d{8}-\d{4}")


def _report(server, openid: str, text: str) -> str:
    reply = server.say(openid, text)
    found = NUMBER.search(reply)
    assert found, reply
    return found.group()


def test_login_refuses_a_wrong_password_then_shows_the_queue(server, page, shot):
    set_password(server.engine, "admin-1")
    page.goto("/console/")
    expect(page).to_have_url(re.compile(r"/console/login\?next="))
    page.get_by_label("账号").fill("13800000100")
    page.get_by_label("密码").fill("wrong-password")
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("alert")).to_have_text("账号或密码不正确")
    shot(page, "login-refused")
    page.get_by_label("密码").fill("Pa55-word-for-tests")
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="工单")).to_be_visible()
    expect(page.locator(".who")).to_contain_text("赵主任")
    nav = page.get_by_role("navigation", name="主导航")
    for link in ("工单", "待人工处理", "数据看板", "导出", "配置"):
        expect(nav.get_by_role("link", name=link)).to_be_visible()
    page.get_by_role("button", name="退出").click()
    expect(page.get_by_role("heading", name="员工登录")).to_be_visible()
    page.goto("/console/")
    expect(page).to_have_url(re.compile(r"/console/login"))


def test_queue_lists_reports_and_filters_by_grid(server, page, staff_login, shot):
    first = _report(server, "o-res-1", "3号楼2单元501，楼道灯坏了")
    second = _report(server, "o-res-2", "6号楼1单元302，水管漏水")
    staff_login(page, "admin-1")
    queue = page.locator("#queue")
    expect(queue).to_contain_text(first)
    expect(queue).to_contain_text(second)
    shot(page, "queue")  # docs/console.png is the queue with the demo's history (test_demo_history)
    with Session(server.engine) as s:
        g1 = s.exec(select(Grid).where(Grid.code == "G01")).one()
    page.locator("select[name=grid]").select_option(str(g1.id))  # htmx swaps #queue
    expect(queue).not_to_contain_text(second)
    expect(queue).to_contain_text(first)
    assert f"grid={g1.id}" in page.url  # hx-push-url keeps the filter in the address


def test_a_report_taken_to_resolved_in_the_browser(server, page, staff_login, shot):
    number = _report(server, "o-res-3", "3号楼2单元501，楼道灯坏了")
    staff_login(page, "worker-g1")
    page.get_by_role("link", name=number).click()
    expect(page.get_by_role("heading", name=number)).to_be_visible()
    page.get_by_role("button", name="接单").click()
    expect(page.locator("#flash")).not_to_be_empty()
    page.locator("summary", has_text="办结").click()
    page.get_by_label("办理情况").fill("已更换楼道灯，恢复照明")
    page.get_by_role("button", name="办结", exact=True).click()
    expect(page.locator("dl.facts").first).to_contain_text("已更换楼道灯，恢复照明")
    shot(page, "resolved")
    with Session(server.engine) as s:
        ticket = s.exec(select(Ticket).where(Ticket.number == number)).one()
        assert ticket.status == TicketStatus.RESOLVED
        told = [p.event for p in s.exec(select(Outbox).where(Outbox.openid == "o-res-3"))]
    assert len(told) >= 2, told  # accepted, resolved (with the request to rate)


def test_answering_a_kept_message(server, page, staff_login, shot):
    reply = server.say("o-res-4", "阿巴阿巴")  # the bot cannot place it: kept for staff
    assert reply
    with Session(server.engine) as s:
        kept = s.exec(select(InboundMessage).where(InboundMessage.openid == "o-res-4")).one()
        assert kept.needs_staff
    staff_login(page, "admin-1")
    page.get_by_role("navigation", name="主导航").get_by_role("link", name=re.compile("待人工处理")).click()
    expect(page.get_by_role("heading", name=re.compile("待人工处理"))).to_be_visible()
    expect(page.locator("main")).to_contain_text("阿巴阿巴")
    shot(page, "kept")
    form = page.locator(f'form[action="/console/kept/{kept.id}/answer"]')
    form.locator("textarea").fill("您好，请问您要办理什么事情？可以直接描述问题和地址。")
    form.get_by_role("button", name="发送回复").click()
    expect(page.locator(".flash.ok")).to_be_visible()
    with Session(server.engine) as s:
        kept = s.get(InboundMessage, kept.id)
        assert kept.handled_at is not None and kept.staff_reply.startswith("您好")
        pushes = list(s.exec(select(Outbox).where(Outbox.openid == "o-res-4")))
    assert [p.text for p in pushes if "直接描述问题" in p.text]


def test_kept_to_ticket_unit_and_room_follow_the_chosen_place(server, page, staff_login):
    assert server.say("o-res-5", "阿巴阿巴")  # kept for staff
    with Session(server.engine) as s:
        kept_id = s.exec(select(InboundMessage.id).where(InboundMessage.openid == "o-res-5")).one()
        resident = s.exec(select(Resident).where(Resident.openid == "o-res-5")).one()
        home = s.exec(select(Building).where(Building.number == 6)).one()
        target_id = s.exec(select(Building.id).where(Building.number == 10)).one()
        resident.building_id, resident.unit, resident.room = home.id, 1, "302"
        s.add(resident)
        s.commit()
    staff_login(page, "admin-1")
    page.goto("/console/kept")
    form = page.locator(f'form[action="/console/kept/{kept_id}/ticket"]')
    unit, room = form.locator('input[name="unit"]'), form.locator('input[name="room"]')
    expect(unit).to_have_value("1")
    expect(room).to_have_value("302")
    form.locator('select[name="where"]').select_option(f"building:{target_id}")
    expect(unit).to_have_value("")  # the home's values do not follow another building
    expect(room).to_have_value("")
    form.locator('select[name="where"]').select_option("")
    expect(room).to_have_value("302")  # back home: the registered ones again
    form.locator('select[name="where"]').select_option(f"building:{target_id}")
    form.locator('select[name="category"]').select_option("repair:楼道灯")
    unit.fill("2")
    room.fill("501")
    form.get_by_role("button", name="转为工单").click()
    expect(page.locator(".flash.ok")).to_be_visible()
    with Session(server.engine) as s:
        ticket = s.exec(select(Ticket).where(Ticket.source_msg_id == kept_id)).one()
    assert (ticket.building_id, ticket.unit, ticket.room) == (target_id, 2, "501")


IMPORT = """street: 和平街道
community: 幸福新社区
grids:
  - code: G04
    name: 第四网格
    buildings: "13-14"
    workers:
      - {name: 刘新, openid: worker-g4, phone: "13800000004"}
"""


def test_an_import_dry_run_writes_nothing_until_confirmed(server, page, staff_login, shot):
    staff_login(page, "admin-1")
    page.goto("/console/config/import")
    page.get_by_label("或粘贴文件内容").fill(IMPORT)
    page.get_by_role("button", name="检查（不写入）").click()
    expect(page.get_by_role("heading", name=re.compile("导入检查"))).to_be_visible()
    shot(page, "import-check")
    with Session(server.engine) as s:
        assert s.exec(select(Grid).where(Grid.code == "G04")).first() is None
    page.get_by_role("button", name="确认导入").click()
    expect(page.locator(".flash.ok")).to_be_visible()
    with Session(server.engine) as s:
        assert s.exec(select(Grid).where(Grid.code == "G04")).one().name == "第四网格"


def test_the_dashboard_draws_its_charts(server, page, staff_login, shot):
    _report(server, "o-res-5", "3号楼2单元501，楼道灯坏了")
    _report(server, "o-res-6", "6号楼1单元302，水管漏水")
    staff_login(page, "admin-1")
    page.goto("/console/dashboard")
    expect(page.get_by_role("heading", name="数据看板")).to_be_visible()
    chart = page.locator("#chart-per-day")
    expect(chart).to_be_visible()
    page.wait_for_function("() => window.Chart && Chart.getChart('chart-per-day')")
    assert page.evaluate("() => Chart.getChart('chart-per-day').data.datasets.length") >= 1
    expect(page.locator("#figures")).to_be_visible()
    shot(page, "dashboard")


def test_the_console_on_a_phone(server, phone_page, staff_login, shot):
    _report(server, "o-res-7", "3号楼2单元501，楼道灯坏了")
    staff_login(phone_page, "worker-g1")
    expect(phone_page.locator("#queue")).to_contain_text("楼道灯")
    width = phone_page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390 + 1, f"the page is {width}px wide on a 390px phone"
    shot(phone_page, "phone-queue")



def test_htmx_errors_show_in_the_flash_area_and_a_lost_session_goes_to_login(server, page, staff_login):
    staff_login(page, "worker-g1")
    expect(page.locator("#queue")).to_be_visible()
    page.evaluate("() => htmx.ajax('GET', '/console/audit', {target: '#queue'})")  # not theirs: 403
    expect(page.locator("#flash .flash.error")).to_have_text("您没有权限进行此操作。")
    expect(page.locator("#queue")).to_be_visible()  # the target was left alone
    page.context.clear_cookies()  # the session is gone (expired, logged out elsewhere)
    page.evaluate("() => htmx.ajax('GET', '/console/tickets', {target: '#queue'})")
    expect(page).to_have_url(re.compile(r"/console/login\?next="))

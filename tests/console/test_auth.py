"""Console login: the password form, sessions (idle and absolute expiry), logout, CSRF,
throttling of failed logins and the audit rows they leave."""

from __future__ import annotations

from sqlmodel import Session, select

from services import accounts
from storage.accounts import AuditEntry, ConsoleSession
from tests.console.conftest import PASSWORD, login, login_form_token, post, set_password


def _audit(engine) -> list[tuple[str, int | None, str | None]]:
    with Session(engine) as session:
        return [(a.action, a.worker_id, a.target_id)
                for a in session.exec(select(AuditEntry).order_by(AuditEntry.id))]


def _try(console, login_name: str, password: str, next_url: str = "/console/"):
    token = login_form_token(console, next_url)
    return console.post("/console/login", data={"login": login_name, "password": password,
                                                "next": next_url, "csrf_token": token},
                        follow_redirects=False)


def test_not_logged_in_goes_to_the_login_page(console):
    response = console.get("/console/?status=open", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login?next=%2Fconsole%2F%3Fstatus%3Dopen"
    htmx = console.get("/console/", headers={"HX-Request": "true"}, follow_redirects=False)
    assert htmx.status_code == 401 and htmx.headers["HX-Redirect"].startswith("/console/login?next=")
    page = console.get("/console/login")
    assert "员工登录" in page.text and 'lang="zh-CN"' in page.text


def test_login_with_the_phone_then_pages_show_who_is_in(console):
    engine = console.app.state.engine
    worker = set_password(engine, "admin-1")
    assert worker.login == "13800000100"
    response = _try(console, "13800000100", PASSWORD, "/console/?x=1")
    assert response.status_code == 303 and response.headers["location"] == "/console/?x=1"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    page = console.get("/console/")
    assert page.status_code == 200 and "赵主任" in page.text and "社区工作人员" in page.text
    assert "待人工处理" in page.text and "配置" in page.text  # a community admin's menu
    with Session(engine) as session:
        [row] = session.exec(select(ConsoleSession)).all()
        assert row.token_hash == accounts.token_hash(console.cookies.get("gridbot_console"))
        assert row.worker_id == worker.id
    assert _audit(engine) == [("login", worker.id, str(worker.id))]


def test_a_grid_worker_sees_only_the_queue_in_the_menu(console):
    login(console, "worker-g1")
    page = console.get("/console/")
    assert "工单" in page.text and "王芳" in page.text
    assert "待人工处理" not in page.text and "数据看板" not in page.text and "配置" not in page.text


def test_wrong_password_and_unknown_login_are_refused_alike(console):
    engine = console.app.state.engine
    worker = set_password(engine, "worker-g1")
    wrong = _try(console, worker.login, "not-the-password")
    unknown = _try(console, "19900000000", PASSWORD)
    for response in (wrong, unknown):
        assert response.status_code == 401 and "账号或密码不正确" in response.text
        assert "gridbot_console=" not in response.headers.get("set-cookie", "")
    assert _audit(engine) == [("login_failed", worker.id, worker.login),
                              ("login_failed", None, "19900000000")]
    assert console.get("/console/", follow_redirects=False).status_code == 303


def test_the_login_form_needs_its_own_token(console):
    set_password(console.app.state.engine, "worker-g1")
    response = console.post("/console/login", data={"login": "13800000001", "password": PASSWORD,
                                                    "next": "/console/", "csrf_token": "forged"},
                            follow_redirects=False)
    assert response.status_code == 403 and console.cookies.get("gridbot_console") is None


def test_next_never_leaves_the_console(console):
    set_password(console.app.state.engine, "worker-g1")
    response = _try(console, "13800000001", PASSWORD, "https://evil.example/")
    assert response.headers["location"] == "/console/"


def test_five_failures_block_the_login_for_15_minutes(console, clock):
    engine = console.app.state.engine
    set_password(engine, "worker-g1")
    for _ in range(5):
        assert _try(console, "13800000001", "wrong-password").status_code == 401
    blocked = _try(console, "13800000001", PASSWORD)  # even the right password
    assert blocked.status_code == 429 and "尝试次数过多，请15分钟后再试" in blocked.text
    assert _audit(engine)[-1][0] == "login_blocked"
    other = set_password(engine, "worker-g2")  # another login from the same address still works
    assert _try(console, other.login, PASSWORD).status_code == 303


def test_twenty_failures_from_one_address_block_it(console, redis):
    set_password(console.app.state.engine, "worker-g2")
    for i in range(20):
        assert _try(console, f"1990000{i:04d}", "x" * 8).status_code == 401
    assert _try(console, "13800000002", PASSWORD).status_code == 429


def test_throttle_window_passes(redis):
    throttle = accounts.Throttle(redis, per_login=2, window_s=900)
    throttle.failed("a", "1.2.3.4")
    assert not throttle.blocked("a", "1.2.3.4")
    throttle.failed("a", "1.2.3.4")
    assert throttle.blocked("a", None) and not throttle.blocked("b", "1.2.3.4")
    ttl = redis.ttl(f"{throttle.prefix}:ip:1.2.3.4")
    assert 0 < ttl <= 900
    throttle.succeeded("a")
    assert not throttle.blocked("a", None)


def test_idle_and_absolute_expiry(console, clock, settings):
    login(console, "worker-g1")
    assert console.get("/console/").status_code == 200
    clock.advance(settings.console_session_idle_s - 60)
    assert console.get("/console/", follow_redirects=False).status_code == 200  # touched
    clock.advance(settings.console_session_idle_s - 60)
    assert console.get("/console/", follow_redirects=False).status_code == 200
    clock.advance(settings.console_session_idle_s + 1)  # idle too long
    assert console.get("/console/", follow_redirects=False).status_code == 303
    with Session(console.app.state.engine) as session:
        assert session.exec(select(ConsoleSession)).all() == []  # the expired row went

    login(console, "worker-g1")
    for _ in range(7 * 24 // 4):  # busy every 4 hours, yet after 7 days the login ends
        clock.advance(4 * 3600)
        last = console.get("/console/", follow_redirects=False)
    assert last.status_code == 303


def test_logout_needs_the_csrf_token_and_ends_the_session(console):
    worker = login(console, "worker-g1")
    refused = console.post("/console/logout", data={"csrf_token": "nope"})
    assert refused.status_code == 403 and "页面已过期" in refused.text
    refused = console.post("/console/logout")
    assert refused.status_code == 403
    assert console.get("/console/", follow_redirects=False).status_code == 200
    cookie = console.cookies.get("gridbot_console")
    done = post(console, "/console/logout", follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].startswith("/console/login")
    console.cookies.set("gridbot_console", cookie, path="/console")  # a stolen copy is dead too
    assert console.get("/console/", follow_redirects=False).status_code == 303
    assert [a for a, _, _ in _audit(console.app.state.engine)] == ["login", "logout"]
    assert _audit(console.app.state.engine)[-1][1] == worker.id


def test_csrf_header_works_for_htmx(console):
    login(console, "worker-g1")
    done = console.post("/console/logout", headers={"X-CSRF-Token": console.csrf, "HX-Request": "true"})
    assert done.status_code == 200 and done.headers["HX-Redirect"].startswith("/console/login")


def test_an_inactive_worker_is_logged_out(console):
    worker = login(console, "worker-g1")
    engine = console.app.state.engine
    with Session(engine) as session:
        row = session.get(type(worker), worker.id)
        row.active = False
        session.add(row)
        session.commit()
    assert console.get("/console/", follow_redirects=False).status_code == 303
    assert _try(console, worker.login, PASSWORD).status_code == 401


def test_static_files_are_served(console):
    css = console.get("/console/static/console.css")
    assert css.status_code == 200 and "--brand" in css.text
    assert console.get("/console/static/htmx.min.js").status_code == 200


def test_changing_ones_own_password(console):
    worker = login(console, "worker-g1")
    engine = console.app.state.engine
    other = console.__class__(console.app)  # a second browser, logged in too
    login(other, "13800000001", password=PASSWORD)
    page = console.get("/console/password")
    assert page.status_code == 200 and "修改密码" in page.text
    wrong = post(console, "/console/password", {"current": "nope", "new": "n3w-password!",
                                                "again": "n3w-password!"})
    assert wrong.status_code == 422 and "当前密码不正确" in wrong.text
    differ = post(console, "/console/password", {"current": PASSWORD, "new": "n3w-password!",
                                                 "again": "other-password"})
    assert differ.status_code == 422 and "不一致" in differ.text
    short = post(console, "/console/password", {"current": PASSWORD, "new": "short", "again": "short"})
    assert short.status_code == 422 and "至少 8" in short.text
    done = post(console, "/console/password", {"current": PASSWORD, "new": "n3w-password!",
                                               "again": "n3w-password!"})
    assert done.status_code == 200 and "密码已修改" in done.text
    assert console.get("/console/", follow_redirects=False).status_code == 200  # this browser stays
    assert other.get("/console/", follow_redirects=False).status_code == 303  # the other is out
    assert _try(console, worker.login, "n3w-password!").status_code == 303
    actions = [a for a, _, _ in _audit(engine)]
    assert "password_change_refused" in actions and "password_changed" in actions


def test_an_expired_session_on_a_post_returns_to_the_start_page(console, clock, settings):
    login(console, "worker-g1")
    clock.advance(settings.console_session_idle_s + 1)
    response = post(console, "/console/logout", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login?next=%2Fconsole%2F"


def test_cookies_are_secure_in_production(settings, community, clock, classifier):
    from fastapi.testclient import TestClient

    from bot.app import create_app

    production = settings.model_copy(update={"environment": "production"})
    with TestClient(create_app(production, clock=clock, classifier=classifier),
                    base_url="https://testserver") as client:
        set_password(community, "worker-g1")
        form = client.get("/console/login")
        assert "Secure" in form.headers["set-cookie"]
        response = _try(client, "13800000001", PASSWORD)
        assert response.status_code == 303
        cookie = [c for c in response.headers.get_list("set-cookie") if c.startswith("gridbot_console=")]
        assert cookie and "Secure" in cookie[0] and "HttpOnly" in cookie[0]
        assert client.get("/console/", follow_redirects=False).status_code == 200


def test_console_pages_are_not_cached_or_framed(console):
    login(console, "worker-g1")
    for path in ("/console/login", "/console/"):
        headers = console.get(path).headers
        assert headers["cache-control"] == "no-store" and headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["referrer-policy"] == "same-origin"
    assert "x-frame-options" not in console.get("/console/static/console.css").headers


def test_station_staff_land_on_the_start_page_with_their_links(console, community):
    from sqlmodel import Session

    from storage.models import GridWorker, Role

    with Session(community) as s:
        s.add(GridWorker(openid="station-1", name="孙阿姨", role=Role.STATION_STAFF, phone="13800000200"))
        s.commit()
    login(console, "station-1")
    page = console.get("/console/")
    assert page.status_code == 200 and "孙阿姨" in page.text
    assert 'href="/console/config"' in page.text and "驿站" in page.text
    assert 'href="/console/kept"' not in page.text and 'href="/console/audit"' not in page.text

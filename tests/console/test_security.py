"""The staff console as an attacker tries it: every POST needs its CSRF token (checked by
walking the routes, so a new route without it fails here), crafted tokens are 403s not 500s,
the login throttle counts per account whichever name reaches it, a planted session cookie is
never kept, ``next`` never leaves the console, ids of another community's things are refused,
and no request leaves a database connection "idle in transaction"."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.routing import APIRoute
from sqlmodel import Session, select

from bot.console import web
from bot.console.auth import safe_next
from storage.models import Community, Grid, Ticket
from tests.conftest import BACKEND, _idle_in_transaction
from tests.console.board_data import seed_street
from tests.console.conftest import PASSWORD, login, login_form_token, post, set_password

OWN_TOKEN_POSTS = {"/console/login", "/console/login/link"}
"""POSTs before there is a session: they check their own double-submit token (tested below)."""


def _routes(routes, prefix: str = ""):
    """(full path, APIRoute) of every route, through included routers (FastAPI keeps them as
    ``_IncludedRouter`` branches)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path, route
        elif hasattr(route, "original_router"):
            context = getattr(route, "include_context", None)
            yield from _routes(route.original_router.routes,
                               prefix + (getattr(context, "prefix", "") or ""))
        elif hasattr(route, "routes") and not hasattr(route, "app"):
            yield from _routes(route.routes, prefix)


def _calls(dependant) -> set:
    found = set()
    for dep in dependant.dependencies:
        found.add(dep.call)
        found |= _calls(dep)
    return found


def _console_posts(app) -> list[tuple[str, APIRoute]]:
    return [(path, route) for path, route in _routes(app.routes)
            if path.startswith("/console") and "POST" in route.methods]


def test_every_console_post_route_checks_the_csrf_token(console_app):
    posts = _console_posts(console_app)
    assert len(posts) >= 20, [p for p, _ in posts]  # the walk found the page modules' routes
    missing = [path for path, route in posts
               if path not in OWN_TOKEN_POSTS and web._csrf not in _calls(route.dependant)]
    assert missing == [], f"console POST routes without CsrfDep: {missing}"


def test_the_walk_would_see_a_post_without_csrf(console_app):
    from fastapi import APIRouter

    extra = APIRouter(prefix="/console")

    @extra.post("/forgot-csrf")
    def forgot() -> None: ...

    console_app.include_router(extra)
    missing = [path for path, route in _console_posts(console_app)
               if path not in OWN_TOKEN_POSTS and web._csrf not in _calls(route.dependant)]
    assert missing == ["/console/forgot-csrf"]


def test_a_post_without_or_with_a_crafted_csrf_token_is_403_not_500(console):
    login(console, "worker-g1")
    for token in (None, "", "forged", "é" * 43, "令牌"):
        data = {"text": "x"} if token is None else {"csrf_token": token, "text": "x"}
        response = console.post("/console/logout", data=data)
        assert response.status_code == 403, (token, response.status_code)
        response = console.post("/console/logout", headers={"X-CSRF-Token": "é".encode()})
        assert response.status_code == 403
    assert console.get("/console/", follow_redirects=False).status_code == 200  # still in


@pytest.mark.parametrize("path", sorted(OWN_TOKEN_POSTS))
def test_the_login_posts_refuse_a_missing_or_crafted_form_token(console, path):
    set_password(console.app.state.engine, "worker-g1")
    fields = {"login": "13800000001", "password": PASSWORD, "token": "x", "next": "/console/"}
    assert console.post(path, data=fields, follow_redirects=False).status_code == 403
    login_form_token(console)  # the pre-session cookie is set now
    for token in ("forged", "é令牌"):
        response = console.post(path, data={**fields, "csrf_token": token},
                                follow_redirects=False)
        assert response.status_code == 403, (token, response.status_code)
    assert console.cookies.get(web.COOKIE) is None


def _try(console, name: str, password: str):
    token = login_form_token(console)
    return console.post("/console/login", data={"login": name, "password": password,
                                                "next": "/console/", "csrf_token": token},
                        follow_redirects=False)


def test_the_throttle_counts_per_account_by_login_or_phone(console):
    engine = console.app.state.engine
    worker = set_password(engine, "worker-g1")
    with Session(engine) as s:  # a login name besides the phone
        row = s.get(type(worker), worker.id)
        row.login = "wangfang"
        s.add(row)
        s.commit()
    for name in ("wangfang", " wangfang ", "13800000001", "wangfang", "13800000001"):
        assert _try(console, name, "wrong-password").status_code == 401
    for name in ("wangfang", "13800000001"):  # 5 failures for one account: blocked both ways
        assert _try(console, name, PASSWORD).status_code == 429, name


def test_a_planted_session_cookie_is_replaced_at_login(console):
    set_password(console.app.state.engine, "worker-g1")
    console.cookies.set(web.COOKIE, "planted-by-an-attacker")
    response = _try(console, "13800000001", PASSWORD)
    assert response.status_code == 303
    issued = response.cookies.get(web.COOKIE)
    assert issued and issued != "planted-by-an-attacker"
    assert "HttpOnly" in response.headers["set-cookie"]
    assert "samesite=lax" in response.headers["set-cookie"].lower()


@pytest.mark.parametrize("url", [
    "https://evil.example/", "//evil.example/", "/\\evil.example", "/console\\..\\x",
    "javascript:alert(1)", "", None, "/consolex//evil", "///evil.example"])
def test_next_never_leads_off_the_console(url):
    target = safe_next(url)
    assert target.startswith("/console") and not target.startswith("//")
    assert "\\" not in target and "evil.example" not in target.split("/")[0:3]


def test_a_header_breaking_next_stays_one_header(console):
    set_password(console.app.state.engine, "worker-g1")
    token = login_form_token(console)
    response = console.post("/console/login", data={
        "login": "13800000001", "password": PASSWORD, "csrf_token": token,
        "next": "/console/\r\nSet-Cookie: evil=1"}, follow_redirects=False)
    assert response.status_code == 303
    assert "\r" not in response.headers["location"] and "\n" not in response.headers["location"]
    assert "evil=1" not in response.headers.get("set-cookie", "")


# -- ids of another community's things ---------------------------------------------------------

@pytest.fixture
def street(community):
    return seed_street(community)


def _ids(engine, community: str) -> tuple[int, int, str]:
    """(community id, one of its grids' id, one of its tickets' number)."""
    with Session(engine) as s:
        place = s.exec(select(Community).where(Community.name == community)).one()
        grid = s.exec(select(Grid).where(Grid.community_id == place.id)).first()
        ticket = s.exec(select(Ticket).where(Ticket.grid_id == grid.id)).first()
        return place.id, grid.id, ticket.number


def test_ids_of_another_community_are_refused(console, street):
    other, other_grid, other_ticket = _ids(street, "幸福新社区")
    login(console, "yg-admin")  # 阳光社区's
    for url in (f"/console/tickets/{other_ticket}", f"/console/dashboard?community={other}",
                f"/console/dashboard.json?community={other}",
                f"/console/exports?community={other}",
                f"/console/exports/tickets.csv?community={other}",
                f"/console/config?community={other}"):
        response = console.get(url, follow_redirects=False)
        assert response.status_code in (403, 404), (url, response.status_code)
    for action, data in (("note", {"text": "看看"}), ("resolve", {"text": "已修好"}),
                         ("assign", {"to": "1"})):
        response = post(console, f"/console/tickets/{other_ticket}/{action}", data)
        assert response.status_code in (403, 404), (action, response.status_code)


def test_an_export_filtered_by_another_communitys_grid_is_empty(console, street):
    _, other_grid, other_ticket = _ids(street, "阳光社区")
    login(console, "admin-1")  # 幸福新社区's
    response = console.get(f"/console/exports/tickets.csv?grid={other_grid}")
    assert response.status_code in (200, 403, 404)
    if response.status_code == 200:
        rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
        assert len(rows) == 1 and other_ticket not in response.text  # the header only


def test_an_export_file_name_cannot_break_the_header(console, street):
    login(console, "admin-1")
    response = console.get("/console/exports/tickets%0d%0aSet-Cookie:%20x=1.csv")
    assert response.status_code == 404 and "x=1" not in response.headers.get("set-cookie", "")


# -- connections ----------------------------------------------------------------------------------

@pytest.mark.skipif(BACKEND == "sqlite", reason="pg_stat_activity is PostgreSQL's")
def test_no_request_leaves_a_connection_idle_in_transaction(console, street):
    _, _, own_ticket = _ids(street, "幸福新社区")
    _, _, other_ticket = _ids(street, "阳光社区")
    login(console, "admin-1")
    htmx = {"HX-Request": "true"}
    for _ in range(2):
        for url in ("/console/", "/console/tickets?page=2", f"/console/tickets/{own_ticket}",
                    f"/console/tickets/{other_ticket}", "/console/tickets/GD00000000-0000",
                    "/console/kept", "/console/dashboard", "/console/dashboard.json",
                    "/console/exports", "/console/exports/nope.csv", "/console/config",
                    "/console/config/sla", "/console/audit", "/console/password"):
            console.get(url)
            console.get(url, headers=htmx)
        post(console, f"/console/tickets/{own_ticket}/note", {"text": "民情日记"})
        post(console, f"/console/tickets/{own_ticket}/resolve", {"text": ""}, headers=htmx)
        post(console, f"/console/tickets/{other_ticket}/note", {"text": "x"})
        post(console, "/console/kept/999999/answer", {"text": "x"})
        console.post(f"/console/tickets/{own_ticket}/note", data={"text": "no csrf"})
        post(console, "/console/config/import/apply", {"token": "nope"})
        console.get("/console/audit", params={"page": "99999999999999999999"})
        post(console, "/console/kept/99999999999999999999/answer", {"text": "x"})
    assert _idle_in_transaction(console.app.state.engine) == []


def test_a_kept_image_links_only_to_http_urls(console):
    from storage.models import Building, InboundMessage, Resident
    from tests.chat import START

    engine = console.app.state.engine
    with Session(engine) as s:
        home = s.exec(select(Building)).first()
        for n, url in enumerate(("javascript:alert(document.cookie)", "https://mmbiz.qpic.cn/p.jpg")):
            s.add(Resident(openid=f"o-img-{n}", building_id=home.id, community_id=home.community_id))
            s.add(InboundMessage(dedup_key=f"img-{n}", openid=f"o-img-{n}", msg_type="image",
                                 content=url, received_at=START, needs_staff=True))
        s.commit()
    login(console, "admin-1")
    page = console.get("/console/kept")
    assert page.status_code == 200 and "mmbiz.qpic.cn/p.jpg" in page.text
    assert 'href="https://mmbiz.qpic.cn/p.jpg"' in page.text
    assert 'href="javascript:' not in page.text


def test_guessing_the_current_password_is_throttled_like_the_login(console):
    login(console, "worker-g1")
    for _ in range(5):
        response = post(console, "/console/password", {"current": "guess-guess", "new": "x" * 12,
                                                       "again": "x" * 12})
        assert response.status_code == 422
    right = post(console, "/console/password", {"current": PASSWORD, "new": "N3w-password-ok",
                                                "again": "N3w-password-ok"})
    assert right.status_code == 429  # even the right one, until the window passes
    assert _try(console, "13800000001", PASSWORD).status_code == 429  # and the login too


def test_templates_have_no_inline_script_and_no_unescaped_output():
    """The CSP allows scripts from /console/static only, so no template may carry an inline
    handler (onclick=…) or inline script; and autoescaping is never switched off (|safe,
    Markup, autoescape false): everything staff or residents typed reaches pages escaped."""
    import re
    from pathlib import Path

    folder = Path(web.__file__).parent / "templates"
    found = []
    for path in sorted(folder.glob("*.html")):
        text = path.read_text(encoding="utf-8")
        for pattern in (r"\son[a-z]+\s*=", r"<script(?![^>]*\ssrc=)(?![^>]*application/json)",
                        r"\|\s*safe\b", r"autoescape\s+false", r"javascript:"):
            found += [f"{path.name}: {m.group(0)}" for m in re.finditer(pattern, text, re.I)]
    assert found == []
    assert "script-src 'self'" in web.SECURITY_HEADERS["Content-Security-Policy"]


def test_a_link_cannot_put_its_own_sentence_on_a_console_page(console):
    login(console, "worker-g1")
    spoof = "账号异常，请立即拨打 4000000000 联系管理员"
    for query in ({"ok": spoof}, {"error": spoof}, {"ok": spoof, "sig": "0" * 32}):
        page = console.get("/console/", params=query)
        assert page.status_code == 200 and spoof not in page.text, query
    done = console.get("/console/login")  # the console's own sentences still show
    assert done.status_code == 200
    logout = post(console, "/console/logout")
    assert logout.status_code == 200 and "sig=" in str(logout.url)
    from services.messages import msg

    assert msg("console.auth.logged_out") in logout.text


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1+1", "@SUM(A1)", "\t=1", "\r=1", "\n=1",
                                  "＝HYPERLINK(\"http://x\")", "＋1", "－1", "＠SUM(A1)"])
def test_csv_cells_never_start_a_formula(text):
    from services.exports import Table, to_csv

    body = to_csv(Table("tickets", "工单", ["问题描述"], [[text]]))
    [_, [cell]] = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    assert cell == "'" + text


def test_every_console_route_but_the_login_needs_a_session(console_app):
    public = {"/console/login", "/console/login/link"}
    routes = [(path, route) for path, route in _routes(console_app.routes)
              if path.startswith("/console")]
    assert len(routes) >= 30, [p for p, _ in routes]
    open_ = sorted({path for path, route in routes
                    if path not in public and web._logged_in not in _calls(route.dependant)})
    assert open_ == [], f"console routes anyone may call: {open_}"


def test_the_audit_log_keeps_no_residents_phone_room_or_name(console, street):
    from storage.accounts import AuditEntry

    _, _, number = _ids(street, "幸福新社区")
    login(console, "admin-1")
    typed = "已电话联系3号楼501的张三（13812345678），明天上门"
    assert post(console, f"/console/tickets/{number}/note", {"text": typed}).status_code == 200
    with Session(street) as s:
        [entry] = s.exec(select(AuditEntry).where(AuditEntry.action == "ticket.note")).all()
    kept = entry.detail["text"]
    assert kept.startswith("已电话联系") and kept.endswith("明天上门")
    for personal in ("13812345678", "501", "张三"):
        assert personal not in kept, kept


ODD_VALUES = ["-1", "0", "99999999999999999999", "abc", "'--", "é", "2026-13-45", "<x>", ""]


def test_odd_query_values_are_never_a_server_error(console_app, street):
    from fastapi.testclient import TestClient

    routes = [(path, route) for path, route in _routes(console_app.routes)
              if path.startswith("/console") and "GET" in route.methods
              and not route.dependant.path_params and route.dependant.query_params]
    assert len(routes) >= 8
    with TestClient(console_app, raise_server_exceptions=False) as client:
        login(client, "street-1")
        failures = []
        for path, route in routes:
            for param in route.dependant.query_params:
                name = param.alias or param.name
                for value in ODD_VALUES:
                    response = client.get(path, params={name: value}, follow_redirects=False)
                    if response.status_code >= 500:
                        failures.append((path, name, value, response.status_code))
        for url in ("/console/kept/99999999999999999999/answer",
                    "/console/kept/99999999999999999999/ticket"):
            response = post(client, url, {"text": "x", "category": "repair:"})
            if response.status_code != 404:
                failures.append((url, response.status_code))
    assert failures == [], "\n".join(map(str, failures))


def test_an_import_file_in_gbk_or_binary_is_a_page_not_a_server_error(console_app, street):
    from fastapi.testclient import TestClient

    csv_text = ("street,community,grid_code,grid_name,buildings,name,openid,phone,role\n"
                "和平街道,幸福新社区,G04,第四网格,13-14,新网格员,worker-g4,13800000004,网格员\n")
    with TestClient(console_app, raise_server_exceptions=False) as client:
        login(client, "admin-1")
        for name, body in (("org.csv", csv_text.encode("gbk")), ("org.yaml", b"\xff\xfe\x00bad"),
                           ("org.csv", b"\x00" * 64)):
            page = post(client, "/console/config/import/check",
                        files={"file": (name, body, "text/csv")})
            assert page.status_code in (200, 422), (name, page.status_code)

"""`gridbot staff password|list`: console passwords set from the command line, and the demo's
console logins (`gridbot serve --demo`)."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from bot.cli import app
from bot.demo import DEMO_ADMIN_LOGIN, DEMO_PASSWORD, console_logins
from services import accounts
from storage.accounts import AuditEntry, ConsoleSession
from storage.models import GridWorker, Role
from storage.times import utcnow


@pytest.fixture
def cli_env(monkeypatch, postgres_url, redis_url, community):
    monkeypatch.setenv("GRIDBOT_DATABASE_URL", postgres_url)
    monkeypatch.setenv("GRIDBOT_REDIS_URL", redis_url)
    return community


def _worker(engine, openid: str) -> GridWorker:
    with Session(engine) as s:
        return s.exec(select(GridWorker).where(GridWorker.openid == openid)).one()


def test_password_is_asked_twice_and_ends_open_sessions(cli_env):
    engine = cli_env
    with Session(engine, expire_on_commit=False) as s:
        worker = s.exec(select(GridWorker).where(GridWorker.openid == "worker-g1")).one()
        accounts.set_password(s, worker, "first-password")
        accounts.start_session(s, worker, utcnow(), max_s=3600)
        s.commit()
    result = CliRunner().invoke(app, ["staff", "password", "13800000001"],
                                input="new-password-1\nnew-password-1\n")
    assert result.exit_code == 0, result.output
    assert "已为 王芳 设置控制台密码，登录名：13800000001" in result.output
    with Session(engine) as s:
        worker = s.get(GridWorker, worker.id)
        assert accounts.authenticate(s, "13800000001", "new-password-1").id == worker.id
        assert accounts.authenticate(s, "13800000001", "first-password") is None
        assert s.exec(select(ConsoleSession)).all() == []
        [entry] = s.exec(select(AuditEntry).where(AuditEntry.action == "password_set")).all()
        assert entry.target_id == str(worker.id) and entry.detail["login"] == "13800000001"


def test_mismatch_short_password_and_unknown_staff_are_refused(cli_env):
    runner = CliRunner()
    mismatch = runner.invoke(app, ["staff", "password", "worker-g1"],
                             input="new-password-1\nother-password\nnew-password-1\nnew-password-1\n")
    assert mismatch.exit_code == 0  # asked again until both agree
    short = runner.invoke(app, ["staff", "password", "worker-g1", "--stdin"], input="short\n")
    assert short.exit_code == 1 and "密码需要 8" in short.output
    unknown = runner.invoke(app, ["staff", "password", "nobody", "--stdin"], input="long-enough\n")
    assert unknown.exit_code == 1 and "找不到员工「nobody」" in unknown.output


def test_login_option_and_taken_logins(cli_env):
    runner = CliRunner()
    ok = runner.invoke(app, ["staff", "password", "admin-1", "--login", "zhao", "--stdin"],
                       input="long-enough-1\n")
    assert ok.exit_code == 0 and "登录名：zhao" in ok.output
    taken = runner.invoke(app, ["staff", "password", "worker-g1", "--login", "zhao", "--stdin"],
                          input="long-enough-2\n")
    assert taken.exit_code == 1 and "已被其他员工使用" in taken.output
    listing = runner.invoke(app, ["staff", "list"])
    assert listing.exit_code == 0
    lines = {line.split("\t")[1]: line.split("\t") for line in listing.output.splitlines()[1:]}
    assert lines["赵主任"][2:] == ["社区工作人员", "幸福新社区", "-", "zhao", "已设", "在职"]
    assert lines["王芳"][2:] == ["网格员", "幸福新社区", "G01", "-", "未设", "在职"]


def test_demo_console_logins(community):
    made = console_logins(community)
    logins = {login: role for login, _, role in made}
    assert logins[DEMO_ADMIN_LOGIN] == Role.STREET_ADMIN
    assert logins["13800000001"] == Role.GRID_WORKER
    with Session(community) as s:
        assert accounts.authenticate(s, DEMO_ADMIN_LOGIN, DEMO_PASSWORD).name == "刘主任"
    assert console_logins(community) == []  # once only; passwords staff changed stay


def test_a_login_link_is_pushed_and_logs_in_once(cli_env, monkeypatch, settings, clock, classifier):
    import re

    from fastapi.testclient import TestClient

    from bot.app import create_app
    from storage.models import Outbox

    runner = CliRunner()
    missing = runner.invoke(app, ["staff", "link", "worker-g1"])
    assert missing.exit_code == 1 and "GRIDBOT_CONSOLE_URL" in missing.output
    monkeypatch.setenv("GRIDBOT_CONSOLE_URL", "https://gridbot.example.org/console/")
    sent = runner.invoke(app, ["staff", "link", "worker-g1"])
    assert sent.exit_code == 0 and "已把登录链接推送给 王芳" in sent.output
    with Session(cli_env) as s:
        [push] = s.exec(select(Outbox).where(Outbox.openid == "worker-g1")).all()
    assert push.event == "console.push_login_link" and push.recipient_kind == "staff"
    url = re.search(r"https://gridbot\.example\.org/console/login/link\?token=(\S+)", push.text)
    assert url, push.text
    token = url.group(1)

    with TestClient(create_app(settings, clock=clock, classifier=classifier)) as client:
        page = client.get("/console/login/link", params={"token": token})
        assert page.status_code == 200 and "一次性登录链接" in page.text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        assert client.get("/console/", follow_redirects=False).status_code == 303  # GET alone: no login
        done = client.post("/console/login/link", data={"token": token, "csrf_token": csrf})
        assert done.status_code == 200 and "王芳" in done.text
        client.cookies.clear()
        client.get("/console/login/link", params={"token": token})
        csrf = client.cookies.get("gridbot_console_pre")
        again = client.post("/console/login/link", data={"token": token, "csrf_token": csrf})
        assert again.status_code == 401 and "已用过" in again.text


def test_a_login_link_expires(community):
    from datetime import timedelta

    from tests.chat import START

    with Session(community, expire_on_commit=False) as s:
        worker = s.exec(select(GridWorker).where(GridWorker.openid == "worker-g2")).one()
        token = accounts.issue_login_link(s, worker, START)
        assert accounts.redeem_login_link(s, token, START + timedelta(minutes=11)) is None
        assert accounts.redeem_login_link(s, "forged", START) is None
        assert accounts.redeem_login_link(s, token, START + timedelta(minutes=9)).id == worker.id
        assert accounts.redeem_login_link(s, token, START + timedelta(minutes=9)) is None


def test_logout_ends_every_session_and_may_remove_the_password(cli_env):
    engine = cli_env
    with Session(engine, expire_on_commit=False) as s:
        worker = s.exec(select(GridWorker).where(GridWorker.openid == "worker-g3")).one()
        accounts.set_password(s, worker, "password-g3")
        for _ in range(2):
            accounts.start_session(s, worker, utcnow(), max_s=3600)
        s.commit()
    runner = CliRunner()
    done = runner.invoke(app, ["staff", "logout", "worker-g3"])
    assert done.exit_code == 0 and "张敏 的 2 个控制台登录已退出。" in done.output
    with Session(engine) as s:
        assert s.exec(select(ConsoleSession)).all() == []
        assert accounts.authenticate(s, "13800000003", "password-g3") is not None
    removed = runner.invoke(app, ["staff", "logout", "13800000003", "--no-password"])
    assert removed.exit_code == 0 and "密码已取消" in removed.output
    with Session(engine) as s:
        assert accounts.authenticate(s, "13800000003", "password-g3") is None
        entries = s.exec(select(AuditEntry).where(AuditEntry.action == "sessions_ended")).all()
        assert [e.detail["password_removed"] for e in entries] == [False, True]

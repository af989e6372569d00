"""`gridbot serve --demo` prints in Chinese what a first-time user needs: what was imported,
the console login, the Open311 address with a working demo API key, the WeChat sandbox.

The server itself is not started (uvicorn.run is replaced); a real `serve --demo` runs in
tests/bot/test_logs.py and tests/bot/test_serve_workers.py."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from bot.cli import app
from bot.demo import DEMO_API_KEY
from services import api_keys
from storage.accounts import ApiKey
from storage.times import utcnow


@pytest.fixture
def serve_demo(monkeypatch, clean_db, postgres_url, redis_url):
    """Runs `gridbot serve --demo --no-migrate --port 8123` on the emptied test database;
    returns (exit code, output) of each call."""
    import uvicorn

    import bot.app

    monkeypatch.setenv("GRIDBOT_DATABASE_URL", postgres_url)
    monkeypatch.setenv("GRIDBOT_REDIS_URL", redis_url)
    monkeypatch.setattr(bot.app, "create_app", lambda settings: None)
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)

    def run() -> tuple[int, str]:
        result = CliRunner().invoke(app, ["serve", "--demo", "--no-history", "--no-migrate",
                                          "--port", "8123"])
        return result.exit_code, result.output

    return run


def test_serve_demo_speaks_chinese_and_gives_a_working_open311_key(serve_demo, clean_db):
    code, out = serve_demo()
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].startswith("已导入 demo_community.yaml：新建 ")
    assert any(line.startswith("已导入 demo_hexie.yaml：") for line in lines)
    assert "demo data imported" not in out and "sandbox at" not in out
    assert (f"Open311 接口：http://127.0.0.1:8123/open311/v2/  演示用 api_key：{DEMO_API_KEY}"
            "（curl 示例见 docs/open311.md）" in lines)
    assert "微信接口沙盒：http://127.0.0.1:8123/sandbox/cgi-bin/；用 gridbot chat --url " \
           "http://127.0.0.1:8123 模拟居民对话（网格员：加 --openid worker-g1）" in lines
    assert any(line.startswith("控制台：http://127.0.0.1:8123/console/ 账号 admin") for line in lines)
    with Session(clean_db) as s:
        assert api_keys.verify(s, DEMO_API_KEY).name == "演示"


def test_serve_demo_again_imports_nothing_and_keeps_one_key(serve_demo, clean_db):
    serve_demo()
    code, out = serve_demo()
    assert code == 0, out
    assert "已导入" not in out
    assert f"演示用 api_key：{DEMO_API_KEY}" in out
    with Session(clean_db) as s:
        assert len(s.exec(select(ApiKey)).all()) == 1


def test_a_revoked_demo_key_is_not_issued_again(serve_demo, clean_db):
    serve_demo()
    with Session(clean_db) as s:
        api_keys.revoke(s, "演示", utcnow())
        s.commit()
    code, out = serve_demo()
    assert code == 0, out
    assert DEMO_API_KEY not in out and "演示用 api_key 已被停用" in out
    with Session(clean_db) as s, pytest.raises(api_keys.NotAllowed):
        api_keys.verify(s, DEMO_API_KEY)

"""`gridbot qrcode` creates the communities' parametric QR codes through the WeChat API (the
sandbox here) and writes real PNGs; scanning one is the subscribe event the chat tests use;
the sandbox checks qrcode/create as WeChat does."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from typer.testing import CliRunner

from bot.cli import app
from bot.demo import COMMUNITY_FILE, MORE_COMMUNITY_FILES, seed
from bot.devtools.sandbox import sandbox_router, serve_in_thread
from bot.qrcodes import PNG_MAGIC, image_url
from storage.models import Building, Community
from storage.redis import sync_client


@pytest.fixture
def sandbox_url(redis_url: str) -> Iterator[str]:
    web = FastAPI()
    web.include_router(sandbox_router(sync_client(redis_url)), prefix="/sandbox")
    with serve_in_thread(web) as url:
        yield url


@pytest.fixture
def street(monkeypatch, clean_db, redis, postgres_url, redis_url, sandbox_url) -> dict[str, int]:
    seed(clean_db, files=(COMMUNITY_FILE, *MORE_COMMUNITY_FILES))
    for name, value in {"DATABASE_URL": postgres_url, "REDIS_URL": redis_url,
                        "WECHAT_API_BASE_URL": f"{sandbox_url}/sandbox/cgi-bin/"}.items():
        monkeypatch.setenv(f"GRIDBOT_{name}", value)
    with Session(clean_db) as s:
        return {c.name: c.id for c in s.exec(select(Community))}


def test_lists_each_community_scene_with_its_estates(street):
    result = CliRunner().invoke(app, ["qrcode"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"c{street['幸福新社区']}\t幸福新社区",
        f"c{street['阳光社区']}\t阳光社区（阳光小区、阳光花园）",
        f"c{street['和谐社区']}\t和谐社区（和谐家园）"]


def test_creates_pngs_through_the_api(street, tmp_path, sandbox_url, clean_db):
    result = CliRunner().invoke(app, ["qrcode", "--community", "和谐社区", "--buildings",
                                      "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    with Session(clean_db) as s:
        buildings = s.exec(select(Building).where(Building.community_id == street["和谐社区"])
                           .order_by(Building.number)).all()
    expected = [f"c{street['和谐社区']}-和谐社区.png"] + [
        f"b{b.id}-和谐社区-{b.name}.png" for b in buildings]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(expected)
    for path in tmp_path.iterdir():
        assert path.read_bytes().startswith(PNG_MAGIC) and path.stat().st_size > 200
    stats = httpx.get(f"{sandbox_url}/sandbox/stats").json()
    assert stats["qrcode_create"] == stats["showqrcode"] == len(expected)


def test_unknown_community_exits_1(street):
    result = CliRunner().invoke(app, ["qrcode", "--community", "无此社区"])
    assert result.exit_code == 1


def test_image_url_is_wechats_for_the_official_api_and_the_base_otherwise():
    assert image_url("https://api.weixin.qq.com/cgi-bin/", "a b+c") == (
        "https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket=a%20b%2Bc")
    assert image_url("http://127.0.0.1:8000/sandbox/cgi-bin", "t/1") == (
        "http://127.0.0.1:8000/sandbox/cgi-bin/showqrcode?ticket=t%2F1")


@pytest.fixture
def api(redis) -> TestClient:
    web = FastAPI()
    web.include_router(sandbox_router(redis), prefix="/sandbox")
    return TestClient(web)


def test_sandbox_checks_qrcode_create_like_wechat(api):
    token = api.get("/sandbox/cgi-bin/token", params={
        "grant_type": "client_credential", "appid": "wx1", "secret": "s"}).json()["access_token"]

    def create(body: dict, access_token: str | None = token) -> dict:
        params = {"access_token": access_token} if access_token else {}
        return api.post("/sandbox/cgi-bin/qrcode/create", params=params, json=body).json()

    def scene(action: str, **value) -> dict:
        return {"action_name": action, "action_info": {"scene": value}}

    assert create(scene("QR_LIMIT_STR_SCENE", scene_str="c1"), None)["errcode"] == 41001
    assert create(scene("QR_FOREVER", scene_str="c1"))["errcode"] == 40035
    assert create(scene("QR_LIMIT_STR_SCENE", scene_str=""))["errcode"] == 40035
    assert create(scene("QR_LIMIT_STR_SCENE", scene_str="x" * 65))["errcode"] == 40035
    assert create(scene("QR_LIMIT_SCENE", scene_id=100_001))["errcode"] == 40035
    temporary = create({**scene("QR_SCENE", scene_id=123), "expire_seconds": 600})
    assert temporary["expire_seconds"] == 600
    permanent = create(scene("QR_LIMIT_STR_SCENE", scene_str="c1"))
    assert "expire_seconds" not in permanent and permanent["url"].startswith("http://weixin.qq.com/q/")
    image = api.get("/sandbox/cgi-bin/showqrcode", params={"ticket": permanent["ticket"]})
    assert image.headers["content-type"] == "image/png" and image.content.startswith(PNG_MAGIC)
    assert api.get("/sandbox/cgi-bin/showqrcode", params={"ticket": "forged"}).status_code == 404

"""The one line a misconfiguration ends a command with is Chinese (the catalogue's
``[config_error]`` table): bot.preflight, the settings' own checks, the worker's. What a
driver or pydantic said stays, in brackets."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from sqlalchemy import text

from bot import preflight, worker
from bot.settings import Settings
from storage.db import create_schema, make_engine


def _settings(**values) -> Settings:
    return Settings(_env_file=None, **values)


def _config_error(**values) -> str:
    with pytest.raises(preflight.ConfigError) as caught:
        preflight.load_settings(_env_file=None, **values)
    return str(caught.value)


def test_field_errors_name_the_variable_in_chinese():
    assert _config_error(ticket_prefix="gd") == \
        "配置有误：GRIDBOT_TICKET_PREFIX：格式不对（要符合 ^[A-Z]{1,8}$）"
    assert _config_error(environment="prod") == \
        "配置有误：GRIDBOT_ENVIRONMENT：只能是 'development' 或 'production'"
    assert _config_error(console_session_idle_s="8h") == \
        "配置有误：GRIDBOT_CONSOLE_SESSION_IDLE_S：要是整数"
    assert _config_error(console_session_idle_s=5) == \
        "配置有误：GRIDBOT_CONSOLE_SESSION_IDLE_S：不能小于 60"


def test_unsafe_production_settings_are_listed_in_one_chinese_line():
    line = _config_error(environment="production", wechat_token="changeme",
                         wechat_app_secret="0f1e2d3c4b5a69788796a5b4c3d2e1f0",
                         wechat_app_id="wx1234567890abcdef", allow_plaintext=True,
                         database_url="postgresql+psycopg://gridbot@db/gridbot",
                         redis_url="memory://", sandbox=True)
    assert line == ("配置有误：GRIDBOT_WECHAT_TOKEN 是空的或是占位值：请设为公众号服务器配置里的 Token"
                    "（公众号 → 设置与开发 → 基本配置）；GRIDBOT_REDIS_URL 是 memory://（进程内）："
                    "生产环境要用真正的 Redis，例如 redis://主机:6379/0；GRIDBOT_SANDBOX=true 会提供"
                    "一个不需认证的微信接口替身：生产环境请删除 GRIDBOT_SANDBOX")


def test_an_aes_key_of_the_right_length_but_wrong_characters():
    assert _config_error(wechat_aes_key="abcdefghijklmnopqrstuvwxyz0123456789ABCD!FG") == (
        "配置有误：GRIDBOT_WECHAT_AES_KEY 不是 EncodingAESKey（43 个 A–Z、a–z、0–9 字符）：请重新复制")


def test_several_web_processes_need_shared_services():
    with pytest.raises(preflight.ConfigError) as caught:
        preflight.check_workers(_settings(database_url="postgresql+psycopg://db/g"), 3)
    assert str(caught.value) == (
        "--workers 3 需要各进程共用的 PostgreSQL 和 Redis，但 GRIDBOT_REDIS_URL 还是内置的默认值："
        "请设置 GRIDBOT_DATABASE_URL=postgresql+psycopg://用户:密码@主机/库名 和 "
        "GRIDBOT_REDIS_URL=redis://主机:6379/0，或使用 --workers 1")


def test_a_database_without_tables_and_one_out_of_date(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'g.db'}"
    settings = _settings(database_url=url)
    make_engine(url).dispose()
    with pytest.raises(preflight.ConfigError) as caught:
        preflight.check_services(settings, redis_=False)
    assert str(caught.value) == \
        f"GRIDBOT_DATABASE_URL：{url} 里没有 gridbot 的数据表：请运行 gridbot db upgrade"
    engine = make_engine(url)
    create_schema(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE privacy_sweep"))
    engine.dispose()
    with pytest.raises(preflight.ConfigError) as caught:
        preflight.check_services(settings, redis_=False)
    assert str(caught.value) == (f"GRIDBOT_DATABASE_URL：{url} 的数据库结构不是最新的（缺少表 "
                                 "privacy_sweep）：请运行 gridbot db upgrade")


def test_bad_urls():
    with pytest.raises(preflight.ConfigError) as caught:
        preflight.check_services(_settings(database_url="nonsense"), redis_=False)
    assert str(caught.value).startswith("GRIDBOT_DATABASE_URL 不是数据库地址（")
    assert str(caught.value).endswith("）：请使用 postgresql+psycopg://用户:密码@主机/库名 这样的地址")
    with pytest.raises(preflight.ConfigError) as caught:
        preflight.check_services(_settings(redis_url="http://x"), database=False, schema=False)
    assert str(caught.value).startswith("GRIDBOT_REDIS_URL 不是 Redis 地址（")


def test_errors_met_while_running_and_the_workers():
    lost = preflight.explain(redis.exceptions.ConnectionError("Connection refused"))
    assert str(lost) == ("GRIDBOT_REDIS_URL：连不上 Redis（Connection refused）："
                         "请启动 Redis 或改正 GRIDBOT_REDIS_URL")
    refused = worker._config_error(redis.exceptions.AuthenticationError("WRONGPASS invalid"))
    assert str(refused) == ("GRIDBOT_REDIS_URL：Redis 拒绝了用户名或密码（WRONGPASS invalid）："
                            "请改正地址里的用户名或密码")


def test_the_worker_names_a_database_without_tables(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    try:
        with pytest.raises(preflight.ConfigError) as caught:
            worker._check_database(engine)
    finally:
        engine.dispose()
    assert str(caught.value) == (f"GRIDBOT_DATABASE_URL：sqlite:///{tmp_path / 'w.db'} 里没有 "
                                 "gridbot 的数据表：请运行 gridbot db upgrade")


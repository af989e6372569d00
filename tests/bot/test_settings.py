"""Settings: embedded defaults, GRIDBOT_ environment, refusal of placeholders in production."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.settings import Settings


def test_defaults_are_the_embedded_system(monkeypatch):
    for var in ("GRIDBOT_DATABASE_URL", "GRIDBOT_REDIS_URL"):
        monkeypatch.delenv(var, raising=False)
    s = Settings(_env_file=None)
    assert s.database_url.startswith("sqlite") and s.redis_url == "memory://"
    assert s.runs_embedded_worker and not s.safe_mode


def test_environment_variables_with_prefix(monkeypatch):
    monkeypatch.setenv("GRIDBOT_WECHAT_TOKEN", "tok")
    monkeypatch.setenv("GRIDBOT_REDIS_URL", "redis://127.0.0.1:6379/3")
    monkeypatch.setenv("GRIDBOT_TEMPLATE_IDS", '{"ticket_resolved": "TM1"}')
    s = Settings(_env_file=None)
    assert s.wechat_token == "tok" and not s.runs_embedded_worker
    assert s.template_ids == {"ticket_resolved": "TM1"}


def test_production_refuses_placeholders_and_memory_redis():
    with pytest.raises(ValidationError, match="GRIDBOT_WECHAT_TOKEN"):
        Settings(_env_file=None, environment="production")
    with pytest.raises(ValidationError, match="真正的 Redis"):
        Settings(_env_file=None, environment="production", wechat_token="t", wechat_app_secret="s")


def test_aes_key_must_have_43_characters():
    with pytest.raises(ValidationError, match="43"):
        Settings(_env_file=None, wechat_aes_key="short")


PRODUCTION = {  # a safe production configuration; each test below breaks one thing
    "environment": "production",
    "wechat_token": "k3Jd9sLqP0wX",
    "wechat_app_id": "wx1234567890abcdef",
    "wechat_app_secret": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    "wechat_aes_key": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    "database_url": "postgresql+psycopg://gridbot@db.internal/gridbot",
    "redis_url": "redis://redis.internal:6379/0",
}


def test_a_safe_production_configuration_is_accepted():
    s = Settings(_env_file=None, **PRODUCTION)
    assert s.safe_mode and not s.sandbox


@pytest.mark.parametrize(("change", "named"), [
    ({"wechat_token": ""}, "GRIDBOT_WECHAT_TOKEN"),
    ({"wechat_token": "   "}, "GRIDBOT_WECHAT_TOKEN"),
    ({"wechat_token": "changeme"}, "GRIDBOT_WECHAT_TOKEN"),
    ({"wechat_token": "gridbot-dev-token"}, "GRIDBOT_WECHAT_TOKEN"),
    ({"wechat_app_secret": ""}, "GRIDBOT_WECHAT_APP_SECRET"),
    ({"wechat_app_secret": "..."}, "GRIDBOT_WECHAT_APP_SECRET"),
    ({"wechat_app_secret": "<your-app-secret>"}, "GRIDBOT_WECHAT_APP_SECRET"),
    ({"wechat_app_secret": "gridbot-dev-secret"}, "GRIDBOT_WECHAT_APP_SECRET"),
    ({"wechat_app_id": "wxgridbotdemo0001"}, "GRIDBOT_WECHAT_APP_ID"),
    ({"wechat_aes_key": None}, "GRIDBOT_ALLOW_PLAINTEXT=true"),
    ({"wechat_aes_key": ""}, "GRIDBOT_WECHAT_AES_KEY"),
    ({"database_url": "sqlite:///gridbot.db"}, "GRIDBOT_ALLOW_SQLITE=true"),
    ({"redis_url": "memory://"}, "GRIDBOT_REDIS_URL"),
    ({"sandbox": True}, "GRIDBOT_SANDBOX"),
    ({"wecom_corp_id": "ww1", "wecom_secret": "xxx"}, "GRIDBOT_WECOM_SECRET"),
])
def test_production_refuses_unsafe_settings_naming_the_variable(change, named):
    with pytest.raises(ValidationError, match=named):
        Settings(_env_file=None, **(PRODUCTION | change))


def test_production_opt_ins_for_plaintext_and_sqlite():
    s = Settings(_env_file=None, **PRODUCTION | {"wechat_aes_key": None, "allow_plaintext": True,
                                                  "database_url": "sqlite:///x.db", "allow_sqlite": True})
    assert not s.safe_mode


def test_development_defaults_need_no_variables_and_blank_aes_key_means_unset():
    s = Settings(_env_file=None, wechat_aes_key="", sandbox=True)
    assert not s.safe_mode and s.sandbox and s.environment == "development"


@pytest.mark.parametrize("key", ["abcdefghijklmnopqrstuvwxyz0123456789ABCDEF",  # 42 characters
                                 "abcdefghijklmnopqrstuvwxyz0123456789ABCD!FG"])  # 43, not base64
def test_aes_key_must_be_43_characters_of_base64(key):
    with pytest.raises(ValidationError, match="GRIDBOT_WECHAT_AES_KEY"):
        Settings(_env_file=None, wechat_aes_key=key)

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
    with pytest.raises(ValidationError, match="real Redis"):
        Settings(_env_file=None, environment="production", wechat_token="t", wechat_app_secret="s")


def test_aes_key_must_have_43_characters():
    with pytest.raises(ValidationError, match="43"):
        Settings(_env_file=None, wechat_aes_key="short")

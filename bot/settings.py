"""Typed settings, read from environment variables with the ``GRIDBOT_`` prefix.

Build one ``Settings()`` in ``create_app()``, the CLI or the worker and pass it down;
nothing in the project reads the environment at import time.

With no variables set the embedded default applies: a SQLite file, an in-process Redis
(``memory://``) and the worker running inside the web process.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_TOKEN = "gridbot-dev-token"
DEV_SECRET = "gridbot-dev-secret"
WECHAT_API_BASE_URL = "https://api.weixin.qq.com/cgi-bin/"
WECOM_API_BASE_URL = "https://qyapi.weixin.qq.com/cgi-bin/"


class Settings(BaseSettings):
    """All configuration of one gridbot deployment.

    Raises pydantic.ValidationError when ``environment`` is ``production`` and a secret
    still has its development placeholder, or when an EncodingAESKey is not 43 characters.
    """

    model_config = SettingsConfigDict(env_prefix="GRIDBOT_", env_file=".env", extra="ignore")

    environment: Literal["development", "production"] = "development"

    # WeChat official account (公众号)
    # developers.weixin.qq.com/doc/offiaccount/Basic_Information/Access_Overview.html
    wechat_token: str = DEV_TOKEN
    wechat_app_id: str = "wxgridbotdemo0001"
    wechat_app_secret: str = DEV_SECRET
    wechat_aes_key: str | None = None
    """EncodingAESKey (43 chars). When set, safe mode (加密模式) is on."""
    wechat_aes_key_previous: str | None = None
    """The key being rotated out; inbound messages that fail with the new key are tried with it."""
    wechat_api_base_url: str = WECHAT_API_BASE_URL
    template_ids: dict[str, str] = Field(default_factory=dict)
    """Template message (模板消息) ID per push event, e.g. {"ticket_status": "TM0001"} (JSON)."""

    # WeCom (企业微信) application for grid workers; optional.
    wecom_corp_id: str | None = None
    wecom_secret: str | None = None
    wecom_agent_id: int | None = None
    wecom_api_base_url: str = WECOM_API_BASE_URL

    # Storage
    database_url: str = "sqlite:///gridbot.db"
    redis_url: str = "memory://"
    embedded_worker: bool | None = None
    """Run the worker inside the web process; defaults to True when redis_url is memory://."""

    # Webhook policy
    timestamp_window_s: int = 300
    max_body_bytes: int = 64 * 1024
    dedup_ttl_s: int = 900
    retry_wait_s: float = 4.0
    """How long a concurrent retry waits for the first delivery's reply (WeChat waits 5 s)."""
    dialogue_ttl_s: int = 1800

    # People-facing
    timezone: str = "Asia/Shanghai"
    ticket_prefix: str = "GD"
    gas_emergency_phone: str = "96777"
    """Local gas emergency line quoted in urgent replies (with 119/120/110)."""
    sandbox: bool = False
    """Mount the stand-in for WeChat's API at /sandbox (for `gridbot serve --demo`)."""

    @model_validator(mode="after")
    def _check(self) -> Settings:
        for name in ("wechat_aes_key", "wechat_aes_key_previous"):
            key = getattr(self, name)
            if key is not None and len(key) != 43:
                raise ValueError(f"{name} must be the 43-character EncodingAESKey")
        if self.environment == "production":
            if self.wechat_token == DEV_TOKEN or self.wechat_app_secret == DEV_SECRET:
                raise ValueError("set GRIDBOT_WECHAT_TOKEN and GRIDBOT_WECHAT_APP_SECRET in production")
            if self.redis_url.startswith("memory://"):
                raise ValueError("production needs a real Redis (GRIDBOT_REDIS_URL)")
        return self

    @property
    def safe_mode(self) -> bool:
        """True when an EncodingAESKey is configured (安全模式)."""
        return self.wechat_aes_key is not None

    @property
    def runs_embedded_worker(self) -> bool:
        if self.embedded_worker is not None:
            return self.embedded_worker
        return self.redis_url.startswith("memory://")

    @property
    def wecom_enabled(self) -> bool:
        return bool(self.wecom_corp_id and self.wecom_secret and self.wecom_agent_id)

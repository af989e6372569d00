"""Typed settings, read from environment variables with the ``GRIDBOT_`` prefix.

Build one ``Settings()`` in ``create_app()``, the CLI or the worker and pass it down;
nothing in the project reads the environment at import time.

With no variables set the embedded default applies: a SQLite file, an in-process Redis
(``memory://``) and the worker running inside the web process.
"""

from __future__ import annotations

import base64
import binascii
import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.messages import msg
from storage.numbers import DEFAULT_TICKET_PREFIX

DEV_TOKEN = "gridbot-dev-token"
DEV_SECRET = "gridbot-dev-secret"
DEMO_APP_ID = "wxgridbotdemo0001"
WECHAT_API_BASE_URL = "https://api.weixin.qq.com/cgi-bin/"
WECOM_API_BASE_URL = "https://qyapi.weixin.qq.com/cgi-bin/"


class Settings(BaseSettings):
    """All configuration of one gridbot deployment.

    Raises pydantic.ValidationError when an EncodingAESKey is not 43 characters of base64, and
    when ``environment`` is ``production`` and the configuration is unsafe: a blank or
    placeholder token/AppSecret/AppID/WeCom secret, no EncodingAESKey (safe mode) without
    ``allow_plaintext``, SQLite without ``allow_sqlite``, ``memory://`` Redis, or the sandbox.
    The message names every offending GRIDBOT_ variable and its fix, joined by "; ".
    Pydantic-settings raises pydantic_settings.SettingsError for a variable that is not
    valid JSON (GRIDBOT_TEMPLATE_IDS); ``bot.preflight.load_settings`` turns both into a
    ConfigError.
    """

    model_config = SettingsConfigDict(env_prefix="GRIDBOT_", env_file=".env", extra="ignore")

    environment: Literal["development", "production"] = "development"

    # WeChat official account (公众号)
    # developers.weixin.qq.com/doc/offiaccount/Basic_Information/Access_Overview.html
    wechat_token: str = DEV_TOKEN
    wechat_app_id: str = DEMO_APP_ID
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
    stats_database_url: str | None = None
    """Where `gridbot stats` and other read-only reports read: a streaming read replica of the
    main database (hot standby), so reports never load the primary. Unset: the main database.
    A replica lags the primary by its replication delay (usually under a second)."""
    db_pgbouncer: bool = False
    """The database URL points at PgBouncer in transaction pooling mode: the web and worker
    processes then prepare no statements (psycopg's prepare_threshold=None) and send no
    startup ``options``; set statement_timeout/lock_timeout on the role instead (docs/deploy.md)."""
    redis_url: str = "memory://"
    embedded_worker: bool | None = None
    """Run the worker inside the web process; defaults to True when redis_url is memory://."""

    # Webhook policy
    timestamp_window_s: int = 300
    max_body_bytes: int = 64 * 1024
    dedup_ttl_s: int = 900
    webhook_deadline_s: float = 4.0
    """The webhook answers within this many seconds whatever is stuck (WeChat gives up at 5 s):
    past it the message is spooled and the resident told it is queued."""
    retry_wait_s: float = 4.0
    """How long a concurrent retry waits for the first delivery's reply (WeChat waits 5 s)."""
    dialogue_ttl_s: int = 1800

    # Fault tolerance and abuse limits (issue 8)
    allow_plaintext: bool = False
    """Production only: accept WeChat's plaintext mode (明文模式) although its signature does
    not cover the body. Off by default: production requires safe mode (EncodingAESKey)."""
    allow_sqlite: bool = False
    """Production only: accept a SQLite database (one host, one process)."""
    redis_timeout_s: float = 1.0
    """Connect and read timeout of every Redis call (seconds); well under WeChat's 5 s."""
    db_connect_timeout_s: int = 2
    """Connect timeout of PostgreSQL connections (seconds)."""
    db_statement_timeout_ms: int = 3000
    """PostgreSQL statement_timeout of web and worker sessions (milliseconds)."""
    spool_dir: str = "var/spool"
    """Local append-only spool for inbound messages when both PostgreSQL and Redis fail."""
    max_text_chars: int = 1000
    """Inbound text longer than this is cut before it is understood (kept whole for staff)."""
    config_reload_s: float = Field(5.0, ge=0)
    """How often (seconds) each process looks for a lexicon or SLA policy saved in the
    console (``services.config_docs.LiveConfig``); 0: before every message and job."""
    rate_limit_burst: int = 20
    """Messages one OpenID may send at once (token bucket size)."""
    rate_limit_per_minute: float = 20.0
    """Sustained messages per minute per OpenID (token bucket refill)."""
    report_burst_max: int = 3
    """New tickets one resident may open within ``report_burst_window_s``; further reports in
    that window are added to their latest open ticket instead (one thread, not hundreds)."""
    report_burst_window_s: int = 600
    org_cache_ttl_s: float = 60.0
    """How long a web process serves buildings, grids and staff from memory (seconds);
    `gridbot import` drops every process's copy at once through Redis."""
    push_lease_s: int = 120
    """How long a relay may hold a push it is sending before the push counts as in doubt."""
    wechat_timeout_s: float = 10.0
    """Connect and read timeout of each WeChat API call (seconds); keep push_lease_s above
    five calls' worth (connect + read), see bot/relay.py."""

    open311_posts_per_minute: int = Field(30, ge=1)
    """Open311 POSTs one API key may make in a clock minute; past it: HTTP 429 + Retry-After
    (``services.open311_limit``)."""
    open311_posts_per_hour: int = Field(600, ge=1)
    """Open311 POSTs one API key may make in a clock hour."""

    # People-facing
    timezone: str = "Asia/Shanghai"
    ticket_prefix: str = Field(DEFAULT_TICKET_PREFIX, pattern=r"^[A-Z]{1,8}$")
    """Letters before ticket numbers (GD20261122-0007); read and written by storage.numbers."""
    gas_emergency_phone: str = "96777"
    """Local gas emergency line quoted in urgent replies (with 119/120/110)."""
    sla_file: Path | None = None
    """The service-level policy file (format of the packaged handlers/sla.toml), so a
    community keeps its own targets outside the package. Unset: handlers/sla.toml.
    Checked by ``bot.preflight.load_settings`` (a bad file stops every command)."""
    sandbox: bool = False
    """Mount the stand-in for WeChat's API at /sandbox (for `gridbot serve --demo`)."""

    # Staff console (/console)
    console_session_idle_s: int = Field(8 * 3600, ge=60)
    """A console login ends after this many seconds without a request."""
    console_session_max_s: int = Field(7 * 24 * 3600, ge=60)
    """A console login ends this many seconds after it began, however busy."""
    console_url: str | None = None
    """Public address of the console, e.g. https://gridbot.example.org/console/ (the login
    links `gridbot staff link` pushes to staff point there)."""

    @field_validator("wechat_aes_key", "wechat_aes_key_previous", "wecom_secret", "wecom_corp_id",
                     "stats_database_url", "sla_file", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        """``GRIDBOT_WECHAT_AES_KEY=`` (an empty variable) means "not set"."""
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _check(self) -> Settings:
        problems = [p for name in ("wechat_aes_key", "wechat_aes_key_previous")
                    if (p := _aes_key_problem(name, getattr(self, name)))]
        if self.environment == "production":
            problems += self._production_problems()
        if problems:
            raise ValueError(msg("config_error.problem_sep").join(problems))
        return self

    def _production_problems(self) -> list[str]:
        """What makes this configuration unsafe for production, one sentence per setting,
        each naming the environment variable and the fix (Chinese, for the operator: the
        catalogue's ``[config_error]`` table)."""
        unsafe = [
            ("token_placeholder", _is_placeholder(self.wechat_token, DEV_TOKEN)),
            ("secret_placeholder", _is_placeholder(self.wechat_app_secret, DEV_SECRET)),
            ("app_id_placeholder", _is_placeholder(self.wechat_app_id, DEMO_APP_ID)),
            ("plaintext", not self.safe_mode and not self.allow_plaintext),
            ("wecom_placeholder", self.wecom_corp_id is not None
             and _is_placeholder(self.wecom_secret, DEV_SECRET)),
            ("sqlite", self.database_url.startswith("sqlite") and not self.allow_sqlite),
            ("memory_redis", self.redis_url.startswith("memory://")),
            ("sandbox", self.sandbox),
        ]
        return [msg(f"config_error.{key}") for key, bad in unsafe if bad]

    @property
    def safe_mode(self) -> bool:
        """True when an EncodingAESKey is configured (安全模式)."""
        return self.wechat_aes_key is not None

    @property
    def stats_url(self) -> str:
        """The database read-only reports use: ``stats_database_url``, else ``database_url``."""
        return self.stats_database_url or self.database_url

    @property
    def runs_embedded_worker(self) -> bool:
        if self.embedded_worker is not None:
            return self.embedded_worker
        return self.redis_url.startswith("memory://")

    @property
    def wecom_enabled(self) -> bool:
        return bool(self.wecom_corp_id and self.wecom_secret and self.wecom_agent_id)


_PLACEHOLDER = re.compile(
    r"change.?me|change.?it|fill.?me|replace.?me|your[-_ ]|placeholder|example|dummy|"
    r"^(todo|tbd|fixme|secret|password|token|test|none|null|x+|\W*)$|^<.*>$|^\{.*\}$|\.\.\.|…",
    re.IGNORECASE,
)


def _is_placeholder(value: str | None, dev_value: str) -> bool:
    """True for None, blank/whitespace, the development default and the usual stand-ins
    ("changeme", "your-secret", "...", "<token>", "xxx", "TODO")."""
    if value is None or not value.strip() or value == dev_value:
        return True
    return bool(_PLACEHOLDER.search(value.strip()))


def _aes_key_problem(name: str, key: str | None) -> str | None:
    """Why ``key`` is not an EncodingAESKey (43 characters of base64 for 32 bytes), or None."""
    if key is None:
        return None
    var = f"GRIDBOT_{name.upper()}"
    if len(key) != 43:
        return msg("config_error.aes_length", var=var, n=len(key))
    try:
        raw = base64.b64decode(key + "=", validate=True)
    except binascii.Error:
        raw = b""
    if len(raw) != 32:
        return msg("config_error.aes_chars", var=var)
    return None

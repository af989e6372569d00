"""Logging for `gridbot serve`, `gridbot worker` and the other commands: one format, no secrets.

Two filters keep what must not be written out of every log line:

- ``SecretFilter`` (on every handler we install): replaces by ``***`` the values of the
  configured secrets (token, AppSecret, EncodingAESKeys, WeCom secret, database and Redis
  passwords), the values of secret parameters in URLs and JSON (``secret=``, ``corpsecret=``,
  ``access_token=``, ``"access_token": "…"``, ``signature=``, ``nonce=``, ``echostr=`` …) and
  passwords in ``scheme://user:password@host`` URLs — in the message, its arguments and the
  formatted traceback. WeChat's token URL carries the AppSecret in its query string, so
  any logged network error of a token fetch would otherwise print it.
- ``AccessLogFilter`` (on uvicorn's access log): keeps the path and the parameter names of the
  request line and masks every query value but ``encrypt_type``: WeChat's signature,
  msg_signature, timestamp, nonce, echostr and the sender's openid never reach the access log
  (with one logged signature/timestamp/nonce, plaintext mode accepts a forged body).

    configure(settings, level)   a stderr handler with both protections on the root logger
    uvicorn_log_config(settings) uvicorn's LOGGING_CONFIG with the filters, for
                                 ``uvicorn.run(log_config=…)``
    scrub(text)                  ``text`` with secret parameters and URL passwords masked
                                 (no configured values needed: exception messages, Outbox errors)
"""

from __future__ import annotations

import copy
import logging
import re
import sys
from collections.abc import Iterable, Mapping
from urllib.parse import unquote

from bot.settings import Settings

MASK = "***"
MIN_SECRET_CHARS = 6
"""Configured values shorter than this are not searched for in log text (they would mask
ordinary words); the parameter patterns still mask them in URLs and JSON."""
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

SECRET_PARAMS = (
    "secret", "corpsecret", "appsecret", "app_secret", "access_token", "refresh_token",
    "component_access_token", "password", "passwd", "token", "encodingaeskey", "aes_key",
    "signature", "msg_signature", "nonce", "echostr",
)
"""Query/form/JSON parameters whose values are masked wherever they appear in a log line."""
ACCESS_LOG_VISIBLE = frozenset({"encrypt_type"})
"""The only query parameters whose values the access log shows."""

_names = "|".join(sorted(SECRET_PARAMS, key=len, reverse=True))
_PARAM = re.compile(rf"(?i)(?<![\w-])({_names})(=|%3D)[^&\s\"'<>,;)]*")
_QUOTED = re.compile(rf"(?i)([\"']({_names})[\"']\s*:\s*[\"'])[^\"']*([\"'])")
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]{0,30}://[^:/@\s]{0,256}:)[^@\s/]{1,256}@", re.IGNORECASE)
_ATTRS = (str, int, float, bool, type(None))


def scrub(text: str) -> str:
    """``text`` with secret parameters (SECRET_PARAMS, in URLs and JSON/dict reprs) and the
    passwords of ``scheme://user:password@host`` URLs replaced by ``***``."""
    text = _PARAM.sub(rf"\1\2{MASK}", text)
    text = _QUOTED.sub(rf"\1{MASK}\3", text)
    return _URL_PASSWORD.sub(rf"\1{MASK}@", text)


def secrets_of(settings: Settings) -> list[str]:
    """The configured secret values: token, AppSecret, AES keys, WeCom secret and the
    passwords inside the database and Redis URLs."""
    values = [settings.wechat_token, settings.wechat_app_secret, settings.wechat_aes_key,
              settings.wechat_aes_key_previous, settings.wecom_secret]
    for url in (settings.database_url, settings.stats_database_url or "", settings.redis_url):
        match = re.search(r"://[^:/@\s]*:([^@\s/]+)@", url)
        if match:
            values += [match.group(1), unquote(match.group(1))]
    return [v for v in values if v]


class SecretFilter(logging.Filter):
    """Masks secrets in a record's message, arguments, traceback and stack (see module doc).

    ``secrets``: literal values to mask wherever they appear (at least MIN_SECRET_CHARS long).
    Put it on handlers: a handler filter sees the records of every logger. Never drops a record.
    """

    def __init__(self, secrets: Iterable[str] = (), name: str = "") -> None:
        super().__init__(name)
        values = sorted({s for s in secrets if s and len(s) >= MIN_SECRET_CHARS}, key=len, reverse=True)
        self._values = re.compile("|".join(map(re.escape, values))) if values else None

    def redact(self, text: str) -> str:
        if self._values is not None:
            text = self._values.sub(MASK, text)
        return scrub(text)

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_gridbot_redacted", False):
            return True
        record.msg = self.redact(str(record.msg))
        if isinstance(record.args, Mapping):
            record.args = {k: self._arg(v) for k, v in record.args.items()}
        elif isinstance(record.args, tuple):
            record.args = tuple(self._arg(a) for a in record.args)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        record._gridbot_redacted = True
        return True

    def _arg(self, value: object) -> object:
        """A redacted string for strings and objects whose text holds a secret; numbers and
        objects with nothing to hide are kept, so ``%d`` and ``%r`` keep working."""
        if isinstance(value, _ATTRS) and not isinstance(value, str):
            return value
        text = str(value)
        redacted = self.redact(text)
        return redacted if isinstance(value, str) or redacted != text else value


class AccessLogFilter(logging.Filter):
    """Masks query values in uvicorn's access-log records (args: client, method, path with
    query, HTTP version, status); the path and the parameter names stay.

    ``name`` limits it to one logger's records ("uvicorn.access" on a shared handler); records
    of other loggers pass untouched. Never drops a record.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not super().filter(record):
            return True
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], mask_query(args[2]), *args[3:])
        return True


def mask_query(path: str) -> str:
    """``/wechat?signature=ab&encrypt_type=aes`` → ``/wechat?signature=***&encrypt_type=aes``."""
    base, sep, query = path.partition("?")
    if not sep:
        return path
    parts = []
    for pair in query.split("&"):
        name, eq, _value = pair.partition("=")
        visible = unquote(name).lower() in ACCESS_LOG_VISIBLE
        parts.append(pair if visible or not eq else f"{name}={MASK}")
    return f"{base}?{'&'.join(parts)}"


def configure(settings: Settings | None = None, level: int = logging.INFO) -> logging.Handler:
    """Log to stderr through SecretFilter (with ``settings``' secrets) and AccessLogFilter.

    Replaces the handler a previous call installed; leaves other handlers alone.
    Returns the installed handler.
    """
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_gridbot", False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(AccessLogFilter("uvicorn.access"))
    handler.addFilter(SecretFilter(secrets_of(settings) if settings else ()))
    handler._gridbot = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    return handler


def uvicorn_log_config(settings: Settings) -> dict:
    """uvicorn's LOGGING_CONFIG with SecretFilter on both handlers and AccessLogFilter on the
    access handler (``uvicorn.run(app, log_config=uvicorn_log_config(settings))``), plus the
    root logger (gridbot's own loggers) on a stderr handler with SecretFilter, as
    ``configure`` installs it. uvicorn applies this dict in every process it starts, so the
    processes of `gridbot serve --workers N` log through the same filters."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {
        "secrets": {"()": SecretFilter, "secrets": secrets_of(settings)},
        "access_query": {"()": AccessLogFilter},
    }
    config["handlers"]["default"]["filters"] = ["secrets"]
    config["handlers"]["access"]["filters"] = ["access_query", "secrets"]
    config["formatters"]["gridbot"] = {"format": FORMAT}
    config["handlers"]["gridbot"] = {"class": "logging.StreamHandler", "stream": "ext://sys.stderr",
                                     "formatter": "gridbot", "filters": ["secrets"]}
    config["root"] = {"handlers": ["gridbot"], "level": "INFO"}
    return config

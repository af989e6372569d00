"""The deployment examples in deploy/ (docs/deploy.md) parse and say what the docs say.

No Docker engine or nginx runs here: the compose file is read as YAML and its gridbot
environment must make a valid production configuration; systemd units are checked with
`systemd-analyze verify` where it exists (else read as INI); gunicorn's hooks are called."""

from __future__ import annotations

import configparser
import os
import re
import runpy
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from sqlalchemy import text

from bot.settings import Settings
from storage.db import make_engine
from tests.chat import AES_KEY
from tests.conftest import BACKEND

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SERVICES = {"postgres", "pgbouncer", "redis", "redis-sentinel", "gridbot-web", "gridbot-worker", "nginx"}
SAMPLE = {"POSTGRES_PASSWORD": "pg-Secret-7781", "GRIDBOT_WECHAT_TOKEN": "tok3nFromConsole",
          "GRIDBOT_WECHAT_APP_ID": "wx1234567890abcdef", "GRIDBOT_WECHAT_APP_SECRET": "a1b2c3d4e5f6a7b8",
          "GRIDBOT_WECHAT_AES_KEY": AES_KEY, "GRIDBOT_TEMPLATE_IDS": '{"default": "TM0001"}'}


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))


def interpolate(value: str) -> str:
    """compose's ${VAR}, ${VAR:?message} and ${VAR:-default} with SAMPLE values."""
    def one(match: re.Match) -> str:
        name, default = match.group(1), match.group(3)
        return SAMPLE.get(name, default or "")
    return re.sub(r"\$\{(\w+)(:[?-]([^}]*))?\}", one, value)


def test_compose_has_every_service_from_docker_hub():
    services = compose()["services"]
    assert set(services) >= SERVICES
    for name, service in services.items():
        image = service["image"]
        assert "/" not in image.split(":")[0] or "." not in image.split("/")[0], (name, image)


@pytest.mark.parametrize("name", ["gridbot-web", "gridbot-worker", "gridbot-migrate"])
def test_compose_environment_is_a_valid_production_configuration(name, monkeypatch):
    for var in [k for k in os.environ if k.startswith("GRIDBOT_")]:
        monkeypatch.delenv(var)
    for var, value in compose()["services"][name]["environment"].items():
        monkeypatch.setenv(var, interpolate(str(value)))
    settings = Settings(_env_file=None)  # as the container reads its environment
    assert settings.environment == "production" and settings.safe_mode
    through_pgbouncer = "@pgbouncer:" in settings.database_url
    assert settings.db_pgbouncer == through_pgbouncer  # the pooler needs the setting, direct does not
    assert settings.redis_url.startswith("redis+sentinel://redis-sentinel:26379/")


def test_compose_web_runs_several_processes_and_workers_scale():
    services = compose()["services"]
    web = services["gridbot-web"]["command"]
    assert web[web.index("--workers") + 1] != "1" and "--no-migrate" in web
    assert services["gridbot-worker"]["command"][-1] == "worker"
    assert "db upgrade" in services["gridbot-migrate"]["command"][-1]


def test_systemd_units_verify():
    units = sorted((DEPLOY / "systemd").glob("*.service"))
    assert {u.name for u in units} == {"gridbot-web.service", "gridbot-worker@.service"}
    for unit in units:
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.optionxform = str  # systemd keys are case-sensitive
        parser.read(unit)
        assert parser["Service"]["Restart"] == "on-failure"
        assert parser["Service"]["ExecStart"].split()[1] in ("serve", "worker")
    assert "RestartPreventExitStatus" in (DEPLOY / "systemd" / "gridbot-worker@.service").read_text()
    if shutil.which("systemd-analyze") is None:
        return
    proc = subprocess.run(["systemd-analyze", "verify", *map(str, units)], capture_output=True,
                          text=True, timeout=60)
    problems = [line for line in (proc.stdout + proc.stderr).splitlines()
                if line.strip() and "is not executable" not in line]  # /opt/gridbot is not here
    assert not problems, problems


def test_nginx_logs_no_query_and_proxies_the_webhook():
    conf = (DEPLOY / "nginx.conf").read_text()
    body = re.sub(r"#.*", "", conf)
    assert body.count("{") == body.count("}")
    assert "location = /wechat" in body and "proxy_pass http://gridbot_web" in body
    log_format = re.search(r"log_format gridbot(.*?);", body, re.S).group(1)
    assert "$uri" in log_format
    for variable in ("$request ", "$request\"", "$request_uri", "$args", "$query_string"):
        assert variable not in log_format  # they carry signature, nonce and openid


def test_gunicorn_master_refuses_the_embedded_default_in_one_line(monkeypatch, capsys):
    for name in [k for k in os.environ if k.startswith("GRIDBOT_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(DEPLOY)  # no .env here
    hooks = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    with pytest.raises(SystemExit) as exit_:
        hooks["on_starting"](SimpleNamespace(cfg=SimpleNamespace(workers=2)))
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--workers 2 需要各进程共用的 PostgreSQL 和 Redis" in err


@pytest.mark.skipif(BACKEND == "sqlite", reason="PgBouncer mode concerns PostgreSQL")
def test_pgbouncer_mode_prepares_nothing_and_sends_no_startup_options(engine, postgres_url):
    def session_facts(**kwargs) -> tuple[str, int]:
        eng = make_engine(postgres_url, statement_timeout_ms=1234, **kwargs)
        try:
            with eng.connect() as conn:
                for _ in range(10):  # psycopg prepares a statement on its 5th run by default
                    conn.execute(text("SELECT count(*) FROM pg_class WHERE relname = :n"), {"n": "x"})
                timeout = conn.execute(text("SHOW statement_timeout")).scalar_one()
                prepared = conn.execute(text("SELECT count(*) FROM pg_prepared_statements")).scalar_one()
        finally:
            eng.dispose()
        return timeout, prepared

    assert session_facts() == ("1234ms", 1)                 # direct: options sent, prepared
    timeout, prepared = session_facts(pgbouncer=True)
    assert timeout != "1234ms" and prepared == 0            # pooled: neither

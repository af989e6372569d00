"""A misconfiguration ends every `gridbot` command with one line on stderr naming the setting
and the fix, and exit code 2 — never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from bot.cli import app
from tests.chat import AES_KEY
from tests.conftest import BACKEND, PG_ADMIN_DSN

COMMANDS = [
    ["serve", "--port", "1"],
    ["worker"],
    ["import", __file__],
    ["db", "upgrade"],
    ["review"],
    ["stats"],
    ["notice", "停水通知", "明天停水", "--grid", "G01"],
    ["station", "list"],
    ["notice", "--status", "1"],
    ["resident", "level", "oR1", "红"],
]
AES_42 = AES_KEY[:-1]
real_servers = pytest.mark.skipif(BACKEND == "sqlite", reason="needs the real PostgreSQL")


def run(args: list[str], **env: str):
    """Invoke the CLI in-process with exactly ``env`` as its GRIDBOT_ variables."""
    cleared: dict[str, str | None] = {k: None for k in os.environ if k.startswith("GRIDBOT_")}
    cleared |= {f"GRIDBOT_{k.upper()}": v for k, v in env.items()}
    return CliRunner().invoke(app, args, env=cleared)


def one_line(result) -> str:
    """The single stderr line of a command that failed with exit code 2 and printed nothing else."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and result.stdout == "", result.output
    assert "Traceback" not in result.output
    return lines[0]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_every_command_refuses_a_42_character_aes_key_in_one_line(args):
    line = one_line(run(args, wechat_aes_key=AES_42))
    assert line == ("gridbot: 配置有误：GRIDBOT_WECHAT_AES_KEY 必须是 43 个字符的 EncodingAESKey，"
                    "现在是 42 个字符：请从 基本配置 重新复制（不要带空格或引号）")


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_every_command_refuses_a_blank_token_in_production(args):
    line = one_line(run(args, environment="production", wechat_token="  "))
    assert "GRIDBOT_WECHAT_TOKEN 是空的或是占位值：请设为公众号服务器配置里的 Token" in line
    assert "GRIDBOT_ALLOW_PLAINTEXT" in line  # and everything else that is unsafe, same line


@pytest.mark.parametrize("args", [["review"], ["stats"], ["worker"]], ids=str)
def test_bad_template_ids_json_names_the_variable(args):
    line = one_line(run(args, template_ids='{"ticket_status": TM1'))
    assert line == ('gridbot: GRIDBOT_TEMPLATE_IDS 不是有效的 JSON：请设为一个 JSON 对象，'
                    '例如 {"ticket_status": "TM0001"}')


BAD_SLA_FILES = {
    "missing": (None, "读不到"),
    "not TOML": ("[default\nresponse_minutes = 60\n", "不是有效的服务时限文件"),
    "bad policy": ('[[policy]]\nname = "x"\nkind = "repair"\ncalendar = "nowhere"\n',
                   "不是有效的服务时限文件"),
}


@pytest.mark.parametrize("case", BAD_SLA_FILES)
@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_a_bad_sla_file_names_the_setting(args, case, tmp_path: Path):
    text, says = BAD_SLA_FILES[case]
    path = tmp_path / "sla.toml"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    line = one_line(run(args, sla_file=str(path)))
    assert line.startswith("gridbot: GRIDBOT_SLA_FILE：") and str(path) in line and says in line
    assert "或删除 GRIDBOT_SLA_FILE 以使用自带的 handlers/sla.toml" in line


@real_servers
@pytest.mark.parametrize("args", [["review"], ["db", "upgrade"], ["serve", "--port", "1"]], ids=str)
def test_a_database_that_does_not_exist(args):
    url = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    line = one_line(run(args, database_url=f"{url}/gridbot_no_such_db_{uuid.uuid4().hex[:6]}"))
    assert line.startswith("gridbot: GRIDBOT_DATABASE_URL：") and "does not exist" in line
    assert line.endswith("：请先创建这个数据库（createdb）再运行 gridbot db upgrade，或改正地址")


@pytest.mark.parametrize("args", [["review"], ["import", __file__], ["stats"]], ids=str)
def test_a_database_that_cannot_be_reached(args):
    line = one_line(run(args, database_url="postgresql+psycopg://gridbot:s3cretpw@127.0.0.1:1/gridbot"))
    assert line.startswith("gridbot: GRIDBOT_DATABASE_URL：无法使用数据库") and "127.0.0.1" in line
    assert line.endswith("：请启动 PostgreSQL 或改正 GRIDBOT_DATABASE_URL") and "s3cretpw" not in line


@pytest.fixture
def empty_database(tmp_path: Path):
    """URL of a database with no tables (PostgreSQL, or a SQLite file on the sqlite backend)."""
    if BACKEND == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    name = f"gridbot_test_empty_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/" + name
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.parametrize("args", [["review"], ["serve", "--no-migrate", "--port", "1"],
                                  ["station", "list"]], ids=str)
def test_a_database_without_the_schema_says_run_db_upgrade(args, empty_database):
    line = one_line(run(args, database_url=empty_database))
    assert line.startswith("gridbot: GRIDBOT_DATABASE_URL：") and line.endswith(
        "：请运行 gridbot db upgrade")
    if args[0] != "station":  # checked before it runs; `station list` meets the missing table
        assert line.endswith(" 里没有 gridbot 的数据表：请运行 gridbot db upgrade")


@real_servers
def test_serve_with_redis_down_stops_before_starting(engine, postgres_url):
    line = one_line(run(["serve", "--no-migrate", "--port", "1"], database_url=postgres_url,
                        redis_url="redis://:pw123456@127.0.0.1:1/0"))
    assert line.startswith("gridbot: GRIDBOT_REDIS_URL：连不上 Redis redis://:***@127.0.0.1:1/0（")
    assert line.endswith("）：请启动 Redis 或改正 GRIDBOT_REDIS_URL")
    assert "pw123456" not in line


def test_the_installed_command_prints_one_line_and_exits_2(tmp_path: Path):
    """The real console script, in a directory without .env: stderr is exactly one line."""
    script = Path(sys.executable).with_name("gridbot")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDBOT_")}
    env |= {"GRIDBOT_ENVIRONMENT": "production", "GRIDBOT_WECHAT_TOKEN": ""}
    proc = subprocess.run([str(script), "review"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "GRIDBOT_WECHAT_TOKEN" in proc.stderr, proc.stderr


def test_errors_that_are_not_configuration_keep_their_traceback(monkeypatch):
    import bot.cli_ops

    def broken(*_args, **_kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(bot.cli_ops, "clock", broken)
    result = run(["stats"])
    assert result.exit_code == 1 and isinstance(result.exception, RuntimeError)

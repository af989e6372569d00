"""`gridbot` commands staff run: import, db upgrade, review."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from bot.cli import app
from storage.models import Grid, InboundMessage

YAML = """
street: 和平街道
community: 幸福新社区
grids:
  - {code: G01, name: 第一网格, buildings: "1-4", workers: [{name: 王芳, openid: w1}]}
"""


@pytest.fixture
def env(monkeypatch, postgres_url, redis_url, clean_db):
    monkeypatch.setenv("GRIDBOT_DATABASE_URL", postgres_url)
    monkeypatch.setenv("GRIDBOT_REDIS_URL", redis_url)
    return clean_db


def test_import_loads_the_file_and_reports_counts(env, tmp_path: Path):
    path = tmp_path / "community.yaml"
    path.write_text(YAML, encoding="utf-8")
    result = CliRunner().invoke(app, ["import", str(path)])
    assert result.exit_code == 0, result.output
    assert "新建 街道 1，社区 1，网格 1，楼栋 4，工作人员 1；" in result.output
    with Session(env) as s:
        assert [g.code for g in s.exec(select(Grid))] == ["G01"]


def test_import_of_a_bad_file_exits_2_naming_the_line(env, tmp_path: Path):
    path = tmp_path / "bad.csv"
    path.write_text("street,community\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["import", str(path)])
    assert result.exit_code == 2 and "bad.csv 第1行：缺少列 grid_code" in result.output


def test_review_lists_messages_kept_for_staff(env):
    with Session(env) as s:
        s.add(InboundMessage(dedup_key="msg:1", openid="o1", msg_type="text", content="阿巴阿巴",
                             needs_staff=True, intent="other"))
        s.add(InboundMessage(dedup_key="msg:2", openid="o2", msg_type="text", content="你好"))
        s.add(InboundMessage(dedup_key="msg:3", openid="o3", msg_type="text", content="已答复的",
                             needs_staff=True, intent="other", handled_at=datetime.now(UTC)))
        s.commit()
    result = CliRunner().invoke(app, ["review"])
    assert result.exit_code == 0 and "阿巴阿巴" in result.output and "你好" not in result.output
    assert "已答复的" not in result.output  # handled in the console (待人工处理)


def test_help_lists_the_commands():
    result = CliRunner().invoke(app, ["--help"])
    for command in ("serve", "worker", "import", "chat", "db", "review", "intents", "stats",
                    "notice"):
        assert command in result.output

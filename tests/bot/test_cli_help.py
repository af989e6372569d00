"""Every `gridbot` command and option explains itself in Chinese (zh-CN), and `--help` shows no
raw markup (reStructuredText backticks, rich tags)."""

from __future__ import annotations

import re

import pytest
import typer
from typer.testing import CliRunner

from bot.cli import app

CJK = re.compile(r"[\u4e00-\u9fff]")
MARKUP = re.compile(r"``|\[/?(bold|green|red|cyan|dim|italic|b|i)\]|:(class|func|meth):|\x08")
BUILT_IN = {"help", "install_completion", "show_completion"}


def commands(cmd=None, path=()):
    """(path, click command) of the whole tree, groups included."""
    cmd = cmd or typer.main.get_command(app)
    yield path, cmd
    for name, sub in sorted(getattr(cmd, "commands", {}).items()):
        yield from commands(sub, (*path, name))


ALL = list(commands())


def test_the_tree_has_the_documented_commands():
    names = {" ".join(path) for path, _ in ALL}
    assert {"serve", "worker", "import", "chat", "db upgrade", "review", "stats", "notice",
            "intents classify", "outbox retry", "station loans", "care enroll",
            "resident level"} <= names


@pytest.mark.parametrize(("path", "cmd"), ALL, ids=lambda x: " ".join(x) if isinstance(x, tuple)
                         else "")
def test_help_is_chinese_and_free_of_markup(path, cmd):
    assert CJK.search(cmd.help or ""), f"gridbot {' '.join(path)}: no Chinese help"
    english_only = [p.name for p in cmd.params
                    if p.name not in BUILT_IN and not CJK.search(getattr(p, "help", None) or "")]
    assert english_only == [], f"gridbot {' '.join(path)}: options without Chinese help"
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    assert not MARKUP.search(result.output), result.output

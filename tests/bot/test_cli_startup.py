"""`gridbot` start-up: registering the commands loads neither the storage stack nor jieba
(bot/lazy.py), so `gridbot --help` is fast; the figures come from bench/cli_startup.py, not
from a timed assertion here."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("sqlmodel", "sqlalchemy", "jieba", "pydantic_settings", "redis", "httpx", "wechatpy",
         "uvicorn", "opencc")


def _loaded_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys, json\n"
         f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout
    return {m.split(".")[0] for m in json.loads(out.splitlines()[-1])}


def test_registering_every_command_loads_no_heavy_library():
    assert _loaded_after("import bot.cli") == set()


def test_help_renders_without_them():
    code = ("from typer.testing import CliRunner\nfrom bot.cli import app\n"
            "r = CliRunner().invoke(app, ['--help'])\nassert r.exit_code == 0 and 'intents' in r.output")
    assert _loaded_after(code) == set()


def test_a_lazy_module_loads_on_first_use():
    code = ("from bot.cli_services import lending\nimport sys\n"
            "assert 'sqlmodel' not in sys.modules\nlending.LoanStatus\n")
    assert "sqlmodel" in _loaded_after(code)

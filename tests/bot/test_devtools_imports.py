"""The WeChat stand-ins (bot/devtools/) stay out of the production import path."""

from __future__ import annotations

import json
import subprocess
import sys

DEVTOOLS = ("bot.devtools", "bot.sandbox", "bot.simulator")


def _imported_by(*modules: str) -> list[str]:
    code = ("import importlib, json, sys\n"
            f"for name in {list(modules)!r}:\n"
            "    importlib.import_module(name)\n"
            "print(json.dumps(sorted(sys.modules)))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    return json.loads(out.stdout)


def test_the_app_and_the_worker_import_no_stand_in():
    loaded = _imported_by("bot.app", "bot.worker", "bot.cli")
    assert "bot.app" in loaded and "bot.worker" in loaded
    assert [m for m in loaded if m.startswith(DEVTOOLS)] == []


def test_the_stand_ins_live_in_devtools():
    loaded = _imported_by("bot.devtools.simulator")
    assert "bot.protocol" in loaded  # the simulator signs with the webhook's own algorithm

"""GRIDBOT_SLA_FILE: a community keeps its own service levels outside the package, and new
tickets are timed by that file (bad files are refused at start: tests/bot/test_cli_config.py)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.preflight import load_settings
from storage import sla
from storage.times import as_utc

OWN_POLICY = """
[[policy]]
name = "本社区报修"
kind = "repair"
calendar = "24x7"
response_minutes = 7
resolve_minutes = 300
"""


@pytest.fixture
def own_file(tmp_path: Path):
    """The packaged policies with one of the community's own in front (first fit wins)."""
    packaged = sla.POLICY_FILE.read_text(encoding="utf-8")
    head, sep, tail = packaged.partition("\n[[policy]]")  # the first table of policies
    path = tmp_path / "our-sla.toml"
    path.write_text(head + OWN_POLICY + sep + tail, encoding="utf-8")
    yield path
    sla.use_file(None)  # later tests in this process read the packaged file again


def test_new_tickets_are_timed_by_the_configured_file(make_chat, own_file):
    chat = make_chat(sla_file=own_file)
    chat.say("oR1", "3号楼2单元501 楼道灯坏了")
    ticket = chat.tickets()[-1]
    assert ticket.sla_policy == "本社区报修"
    assert as_utc(ticket.response_due_at) - as_utc(ticket.created_at) == timedelta(minutes=7)


def test_the_setting_is_read_from_the_environment_and_unset_restores_the_package(
        own_file, monkeypatch):
    monkeypatch.setenv("GRIDBOT_SLA_FILE", str(own_file))
    assert load_settings().sla_file == own_file
    assert sla.load().rules[0][1].name == "本社区报修"
    monkeypatch.setenv("GRIDBOT_SLA_FILE", "")  # blank: not set
    assert load_settings().sla_file is None
    assert all(policy.name != "本社区报修" for _, policy in sla.load().rules)

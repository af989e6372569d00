"""`gridbot outbox list` / `gridbot outbox retry`: staff see undelivered pushes and re-queue them."""

from __future__ import annotations

import pytest
from sqlmodel import Session
from typer.testing import CliRunner

from bot.cli import app
from storage.models import Outbox
from storage.outbox import Recipient, add_push


@pytest.fixture
def env(monkeypatch, postgres_url, redis_url, clean_db):
    monkeypatch.setenv("GRIDBOT_DATABASE_URL", postgres_url)
    monkeypatch.setenv("GRIDBOT_REDIS_URL", redis_url)
    return clean_db


def rows(engine, *statuses: str) -> list[int]:
    with Session(engine) as session:
        staged = []
        for i, status in enumerate(statuses):
            row = add_push(session, to=Recipient("resident", None, f"resident-{i}"),
                           event="push_ticket_status", text=f"工单进度 {i}")
            row.status, row.attempts, row.last_error = status, 2, f"custom: {status} reason"
            staged.append(row)
        session.flush()
        ids = [row.id for row in staged]
        session.commit()
    return ids


def status_of(engine, outbox_id: int) -> Outbox:
    with Session(engine) as session:
        return session.get(Outbox, outbox_id)


def test_list_shows_undelivered_pushes_and_filters_by_status(env):
    dead, unknown, sent = rows(env, "dead", "unknown", "sent")
    result = CliRunner().invoke(app, ["outbox", "list"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line.split()[0] for line in lines] == [f"#{unknown}", f"#{dead}"]
    assert "unknown attempts=2" in lines[0] and "resident#?:resident-1" in lines[0]
    assert "error=custom: unknown reason" in lines[0]
    only = CliRunner().invoke(app, ["outbox", "list", "--status", "dead", "--limit", "5"])
    assert [line.split()[0] for line in only.output.splitlines()] == [f"#{dead}"]
    assert f"#{sent}" not in result.output


def test_list_refuses_an_unknown_status(env):
    result = CliRunner().invoke(app, ["outbox", "list", "--status", "lost"])
    assert result.exit_code == 2
    assert "unknown status lost" in result.output


def test_retry_requeues_named_and_all_dead_pushes(env):
    dead1, dead2, unknown, sending = rows(env, "dead", "dead", "unknown", "sending")
    result = CliRunner().invoke(app, ["outbox", "retry", str(unknown)])
    assert result.exit_code == 0, result.output
    assert f"#{unknown} 已重新排队" in result.output
    row = status_of(env, unknown)
    assert (row.status, row.attempts) == ("pending", 0)
    assert "after 2 attempts, was unknown: custom: unknown reason" in row.last_error

    result = CliRunner().invoke(app, ["outbox", "retry", "--all-dead", str(sending)])
    assert result.exit_code == 1  # the in-flight one was refused
    assert "重新排队 2 条，未排队 1 条" in result.output
    assert f"#{sending} 未重新排队：sending: in flight" in result.output
    assert [status_of(env, i).status for i in (dead1, dead2, sending)] == [
        "pending", "pending", "sending"]


def test_retry_needs_ids_or_all_dead(env):
    result = CliRunner().invoke(app, ["outbox", "retry"])
    assert result.exit_code == 2
    assert "--all-dead" in result.output

"""`gridbot import FILE [--dry-run] [--allow-moves]`: all problems on stderr with their lines
(exit 1, nothing written), counts on stdout, a one-line hint on a database with no schema."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, func, select
from typer.testing import CliRunner

from bot.cli import app
from storage.models import Building, GridWorker

ORG = """\
street: 和平街道
community: 阳光社区
grids:
  - code: G01
    buildings: [1, 2]
    workers: [{name: 王芳, openid: oW1, role: 网格员}]
  - code: G02
    buildings: [3]
"""


@pytest.fixture
def env(monkeypatch, postgres_url, redis_url, clean_db):
    monkeypatch.setenv("GRIDBOT_DATABASE_URL", postgres_url)
    monkeypatch.setenv("GRIDBOT_REDIS_URL", redis_url)
    return clean_db


def _run(tmp_path: Path, text: str, *options: str, name: str = "org.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return CliRunner().invoke(app, ["import", str(path), *options])


def _count(engine, model) -> int:
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(model)).one()


def test_dry_run_lists_every_problem_and_writes_nothing(env, tmp_path):
    bad = ORG.replace("role: 网格员}", "role: 保洁, phone: 1390000abc}").replace("[3]", "[2, 3]")
    result = _run(tmp_path, bad, "--dry-run")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "org.yaml line 6: unknown role '保洁' (one of 网格员, 专职网格员, 网格长, 社区管理员, "
        "社区工作人员, 部门, 部门人员, 驿站管理员, 驿站工作人员, grid_worker, grid_leader, "
        "community_admin, station_staff, department)",
        "org.yaml line 6: bad phone number '1390000abc' (a mobile 1xxxxxxxxxx or a landline "
        "like 024-12345678)",
        "org.yaml line 8: building 2 is in two grids: G01 (org.yaml line 5) and G02",
        "import refused: 3 problem(s); nothing was changed"]
    assert _count(env, Building) == 0


def test_dry_run_then_import_then_a_refused_move(env, tmp_path):
    dry = _run(tmp_path, ORG, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert dry.stdout.startswith("dry run, nothing changed") and "buildings 3" in dry.stdout
    assert _count(env, Building) == 0
    done = _run(tmp_path, ORG)
    assert done.exit_code == 0 and "created streets 1, communities 1, grids 2, buildings 3, " \
        "staff 1" in done.stdout
    moved = ORG.replace("buildings: [1, 2]", "buildings: [1]").replace("[3]", "[2, 3]")
    refused = _run(tmp_path, moved)
    assert refused.exit_code == 1 and "--allow-moves" in refused.stderr
    allowed = _run(tmp_path, moved, "--allow-moves")
    assert allowed.exit_code == 0 and "moved buildings 1" in allowed.stdout


def test_a_large_file_shows_progress_and_imports(env, tmp_path):
    rows = ["community,grid_code,buildings,name,openid,role"] + [
        f"大社区,G{g:03d},{g * 10 - 9}-{g * 10},网格员{g},oW{g},网格员" for g in range(1, 101)]
    result = _run(tmp_path, "\n".join(rows) + "\n", name="big.csv")
    assert result.exit_code == 0, result.output
    assert "buildings 1000" in result.stdout
    assert _count(env, GridWorker) == 100


def test_a_database_without_the_schema_gets_a_one_line_hint(monkeypatch, tmp_path):
    monkeypatch.setenv("GRIDBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    monkeypatch.setenv("GRIDBOT_REDIS_URL", "memory://")
    result = _run(tmp_path, ORG)
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 1 and "gridbot db upgrade" in result.stderr

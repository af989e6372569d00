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
        "org.yaml 第6行：不认识的角色 '保洁'（可写：网格员, 专职网格员, 网格长, 社区管理员, 社区工作人员, "
        "部门, 部门人员, 驿站管理员, 驿站工作人员, 街道管理员, 街道工作人员, grid_worker, "
        "grid_leader, community_admin, station_staff, department, street_admin）",
        "org.yaml 第6行：电话号码 '1390000abc' 不对（手机 11 位，或像 024-12345678 这样的座机）",
        "org.yaml 第8行：楼栋 2 同时写在两个网格：G01（org.yaml 第5行）和 G02",
        "没有导入：共 3 个问题，数据库没有任何改动。"]
    assert _count(env, Building) == 0


def test_dry_run_then_import_then_a_refused_move(env, tmp_path):
    dry = _run(tmp_path, ORG, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert dry.stdout.startswith("检查通过，没有写入") and "楼栋 3" in dry.stdout
    assert _count(env, Building) == 0
    done = _run(tmp_path, ORG)
    assert done.exit_code == 0 and "：新建 街道 1，社区 1，网格 2，楼栋 3，工作人员 1；更新 无；" \
        "不变 无；调动 无\n" in done.stdout
    moved = ORG.replace("buildings: [1, 2]", "buildings: [1]").replace("[3]", "[2, 3]")
    refused = _run(tmp_path, moved)
    assert refused.exit_code == 1 and "第8行：2号楼要从网格 G01 调到 G02（调动要加 --allow-moves）" in \
        refused.stderr
    allowed = _run(tmp_path, moved, "--allow-moves")
    assert allowed.exit_code == 0 and "调动 楼栋 1" in allowed.stdout


def test_a_large_file_shows_progress_and_imports(env, tmp_path):
    rows = ["community,grid_code,buildings,name,openid,role"] + [
        f"大社区,G{g:03d},{g * 10 - 9}-{g * 10},网格员{g},oW{g},网格员" for g in range(1, 101)]
    result = _run(tmp_path, "\n".join(rows) + "\n", name="big.csv")
    assert result.exit_code == 0, result.output
    assert "楼栋 1000" in result.stdout
    assert _count(env, GridWorker) == 100


def test_a_database_without_the_schema_gets_a_one_line_hint(monkeypatch, tmp_path):
    monkeypatch.setenv("GRIDBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    monkeypatch.setenv("GRIDBOT_REDIS_URL", "memory://")
    result = _run(tmp_path, ORG)
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 1 and "gridbot db upgrade" in result.stderr


def test_every_problem_kind_has_its_chinese_with_the_same_fields():
    from string import Formatter

    from services.messages import catalogue
    from storage.import_parse import PROBLEMS

    def fields(text: str) -> set[str]:
        return {name for _, name, _, _ in Formatter().parse(text) if name}

    zh = catalogue()
    assert {key: fields(text) for key, text in PROBLEMS.items()} == {
        key: fields(zh[f"import_problem.{key}"]) for key in PROBLEMS}

"""`gridbot import FILE`: staff-written YAML/CSV becomes the organisation, idempotently."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from bot.cli import app
from storage import ImportFormatError
from storage.import_parse import numbers_of
from storage.importer import MAX_FILE_BYTES, import_file
from storage.models import Building, Community, Grid, GridWorker, Role

YAML = """
street: 和平街道
community: 幸福新社区
grids:
  - code: G01
    name: 第一网格
    buildings: [1, 2, "3-4"]
    workers:
      - {name: 王芳, openid: oW1, phone: "13800000001"}
      - {name: 周杰, openid: oL1, role: grid_leader}
staff:
  - {name: 赵敏, openid: oA1, role: community_admin}
"""

CSV = """street,community,grid_code,grid_name,buildings,name,openid,phone,role
和平街道,幸福新社区,G02,第二网格,5-6;8,李强,oW2,13800000002,grid_worker
和平街道,幸福新社区,G03,第三网格,9,,,,
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_yaml_then_csv_build_the_hierarchy(session, tmp_path):
    report = import_file(session, _write(tmp_path, "c.yaml", YAML))
    assert (report.streets, report.communities, report.grids, report.buildings, report.workers) == (
        1, 1, 1, 4, 3)
    import_file(session, _write(tmp_path, "c.csv", CSV))
    session.commit()
    assert len(session.exec(select(Community)).all()) == 1
    grids = {g.code: g for g in session.exec(select(Grid))}
    assert set(grids) == {"G01", "G02", "G03"}
    by_number = {b.number: b.grid_id for b in session.exec(select(Building))}
    assert by_number == {1: grids["G01"].id, 2: grids["G01"].id, 3: grids["G01"].id,
                         4: grids["G01"].id, 5: grids["G02"].id, 6: grids["G02"].id,
                         8: grids["G02"].id, 9: grids["G03"].id}
    staff = {w.openid: w for w in session.exec(select(GridWorker))}
    assert staff["oL1"].role == Role.GRID_LEADER and staff["oA1"].grid_id is None
    assert staff["oW2"].grid_id == grids["G02"].id


def test_street_admin_is_a_role_word(session, tmp_path):
    text = YAML.replace("role: community_admin}", "role: 街道管理员}")
    import_file(session, _write(tmp_path, "c.yaml", text))
    session.commit()
    worker = session.exec(select(GridWorker).where(GridWorker.openid == "oA1")).one()
    assert worker.role == Role.STREET_ADMIN


def test_reimport_updates_instead_of_duplicating(session, tmp_path):
    path = _write(tmp_path, "c.yaml", YAML)
    import_file(session, path)
    moved = YAML.replace('buildings: [1, 2, "3-4"]', "buildings: [1, 2]").replace("王芳", "王芳芳")
    report = import_file(session, _write(tmp_path, "c2.yaml", moved))
    assert (report.grids, report.buildings, report.workers) == (0, 0, 0)
    assert session.exec(select(GridWorker).where(GridWorker.openid == "oW1")).one().name == "王芳芳"


@pytest.mark.parametrize("name, text, fragment", [
    ("bad.yaml", "community: [unclosed", "line"),
    ("bad.yaml", "- just a list", "expected a mapping"),
    ("bad.yaml", "community: 社区\ngrids:\n  - name: 无编号\n", "bad.yaml line 3: a grid needs a code"),
    ("bad.yaml", "community: 社区\ngrids:\n  - code: G1\n    buildings: [x]\n", "bad building"),
    ("bad.yaml",
     "community: 社区\ngrids:\n  - code: G1\n    workers:\n      - {name: 甲, openid: o1, role: boss}\n",
     "unknown role 'boss'"),
    ("bad.csv", "street,community\n街道,社区\n", "line 1: missing column(s) grid_code"),
    ("bad.csv", CSV.replace("5-6;8", "5-x"), "bad.csv line 2"),
    ("bad.txt", "whatever", "use a .yaml"),
])
def test_bad_files_name_the_problem(session, tmp_path, name, text, fragment):
    with pytest.raises(ImportFormatError) as err:
        import_file(session, _write(tmp_path, name, text))
    assert fragment in str(err.value)


def test_building_ranges():
    assert numbers_of("1-3") == [1, 2, 3] and numbers_of("7号楼") == [7]
    assert numbers_of("5-1") is None and numbers_of("x") is None and numbers_of("0") is None


# ---------------------------------------------------------------- hostile files (issue 8)
ALIAS_BOMB = "\n".join(
    ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    + [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]" for i in range(8)]
    + ["community: *i", "street: *i"]) + "\n"


def _import_error(session, path: Path) -> tuple[str, int]:
    """Message of the ImportFormatError importing ``path`` raises, and the peak memory (bytes)
    Python allocated meanwhile."""
    tracemalloc.start()
    try:
        with pytest.raises(ImportFormatError) as err:
            import_file(session, path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(err.value)
    assert "\n" not in message and len(message) <= ImportFormatError.MAX_CHARS
    return message, peak


def test_a_yaml_alias_bomb_is_refused_unexpanded(session, tmp_path):
    message, peak = _import_error(session, _write(tmp_path, "bomb.yaml", ALIAS_BOMB))
    assert message.startswith("bomb.yaml line 2: YAML aliases (*a) are not allowed")
    assert peak < 5 * 2**20


def test_a_60_mb_file_is_refused_without_reading_it(session, tmp_path):
    path = tmp_path / "big.yaml"
    with path.open("w", encoding="utf-8") as fh:
        fh.write("community: 幸福新社区\ngrids:\n  - code: G01\n    workers:\n")
        line = "      - {name: 王芳, openid: oW1, phone: '13800000001'}\n"
        fh.write(line * (60 * 2**20 // len(line.encode())))
    assert path.stat().st_size > 60 * 10**6
    message, peak = _import_error(session, path)
    assert message == ("big.yaml: larger than the 2 MB limit of an import file; "
                       "split it into several files")
    assert peak < 3 * MAX_FILE_BYTES


def test_a_csv_with_bad_utf8_names_the_line_and_byte(session, tmp_path):
    path = tmp_path / "gbk.csv"
    path.write_bytes(CSV.encode("utf-8") + "和平街道,幸福新社区,G09,第九网格,9,,,,\n".encode("gbk"))
    message, _ = _import_error(session, path)
    offset = len(CSV.encode("utf-8"))
    assert message == (f"gbk.csv line 4 (byte {offset}): not UTF-8 (byte 0xba); "
                       f"save the file as UTF-8")


@pytest.mark.parametrize("name, content, fragment", [
    ("deep.yaml", "community: " + "[" * 100_000, "deep.yaml line 1: not valid YAML"),
    ("deep2.yaml", "".join(f"{' ' * i}k{i}:\n" for i in range(100)),
     "deep2.yaml line 33: nested deeper than 32 levels"),
    ("nul.csv", "street,community,grid_code\n街道\0,社区,G1\n", "nul.csv line 2 (byte 33): a NUL"),
    ("wide.csv", "street,community,grid_code\n" + "x" * 200_000 + ",社区,G1\n",
     "wide.csv line 2: not valid CSV (field larger than field limit"),
    ("long.yaml", "community: 社区\ngrids:\n  - code: G1\n    buildings: ['" + "9" * 1_000_000 + "']\n",
     "line 4: bad building number or range '99999999999999999999999999999999999"),
    ("range.yaml", "community: 社区\ngrids:\n  - code: G1\n    buildings: [99999]\n",
     "range.yaml line 4: bad building number or range 99999 (numbers 1..9999"),
    ("staff.yaml", "community: 社区\nstaff: [" + "x" * 100_000 + "]\n",
     "line 2: expected {name, openid}, not 'xxxxx"),
    ("items.yaml", "community: 社区\nstations:\n  - name: 驿站\n    items:\n"
     "      - {name: 梯子, count: " + "9" * 40 + "}\n",
     "count must be a whole number up to 1000000, not 999"),
])
def test_hostile_files_end_in_one_short_line(session, tmp_path, name, content, fragment):
    message, _ = _import_error(session, _write(tmp_path, name, content))
    assert fragment in message


def test_error_messages_are_bounded_whatever_they_quote():
    assert len(str(ImportFormatError("x" * 10**6))) == ImportFormatError.MAX_CHARS
    assert len(ImportFormatError.quote(["y" * 10**6] * 10**3)) < 500


@pytest.fixture
def cli_env(monkeypatch, postgres_url, redis_url, clean_db):
    monkeypatch.setenv("GRIDBOT_DATABASE_URL", postgres_url)
    monkeypatch.setenv("GRIDBOT_REDIS_URL", redis_url)
    return clean_db


@pytest.mark.parametrize("name", ["bomb.yaml", "gbk.csv", "big.csv"])
def test_gridbot_import_prints_one_line_and_exits_2(cli_env, tmp_path, name):
    path = tmp_path / name
    if name == "bomb.yaml":
        path.write_text(ALIAS_BOMB, encoding="utf-8")
    elif name == "gbk.csv":
        path.write_bytes(CSV.encode("gbk"))
    else:
        path.write_text(CSV * (MAX_FILE_BYTES // len(CSV)), encoding="utf-8")
    result = CliRunner().invoke(app, ["import", str(path)])
    assert result.exit_code == 2
    assert len(result.output.splitlines()) == 1 and len(result.output) < 400, result.output
    assert result.output.startswith(f"导入失败：{name}")

"""Everything `gridbot import` prints is Chinese: a file that cannot be read, a wrong
stations/programmes entry (also a value the station or care rules refuse), the counts of
stations and programmes; `gridbot station/care` show the same sentences for bad values."""

from __future__ import annotations

import re
from pathlib import Path
from string import Formatter

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.cli_services import station_app
from bot.import_report import error_line, summary
from services.messages import catalogue
from storage import ImportFormatError
from storage.importer import import_file

ORG = "street: 和平街道\ncommunity: 幸福新社区\ngrids:\n  - code: G01\n    buildings: [1]\n"
LATIN = re.compile(r"[A-Za-z]{4,}")
"""An English word: none may appear in what staff read (file names and keys aside)."""


def _write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _line(session, path: Path) -> str:
    with pytest.raises(ImportFormatError) as caught:
        import_file(session, path)
    return error_line(caught.value)


@pytest.mark.parametrize("name, content, expected", [
    ("org.txt", "x", "导入失败：org.txt：请用 .yaml、.yml 或 .csv 文件"),
    ("gbk.csv", "street,community,grid_code\n街道,社区,G1\n".encode("gbk"),
     "导入失败：gbk.csv 第2行（第 27 字节）：不是 UTF-8 编码（字节 0xbd），请把文件另存为 UTF-8"),
    ("nul.csv", "street,community,grid_code\n街道\0,社区,G1\n",
     "导入失败：nul.csv 第2行（第 33 字节）：有空字符（NUL），请把文件另存为 UTF-8 文本"),
    ("bomb.yaml", "a: &a [1]\nb: *a\n",
     "导入失败：bomb.yaml 第2行：导入文件里不能用 YAML 别名（*a），请把内容直接写出来"),
    ("deep.yaml", "".join(f"{' ' * i}k{i}:\n" for i in range(40)),
     "导入失败：deep.yaml 第33行：嵌套超过 32 层"),
    ("list.yaml", "- 1\n- 2\n",
     "导入失败：list.yaml：文件开头要写 street（街道）、community（社区）和 grids（网格）"),
    ("cols.csv", "street,name\n街道,王芳\n", "导入失败：cols.csv 第1行：缺少列 community, grid_code"),
    ("items.yaml", ORG + "stations:\n  - name: 驿站\n    items:\n      - {name: 梯子, count: 两个}\n",
     "导入失败：驿站第1项的物品第1项：count 要写不超过 1000000 的整数，现在是 '两个'"),
    ("noname.yaml", ORG + "programmes:\n  - {kind: 四点半课堂}\n",
     "导入失败：托管项目第1项：托管项目要写名称（name）"),
    ("grades.yaml", ORG + "programmes:\n  - {name: 四点半课堂, grades: 1-12}\n",
     "导入失败：托管项目第1项：年级范围 1–12 不对，要在 1–9 之内"),
    ("cap.yaml", ORG + "programmes:\n  - name: 四点半课堂\n    sessions:\n"
     "      - {name: 秋季班, capacity: 20000}\n",
     "导入失败：托管项目第1项的班次第1项：名额要在 0–10000 之内，现在是 20000"),
    ("days.yaml", ORG + "programmes:\n  - name: 四点半课堂\n    sessions:\n"
     "      - {name: 秋季班, weekdays: 周八}\n",
     "导入失败：托管项目第1项的班次第1项：上课日 '周八' 不对"
     "（1 为周一 … 7 为周日，如 1-5、1,3,5 或 周一至周五）"),
    ("hold.yaml", ORG + "stations:\n  - {name: 驿站, hold_hours: 0}\n",
     "导入失败：驿站第1项：预约保留小时数要大于 0，现在是 0"),
])
def test_a_file_that_cannot_be_imported_is_named_in_chinese(session, tmp_path, name, content,
                                                            expected):
    assert _line(session, _write(tmp_path, name, content)) == expected


def test_not_yaml_keeps_the_parsers_detail_inside_a_chinese_sentence(session, tmp_path):
    line = _line(session, _write(tmp_path, "bad.yaml", "community: [社区\n"))
    assert line.startswith("导入失败：bad.yaml 第2行：不是有效的 YAML（")


def test_every_import_error_and_bad_value_sentence_has_its_fields():
    zh = catalogue()
    sources = "".join(p.read_text("utf-8") for p in (
        Path("storage/importer.py"), Path("storage/import_parse.py"),
        Path("storage/services_import.py"), Path("storage/care.py"),
        Path("storage/lending.py"), Path("storage/org.py")))
    raised = set(re.findall(r'"([a-z0-9_]+)",\s*(?:file|entry)=', sources))
    values = set(re.findall(r'raise (?:BadValue|Conflict)\([^)]*?"([a-z_]+)"[,)]', sources,
                            re.S))
    assert {"wrong_type", "not_utf8", "alias", "bad_number", "bad_value"} <= raised
    assert {"grades_range", "stock_range", "capacity_below_taken"} <= values
    for key in raised:
        assert f"import_error.{key}" in zh, key
    for key in values:
        assert f"bad_value.{key}" in zh, key
    names = {f for _, f, _, _ in Formatter().parse(zh["import_error.not_utf8"]) if f}
    assert names == {"where", "byte", "value"}


def test_the_counts_of_stations_and_programmes_are_chinese(session, tmp_path):
    text = ORG + ("stations:\n  - name: 驿站\n    items:\n      - {name: 梯子, count: 2}\n"
                  "      - {name: 轮椅, count: 1}\n"
                  "programmes:\n  - name: 四点半课堂\n    grades: 1-6\n")
    report = import_file(session, _write(tmp_path, "org.yaml", text))
    line = summary(report, "org.yaml")
    assert line.endswith("驿站 1 个、物品 2 种、托管项目 1 个、班次 0 个")
    assert not LATIN.findall(line.replace("org.yaml", ""))


@pytest.fixture
def cli_env(monkeypatch, postgres_url, redis_url, clean_db):
    monkeypatch.setenv("GRIDBOT_DATABASE_URL", postgres_url)
    monkeypatch.setenv("GRIDBOT_REDIS_URL", redis_url)
    return clean_db


def test_gridbot_import_prints_only_chinese(cli_env, tmp_path):
    path = _write(tmp_path, "org.yaml", ORG + "stations:\n  - {name: 驿站}\n")
    result = CliRunner().invoke(app, ["import", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"已导入 {path}：")
    assert not LATIN.findall(result.output.replace(str(path), ""))
    bad = _write(tmp_path, "bad.yaml", ORG + "stations:\n  - {name: 驿站, hold_hours: -1}\n")
    result = CliRunner().invoke(app, ["import", str(bad)])
    assert result.exit_code == 2
    assert result.output == "导入失败：驿站第1项：预约保留小时数要大于 0，现在是 -1\n"


def test_station_commands_show_the_same_chinese_sentences(cli_env, tmp_path):
    CliRunner().invoke(app, ["import", str(_write(tmp_path, "org.yaml", ORG))])
    assert CliRunner().invoke(station_app, ["add", "驿站"]).exit_code == 0
    result = CliRunner().invoke(station_app, ["item", "驿站", "梯子", "--count", "20000"])
    assert result.exit_code == 1
    assert "错误：件数要在 0–10000 之内，现在是 20000" in result.output
    result = CliRunner().invoke(station_app, ["add", "驿站", "--hold-hours", "0"])
    assert "错误：预约保留小时数要大于 0，现在是 0" in result.output

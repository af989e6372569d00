"""A re-imported grid whose worker list leaves someone out: the import (and its dry run)
names them 「名单中没有：…（如已离职请标记 left: 是）」 and changes nothing about them."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import select

from bot.import_report import summary
from storage.importer import MissingStaff, import_file
from storage.models import GridWorker

FIRST = """
street: 和平街道
community: 幸福新社区
grids:
  - code: G01
    buildings: [1, 2]
    workers:
      - {name: 王芳, openid: oW1}
      - {name: 李强, openid: oW2}
  - code: G02
    buildings: [3]
    workers:
      - {name: 赵敏, openid: oW3}
"""
WITHOUT_LI = """
street: 和平街道
community: 幸福新社区
grids:
  - code: G01
    buildings: [1, 2]
    workers:
      - {name: 王芳, openid: oW1}
  - code: G02
    buildings: [3]
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_worker_left_out_of_a_grid_list_is_named_not_removed(session, tmp_path):
    import_file(session, _write(tmp_path, "a.yaml", FIRST))
    session.commit()
    dry = import_file(session, _write(tmp_path, "b.yaml", WITHOUT_LI), dry_run=True)
    # G02 lists no workers this time: its worker is not asked about
    assert dry.missing == [MissingStaff("幸福新社区", "G01", "李强", "oW2")]
    assert summary(dry, "b.yaml").endswith(
        "；名单中没有：G01 李强（oW2）（如已离职请标记 left: 是）")
    real = import_file(session, _write(tmp_path, "b.yaml", WITHOUT_LI))
    session.commit()
    assert [m.openid for m in real.missing] == ["oW2"] and real.left == 0
    assert session.exec(select(GridWorker).where(GridWorker.openid == "oW2")).one().active


def test_marked_left_or_moved_in_the_same_file_is_not_missing(session, tmp_path):
    import_file(session, _write(tmp_path, "a.yaml", FIRST))
    session.commit()
    text = WITHOUT_LI.replace("      - {name: 王芳, openid: oW1}\n",
                              "      - {name: 王芳, openid: oW1}\n"
                              "      - {name: 李强, openid: oW2, left: 是}\n")
    report = import_file(session, _write(tmp_path, "c.yaml", text))
    assert report.missing == [] and report.left == 1
    assert "名单中没有" not in summary(report, "c.yaml")

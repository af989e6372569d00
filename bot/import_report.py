"""What `gridbot import` prints, in the staff's language (the message catalogue's
``import_problem`` and ``import_report`` tables):

    problem_line(problem)          "org.yaml 第8行：电话号码 '1390000abc' 不对（…）"
    refused_line(count)            the last line under the problems
    summary(report, file)          "已导入 org.yaml：新建 网格 2，楼栋 5；更新 无；…"
"""

from __future__ import annotations

from collections import Counter

from services.messages import msg
from storage.import_parse import Problem
from storage.importer import ImportReport


def problem_line(problem: Problem) -> str:
    """One problem with its file and line, in Chinese (and so the earlier place it names,
    the field ``first``)."""
    fields = dict(problem.fields)
    if "first" in fields:
        fields["first"] = _where(Problem(str(fields["first"]), problem.key))
    return f"{_where(problem)}：{msg(f'import_problem.{problem.key}', **fields)}"


def _where(problem: Problem) -> str:
    name, line = problem.file_line
    return msg("import_problem.where", file=name, line=line) if line else name


def refused_line(count: int) -> str:
    """The closing line of a refused import."""
    return msg("import_problem.refused", count=count)


def summary(report: ImportReport, file: str) -> str:
    """The counts of an import (or dry run) of ``file`` on one line."""
    def items(counts: Counter) -> str:
        parts = [msg("import_report.item", table=msg(f"import_report.{table}"), n=n)
                 for table, n in counts.items() if n]
        return msg("import_report.item_sep").join(parts) or msg("import_report.nothing")

    parts = [msg(f"import_report.{kind}", items=items(getattr(report, kind)))
             for kind in ("created", "updated", "unchanged", "moved")]
    if report.left:
        parts.append(msg("import_report.left", n=report.left))
    if report.handed_over:
        key = "would_hand_over" if report.dry_run else "handed_over"
        parts.append(msg(f"import_report.{key}", n=report.handed_over))
    counts = msg("import_report.part_sep").join(parts + report.notes)
    return msg("import_report.dry_run" if report.dry_run else "import_report.done", file=file,
               counts=counts)

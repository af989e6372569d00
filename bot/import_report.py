"""What `gridbot import` prints, in the staff's language (the message catalogue's
``import_problem`` and ``import_report`` tables):

    problem_line(problem)          "org.yaml 第8行：电话号码 '1390000abc' 不对（…）"
    refused_line(count)            the last line under the problems
    summary(report, file)          "已导入 org.yaml：新建 网格 2，楼栋 5；更新 无；…"
    error_line(exc)                "导入失败：org.csv 第3行（第 17 字节）：不是 UTF-8 编码…"
    value_text(exc)                a storage error's sentence ("名额要在 0–10000 之内…")

Everything here is Chinese from the message catalogue; a storage error with no ``key`` (none
is raised by an import today) falls back to its English text.
"""

from __future__ import annotations

import re
from collections import Counter

from services.messages import msg
from storage import ImportFormatError, StorageError
from storage.import_parse import Problem
from storage.importer import ImportReport

_ENTRY = re.compile(r"(stations|items|programmes|sessions)\[(\d+)\]")
_ENTRY_KEYS = {"stations": "station", "items": "item", "programmes": "programme",
               "sessions": "session"}


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
    if report.services is not None:
        parts.append(msg("import_report.services", **{
            k: getattr(report.services, k) for k in ("stations", "items", "programmes",
                                                      "sessions")}))
    if report.missing:
        parts.append(msg("import_report.missing", names=msg("import_report.item_sep").join(
            msg("import_report.missing_one", grid=m.grid, name=m.name, openid=m.openid)
            for m in report.missing)))
    counts = msg("import_report.part_sep").join(parts)
    return msg("import_report.dry_run" if report.dry_run else "import_report.done", file=file,
               counts=counts)


def error_line(exc: ImportFormatError) -> str:
    """The one line of an import file that cannot be read (or a stations/programmes entry
    that is wrong): 「导入失败：…」."""
    return msg("import_error.failed", text=error_text(exc))


def error_text(exc: ImportFormatError) -> str:
    """What is wrong with the file, in Chinese, with its place (file and line, or the
    stations/programmes entry)."""
    if exc.key is None:
        return str(exc)
    fields = dict(exc.fields)
    if "file" in fields:
        file, line = fields.pop("file"), fields.pop("line", None)
        fields["where"] = msg("import_problem.where", file=file, line=line) if line else file
    if "entry" in fields:
        fields["entry"] = entry_text(str(fields["entry"]))
    if "error" in fields:
        error = fields.pop("error")
        fields["detail"] = value_text(error) if isinstance(error, Exception) else str(error)
    return msg(f"import_error.{exc.key}", **fields)


def entry_text(where: str) -> str:
    """"stations[1].items[2]" → 「驿站第1项的物品第2项」; anything else (an option such as
    ``--grades``) as it is."""
    found = _ENTRY.findall(where)
    if not found:
        return where
    return msg("import_error.entry_sep").join(
        msg(f"import_error.{_ENTRY_KEYS[kind]}", n=n) for kind, n in found)


def value_text(exc: Exception) -> str:
    """A storage error's sentence for staff: ``bad_value.<key>`` (a BadValue, a Conflict or
    ``storage.org.CommunityNeeded`` that has a key), else its own text."""
    key = getattr(exc, "key", None) if isinstance(exc, StorageError) else None
    if key is None:
        return str(exc)
    fields = dict(exc.fields)  # type: ignore[attr-defined]
    if "attr" in fields:
        fields["what"] = msg(f"bad_value.{fields.pop('attr')}")
    return msg(f"bad_value.{key}", **fields)

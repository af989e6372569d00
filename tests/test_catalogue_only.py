"""The console and Open311 keep no sentence in Python: every Chinese word a person reads comes
from the one message catalogue (``services/messages.zh.toml`` via ``services.messages.msg``),
page text from the Jinja2 templates.

Checked on the source (ast) of ``bot/console/*.py``, ``bot/open311.py`` and the services
written for them: a ``str`` constant (f-string parts included) holding a CJK character fails,
named ``file:line``, unless it is a docstring (module, class, function) or an attribute
docstring (a string statement right after an assignment), or is in ``ALLOWED``. And every
catalogue key those modules name (``"console.…"``, ``"open311.…"``, ``"role.…"``, f-string
prefixes such as ``f"console.done.{action}"``) is in the catalogue.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from services.messages import catalogue, msg, role_name
from storage.models import Role

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("queue", "timeline", "kept", "exports", "dashboard", "org_view", "open311",
            "open311_intake", "config_docs", "accounts", "audit_log", "api_keys", "scope")
"""The services modules of the console and Open311 (``services/<name>.py``)."""

CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")
"""CJK punctuation, ideographs (extension A, unified, compatibility) and full-width forms."""

KEY = re.compile(r"(?:console|open311|role)\.[\w.]*")
"""A catalogue key (or, ending in a dot, a key prefix) of the console's tables."""

ALLOWED: dict[tuple[str, str], str] = {
    # (path from the repository root, the exact constant) → why it must stay in Python.
    # Only parsing words and patterns belong here (what the code reads, not what people
    # read); a sentence goes into the catalogue instead. Emptied entries must be removed
    # (test_allow_list_is_current says so).
}


def _files() -> list[Path]:
    paths = sorted((ROOT / "bot" / "console").glob("*.py"))
    paths.append(ROOT / "bot" / "open311.py")
    paths += [ROOT / "services" / f"{name}.py" for name in SERVICES]
    return paths


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the Constant nodes that are docstrings or attribute docstrings."""
    found: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if not isinstance(body, list):
            continue
        for i, statement in enumerate(body):
            if (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)
                    and isinstance(statement.value.value, str)
                    and (i == 0 or isinstance(body[i - 1], ast.Assign | ast.AnnAssign))):
                found.add(id(statement.value))
    return found


def cjk_constants(source: str, name: str = "<source>") -> list[tuple[int, str]]:
    """(line, text) of each str constant of ``source`` holding CJK that is no docstring."""
    tree = ast.parse(source, filename=name)
    skip = _docstrings(tree)
    return sorted((node.lineno, node.value) for node in ast.walk(tree)
                  if isinstance(node, ast.Constant) and isinstance(node.value, str)
                  and id(node) not in skip and CJK.search(node.value))


def _found() -> dict[tuple[str, str], int]:
    """(path, constant) → line, over every checked file."""
    found = {}
    for path in _files():
        rel = path.relative_to(ROOT).as_posix()
        for line, text in cjk_constants(path.read_text(encoding="utf-8"), rel):
            found.setdefault((rel, text), line)
    return found


def test_the_checked_files_exist():
    missing = [p.relative_to(ROOT).as_posix() for p in _files() if not p.is_file()]
    assert not missing, f"renamed or removed, update SERVICES: {missing}"


def test_no_sentence_in_python():
    offending = sorted(f"{rel}:{line}: {text!r}" for (rel, text), line in _found().items()
                       if (rel, text) not in ALLOWED)
    assert not offending, ("Chinese text in Python; move it into services/messages.zh.toml "
                           "and use msg(...):\n" + "\n".join(offending))


def test_allow_list_is_current():
    stale = set(ALLOWED) - set(_found())
    assert not stale, f"no longer in the code, remove from ALLOWED: {sorted(stale)}"


def test_every_key_named_is_in_the_catalogue():
    keys = set(catalogue())
    missing, checked = [], 0
    for path in _files():
        rel = path.relative_to(ROOT).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        parts = {id(v) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr)
                 for v in node.values}
        for node in ast.walk(tree):
            if isinstance(node, ast.JoinedStr):  # f"console.done.{action}": a prefix
                head = node.values[0] if node.values else None
                if (isinstance(head, ast.Constant) and isinstance(head.value, str)
                        and KEY.fullmatch(head.value)):
                    checked += 1
                    if not any(k.startswith(head.value) for k in keys):
                        missing.append(f"{rel}:{node.lineno}: {head.value}…")
            elif (isinstance(node, ast.Constant) and isinstance(node.value, str)
                  and id(node) not in parts and KEY.fullmatch(node.value)
                  and not node.value.endswith(".")):
                checked += 1
                if node.value not in keys:
                    missing.append(f"{rel}:{node.lineno}: {node.value}")
    assert checked > 50, checked  # the walk sees the modules' keys at all
    assert not missing, "not in services/messages.zh.toml:\n" + "\n".join(missing)


def test_the_scan_finds_sentences_and_skips_docstrings():
    source = '''"""模块说明。"""
X = 1
"""属性说明。"""


def f(n):
    """函数说明。"""
    done = "已接单。"
    return f"已保存（第{n}版）" + done + "ok"
'''
    assert cjk_constants(source) == [(8, "已接单。"), (9, "已保存（第"), (9, "版）")]
    assert cjk_constants('x = "\\u4e00"') == [(1, "一")]  # escapes are CJK all the same


def test_every_role_has_its_name_once():
    for role in Role.ALL:
        assert msg(f"role.{role}") == role_name(role) and CJK.search(role_name(role))
    assert role_name("grid_leader") == "网格长" and role_name("nobody") == "nobody"
    assert role_name(None) == ""


def test_console_tables_flatten_at_any_depth():
    assert msg("console.error.403") == "您没有权限进行此操作。"
    assert msg("console.done.assign", to="王芳") == "已派单给王芳，已通知对方接单。"
    assert msg("console.push_login_link", name="李", minutes=10, url="u").startswith("李您好")

"""Python keeps no sentence: every Chinese word a person reads comes from the one message
catalogue (``services/messages.zh.toml`` via ``services.messages.msg``), console page text
from the Jinja2 templates.

Checked on the source (ast) of every module of ``services/``, ``handlers/``, ``storage/``
(migrations aside), ``bot/console/`` and ``bot/open311.py``: a ``str`` constant (f-string
parts included) holding a CJK character fails, named ``file:line``, unless it is a
docstring (module, class, function) or an attribute docstring (a string statement right
after an assignment), or ``ALLOWED`` names it. And every catalogue key the console and
Open311 modules name (``"console.…"``, ``"open311.…"``, ``"role.…"``, f-string prefixes
such as ``f"console.done.{action}"``) is in the catalogue (``msg("…")`` calls everywhere:
tests/handlers/test_catalogue.py).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from services.messages import catalogue, msg, role_name
from storage.models import Role

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("services", "handlers", "storage", "bot/console")
"""Folders whose every module is checked (sub-folders too, ``storage/migrations`` aside)."""
MODULES = ("bot/open311.py",)
"""Single modules checked besides ``PACKAGES``."""

CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")
"""CJK punctuation, ideographs (extension A, unified, compatibility) and full-width forms."""

KEY = re.compile(r"(?:console|open311|role)\.[\w.]*")
"""A catalogue key (or, ending in a dot, a key prefix) of the console's tables."""

ALLOWED: dict[tuple[str, str], str] = {
    # (path from the repository root, a name) → why its Chinese must stay in Python. The name
    # is where the constants sit: a module-level or class-level assignment ("LEVELS",
    # "LendItem.condition"), a function or method ("parse", "Ticket.label"), a variable in
    # one ("_unknown_name.name"), or else the exact constant. Only words and patterns the
    # code MATCHES or PARSES, values stored in the database, and text of layers that cannot
    # read the catalogue belong here; a sentence people read goes into the catalogue instead.
    # Entries that no longer cover anything must be removed (test_allow_list_is_current).
}


def _files() -> list[Path]:
    paths = [path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))
             if "migrations" not in path.relative_to(ROOT).parts]
    return paths + [ROOT / module for module in MODULES]


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


def _target_name(target: ast.expr) -> str | None:
    if isinstance(target, ast.Name):
        return target.id
    if isinstance(target, ast.Attribute):
        return target.attr
    if isinstance(target, ast.Subscript):
        return _target_name(target.value)
    if isinstance(target, ast.Tuple | ast.List):
        names = [n for n in map(_target_name, target.elts) if n]
        return names[0] if names else None
    return None


def _owners(tree: ast.AST) -> dict[int, str]:
    """id of each Constant node → where it sits: the dotted names of the functions,
    classes and assignment targets around it ("" at module level, outside assignments)."""
    owners: dict[int, str] = {}

    def visit(node: ast.AST, chain: tuple[str, ...]) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            chain += (node.name,)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            name = next((n for n in map(_target_name, targets) if n), None)
            if name:
                chain += (name,)
        if isinstance(node, ast.Constant):
            owners[id(node)] = ".".join(chain)
        for child in ast.iter_child_nodes(node):
            visit(child, chain)

    visit(tree, ())
    return owners


def cjk_constants(source: str, name: str = "<source>") -> list[tuple[int, str]]:
    """(line, text) of each str constant of ``source`` holding CJK that is no docstring."""
    return [(line, text) for line, _, text in placed_constants(source, name)]


def placed_constants(source: str, name: str = "<source>") -> list[tuple[int, str, str]]:
    """(line, owner, text) of each str constant of ``source`` holding CJK that is no
    docstring; ``owner`` as ``_owners`` gives it."""
    tree = ast.parse(source, filename=name)
    skip = _docstrings(tree)
    owners = _owners(tree)
    return sorted((node.lineno, owners[id(node)], node.value) for node in ast.walk(tree)
                  if isinstance(node, ast.Constant) and isinstance(node.value, str)
                  and id(node) not in skip and CJK.search(node.value))


def _covers(name: str, owner: str, text: str) -> bool:
    """Whether the ALLOWED ``name`` covers a constant ``text`` sitting in ``owner``."""
    return name == text or owner == name or owner.startswith(name + ".")


def _found() -> list[tuple[str, int, str, str]]:
    """(path, line, owner, constant) over every checked file."""
    found = []
    for path in _files():
        rel = path.relative_to(ROOT).as_posix()
        for line, owner, text in placed_constants(path.read_text(encoding="utf-8"), rel):
            found.append((rel, line, owner, text))
    return found


def test_the_checked_files_exist():
    missing = [p.relative_to(ROOT).as_posix() for p in _files() if not p.is_file()]
    assert not missing, f"renamed or removed, update MODULES: {missing}"
    checked = {p.relative_to(ROOT).as_posix() for p in _files()}
    assert {"services/tickets.py", "handlers/worker.py", "storage/notices.py",
            "bot/console/web.py", "bot/open311.py"} <= checked
    assert not any("migrations" in path for path in checked)


def test_no_sentence_in_python():
    offending = [f"{rel}:{line}: {text!r} (in {owner or 'the module'})"
                 for rel, line, owner, text in _found()
                 if not any(_covers(name, owner, text) for (path, name) in ALLOWED if path == rel)]
    assert not offending, ("Chinese text in Python; move it into services/messages.zh.toml "
                           "and use msg(...):\n" + "\n".join(offending))


def test_allow_list_is_current():
    found = _found()
    stale = [(path, name) for (path, name) in ALLOWED
             if not any(rel == path and _covers(name, owner, text) for rel, _, owner, text in found)]
    assert not stale, f"no longer in the code, remove from ALLOWED: {sorted(stale)}"
    assert all(why.strip() for why in ALLOWED.values())


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


def test_each_constant_is_placed_where_the_allow_list_names_it():
    source = '''LEVELS = ("红", "橙")


class Item:
    condition: str = "良好"

    def label(self):
        name = "梯子".strip("的")
        return name + "、"


@command("接单")
def accept():
    print("好")
'''
    assert placed_constants(source) == sorted([
        (1, "LEVELS", "红"), (1, "LEVELS", "橙"), (5, "Item.condition", "良好"),
        (8, "Item.label.name", "梯子"), (8, "Item.label.name", "的"), (9, "Item.label", "、"),
        (12, "accept", "接单"), (14, "accept", "好")])
    assert _covers("Item.label", "Item.label.name", "梯子")
    assert not _covers("Item.label", "Item.labels", "梯子")
    assert not _covers("Item.label.name", "Item.label", "、")
    assert _covers("、", "Item.label", "、")


def test_every_role_has_its_name_once():
    for role in Role.ALL:
        assert msg(f"role.{role}") == role_name(role) and CJK.search(role_name(role))
    assert role_name("grid_leader") == "网格长" and role_name("nobody") == "nobody"
    assert role_name(None) == ""


def test_console_tables_flatten_at_any_depth():
    assert msg("console.error.403") == "您没有权限进行此操作。"
    assert msg("console.done.assign", to="王芳") == "已派单给王芳，已通知对方接单。"
    assert msg("console.push_login_link", name="李", minutes=10, url="u").startswith("李您好")

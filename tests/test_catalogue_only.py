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
    #
    # handlers/: words residents and staff type, matched or parsed (none has a data file)
    ("handlers/worker.py", "@worker_command"): "staff command words (接单, 办结 …) matched "
    "at the start of a message",
    ("handlers/worker.py", "parse.text"): "a full-width dash read as '-' in commands",
    ("handlers/lend_station.py", "@worker_command"): "station staff command words (借出, 归还 …)",
    ("handlers/lend_station.py", "DAMAGED_WORDS"): "words marking a return as damaged",
    ("handlers/lend_station.py", "完好"): "a word of an intact return, stripped from the note",
    ("handlers/lend_station.py", "正常"): "a word of an intact return, stripped from the note",
    ("handlers/lend_station.py", "take_back_command.note"): "punctuation stripped from the note",
    ("handlers/cancel.py", "CARE_WORDS"): "words telling a care cancellation apart",
    ("handlers/cancel.py", "LENDING_WORDS"): "words telling a lending cancellation apart",
    ("handlers/cancel.py", "名额"): "a word telling declining a place from cancelling",
    ("handlers/cancel.py", "报名"): "a word telling declining a place from cancelling",
    ("handlers/cancel.py", "候补"): "a word telling declining a place from cancelling",
    ("handlers/care_signup.py", "_NAME_RE"): "pattern reading a child's name",
    ("handlers/care_signup.py", "_NOT_NAMES"): "answers that are not a child's name",
    ("handlers/care_signup.py", "_NONE"): "answers meaning 'no notes'",
    ("handlers/care_signup.py", "_MINE"): "words asking for one's sign-ups",
    ("handlers/care_signup.py", "_ACCEPT"): "words accepting an offered place",
    ("handlers/care_signup.py", "_COMMANDS"): "care command words",
    ("handlers/care_signup.py", "取消报名"): "command word matched in care_signup()",
    ("handlers/care_signup.py", "不报名了"): "command word matched in care_signup()",
    ("handlers/care_signup.py", "退出候补"): "command word matched in care_signup()",
    ("handlers/care_signup.py", "放弃名额"): "command word matched in care_signup()",
    ("handlers/care_signup.py", "不要名额"): "command word matched in care_signup()",
    ("handlers/care_signup.py", "_answer_session.digits"): "full-width digits read as digits",
    ("handlers/care_signup.py", "_answer_name.head"): "punctuation splitting an answer",
    ("handlers/care_signup.py", "年级|岁|初[一二三]"): "a grade or an age is not a name",
    ("handlers/care_signup.py", "_answer_grade.digits"): "年级 read after a grade number",
    ("handlers/care_signup.py", "_answer_notes.core"): "punctuation stripped from an answer",
    ("handlers/lend_tool.py", "_CN"): "Chinese numerals read as quantities",
    ("handlers/lend_tool.py", "_MEASURE"): "measure words read after a quantity",
    ("handlers/lend_tool.py", "_BEFORE"): "pattern reading a quantity",
    ("handlers/lend_tool.py", "_AFTER"): "pattern reading a quantity",
    ("handlers/lend_tool.py", "_UNKNOWN"): "pattern reading an unknown item's name",
    ("handlers/lend_tool.py", "_NOT_ITEMS"): "words that are not an item's name",
    ("handlers/lend_tool.py", "_RENEW"): "words asking to renew a loan",
    ("handlers/lend_tool.py", "_MINE"): "words asking for one's loans",
    ("handlers/lend_tool.py", "_RETURN"): "pattern of a return",
    ("handlers/lend_tool.py", "_BORROW"): "pattern of a request to borrow",
    ("handlers/lend_tool.py", "_BARE_QUANTITY"): "pattern reading a bare quantity",
    ("handlers/lend_tool.py", "取消预约"): "command word matched in lend_tool()",
    ("handlers/lend_tool.py", "不借了"): "command word matched in lend_tool()",
    ("handlers/lend_tool.py", "退出排队"): "command word matched in lend_tool()",
    ("handlers/lend_tool.py", "_unknown_name"): "particles and words cut from an item's name",
    ("handlers/lend_tool.py", "continue_lending.unknown"): "借 put before a bare item name "
    "so _UNKNOWN reads it",
    ("handlers/duplicates.py", "YES"): "answers joining the existing ticket",
    ("handlers/duplicates.py", "NO"): "answers asking for a new ticket",
    ("handlers/duplicates.py", "answer_offer.text"): "punctuation stripped from an answer",
    ("handlers/community.py", "_DIGITS"): "full-width digits read as digits",
    ("handlers/community.py", "_choice.text"): "punctuation and 号 stripped from a choice",
    ("handlers/dispatch.py", "_choice.text"): "full-width digits read as digits",
    ("handlers/media.py", "answer_attach.text"): "full-width digits and punctuation of a choice",
    ("handlers/shortref.py", "_HALF_WIDTH"): "full-width digits and dashes read as ASCII",
    ("handlers/shortref.py", "_CLAUSE"): "punctuation splitting a description into clauses",
    ("handlers/shortref.py", "_ADDRESS_ONLY"): "pattern of a clause that is only an address",
    ("handlers/shortref.py", "_REF"): "pattern of a list number (第2件)",
    # services/: patterns and words matched
    ("services/privacy.py", "_CN"): "Chinese numerals of an address, masked",
    ("services/privacy.py", "_ADDRESS"): "pattern of an address, masked",
    ("services/privacy.py", "_ADDRESS_DASH"): "pattern of an address, masked",
    ("services/privacy.py", "_COORDINATES"): "pattern of coordinates, masked",
    ("services/public_text.py", "_HANDLE"): "pattern of a WeChat/QQ handle, masked",
    ("services/public_text.py", "_CN_NUMERALS"): "pattern of a spelled-out number, masked",
    ("services/public_text.py", "_NAME_CUE"): "pattern of a name after a cue, masked",
    ("services/public_text.py", "_SURNAMES"): "common surnames, masked",
    ("services/public_text.py", "_BARE_NAME"): "pattern of a bare name, masked",
    ("services/public_text.py", "_TITLE"): "pattern of a name before a title, masked",
    ("services/public_text.py", "NOT_NAMES"): "words after a name cue that are no name",
    ("services/emergency.py", "PROPERTY_WORD"): "matched in department names",
    ("services/exports.py", "FORMULA_PREFIXES"): "full-width characters a spreadsheet reads as "
    "a formula's start, escaped",
    # storage/: values stored and compared, parsing, and text of a layer below the catalogue
    ("storage/lending.py", "RETURNED_INTACT"): "stored Loan.return_condition, compared",
    ("storage/lending.py", "RETURNED_DAMAGED"): "stored Loan.return_condition, compared",
    ("storage/lending.py", "LendItem.condition"): "stored default of a column",
    ("storage/care.py", "WEEKDAY_NAMES"): "weekday names read by parse_weekdays",
    ("storage/care.py", "Programme.kind"): "stored default, the classifier's program slot value",
    ("storage/care.py", "_parse_weekdays"): "weekday words and separators parsed",
    ("storage/care.py", "_check_hhmm.hour"): "a full-width colon read in times of day",
    ("storage/vulnerability.py", "LEVELS"): "stored care levels (红橙黄蓝绿), parsed and compared",
    ("storage/vulnerability.py", "CLEAR_WORDS"): "words clearing a care level",
    ("storage/vulnerability.py", "_ADDRESS"): "pattern of an address staff type",
    ("storage/vulnerability.py", "parse_level.word"): "色 cut from 红色",
    ("storage/notices.py", "_SEPARATORS"): "separators of a building list",
    ("storage/notices.py", "_ITEM"): "pattern of a building range",
    ("storage/notices.py", "_SUFFIX"): "building words cut from a number",
    ("storage/notices.py", "_DASH"): "range dashes and words",
    ("storage/notices.py", "audience"): "stored Notice.scope labels (网格:/楼栋:/社区:), kept "
    "as existing rows have them",
    ("storage/org.py", "format_address"): "an address written as stored and matched (单元)",
    ("storage/org.py", "CommunityNeeded.__init__"): "field of the door's catalogue sentence; "
    "storage cannot read the catalogue (layers)",
    ("storage/categories.py", "Categories.require.known"): "an operator's config error (English) "
    "listing the names as the file writes them",
    ("storage/stats.py", "summarise.cat"): "the category value of a ticket with none, a key",
    ("storage/sla.py", "parse"): "the default policy's name, a key matched in sla.toml",
    ("storage/phones.py", "normalise.compact"): "a full-width dash read in phone numbers",
    ("storage/services_import.py", "parse_range.text"): "至 read in ranges",
    ("storage/import_parse.py", "PROBLEMS"): "English fallbacks naming the file's own words; "
    "people read [import_problem] in the catalogue",
    ("storage/import_parse.py", "buildings.items"): "separators parsed",
    ("storage/import_parse.py", "_place.aliases"): "separators parsed",
    ("storage/import_parse.py", "_csv_places"): "separators parsed",
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
    classes and assignment targets around it ("" at module level, outside assignments);
    a decorator's arguments sit in "@<decorator>" (beside the function, not in it)."""
    owners: dict[int, str] = {}

    def visit(node: ast.AST, chain: tuple[str, ...]) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            for decorator in node.decorator_list:  # @worker_command("接单"): "@worker_command"
                call = decorator.func if isinstance(decorator, ast.Call) else decorator
                name = call.attr if isinstance(call, ast.Attribute) else getattr(call, "id", "")
                visit(decorator, chain + (f"@{name}",))
            for child in ast.iter_child_nodes(node):
                if child not in node.decorator_list:
                    visit(child, chain + (node.name,))
            return
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
        (12, "@command", "接单"), (14, "accept", "好")])
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

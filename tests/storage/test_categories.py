"""Categories are data (storage/categories.toml) that the lexicon, the SLA policies, the
emergency rules and the location rules refer to; an unknown category is a clear error."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from intents.emergency import load_detector
from intents.errors import LexiconError
from intents.lexicon import DEFAULT_LEXICON, load_lexicon
from storage import categories, sla
from storage.categories import CategoryError

ROOT = Path(__file__).resolve().parents[2]


def test_the_file_loads_with_unique_codes_and_names():
    cats = categories.load()
    assert len({c.code for c in cats.items}) == len({c.name for c in cats.items}) == len(cats.items)
    assert cats.get("漏水").kind == "repair" and cats.by_code("noise").name == "噪音"
    assert set(cats.names("complaint")).isdisjoint(cats.names("repair"))


def test_every_category_of_the_lexicon_is_in_the_file_with_its_kind():
    assert load_lexicon()  # the loader checks them; here they are read again from the file
    named = list(_lexicon_categories())
    assert len(named) >= 20
    for intent, cat in named:
        assert categories.load().get(cat).kind == intent


def test_the_sla_policies_and_emergency_rules_name_known_categories():
    assert sla.load(ROOT / "handlers" / "sla.toml").rules
    rules = tomllib.loads((ROOT / "intents" / "emergency.toml").read_text(encoding="utf-8"))
    targets = set()

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "ticket" and isinstance(value, str):
                    targets.add(value)
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(rules)
    assert targets
    for target in targets:
        kind, name = target.split("/")
        categories.load().require(name, kind, f"emergency.toml ticket {target!r}")


def test_public_comes_from_the_file():
    assert categories.is_public("停车") and categories.is_public("公共设施")
    assert not categories.is_public("漏水") and not categories.is_public(None)


def test_an_unknown_category_in_the_lexicon_stops_the_load(tmp_path):
    path = tmp_path / "lexicon.toml"
    path.write_text(DEFAULT_LEXICON.read_text(encoding="utf-8")
                    + '\n[intents.repair.categories."空调外机"]\n"空调" = 4\n', encoding="utf-8")
    with pytest.raises(LexiconError, match="unknown category '空调外机' of kind 'repair'"):
        load_lexicon(path)


def test_a_category_under_the_wrong_kind_stops_the_load(tmp_path):
    path = tmp_path / "lexicon.toml"
    path.write_text(DEFAULT_LEXICON.read_text(encoding="utf-8")
                    + '\n[intents.complaint.categories."漏水"]\n"渗水" = 4\n', encoding="utf-8")
    with pytest.raises(LexiconError, match="'漏水' of kind 'complaint'"):
        load_lexicon(path)


def test_an_unknown_category_in_the_emergency_rules_stops_the_load(tmp_path):
    source = ROOT / "intents" / "emergency.toml"
    path = tmp_path / "emergency.toml"
    path.write_text(source.read_text(encoding="utf-8").replace('"emergency/求助"', '"emergency/呼救"'),
                    encoding="utf-8")
    with pytest.raises(LexiconError, match="unknown category '呼救' of kind 'emergency'"):
        load_detector(path)


def test_an_unknown_category_in_an_sla_policy_is_refused():
    raw = {"policy": [{"name": "空调", "category": ["电梯", "空调外机"], "response_minutes": 30}]}
    with pytest.raises(CategoryError, match="sla policy '空调': unknown category '空调外机'"):
        sla.parse(raw)


@pytest.mark.parametrize(("entry", "error"), [
    ('code = "lift"\nname = "电梯"\nkind = "repair"', "used twice"),
    ('code = "aircon"\nname = "空调"\nkind = "fix"', "kind must be one of"),
    ('code = "Air Con"\nname = "空调"\nkind = "repair"', "code must be"),
    ('code = "aircon"\nname = "空调"\nkind = "repair"\npublik = true', "unknown key"),
])
def test_a_bad_categories_file_names_the_entry(entry, error):
    text = categories.CATEGORIES_FILE.read_text(encoding="utf-8") + f"\n[[category]]\n{entry}\n"
    with pytest.raises(CategoryError, match=error) as raised:
        categories.parse(text)
    assert f"[[category]] #{len(categories.load().items) + 1}" in str(raised.value)


def _lexicon_categories():
    raw = tomllib.loads(DEFAULT_LEXICON.read_text(encoding="utf-8"))
    for intent, table in raw["intents"].items():
        for cat in table.get("categories", {}):
            yield intent, cat

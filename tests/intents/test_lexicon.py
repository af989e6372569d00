"""The lexicon is data staff edit: validated on load with file and line, and reloadable."""

from __future__ import annotations

from pathlib import Path

import jieba
import pytest

from intents.classify import Classifier
from intents.errors import LexiconError
from intents.lexicon import DEFAULT_LEXICON, DEFAULT_USERDICT, INTENTS, load_lexicon
from intents.segment import validate_userdict

SHIPPED = DEFAULT_LEXICON.read_text(encoding="utf-8")


def _edited(tmp_path: Path, old: str, new: str) -> Path:
    assert old in SHIPPED, old
    path = tmp_path / "lexicon.toml"
    path.write_text(SHIPPED.replace(old, new, 1), encoding="utf-8")
    return path


def _line_of(path: Path, needle: str) -> int:
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return n
    raise AssertionError(needle)


def test_shipped_lexicon_is_valid_and_covers_every_intent() -> None:
    lex = load_lexicon()
    covered = {e.intent for e in lex.entries.values() if e.intent} | set(lex.exact.values())
    assert covered >= set(INTENTS) - {"other"} | {"other"}
    assert 0 < lex.threshold < 1
    assert set(lex.labels) == set(INTENTS)
    for intent in ("complaint", "repair"):
        assert len(lex.categories[intent]) >= 8


@pytest.mark.parametrize(
    ("old", "new", "needle", "message"),
    [
        ('"楼道灯" = 4.5', '"楼道灯" = "很高"', '"楼道灯" = "很高"', "must be a number"),
        ('"楼道灯" = 4.5', '"楼道灯" = -1', '"楼道灯" = -1', "must be in"),
        ('"噪音" = 3\n', '"噪音" = 3\n"楼道灯" = 2\n', '"楼道灯" = 2', "already listed"),
        ('"声控灯" = 4.5', '"声控灯" = 4.5\n"樓道燈壞" = 2', '"樓道燈壞"', "can never match"),
        ('"声控灯" = 4.5', '"声控灯" = 4.5\n"楼到灯" = 2', '"楼到灯" = 2', "can never match"),
        ('[intents.tool_lending.keywords]', '[intents.tool_borrowing.keywords]',
         "tool_borrowing", "unknown intent"),
        ('"complaint/物业服务" = [', '"complaint/物业" = [', '"complaint/物业" = [', "no category"),
        ("threshold = 0.45", "threshold = 1.5", "threshold = 1.5", "between 0 and 1"),
        ("threshold = 0.45", "treshold = 0.45", "treshold", "unknown setting"),
        ('"满意" = 5\n', '"满意" = 6\n', '"满意" = 6', "1..5"),
        ('"thanks" = ["complaint"', '"thank" = ["complaint"', '"thank" = [', "unknown intent"),
    ],
)
def test_invalid_entry_names_file_and_line(
    tmp_path: Path, old: str, new: str, needle: str, message: str
) -> None:
    path = _edited(tmp_path, old, new)
    with pytest.raises(LexiconError) as info:
        load_lexicon(path)
    err = info.value
    assert err.path == path
    expected = _line_of(path, needle)
    # A duplicate names both lines: the one reported and the one it collides with.
    assert err.line == expected or f"line {expected}" in str(err)
    assert message in str(err)
    assert str(err).startswith(f"{path}:{err.line}: ")


@pytest.mark.parametrize(("suppress", "message"), [
    ('suppress = ["repairs"]', "suppress must be a list of intents"),
    ('suppress = ["complaint"]', "cannot suppress its own intent"),
])
def test_a_combo_suppressing_a_bad_intent_names_its_header(tmp_path: Path, suppress: str,
                                                           message: str) -> None:
    old = 'category = "物业服务"\nweight = 6\nsuppress = ["repair"]'
    path = _edited(tmp_path, old, old.replace('suppress = ["repair"]', suppress))
    with pytest.raises(LexiconError) as info:
        load_lexicon(path)
    assert message in str(info.value)
    header = _line_of(path, suppress) - 4
    assert path.read_text(encoding="utf-8").splitlines()[header - 1] == "[[combos]]"
    assert info.value.line == header


def test_same_key_twice_in_one_table_is_a_syntax_error_on_its_line(tmp_path: Path) -> None:
    path = _edited(tmp_path, '"声控灯" = 4.5', '"声控灯" = 4.5\n"楼道灯" = 2')
    with pytest.raises(LexiconError) as info:
        load_lexicon(path)
    assert info.value.line == _line_of(path, '"楼道灯" = 2')


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = _edited(tmp_path, '"声控灯" = 4.5', '"声控灯" = 4.5\n"感应灯 = 3')
    with pytest.raises(LexiconError) as info:
        load_lexicon(path)
    assert info.value.line == _line_of(path, '"感应灯 = 3')
    assert "TOML syntax" in str(info.value)


def test_classifier_load_raises_lexicon_error(tmp_path: Path) -> None:
    path = _edited(tmp_path, '"楼道灯" = 4.5', '"楼道灯" = "x"')
    with pytest.raises(LexiconError):
        Classifier.load(path)


def test_bad_userdict_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "userdict.txt"
    path.write_text("# comment\n楼道灯 3000 n\n飞线 充电 很多\n", encoding="utf-8")
    with pytest.raises(LexiconError) as info:
        validate_userdict(path)
    assert info.value.line == 3
    with pytest.raises(LexiconError):
        Classifier.load(userdict_path=path)


def test_shipped_userdict_is_valid() -> None:
    words = [w for w, _, _ in validate_userdict(DEFAULT_USERDICT)]
    assert {"飞线充电", "四点半课堂", "下水道", "楼道灯", "暖气片"} <= set(words)


def test_load_again_picks_up_edits(tmp_path: Path) -> None:
    before = Classifier.load()
    assert before.classify("化粪池满溢了").intent == "repair"
    assert before.classify("蹭网").intent == "other"
    path = _edited(tmp_path, '"噪音" = 3\n', '"噪音" = 3\n"蹭网" = 3\n')
    after = Classifier.load(path)
    assert (after.classify("蹭网").intent, after.classify("蹭网").category) == \
        ("complaint", "噪音")


def test_threshold_comes_from_the_file(tmp_path: Path) -> None:
    path = _edited(tmp_path, "threshold = 0.45", "threshold = 0.7")
    assert Classifier.load(path).threshold == 0.7


def test_global_jieba_is_untouched(clf: Classifier) -> None:
    clf.classify("我家丫头想报四点半课堂")
    assert clf.segmenter.tokenizer is not jieba.dt
    assert "四点半课堂" not in jieba.dt.FREQ

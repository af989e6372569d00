"""intents.overlay: an intent's tables cut out of the lexicon text, edited parts laid over
it, and lines of the merged text traced back to the part they came from."""

from __future__ import annotations

import pytest

from intents import overlay
from intents.errors import LexiconError
from intents.lexicon import DEFAULT_LEXICON

BASE = DEFAULT_LEXICON.read_text(encoding="utf-8")


def test_a_section_is_the_intents_tables_only() -> None:
    repair = overlay.section(BASE, "repair")
    assert repair.startswith("[intents.repair.keywords]")
    assert "[intents.complaint" not in repair and "[neutral]" not in repair
    assert not repair.rstrip().splitlines()[-1].startswith("#")  # the next section's comments stay
    with pytest.raises(ValueError):
        overlay.section(BASE, "nonsense")


def test_lines_of_the_merged_text_are_traced_back() -> None:
    part = '[intents.thanks.keywords]\n"谢谢" = 2.5\n"多谢老师" = 3\n'
    merged = overlay.overlay(BASE, {"thanks": part})
    lines = merged.text.splitlines()
    at = lines.index('"多谢老师" = 3') + 1
    assert merged.locate(at) == ("thanks", 3)
    assert merged.locate(1) == (None, 1)
    assert lines[-1] == BASE.splitlines()[-1]  # what follows the part is untouched


def test_errors_name_the_part_and_its_line() -> None:
    part = '[intents.thanks.keywords]\n"谢谢" = 2.5\n"谢谢" = 3\n'
    with pytest.raises(LexiconError) as err:  # a duplicate key is a TOML error of the part
        overlay.load_overlay(DEFAULT_LEXICON, BASE, {"thanks": part})
    assert str(err.value.path) == "lexicon:thanks" and err.value.line == 3
    part = '[intents.thanks.keywords]\n"谢谢" = 2.5\n"报修" = 3\n'
    with pytest.raises(LexiconError) as err:  # 报修 belongs to repair in the packaged lexicon
        overlay.load_overlay(DEFAULT_LEXICON, BASE, {"thanks": part})
    assert str(err.value.path) == "lexicon:thanks" and err.value.line == 3
    assert "lexicon.toml" in err.value.message
    with pytest.raises(LexiconError, match="only \\[intents.thanks"):
        overlay.check_section("thanks", '[slots.tools]\n"梯子" = ["梯子"]\n')


def test_an_edited_part_changes_the_lexicon() -> None:
    part = overlay.section(BASE, "thanks") + '"多谢老师" = 3\n'
    lexicon = overlay.load_overlay(DEFAULT_LEXICON, BASE, {"thanks": part})
    assert lexicon.entries["多谢老师"].intent == "thanks"

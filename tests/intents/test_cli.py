"""`gridbot intents classify|eval`, exercised on the Typer sub-app directly."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from bot.cli_intents import app

runner = CliRunner()


def test_classify_prints_intent_category_confidence_slots_urgent() -> None:
    result = runner.invoke(app, ["classify", "3号楼2单元501，楼道灯坏了"])
    assert result.exit_code == 0, result.output
    assert "intent:       repair" in result.output
    assert "category:     楼道灯" in result.output
    assert "confidence:" in result.output
    assert '"building": "3"' in result.output
    assert "urgent:       no" in result.output


def test_classify_json_and_today() -> None:
    result = runner.invoke(app, ["classify", "家里燃气泄漏了 明天下午能来吗", "--json",
                                 "--today", "2026-11-22"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["intent"] == "repair" and data["urgent"] is True
    assert data["slots"]["date"] == "2026-11-23"


def _tsv(tmp_path: Path) -> Path:
    path = tmp_path / "mini.tsv"
    path.write_text(
        "# a comment\n"
        "楼道灯坏了\trepair\t楼道灯\n"
        "楼上装修太吵了\tcomplaint\t噪音\n"
        "想借个梯子\ttool_lending\n"
        "你好\tgreeting\n"
        "谢谢\tconfirm\n",  # deliberately mislabelled: shows up as a mistake
        encoding="utf-8",
    )
    return path


def test_eval_prints_table_confusion_mistakes_and_speed(tmp_path: Path) -> None:
    result = runner.invoke(app, ["eval", str(_tsv(tmp_path))])
    assert result.exit_code == 0, result.output
    out = result.output
    for heading in ("prec", "recall", "f1", "accuracy:", "macro-F1:", "confusion",
                    "worst mistakes", "messages/s:"):
        assert heading in out
    assert "confirm → thanks" in out
    assert "accuracy:      0.8000" in out


def test_eval_json_has_the_required_keys(tmp_path: Path) -> None:
    result = runner.invoke(app, ["eval", str(_tsv(tmp_path)), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert {"macro_f1", "accuracy", "per_intent", "messages_per_second"} <= set(data)
    assert data["accuracy"] == 0.8
    assert data["per_intent"]["repair"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0,
                                            "support": 1}
    assert data["confusion"]["confirm"]["thanks"] == 1
    assert data["worst_mistakes"][0]["text"] == "谢谢"


def test_eval_rejects_unknown_intent_with_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.tsv"
    path.write_text("楼道灯坏了\trepair\n你好\thello\n", encoding="utf-8")
    result = runner.invoke(app, ["eval", str(path)])
    assert result.exit_code == 2
    assert "bad.tsv:2" in result.output


def test_bad_lexicon_is_reported_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "lexicon.toml"
    path.write_text("[settings]\nthreshold = 2\n", encoding="utf-8")
    result = runner.invoke(app, ["classify", "你好", "--lexicon", str(path)])
    assert result.exit_code == 2
    assert f"{path}:2" in result.output

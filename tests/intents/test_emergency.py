"""The emergency detector: the labelled sets, generalisation over word classes, cues that take
an emergency back, the prefilter, and validation of intents/emergency.toml."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import pytest

from intents.classify import Classifier
from intents.emergency import DEFAULT_EMERGENCY, Detector, load_detector
from intents.errors import LexiconError

DATA = Path(__file__).resolve().parents[2] / "intents" / "data"
MAX_DEV_FALSE_ALARMS = 2
"""Near-misses of the dev set that may be read as emergencies (a bound, not a target)."""


def _rows(name: str) -> list[tuple[str, str]]:
    rows = []
    for line in (DATA / name).read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            text, kind = line.split("\t")
            rows.append((text, kind))
    return rows


@pytest.fixture(scope="module")
def detect(clf: Classifier):
    """Text → the classifier's Understanding.emergency (normalised as in production)."""
    return lambda text: clf.classify(text).emergency


def test_no_emergency_of_the_dev_set_is_missed(detect) -> None:
    missed = []
    for text, kind in _rows("emergency.tsv"):
        found = detect(text)
        if kind != "none" and (found is None or kind not in found.kinds):
            missed.append((text, kind, found and found.kinds))
    assert missed == []


def test_dev_near_misses_rarely_raise_an_alarm(detect) -> None:
    alarms = [(text, found.kinds) for text, kind in _rows("emergency.tsv")
              if kind == "none" and (found := detect(text)) is not None]
    assert len(alarms) <= MAX_DEV_FALSE_ALARMS, alarms


def test_sets_are_large_enough_and_about_a_third_is_held_out() -> None:
    dev, held = _rows("emergency.tsv"), _rows("emergency_heldout.tsv")
    assert len(dev) + len(held) >= 150
    assert 0.2 <= len(held) / (len(dev) + len(held)) <= 0.4
    kinds = set(load_detector().kinds) | {"none"}
    assert {k for _, k in dev + held} == kinds  # every kind and near-misses in both files
    assert not {t for t, _ in dev} & {t for t, _ in held}


SUBJECTS = ["老伴", "俺妈", "我爸", "奶奶", "隔壁大爷", "我家老太太"]
FALLS = ["摔倒了起不来", "在厕所滑倒了爬不起来", "跌倒了动不了", "摔了一跤头破了一直流血"]


@pytest.mark.parametrize(("subject", "fall"), list(itertools.product(SUBJECTS, FALLS)))
def test_falls_generalise_over_subjects_and_states(detect, subject: str, fall: str) -> None:
    found = detect(f"{subject}{fall}")
    assert found is not None and found.kind == "medical" and found.numbers == ("120",)


LIVE = ["楼道里着火了", "家里一股煤气味", "电梯里困着人", "有人触电了", "孩子走丢了",
        "有人拿刀砍人", "我妈晕倒了"]
WRAPS = ["上次{}的事", "如果{}怎么办", "{}演练几点开始", "万一{}应该打什么电话",
         "那天{}的损失谁赔", "去年{}那次吓坏了"]


@pytest.mark.parametrize(("live", "wrap"), list(itertools.product(LIVE, WRAPS)))
def test_past_hypothetical_drill_and_reference_take_it_back(detect, live: str, wrap: str
                                                            ) -> None:
    assert detect(live) is not None
    assert detect(wrap.format(live)) is None


@pytest.mark.parametrize("text", ["没有着火", "电梯里没有人被困", "没闻到煤气味", "不是着火，是蒸汽",
                                  "孩子找到了", "火已经灭了", "人已经救出来了"])
def test_negated_or_over_is_not_an_emergency(detect, text: str) -> None:
    assert detect(text) is None


@pytest.mark.parametrize(("text", "numbers"), [
    ("我老伴在家摔倒了起不来，怎么办", ("120",)),
    ("5号楼电梯里有人被困住了！", ("96333", "property")),
    ("厨房有煤气味", ("119", "gas")),
    ("楼道着火了", ("119",)),
    ("楼下有人打架动刀了", ("110",)),
    ("我家孩子不见了", ("110",)),
    ("厨房着火了我妈被烧伤了", ("119", "120")),
])
def test_numbers_fit_the_kinds_found(detect, text: str, numbers: tuple[str, ...]) -> None:
    assert detect(text).numbers == numbers


def test_understanding_urgent_is_the_detector(clf: Classifier) -> None:
    for text in ("我老伴在家摔倒了起不来，怎么办", "楼道灯坏了", "上次着火的事"):
        u = clf.classify(text)
        assert u.urgent == (u.emergency is not None)
    assert clf.classify("我老伴在家摔倒了起不来，怎么办").category != "危树"


def test_prefilter_never_hides_a_match() -> None:
    fast = load_detector()
    slow = Detector(tuple(dataclasses.replace(k, keys=(None,) * len(k.triggers))
                          for k in fast.kinds.values()), fast._cues, (), fast._gap)
    slow._neutral = fast._neutral
    texts = [t for name in ("emergency.tsv", "emergency_heldout.tsv", "dev.tsv")
             for t, *_ in (line.split("\t") for line in
                           (DATA / name).read_text(encoding="utf-8").splitlines()
                           if line.strip() and not line.startswith("#"))]
    assert all(all(k.keys) for k in fast.kinds.values())  # every trigger has a prefilter
    for text in texts:
        assert fast.detect(text.lower()) == slow.detect(text.lower()), text


def _edited(tmp_path: Path, old: str, new: str) -> Path:
    shipped = DEFAULT_EMERGENCY.read_text(encoding="utf-8")
    assert old in shipped, old
    path = tmp_path / "emergency.toml"
    path.write_text(shipped.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(("old", "new", "message"), [
    ('numbers = ["120"]', 'numbers = ["1二0"]', "neither 3-6 digits"),
    ('ticket = "emergency/急救"', 'ticket = "急救"', "ticket must be"),
    ('"{unconscious}", "{breath}"', '"{unconcious}", "{breath}"', "unknown word class"),
    ('"臭鸡蛋味|一股臭鸡蛋"', '"臭鸡蛋味|(一股臭鸡蛋"', "bad trigger"),
    ('"臭鸡蛋味|一股臭鸡蛋"', '"(臭鸡蛋味)?"', "matches empty"),
    ('order = ["fire", ', 'order = [', "every kind once"),
    ('\n[cues]\n', '\n[cue]\n', "unknown section"),
    ('negation_gap = 3', 'negation_gap = "3"', "negation_gap"),
])
def test_invalid_file_names_file_and_line(tmp_path: Path, old: str, new: str, message: str
                                          ) -> None:
    path = _edited(tmp_path, old, new)
    with pytest.raises(LexiconError) as err:
        load_detector(path)
    assert message in str(err.value) and err.value.path == path
    if err.value.line is not None:
        assert 1 <= err.value.line <= len(path.read_text(encoding="utf-8").splitlines())

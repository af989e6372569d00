"""Reading short ticket references: positions, number tails, full numbers, and what is not
a reference (a note that starts with a floor or a building)."""

from __future__ import annotations

import pytest

from handlers.shortref import Ref, find_ref, parse


@pytest.mark.parametrize(("text", "ref"), [
    ("1", Ref(position=1)),
    ("2 已修好", Ref(position=2, rest="已修好")),
    ("1 您家几点有人在？", Ref(position=1, rest="您家几点有人在？")),  # kept as written
    ("第3件 换了灯泡", Ref(position=3, rest="换了灯泡")),
    ("１２　已修好", Ref(position=12, rest="已修好")),  # full-width digits and space
    ("007", Ref(position=7)),
    ("0007", Ref(tail="0007")),
    ("10007 已处理", Ref(tail="10007", rest="已处理")),
    ("gd20261122－0007 已修好", Ref(number="GD20261122-0007", rest="已修好")),
    ("2楼灯已修好", None),  # a note, not a reference
    ("0", None),
    ("1234567", None),
    ("", None),
])
def test_parse(text, ref):
    assert parse(text) == ref


@pytest.mark.parametrize(("text", "ref"), [
    ("撤销 1", Ref(position=1)),
    ("撤销第2个", Ref(position=2)),
    ("查询 0007", Ref(tail="0007")),
    ("撤销GD20261122-0003", Ref(number="GD20261122-0003")),
    ("查询一下3号楼的报修", None),
    ("撤销3楼", None),
    ("撤销 1 和 2", None),  # two numbers: ambiguous
    ("报修好几天了怎么还没人来", None),
])
def test_find_ref(text, ref):
    assert find_ref(text) == ref

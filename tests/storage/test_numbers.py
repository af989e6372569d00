"""People-facing numbers are written and read in one place (storage.numbers), from the
configured ticket prefix; loans and care enrollments have their own prefixes."""

from __future__ import annotations

import pytest

from intents.classify import Classifier
from intents.slots import extract_ticket_no
from storage import numbers


def test_a_ticket_number_is_read_in_any_case_with_spaces_and_full_width_dashes():
    gd = numbers.tickets("GD")
    assert gd.find("我的单子 gd 20261122 － 0007 怎么样了") == "GD20261122-0007"
    assert gd.find("ＧＤ２０２６１１２２－００１２") == "GD20261122-0012"
    assert gd.find("GD20261122-10000") == "GD20261122-10000"
    assert gd.find("GD20261122-7") is None  # four digits at least for tickets
    assert gd.find("WY20261122-0007") is None


def test_match_keeps_the_rest_as_written():
    assert numbers.tickets().match(" gd20261122-0007 已修好，Ｏｋ") == ("GD20261122-0007", "已修好，Ｏｋ")
    assert numbers.tickets().match("修好了 GD20261122-0007") is None


def test_the_prefix_is_a_setting():
    wy = numbers.tickets("WY")
    assert wy.format("20261122", 7) == "WY20261122-0007"
    assert wy.find("wy20261122-0007") == "WY20261122-0007"
    assert extract_ticket_no("WY20261122-0007 到哪了", "WY") == "WY20261122-0007"
    assert extract_ticket_no("WY20261122-0007 到哪了") is None


def test_loans_and_enrollments_have_their_own_prefixes():
    assert numbers.LOANS.find("还 jy20261122-3") == "JY20261122-0003"
    assert numbers.LOANS.find("GD20261122-0003") is None
    assert numbers.ENROLLMENTS.match("BM20261122-0001 取消") == ("BM20261122-0001", "取消")
    assert len({numbers.LOAN_PREFIX, numbers.ENROLLMENT_PREFIX,
                numbers.DEFAULT_TICKET_PREFIX}) == 3


def test_a_bad_prefix_is_refused():
    with pytest.raises(ValueError, match="prefix"):
        numbers.NumberFormat("G-1")


def test_the_classifier_reads_the_configured_prefix():
    classifier = Classifier.load(ticket_prefix="WY")
    assert classifier.classify("WY20261122-0007进度").slots["ticket_no"] == "WY20261122-0007"
    assert "ticket_no" not in classifier.classify("GD20261122-0007进度").slots

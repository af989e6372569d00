"""storage.phones: one written form for the numbers staff import, and the masked form
staff lists show."""

from __future__ import annotations

import pytest

from storage.phones import masked, normalise


@pytest.mark.parametrize(("written", "form"), [
    ("138 0000 0001", "13800000001"), ("+86 138-0000-0001", "13800000001"),
    ("024-12345678", "024-12345678"), ("96333", "96333"),
])
def test_normalise(written, form):
    assert normalise(written) == form


def test_normalise_refuses_what_is_no_phone():
    with pytest.raises(ValueError, match="1390000abc"):
        normalise("1390000abc")


@pytest.mark.parametrize(("phone", "shown"), [
    ("13800000001", "138****0001"), ("024-12345678", "024-****5678"),
    ("0411-87654321", "0411-****4321"), ("96333", "***33"), ("12", "12"),
])
def test_masked_hides_the_middle(phone, shown):
    assert masked(phone) == shown


def test_masked_keeps_no_phone_as_none():
    assert masked(None) is None

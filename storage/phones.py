"""Phone numbers staff write in import files: checked and written one way.

    normalise("138 0000 0001") == "13800000001"      mobile: 11 digits 1[3-9]…, +86 dropped
    normalise("024-12345678") == "024-12345678"      landline: area code 0xx(x), 7–8 digits,
                                                      optional extension "-123"
    normalise("96333") == "96333"                    5-digit service lines, 400/800 numbers
    masked("13800000001") == "138****0001"           the middle hidden, for lists staff read

``normalise`` raises ValueError for anything else (letters, too short or too long:
「1390000abc」).
"""

from __future__ import annotations

import re
from typing import overload

_MOBILE = re.compile(r"(?:\+?86)?(1[3-9]\d{9})")
_LANDLINE = re.compile(r"\(?0\d{2,3}\)?-?\d{7,8}(?:-\d{1,6})?")
_SERVICE = re.compile(r"[1-9]\d{4}|[48]00-?\d{3}-?\d{4}")


def normalise(text: str) -> str:
    """The phone number ``text`` in one written form (see module docstring).
    Raises ValueError naming the text."""
    compact = re.sub(r"[\s\u3000]", "", str(text)).replace("－", "-").replace("—", "-")
    if mobile := _MOBILE.fullmatch(compact.replace("-", "")):
        return mobile.group(1)
    if _LANDLINE.fullmatch(compact) or _SERVICE.fullmatch(compact):
        return compact
    raise ValueError(f"not a phone number: {text!r}")


@overload
def masked(phone: str) -> str: ...


@overload
def masked(phone: None) -> None: ...


def masked(phone: str | None) -> str | None:
    """``phone`` as staff lists show it, the middle hidden: 「137****0000」 for a mobile,
    「024-****5678」 for a landline; numbers of 7 characters or fewer keep only the last 2
    (「***33」); None (no phone) stays None. The one masking every staff-facing list, page and
    export uses."""
    if phone is None:
        return None
    if len(phone) <= 7:
        return "*" * max(len(phone) - 2, 0) + phone[-2:]
    head = phone.index("-") + 1 if "-" in phone[:5] else 3
    return phone[:head] + "****" + phone[-4:]

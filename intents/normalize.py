"""Text normalisation applied before segmentation, keyword matching and slot extraction.

Residents type on phones or dictate by voice: full-width digits (５号楼), traditional
characters (樓道燈壞了), emoji and WeChat sticker codes ([捂脸]), stray spaces, and typos of
common words (楼到灯, 下水到, 电悌). ``Normalizer.normalize`` maps all of these to one plain
simplified form; the typo map comes from the lexicon (``[typos]``) so staff can extend it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

import opencc

# Emoji and pictographs, dingbats, variation selectors, zero-width joiners, keycaps.
_EMOJI = re.compile(
    "["
    "\U0001f000-\U0001faff"
    "\U00002600-\U000027bf"
    "\U00002b00-\U00002bff"
    "\U0000fe00-\U0000fe0f"
    "\U0000200b-\U0000200f"
    "\U000020e3"
    "\U0001f1e6-\U0001f1ff"
    "]+"
)
# WeChat's built-in stickers arrive as text codes such as [捂脸] or [Smile].
_STICKER = re.compile(r"\[[\u4e00-\u9fffA-Za-z]{1,6}\]")
_SPACES = re.compile(r"\s+")


class Normalizer:
    """Maps raw message text to the canonical form the classifier matches against.

    Steps, in order: Unicode NFKC (full-width → ASCII, ① → 1), traditional → simplified
    (OpenCC ``t2s``), emoji and sticker codes removed, ASCII lower-cased, typo map applied
    (longest wrong form first), runs of whitespace collapsed to one space and trimmed.
    The OpenCC converter is built once per instance (about 30 ms) and only called on text
    that holds a character it would change.
    """

    def __init__(self, typos: Mapping[str, str] | None = None) -> None:
        self._t2s = opencc.OpenCC("t2s")
        # Characters OpenCC changes on their own: most messages contain none, and then the
        # conversion (a third of the normalisation time) can be skipped.
        ideographs = "".join(chr(c) for c in (*range(0x3400, 0x4DC0), *range(0x4E00, 0xA000)))
        converted = self._t2s.convert(ideographs)
        self._traditional = frozenset(
            a for a, b in zip(ideographs, converted, strict=False) if a != b
        ) if len(converted) == len(ideographs) else None
        self._typos = dict(typos or {})
        if self._typos:
            alternatives = sorted(self._typos, key=len, reverse=True)
            self._typo_re: re.Pattern[str] | None = re.compile(
                "|".join(re.escape(a) for a in alternatives)
            )
        else:
            self._typo_re = None

    def normalize(self, text: str) -> str:
        """Return ``text`` normalised (see the class docstring); never raises on any str."""
        if not unicodedata.is_normalized("NFKC", text):
            text = unicodedata.normalize("NFKC", text)
        if self._traditional is None or not self._traditional.isdisjoint(text):
            text = self._t2s.convert(text)
        if "[" in text:
            text = _STICKER.sub(" ", text)
        text = _EMOJI.sub(" ", text)
        text = text.lower()
        if self._typo_re is not None:
            text = self._typo_re.sub(lambda m: self._typos[m.group(0)], text)
        return _SPACES.sub(" ", text).strip()

"""From a resident's message to an ``Understanding``: intent, category, confidence, slots.

Pipeline per message (all tables built once in ``Classifier.load``):

1. normalise (``intents.normalize``): simplified, half-width, no emoji, typos fixed;
2. whole-message forms (``[exact]``: 是 / 好的 / 不用了 / 你好 / 5 …) score strongly;
3. keyword scan: at each position the longest lexicon keyword wins (dict look-ups, no
   regex alternation); one-character keywords (修, 堵, 借, 吵 …) count only when jieba
   segments them as a word of their own (in a window of ±4 characters), so 门口 is not
   a 门 and 借口 not a 借;
4. negation: a keyword right after a cue (不是投诉, 电梯没坏) is dropped;
5. precedence: a ``[[combos]]`` entry may ``suppress`` intents whose words it explains
   (物业 cutting the water on purpose: the 停水 words are no repair); evidence that
   ``[yields]`` to another intent is dropped when that intent has evidence (a complaint
   about the 物业 inside a repair request; a polite 谢谢 or 您好 inside any real request);
6. scores → best intent, its best category, a margin-based confidence, alternatives;
7. slots, and the emergency layer (``intents.emergency``, data in ``emergency.toml``) sets
   ``emergency`` and ``urgent``: the one source of truth for danger.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from intents.emergency import Detector, Emergency, load_detector
from intents.lexicon import (
    DEFAULT_LEXICON,
    DEFAULT_USERDICT,
    INTENTS,
    Entry,
    Lexicon,
    load_lexicon,
)
from intents.normalize import Normalizer
from intents.phrases import PhraseIndex
from intents.segment import Segmenter
from intents.slots import (
    MAX_TEXT_CHARS,
    cn_to_int,
    extract_address,
    extract_child,
    extract_child_name,
    extract_days,
    extract_phone,
    extract_quantity,
    extract_when,
)
from storage import numbers
from storage.numbers import DEFAULT_TICKET_PREFIX

__all__ = ["INTENTS", "Classifier", "Understanding"]

# Characters stripped from both ends before whole-message (exact) matching; modal particles
# only from the end. (Normalised text holds no whitespace but single spaces.)
_EDGE_CHARS = " ,.!?~，。！？、…～:：;；'\"“”‘’()（）"
_END_CHARS = _EDGE_CHARS + "啊呀吧呢哦噢啦哇嘛"
_PUNCT = r"\s" + re.escape(_EDGE_CHARS)
# Optional parts carry their trailing space: 「\s*X?\s*$」 would backtrack quadratically.
_RATING_NUMBER = re.compile(r"^(?:给|打)?\s*([1-5一二三四五])\s*(?:(?:分|星|颗星)\s*)?$")
_RATING_NUMBER_IN = re.compile(r"(?<![\d十])([1-5一二三四五])\s*(?:分(?!钟|钱|不|也|没|都)|星|颗星)")
_HAS_NUMBER = re.compile(r"[0-9零〇一二两三四五六七八九十]|[a-z](?:[栋座幢#]|号楼)")  # or A栋
_PHONE_DIGITS = re.compile(r"(?<!\d)(?:1[3-9]\d[\s-]?\d{4}[\s-]?\d{4}|0\d{2,3}[\s-]?\d{7,8})(?!\d)")
_MAX_EXACT_CHARS = 12  # longer messages are never a string of whole-message forms
_PIECES = re.compile(rf"[{_PUNCT}]+")
# A message that is only a score: 5, 5分, 五星, 给4分, 打5星.
_RATING_ALONE = re.compile(r"^(?:给|打)?\s*[1-5一二三四五]\s*(?:分|星|颗星)?$")
_RATING_MARK = re.compile(r"(?<![\d十])[1-5一二三四五]\s*(?:分(?!钟|钱|不|也|没|都)|星|颗星)|满分|零分")
# Strength of evidence: a score of `_SCALE` gives strength 1 - 1/e ≈ 0.63.
_SCALE = 3.0


def _strip_edges(text: str) -> str:
    """``text`` without punctuation or spaces at either end and modal particles at its end
    (「好的呀！」 → 好的). ``str.strip`` is linear where a regex ``[…]+$`` is quadratic in the
    length of a run of punctuation."""
    return text.lstrip(_EDGE_CHARS).rstrip(_END_CHARS)


@dataclass(frozen=True, slots=True)
class Understanding:
    """What the classifier understood of one message.

    ``intent`` is one of ``INTENTS``; ``category`` the complaint/repair category in Chinese
    (「楼道灯」「噪音」) or None; ``confidence`` in [0, 1] — below ``Classifier.threshold`` the
    bot should ask, offering ``alternatives`` (``(intent, share)`` pairs, best first, the
    shares of the total evidence). ``slots`` holds only what was found (see ``intents.slots``).
    ``emergency`` is the live emergency the emergency layer found (kinds, numbers to dial) and
    ``urgent`` is True exactly when there is one (燃气泄漏, 着火, 被困电梯, 触电, 老人摔倒起不来 —
    never 没有着火 or 上次着火的事). ``normalized`` is the text
    the rules saw, ``evidence`` the keywords that counted (for explanations and debugging).
    """

    intent: str
    category: str | None
    confidence: float
    slots: dict[str, Any]
    urgent: bool = False
    alternatives: tuple[tuple[str, float], ...] = ()
    normalized: str = ""
    evidence: tuple[str, ...] = field(default=(), compare=False)
    emergency: Emergency | None = None


class _Phrase:
    """What one phrase of the combined index stands for (any of the four may be set)."""

    __slots__ = ("entry", "tool", "program", "rating")

    def __init__(self, entry: Entry | None = None) -> None:
        self.entry = entry
        self.tool: str | None = None
        self.program: str | None = None
        self.rating: int | None = None


class Classifier:
    """Keyword-lexicon intent classifier with slot extraction. Build with ``load``.

    Thread-safe for ``classify`` (no shared mutable state besides jieba's LRU cache).
    ``threshold`` comes from the lexicon; ``load_time_s`` is the time ``load`` took;
    ``max_chars`` is how many characters of a message ``classify`` reads (the rest is cut;
    default ``intents.slots.MAX_TEXT_CHARS``: defence in depth, the bot cuts messages at
    ``settings.max_text_chars`` before). ``emergency`` is the emergency detector (None: no
    message is ever an emergency; ``load`` always builds one). ``ticket_prefix``: the
    ``settings.ticket_prefix`` of the ticket numbers read into the ``ticket_no`` slot.
    """

    def __init__(self, lexicon: Lexicon, segmenter: Segmenter,
                 max_chars: int = MAX_TEXT_CHARS, emergency: Detector | None = None,
                 ticket_prefix: str = DEFAULT_TICKET_PREFIX) -> None:
        self.lexicon = lexicon
        self.ticket_numbers = numbers.tickets(ticket_prefix)
        self.segmenter = segmenter
        self.max_chars = max_chars
        self.emergency = emergency
        self.threshold = lexicon.threshold
        self.labels = dict(lexicon.labels)
        self.load_time_s = 0.0
        self._normalizer = Normalizer(lexicon.typos)
        # All keywords (one-character ones included) in one index; one-character hits are
        # kept only when jieba cuts them as a word of their own (see _scan).
        # Tool, programme and rating phrases share the index: one pass finds everything.
        table: dict[str, _Phrase] = {w: _Phrase(entry=e) for w, e in lexicon.entries.items()}
        for alias, tool in lexicon.tools.items():
            table.setdefault(alias, _Phrase()).tool = tool
        for alias, program in lexicon.programs.items():
            table.setdefault(alias, _Phrase()).program = program
        for phrase, value in lexicon.ratings.items():
            table.setdefault(phrase, _Phrase()).rating = value
        self._index: PhraseIndex[_Phrase] = PhraseIndex(table)
        self._neg_cues = frozenset(lexicon.negation_cues)
        self._neg_lengths = sorted({len(c) for c in lexicon.negation_cues}, reverse=True)
        self._neg_questions = frozenset(lexicon.negation_questions)
        self._q_lengths = sorted({len(q) for q in lexicon.negation_questions}, reverse=True)
        self._fillers = lexicon.negation_fillers
        self._max_gap = lexicon.negation_max_gap
        self._combos = [
            (c, [re.compile("|".join(re.escape(cue) for cue in sorted(g, key=len, reverse=True)))
                 for g in c.groups])
            for c in lexicon.combos
        ]

    @classmethod
    def load(cls, lexicon_path: Path | None = None,
             userdict_path: Path | None = None,
             emergency_path: Path | None = None,
             ticket_prefix: str = DEFAULT_TICKET_PREFIX) -> Classifier:
        """Read lexicon and user dictionary and build a ready classifier.

        Defaults: ``intents/lexicon.toml``, ``intents/userdict.txt`` and
        ``intents/emergency.toml``. Call once per process (jieba's dictionary takes ~0.1–0.7 s);
        call again to pick up edited files. Raises ``LexiconError`` (file and line) on an
        invalid lexicon, user dictionary or emergency file.
        """
        started = time.perf_counter()
        lexicon = load_lexicon(lexicon_path or DEFAULT_LEXICON)
        segmenter = Segmenter(userdict_path or DEFAULT_USERDICT)
        classifier = cls(lexicon, segmenter, emergency=load_detector(emergency_path),
                         ticket_prefix=ticket_prefix)
        classifier.load_time_s = time.perf_counter() - started
        return classifier

    def with_lexicon(self, lexicon: Lexicon) -> Classifier:
        """A classifier reading ``lexicon`` with this one's segmenter (jieba is not loaded
        again), emergency detector, ``max_chars`` and ticket prefix: a staff-edited lexicon
        (``services.config_docs``) in milliseconds rather than seconds."""
        started = time.perf_counter()
        other = type(self)(lexicon, self.segmenter, self.max_chars, self.emergency,
                           self.ticket_numbers.prefix)
        other.load_time_s = time.perf_counter() - started
        return other

    # ------------------------------------------------------------------ scoring
    def _negated(self, text: str, start: int) -> bool:
        i = start
        gap = 0
        while i > 0 and gap < self._max_gap and text[i - 1] in self._fillers:
            i -= 1
            gap += 1
        for length in self._q_lengths:
            if i >= length and text[i - length:i] in self._neg_questions:
                return False
        # A-not-A questions: 能不能借, 修不修, 来不来 ask, they do not negate.
        if i >= 2 and text[i - 1] in "不没" and text[i - 2] == text[i]:
            return False
        for length in self._neg_lengths:  # noqa: SIM110 - a loop is faster than any()
            if i >= length and text[i - length:i] in self._neg_cues:
                return True
        return False

    def _scan(self, text: str) -> tuple[list[tuple[Entry, int]], dict[str, Any]]:
        """Keyword hits (entry, start), non-overlapping, longest keyword first at each spot,
        and the longest ``tool`` / ``program`` / ``rating`` phrase found (slot values)."""
        hits: list[tuple[Entry, int]] = []
        found: dict[str, Any] = {}
        lengths: dict[str, int] = {}
        for start, word, phrase in self._index.scan(text):
            entry = phrase.entry
            if entry is not None and entry.intent and (
                    len(word) > 1 or self.segmenter.is_word_at(text, start)):
                hits.append((entry, start))
            if phrase.tool is not None and len(word) > lengths.get("tool", 0):
                found["tool"], lengths["tool"] = phrase.tool, len(word)
            if phrase.program is not None and len(word) > lengths.get("program", 0):
                found["program"], lengths["program"] = phrase.program, len(word)
            if phrase.rating is not None and len(word) > lengths.get("rating", 0):
                found["rating"], lengths["rating"] = phrase.rating, len(word)
        return hits, found

    def classify(self, text: str, today: date | None = None) -> Understanding:
        """Understand one message. ``today`` lets relative days (明天, 周六) resolve to ``date``.

        Never raises on any ``str``; an empty or unintelligible message is ``other`` with
        low confidence. Only the first ``max_chars`` characters are read (before and after
        normalisation, which may lengthen text: NFKC turns ㍻ into 平成), so a message of
        any length is understood in bounded time.
        """
        norm = self._normalizer.normalize(text[:self.max_chars])[:self.max_chars]
        lex = self.lexicon
        scores: dict[str, float] = {}
        cat_scores: dict[tuple[str, str], float] = {}
        evidence: list[str] = []

        # Ticket numbers are opaque codes: match keywords on the text without them.
        ticket_no = self.ticket_numbers.find(norm)
        scan_text = self.ticket_numbers.blank(norm) if ticket_no else norm

        core = _strip_edges(scan_text)
        exact = self._exact(scan_text, core)
        if exact is not None:
            scores[exact] = lex.exact_weight
            evidence.append(f"={core}")

        seen: set[str] = set()
        hits, found = self._scan(scan_text)
        for entry, start in hits:
            if entry.keyword in seen:
                continue
            seen.add(entry.keyword)
            if self._negated(scan_text, start):
                evidence.append(f"!{entry.keyword}")
                continue
            evidence.append(entry.keyword)
            scores[entry.intent] = scores.get(entry.intent, 0.0) + entry.weight
            if entry.category is not None:
                key = (entry.intent, entry.category)
                cat_scores[key] = cat_scores.get(key, 0.0) + entry.weight

        suppressed: set[str] = set()
        for combo, patterns in self._combos:
            for pattern in patterns:
                if pattern.search(scan_text) is None:
                    break
            else:
                evidence.append(f"+{combo.intent}/{combo.category or ''}@{combo.line}")
                suppressed.update(combo.suppress)
                scores[combo.intent] = scores.get(combo.intent, 0.0) + combo.weight
                if combo.category is not None:
                    key = (combo.intent, combo.category)
                    cat_scores[key] = cat_scores.get(key, 0.0) + combo.weight

        if ticket_no and exact is None:
            scores["status_query"] = scores.get("status_query", 0.0) + 2.0

        m = _RATING_NUMBER.match(core) or _RATING_NUMBER_IN.search(core)
        rating = cn_to_int(m.group(1)) if m else found.get("rating")
        if exact is None and (_RATING_ALONE.match(core) or core in lex.ratings):
            scores["rating"] = scores.get("rating", 0.0) + lex.exact_weight
        elif _RATING_MARK.search(core):
            scores["rating"] = scores.get("rating", 0.0) + lex.rating_pattern_weight

        for intent in suppressed:
            if scores.pop(intent, None) is not None:
                evidence.append(f"-{intent}")
        for (intent, cat), winners in lex.yields.items():
            if cat is None:
                if intent in scores and any(scores.get(w, 0.0) >= lex.yield_min_score
                                            for w in winners):
                    del scores[intent]
                continue
            weight = cat_scores.get((intent, cat))
            if weight and any(scores.get(w, 0.0) >= lex.yield_min_score for w in winners):
                scores[intent] -= weight
                cat_scores[(intent, cat)] = 0.0
                if scores[intent] <= 1e-9:
                    del scores[intent]

        ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
        if not ranked or ranked[0][1] <= 0:
            intent, confidence, alternatives = "other", 0.3, ()
        else:
            intent, best = ranked[0]
            second = ranked[1][1] if len(ranked) > 1 else 0.0
            strength = 1.0 - math.exp(-best / _SCALE)
            margin = (best - second) / best
            confidence = round(strength * (0.5 + 0.5 * margin), 3)
            total = sum(s for _, s in ranked)
            alternatives = tuple((i, round(s / total, 3)) for i, s in ranked[1:4] if s > 0)

        category = None
        if intent in ("complaint", "repair"):
            cats = [(s, c) for (i, c), s in cat_scores.items() if i == intent and s > 0]
            if cats:
                category = max(cats)[1]
        if rating is not None and intent == "rating":
            found["rating"] = rating
        else:
            found.pop("rating", None)
        slots = self._slots(norm, intent, today, ticket_no, found)
        danger = self.emergency.detect(norm) if self.emergency is not None else None
        return Understanding(intent, category, confidence, slots, danger is not None,
                             alternatives, norm, tuple(evidence), danger)

    def _exact(self, text: str, core: str) -> str | None:
        """Intent of a whole-message form: 「好的」, 「好的好的」, 「算了算了」, 「嗯 对」, 「?」."""
        exact = self.lexicon.exact
        hit = exact.get(core) or exact.get(text.replace(" ", ""))
        if hit is not None or not core or len(core) > _MAX_EXACT_CHARS:
            return hit
        half = len(core) // 2
        if len(core) % 2 == 0 and core[:half] == core[half:]:
            return exact.get(core[:half])
        pieces = [p for p in _PIECES.split(core) if p]
        if len(pieces) > 1:
            found = {exact.get(_strip_edges(p)) for p in pieces}
            if len(found) == 1:
                return found.pop()
        return None

    def _slots(self, norm: str, intent: str, today: date | None, ticket_no: str | None,
               found: dict[str, Any]) -> dict[str, Any]:
        slots: dict[str, Any] = {}
        text = self.ticket_numbers.blank(norm) if ticket_no else norm
        if ticket_no:
            slots["ticket_no"] = ticket_no
        # Most slots need a number; skip their regexes when there is none (the common case).
        if _HAS_NUMBER.search(text) is not None:
            phone = extract_phone(text)
            if phone:
                slots["phone"] = phone
                text = _PHONE_DIGITS.sub(" ", text)
            slots.update(extract_address(text))
            quantity = extract_quantity(text)
            if quantity is not None and intent == "tool_lending":
                slots["quantity"] = quantity
            days = extract_days(text)
            if days is not None:
                slots["days"] = days
            slots.update(extract_child(text))
        else:
            name = extract_child_name(text)
            if name:
                slots["child_name"] = name
        slots.update(extract_when(text, today))
        slots.update(found)
        return slots

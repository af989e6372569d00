"""The emergency layer (三必到: danger first): is a message a live emergency, of which kinds,
and which numbers must the resident dial?

Data, not code: ``intents/emergency.toml`` (staff edit it; ``load_detector`` validates it and
raises ``LexiconError`` naming the file and line). Its header explains the rules; in short:

- a kind (medical, fire, gas, lift, electric, wire, crime, missing) has regular-expression
  ``triggers`` built from word classes (``{elder}~{0,8}{fall}``: an elderly person, then up to
  8 characters of the same clause, then a fall), the ``numbers`` to dial ("120", "gas",
  "property" …) and the ``ticket`` ("emergency/急救", "repair/电梯") to open;
- a trigger does not count when negated (没有着火), in a clause about the past, a report, a
  drill, knowledge or money (上次着火的事, 电梯困人演练, 着火那天的损失谁赔), after a
  hypothetical (如果着火怎么办), in a worry or habit (怕老人摔倒, 电梯经常困人), or when the
  message says it is over (火已经灭了, 孩子找到了).

``Detector.detect`` reads text normalised by ``intents.normalize.Normalizer`` (the
classifier passes its own normalised text; ``Understanding.emergency`` and ``.urgent`` come
from here, so there is one source of truth for danger). It imports nothing else of the
project but ``intents`` and ``storage.categories`` (each kind's ticket names a category).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Any

from intents.errors import LexiconError
from storage import categories as category_file

try:  # the regex parser, to find each trigger's literal anchors for a fast prefilter
    import re._parser as re_parser  # Python >= 3.11
except ImportError:  # pragma: no cover - Python 3.10
    import sre_parse as re_parser  # type: ignore[no-redef]

DEFAULT_EMERGENCY = Path(__file__).with_name("emergency.toml")
SYMBOLIC_NUMBERS = ("gas", "property")
"""Number tokens that are not dialled as written: the local gas line and the property company."""
TICKET_KINDS = ("repair", "complaint", "emergency")
CLAUSE_MARKS = " ,，、;；:：。.!！?？…\n"
"""Characters that end a clause (chat often uses a space as a comma); ``~`` in a trigger is
any character but these."""
SENTENCE_MARKS = "。!！?？;；\n"
"""Characters that end a sentence (a trigger never matches across one)."""
_BLANK = "_"
_CLASS_REF = re.compile(r"\{([a-z_]+)\}")
_TOP_KEYS = {"settings", "cues", "neutral", "classes", "kinds"}
_CUE_KEYS = {"negation", "negation_exempt", "reference", "past", "present", "hypothetical",
             "worry", "habitual", "not_cues", "over"}
_KIND_KEYS = {"numbers", "ticket", "triggers", "resolved"}
_NOT_CLAUSE = "[^" + re.escape(CLAUSE_MARKS + _BLANK) + "]"  # a blanked word breaks a span


@dataclass(frozen=True, slots=True)
class Emergency:
    """A live emergency found in one message.

    ``kind`` leads (first of ``kinds`` in the file's ``settings.order``); ``kinds`` are all
    the kinds found; ``numbers`` the tokens to dial for all of them, in order, without
    repeats ("120", "119", "gas", "96333", "property" …); ``ticket_kind`` / ``category``
    what the leading kind's urgent ticket is ("repair"/"电梯", "emergency"/"急救");
    ``evidence`` the matched pieces of text.
    """

    kind: str
    kinds: tuple[str, ...]
    numbers: tuple[str, ...]
    ticket_kind: str
    category: str
    evidence: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Kind:
    """One emergency kind of the file, compiled."""

    name: str
    numbers: tuple[str, ...]
    ticket_kind: str
    category: str
    triggers: tuple[re.Pattern[str], ...]
    resolved: tuple[str, ...]
    keys: tuple[frozenset[str] | None, ...] = ()
    """Prefilter, one entry per trigger: the trigger runs only when the text holds one of
    these one- or two-character keys, each taken from a literal that every match of the
    trigger contains (None: no prefilter, the trigger always runs)."""


@dataclass(frozen=True, slots=True)
class _Cues:
    negation: tuple[str, ...]
    negation_exempt: tuple[str, ...]
    reference: tuple[str, ...]
    past: tuple[str, ...]
    present: tuple[str, ...]
    hypothetical: tuple[str, ...]
    worry: tuple[str, ...]
    habitual: tuple[str, ...]
    not_cues: tuple[str, ...]
    over: tuple[str, ...]


def _words_re(words: tuple[str, ...]) -> re.Pattern[str]:
    """One pattern for ``words``, longest first (never matches when there are none)."""
    return re.compile("|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
                      or "(?!)")


def _blanks(m: re.Match[str]) -> str:
    return _BLANK * (m.end() - m.start())


def _blank(text: str, words: re.Pattern[str]) -> str:
    """``text`` with every match of ``words`` overwritten by blanks of the same length, so
    positions stay valid."""
    return words.sub(_blanks, text)


def _has(text: str, words: tuple[str, ...]) -> bool:
    return any(word in text for word in words)


class Detector:
    """Emergency detector over normalised text. Build with ``load_detector``.

    Thread-safe (no mutable state). ``kinds`` maps each kind name to its ``Kind``, in the
    file's order of precedence.
    """

    def __init__(self, kinds: tuple[Kind, ...], cues: _Cues, neutral: tuple[str, ...],
                 negation_gap: int) -> None:
        self.kinds = {k.name: k for k in kinds}
        self._cues = cues
        self._neutral = _words_re(neutral)
        self._not_cues = _words_re(cues.not_cues)
        self._exempt = _words_re(cues.negation_exempt)
        self._gap = negation_gap
        # Prefilter: a trigger runs only when the text holds one of its keys (an index from
        # key to triggers, intersected with the text's characters and pairs in C).
        self._index: dict[str, list[tuple[str, int]]] = {}
        self._always: dict[str, set[int]] = {}
        for kind in kinds:
            for i, keys in enumerate(kind.keys or (None,) * len(kind.triggers)):
                if keys is None:
                    self._always.setdefault(kind.name, set()).add(i)
                for key in keys or ():
                    self._index.setdefault(key, []).append((kind.name, i))

    def detect(self, text: str) -> Emergency | None:
        """The emergency in ``text`` (normalised: simplified, half-width, lower case), or None.

        Reads the whole text in time linear in its length times the number of triggers
        (bounded regexes, no nested repetition); never raises on any ``str``.
        """
        if not text:
            return None
        grams = set(text)
        grams.update(map(str.__add__, text, text[1:]))
        live = {name: set(ids) for name, ids in self._always.items()}
        for key in self._index.keys() & grams:
            for name, i in self._index[key]:
                live.setdefault(name, set()).add(i)
        if not live:
            return None
        masked = _blank(text, self._neutral)
        cues: str | None = None
        settled: str | None = None  # the text with 找不到/没回来 … blanked, for `resolved`
        found: list[Kind] = []
        evidence: list[str] = []
        for kind in self.kinds.values():
            if kind.name not in live:
                continue
            patterns = [kind.triggers[i] for i in sorted(live[kind.name])]
            if not any(p.search(masked) for p in patterns):
                continue
            if settled is None:
                settled = _blank(text, self._exempt)
                if _has(settled, self._cues.over):
                    return None
            if kind.resolved and _has(settled, kind.resolved):  # 找不到家了 is not 到家了
                continue
            if cues is None:
                cues = _blank(masked, self._not_cues)
            for sentence_start, sentence in _sentences(masked):
                hit = self._first_live(patterns, sentence,
                                       cues[sentence_start:sentence_start + len(sentence)])
                if hit is not None:
                    found.append(kind)
                    evidence.append(hit)
                    break
        if not found:
            return None
        numbers = tuple(dict.fromkeys(n for k in found for n in k.numbers))
        lead = found[0]
        return Emergency(lead.name, tuple(k.name for k in found), numbers, lead.ticket_kind,
                         lead.category, tuple(evidence))

    def _first_live(self, patterns: list[re.Pattern[str]], sentence: str, cue_text: str
                    ) -> str | None:
        """The first match of ``patterns`` in ``sentence`` that no cue takes back, or None."""
        for pattern in patterns:
            for m in pattern.finditer(sentence):
                if m.end() > m.start() and not self._blocked(cue_text, m.start(), m.end()):
                    return m.group(0)
        return None

    def _blocked(self, sentence: str, start: int, end: int) -> bool:
        """Whether the cues of ``sentence`` take back the match ``[start, end)``."""
        c = self._cues
        clause_start = max(sentence.rfind(ch, 0, start) for ch in CLAUSE_MARKS) + 1
        ends = [i for i in (sentence.find(ch, end) for ch in CLAUSE_MARKS) if i >= 0]
        clause = sentence[clause_start:min(ends) if ends else len(sentence)]
        # negation inside the match or right before it, in the same clause
        near = sentence[max(clause_start, start - self._gap):end]
        if _has(_blank(near, self._exempt), c.negation):
            return True
        if _has(clause, c.reference) or _has(clause, c.worry) or _has(clause, c.habitual):
            return True
        if _has(clause, c.past) and not _has(clause, c.present):
            return True
        return _has(sentence[:end], c.hypothetical)


_SENTENCE = re.compile("[^" + re.escape(SENTENCE_MARKS) + "]*[" + re.escape(SENTENCE_MARKS)
                       + "]+|[^" + re.escape(SENTENCE_MARKS) + "]+")


def _sentences(text: str) -> list[tuple[int, str]]:
    """(start, sentence) pieces of ``text`` split after ``SENTENCE_MARKS`` (kept at the end)."""
    return [(m.start(), m.group(0)) for m in _SENTENCE.finditer(text)]


# ------------------------------------------------------------------ prefilter
_MAX_STRINGS = 4000
_LIT, _IN, _SUB, _BRANCH = (re_parser.LITERAL, re_parser.IN, re_parser.SUBPATTERN,
                            re_parser.BRANCH)
_REPEATS = (re_parser.MAX_REPEAT, re_parser.MIN_REPEAT)


def _strings(items: list) -> set[str] | None:
    """Every string a parsed (sub)pattern can match, when finite and small; else None."""
    out = {""}
    for op, av in items:
        if op == _LIT:
            part = {chr(av)}
        elif op == _IN and all(o == _LIT for o, _ in av):
            part = {chr(v) for _, v in av}
        elif op == _SUB:
            part = _strings(list(av[-1]))
        elif op == _BRANCH:
            part = set()
            for branch in av[1]:
                sub = _strings(list(branch))
                if sub is None:
                    return None
                part |= sub
        elif op in _REPEATS and av[1] == 1:
            part = _strings(list(av[2]))
            if part is not None and av[0] == 0:
                part = part | {""}
        else:
            return None
        if part is None or len(out) * len(part) > _MAX_STRINGS:
            return None
        out = {a + b for a, b in product(out, part)}
    return out


_WEIGHT_BY_LENGTH = {1: 10.0, 2: 1.0, 3: 0.1}
_COMMON = frozenset("的了在是我有人不没一这那个你他她也都就还很好要去来到说会能可和把被给让对上下里中"
                    "大小多少家们什么怎吗呢啊吧" "楼道电梯孩子老区物业门天水灯直知")
"""The most frequent characters of everyday Chinese and of residents' messages (楼道, 电梯,
孩子 …): a key avoids them where it can."""


def _key(anchor: str) -> str:
    """The pair of adjacent characters of ``anchor`` with the fewest ``_COMMON`` ones (the
    first such pair), or the anchor itself when it has one character."""
    if len(anchor) < 3:
        return anchor
    pairs = [anchor[i:i + 2] for i in range(len(anchor) - 1)]
    return min(pairs, key=lambda pair: sum(ch in _COMMON for ch in pair))


def _cost(anchors: set[str]) -> float:
    """How often ``anchors`` would let everyday text through, roughly: a one-character
    anchor is met everywhere, a two-character one sometimes, longer ones rarely — unless
    their key is made of common characters."""
    return sum(_WEIGHT_BY_LENGTH.get(len(a), 0.02) + sum(ch in _COMMON for ch in _key(a))
               for a in anchors)


def _anchors(items: list) -> set[str] | None:
    """Non-empty strings one of which every match of the parsed pattern contains (the most
    selective mandatory piece, by ``_cost``), or None when none can be told."""
    whole = _strings(items)
    best: set[str] | None = whole if whole is not None and "" not in whole else None
    if len(items) == 1 and best is not None:
        return best
    for op, av in items:
        cand: set[str] | None
        if op == _BRANCH:
            cand = set()
            for branch in av[1]:
                sub = _anchors(list(branch))
                if sub is None:
                    cand = None
                    break
                cand |= sub
        elif op == _SUB:
            cand = _anchors(list(av[-1]))
        elif op in _REPEATS and av[0] >= 1:
            cand = _anchors(list(av[2]))
        else:
            cand = _strings([(op, av)])
            if cand is not None and "" in cand:
                cand = None
        if cand and (best is None or _cost(cand) < _cost(best)):
            best = cand
    for i in range(len(items) - 1):  # runs of finite pieces: (砸|撞)(到|伤) → 砸到, 撞伤 …
        run: set[str] | None = _strings([items[i]])
        for j in range(i + 1, len(items)):
            part = _strings([items[j]])
            if run is None or part is None or len(run) * len(part) > _MAX_STRINGS:
                break
            run = {a + b for a, b in product(run, part)}
            if "" not in run and (best is None or _cost(run) < _cost(best)):
                best = run
    return best


def _keys(pattern: str) -> frozenset[str] | None:
    """The prefilter keys of a trigger (see ``Kind.keys``), or None when none can be told."""
    try:
        anchors = _anchors(list(re_parser.parse(pattern)))
    except Exception:  # noqa: BLE001 - a parser detail we cannot use: no prefilter
        return None
    return frozenset(map(_key, anchors)) if anchors else None


# ------------------------------------------------------------------ loading and validation

class _Loader:
    """Reads and checks one emergency file; every error names the file and line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.source = path.read_text(encoding="utf-8")
            self.raw = tomllib.loads(self.source)
        except (OSError, UnicodeDecodeError) as exc:
            raise LexiconError(path, None, f"cannot read: {exc}") from exc
        except tomllib.TOMLDecodeError as exc:
            line = getattr(exc, "lineno", None)
            raise LexiconError(path, line, f"not valid TOML: {exc}") from exc
        self.lines = self.source.splitlines()

    def fail(self, needle: str, message: str) -> LexiconError:
        line = next((n for n, text in enumerate(self.lines, start=1) if needle in text), None)
        return LexiconError(self.path, line, message)

    def words(self, value: Any, where: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(w, str) and w for w in value):
            raise self.fail(where, f"{where} must be a list of non-empty strings")
        bad = [w for w in value if w != w.lower()]
        if bad:
            raise self.fail(bad[0], f"{where}: write {bad[0]!r} in lower case")
        return tuple(sorted(dict.fromkeys(value), key=len, reverse=True))

    def classes(self) -> dict[str, str]:
        """Class name → regex alternation (members may include other classes: {elder})."""
        raw = self.raw.get("classes", {})
        if not isinstance(raw, dict):
            raise self.fail("[classes]", "[classes] must be a table")
        members = {name: self.words(words, name) for name, words in raw.items()}
        done: dict[str, str] = {}

        def expand(name: str, stack: tuple[str, ...]) -> list[str]:
            if name not in members:
                raise self.fail("{" + name + "}", f"unknown word class {{{name}}}")
            if name in stack:
                raise self.fail(name, f"word class {{{name}}} includes itself")
            out: list[str] = []
            for word in members[name]:
                ref = _CLASS_REF.fullmatch(word)
                out += expand(ref.group(1), (*stack, name)) if ref else [word]
            return out

        for name in members:
            words = sorted(dict.fromkeys(expand(name, ())), key=len, reverse=True)
            done[name] = "(?:" + "|".join(re.escape(w) for w in words) + ")"
        return done

    def trigger(self, text: str, classes: dict[str, str], kind: str) -> str:
        if not isinstance(text, str) or not text:
            raise self.fail(f"[kinds.{kind}]", f"kind {kind}: a trigger must be a non-empty string")

        def sub(m: re.Match[str]) -> str:
            if m.group(1) not in classes:
                raise self.fail(text, f"kind {kind}: unknown word class {m.group(0)}")
            return classes[m.group(1)]

        pattern = _CLASS_REF.sub(sub, text.replace("~", _NOT_CLAUSE))
        try:
            re.compile(pattern)
        except re.error as exc:
            raise self.fail(text, f"kind {kind}: bad trigger {text!r}: {exc}") from exc
        if re.fullmatch(pattern, ""):
            raise self.fail(text, f"kind {kind}: trigger {text!r} matches empty text")
        return pattern

    def kind(self, name: str, raw: Any, classes: dict[str, str]) -> Kind:
        where = f"[kinds.{name}]"
        if not isinstance(raw, dict):
            raise self.fail(where, f"{where} must be a table")
        unknown = set(raw) - _KIND_KEYS
        if unknown:
            raise self.fail(sorted(unknown)[0], f"{where}: unknown key {sorted(unknown)[0]!r}")
        numbers = raw.get("numbers")
        if not isinstance(numbers, list) or not numbers:
            raise self.fail(where, f"{where}: numbers must be a non-empty list")
        for number in numbers:
            if not (isinstance(number, str) and (number in SYMBOLIC_NUMBERS
                                                 or re.fullmatch(r"\d{3,6}", number))):
                raise self.fail(where, f"{where}: number {number!r} is neither 3-6 digits nor "
                                       f"one of {', '.join(SYMBOLIC_NUMBERS)}")
        ticket = raw.get("ticket", "")
        ticket_kind, _, category = ticket.partition("/") if isinstance(ticket, str) else ("", "",
                                                                                        "")
        if ticket_kind not in TICKET_KINDS or not category:
            raise self.fail(where, f"{where}: ticket must be \"<{'|'.join(TICKET_KINDS)}>/"
                                   f"<category>\", not {ticket!r}")
        try:  # a category of storage/categories.toml, of that kind
            category_file.load().require(category, ticket_kind, f"{where}.ticket")
        except category_file.CategoryError as exc:
            raise self.fail(where, str(exc)) from None
        triggers = raw.get("triggers")
        if not isinstance(triggers, list) or not triggers:
            raise self.fail(where, f"{where}: triggers must be a non-empty list")
        patterns = [self.trigger(t, classes, name) for t in triggers]
        resolved = self.words(raw.get("resolved", []), f"{name}.resolved")
        return Kind(name, tuple(numbers), ticket_kind, category,
                    tuple(re.compile(p) for p in patterns), resolved,
                    tuple(_keys(p) for p in patterns))

    def build(self) -> Detector:
        unknown = set(self.raw) - _TOP_KEYS
        if unknown:
            raise self.fail(f"[{sorted(unknown)[0]}]", f"unknown section [{sorted(unknown)[0]}]")
        settings = self.raw.get("settings", {})
        gap = settings.get("negation_gap", 3)
        if not isinstance(gap, int) or not 0 <= gap <= 10:
            raise self.fail("negation_gap", "negation_gap must be an integer 0..10")
        raw_cues = self.raw.get("cues", {})
        unknown = set(raw_cues) - _CUE_KEYS
        if unknown:
            raise self.fail(sorted(unknown)[0], f"[cues]: unknown key {sorted(unknown)[0]!r}")
        cues = _Cues(**{key: self.words(raw_cues.get(key, []), key) for key in sorted(_CUE_KEYS)})
        neutral = self.words(self.raw.get("neutral", {}).get("words", []), "words")
        classes = self.classes()
        raw_kinds = self.raw.get("kinds")
        if not isinstance(raw_kinds, dict) or not raw_kinds:
            raise LexiconError(self.path, None, "no [kinds.<name>] tables")
        order = settings.get("order", list(raw_kinds))
        missing = [k for k in raw_kinds if k not in order]
        extra = [k for k in order if k not in raw_kinds]
        if missing or extra:
            raise self.fail("order", f"settings.order must list every kind once (missing: "
                                     f"{missing}, unknown: {extra})")
        kinds = tuple(self.kind(name, raw_kinds[name], classes) for name in order)
        return Detector(kinds, cues, neutral, gap)


def load_detector(path: Path | None = None) -> Detector:
    """Read and validate an emergency file (default ``intents/emergency.toml``).

    Raises ``LexiconError`` (``.path``, ``.line``) for an unreadable file, invalid TOML, an
    unknown section or key, a word that is not lower case, an unknown or self-including word
    class, a trigger that is not a valid regular expression or matches empty text, a number
    that is neither 3–6 digits nor a symbolic token, a ticket that is not "kind/category",
    or a ``settings.order`` that does not list every kind once.
    """
    return _Loader(path or DEFAULT_EMERGENCY).build()

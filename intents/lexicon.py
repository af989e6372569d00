"""The keyword lexicon: ``lexicon.toml`` parsed, validated and indexed for matching.

Staff edit ``intents/lexicon.toml``; ``load_lexicon`` turns it into a ``Lexicon``. Every
mistake a person can make while editing (an unknown intent, a weight that is not a number,
a keyword listed twice, a keyword in traditional characters that could never match, a
yield pointing at a category that does not exist …) raises ``LexiconError`` naming the
file and the line, so the bot refuses to start with a half-understood lexicon.

File layout (all sections but ``[intents]`` optional)::

    [settings]   threshold, exact_weight, tool_weight, yield_min_score (a
                 whole intent yields only to an intent scoring at least this much) …
    [negation]   cues = [...], fillers = "要想…", max_gap = 2, questions = ["有没有", …]
    [typos]      "楼到灯" = "楼道灯"            wrong form → right form
    [labels]     repair = "报修"                how the bot names an intent when it asks
    [exact]      confirm = ["是", "好的", …]    whole-message forms
    [intents.<intent>.keywords]                 "报修" = 3      keyword → weight
    [intents.<intent>.categories."<category>"]  "楼道灯" = 3
    [neutral]    words = ["门口", "今天", …]    words that only stop a keyword inside them
                                                from counting (门口 is no 门, 今天天气 no 天天)
    [[combos]]   intent, category?, weight, groups = [[…], […]], suppress?: weight added when
                 every group has a cue in the message ("@tools" stands for every tool alias);
                 the intents in ``suppress`` then lose all their evidence (物业 cutting the
                 water on purpose: the 停水 words describe the complaint, not a repair)
    (danger is not here: intents/emergency.toml and ``intents.emergency`` decide it)
    [yields]     "complaint/物业服务" = ["repair"]  evidence dropped when those intents score;
                 a bare intent ("thanks" = [...]) drops all of that intent's evidence
    [slots.tools]     "梯子" = ["梯子", "人字梯"]   canonical tool → aliases
    [slots.programs]  "四点半课堂" = ["四点半", …]  canonical programme → aliases
    [slots.ratings]   "很满意" = 5                  phrase → rating 1..5
    Tool aliases, programme aliases and rating phrases that are not keywords already
    become keywords of tool_lending / care_signup / rating (settings tool_weight,
    program_weight, rating_phrase_weight).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from intents.errors import LexiconError
from intents.normalize import Normalizer
from storage import categories as category_file

DEFAULT_LEXICON = Path(__file__).with_name("lexicon.toml")
INTENTS: tuple[str, ...] = tuple(
    tomllib.loads(DEFAULT_LEXICON.read_text(encoding="utf-8")).get("intents", {}))
"""The intents, in the order of the ``[intents.<name>]`` tables of the default lexicon: a new
intent is one table there plus one handler module (``handlers.load_all`` finds it)."""
CATEGORY_INTENTS = ("complaint", "repair")
DEFAULT_USERDICT = Path(__file__).with_name("userdict.txt")

_TOP_KEYS = {
    "settings", "negation", "typos", "labels", "exact", "intents", "yields", "slots",
    "neutral", "combos",
}
_SETTINGS_KEYS = {"threshold", "exact_weight", "tool_weight",
                  "program_weight", "rating_phrase_weight", "rating_pattern_weight",
                  "yield_min_score"}
_COMBO_KEYS = {"intent", "category", "weight", "groups", "suppress"}
_MAX_WEIGHT = 20.0


@dataclass(frozen=True)
class Entry:
    """One keyword of the lexicon: what it is evidence for, and how strongly.

    ``category`` is None for intent-level keywords;
    ``line`` is the line of ``lexicon.toml`` it came from (for explanations).
    """

    keyword: str
    intent: str
    category: str | None
    weight: float
    line: int = 0


@dataclass(frozen=True)
class Combo:
    """Weight for ``intent`` (and ``category``) when every group has a cue in the message.

    ``groups`` are tuples of substrings; the tool aliases replace ``"@tools"``. When the
    combo fires, every intent in ``suppress`` loses its evidence.
    """

    intent: str
    category: str | None
    weight: float
    groups: tuple[tuple[str, ...], ...]
    line: int = 0
    suppress: tuple[str, ...] = ()


@dataclass
class Lexicon:
    """A validated lexicon, indexed for the classifier. Build with ``load_lexicon``."""

    path: Path
    threshold: float
    exact_weight: float
    entries: dict[str, Entry]
    exact: dict[str, str]
    negation_cues: tuple[str, ...]
    negation_fillers: frozenset[str]
    negation_max_gap: int
    negation_questions: tuple[str, ...]
    typos: dict[str, str]
    labels: dict[str, str]
    yields: dict[tuple[str, str | None], tuple[str, ...]]
    """(intent, category) → winners; category None: the whole intent yields."""
    tools: dict[str, str]
    programs: dict[str, str]
    ratings: dict[str, int]
    categories: dict[str, tuple[str, ...]] = field(default_factory=dict)
    yield_min_score: float = 2.5
    combos: tuple[Combo, ...] = ()
    rating_pattern_weight: float = 4.0


class _Lines:
    """Finds the line of a table header, a key or a quoted string in the raw TOML text."""

    _HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(?:#.*)?$")

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        # (table path tuple) -> (first line index of body, end index exclusive)
        self.tables: dict[tuple[str, ...], tuple[int, int]] = {}
        current: tuple[str, ...] = ()
        start = 0
        for i, raw in enumerate(self.lines):
            m = self._HEADER.match(raw)
            if m:
                self.tables.setdefault(current, (start, i))
                current = _split_dotted(m.group(1))
                start = i + 1
        self.tables.setdefault(current, (start, len(self.lines)))

    def of(self, table: tuple[str, ...], needle: str | None = None) -> int | None:
        """1-based line of ``needle`` (a key or a quoted string) inside ``table``.

        Returns the header's line when ``needle`` is None or not found; None when the table
        itself is not in the file (e.g. an inline table).
        """
        if needle is not None:
            # A sub-table named by the needle: [intents.<needle>.keywords] for ("intents",).
            prefix = (*table, needle)
            for path, (start, _) in self.tables.items():
                if path[:len(prefix)] == prefix:
                    return start
        span = self.tables.get(table)
        if span is None:
            return None
        start, end = span
        if needle is not None:
            quoted = f'"{needle}"'
            bare = re.compile(rf"^\s*{re.escape(needle)}\s*=")
            for i in range(start, end):
                line = self.lines[i]
                if quoted in line or f"'{needle}'" in line or bare.match(line):
                    return i + 1
        return start if start > 0 else 1


def _split_dotted(header: str) -> tuple[str, ...]:
    parts: list[str] = []
    for m in re.finditer(r'"([^"]*)"|\'([^\']*)\'|([^.\s]+)', header):
        parts.append(next(g for g in m.groups() if g is not None))
    return tuple(parts)


def load_lexicon(path: Path | None = None, text: str | None = None) -> Lexicon:
    """Read and validate a lexicon file (default: ``intents/lexicon.toml``).

    ``text``: validate this lexicon text instead of reading the file (a staff-edited lexicon,
    ``intents.overlay``); ``path`` then only names it in errors. Returns a ``Lexicon``.
    Raises ``LexiconError`` (file and line in the message) on a TOML syntax error or on any
    invalid entry; ``FileNotFoundError`` if ``path`` does not exist.
    """
    path = Path(path) if path is not None else DEFAULT_LEXICON
    if text is None:
        text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise LexiconError(path, int(m.group(1)) if m else None, f"TOML syntax: {exc}") from exc
    return _Builder(path, text, data).build()


class _Builder:
    """Validates the parsed TOML and builds the Lexicon; one instance per load."""

    def __init__(self, path: Path, text: str, data: dict[str, Any]) -> None:
        self.path = path
        self.data = data
        self.lines = _Lines(text)
        self.entries: dict[str, Entry] = {}
        self.plain: Normalizer  # built in build() once the typo map is known

    def fail(self, table: tuple[str, ...], needle: str | None, message: str) -> LexiconError:
        return LexiconError(self.path, self.lines.of(table, needle), message)

    def table(self, key: str) -> dict[str, Any]:
        value = self.data.get(key, {})
        if not isinstance(value, dict):
            raise self.fail((), key, f"[{key}] must be a table")
        return value

    def build(self) -> Lexicon:
        for key in self.data:
            if key not in _TOP_KEYS:
                raise self.fail((), key, f"unknown section {key!r}; expected one of "
                                f"{', '.join(sorted(_TOP_KEYS))}")
        settings = self.table("settings")
        for key, value in settings.items():
            if key not in _SETTINGS_KEYS:
                raise self.fail(("settings",), key, f"unknown setting {key!r}")
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise self.fail(("settings",), key, f"setting {key!r} must be a number")
        threshold = float(settings.get("threshold", 0.5))
        if not 0.0 < threshold < 1.0:
            raise self.fail(("settings",), "threshold", "threshold must be between 0 and 1")
        exact_weight = float(settings.get("exact_weight", 10.0))
        tool_weight = float(settings.get("tool_weight", 2.0))

        typos = self.string_map("typos")
        self.plain = Normalizer(typos)
        labels = self.string_map("labels")
        for intent in labels:
            self.check_intent(intent, ("labels",), intent)

        categories: dict[str, list[str]] = {}
        intents = self.table("intents")
        for intent, body in intents.items():
            self.check_intent(intent, ("intents",), intent)
            if not isinstance(body, dict):
                raise self.fail(("intents",), intent, f"intents.{intent} must be a table")
            for key, value in body.items():
                where = ("intents", intent, key)
                if key == "keywords":
                    self.add_weights(value, where, intent, None)
                elif key == "categories":
                    if intent not in CATEGORY_INTENTS:
                        raise self.fail(("intents", intent), None,
                                        f"only {CATEGORY_INTENTS} have categories")
                    for cat, words in value.items():
                        try:  # every category is one of storage/categories.toml, same kind
                            category_file.load().require(cat, intent, "lexicon")
                        except category_file.CategoryError as exc:
                            raise self.fail(("intents", intent, "categories", cat), None,
                                            str(exc)) from None
                        categories.setdefault(intent, []).append(cat)
                        self.add_weights(words, ("intents", intent, "categories", cat),
                                         intent, cat)
                else:
                    raise self.fail(("intents", intent), key,
                                    f"unknown key {key!r} (expected keywords or categories)")

        known = {(i, c) for i, cats in categories.items() for c in cats}
        yields: dict[tuple[str, str | None], tuple[str, ...]] = {}
        for src, winners in self.table("yields").items():
            if "/" in src:
                intent, cat = self.check_target(src, ("yields",), src, known)
            else:
                self.check_intent(src, ("yields",), src)
                intent, cat = src, None
            if not isinstance(winners, list) or not winners:
                raise self.fail(("yields",), src, "yields value must be a non-empty list")
            for w in winners:
                self.check_intent(w, ("yields",), src)
            yields[(intent, cat)] = tuple(winners)

        exact: dict[str, str] = {}
        for intent, forms in self.table("exact").items():
            self.check_intent(intent, ("exact",), intent)
            if not isinstance(forms, list):
                raise self.fail(("exact",), intent, "exact forms must be a list of strings")
            for form in forms:
                if not isinstance(form, str) or not form.strip():
                    raise self.fail(("exact",), intent, "exact forms must be non-empty strings")
                self.check_normal(form, ("exact",))
                if form in exact:
                    raise self.fail(("exact",), form,
                                    f"{form!r} listed for both {exact[form]} and {intent}")
                exact[form] = intent

        negation = self.table("negation")
        cues = negation.get("cues", [])
        if not isinstance(cues, list) or not all(isinstance(c, str) and c for c in cues):
            raise self.fail(("negation",), "cues", "negation cues must be a list of strings")
        fillers = negation.get("fillers", "")
        max_gap = negation.get("max_gap", 2)
        if not isinstance(fillers, str):
            raise self.fail(("negation",), "fillers", "fillers must be a string of characters")
        questions = negation.get("questions", [])
        if not isinstance(questions, list) or not all(isinstance(q, str) and q
                                                      for q in questions):
            raise self.fail(("negation",), "questions", "questions must be a list of strings")
        if not isinstance(max_gap, int) or not 0 <= max_gap <= 5:
            raise self.fail(("negation",), "max_gap", "max_gap must be an integer 0..5")

        slots = self.table("slots")
        tools = self.alias_map(slots, "tools")
        programs = self.alias_map(slots, "programs")
        for alias, tool in tools.items():
            if alias not in self.entries:
                self.add_entry(alias, Entry(alias, "tool_lending", None, tool_weight),
                               ("slots", "tools"), needle=tool)
        neutral = self.table("neutral").get("words", [])
        if not isinstance(neutral, list):
            raise self.fail(("neutral",), "words", "neutral words must be a list of strings")
        for word in neutral:
            if not isinstance(word, str) or not word:
                raise self.fail(("neutral",), "words", "neutral words must be non-empty strings")
            self.add_entry(word, Entry(word, "", None, 0.0), ("neutral",))

        combos = self.combos(known, tools)
        for alias, program in programs.items():
            if alias not in self.entries:
                weight = float(settings.get("program_weight", 4.0))
                self.add_entry(alias, Entry(alias, "care_signup", None, weight),
                               ("slots", "programs"), needle=program)
        ratings: dict[str, int] = {}
        for phrase, value in slots.get("ratings", {}).items():
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 5:
                raise self.fail(("slots", "ratings"), phrase, "rating must be an integer 1..5")
            self.check_normal(phrase, ("slots", "ratings"))
            ratings[phrase] = value
            if phrase not in self.entries:
                weight = float(settings.get("rating_phrase_weight", 3.0))
                self.add_entry(phrase, Entry(phrase, "rating", None, weight),
                               ("slots", "ratings"))

        return Lexicon(
            path=self.path,
            threshold=threshold,
            exact_weight=exact_weight,
            entries=self.entries,
            exact=exact,
            negation_cues=tuple(sorted(cues, key=len, reverse=True)),
            negation_fillers=frozenset(fillers),
            negation_max_gap=max_gap,
            negation_questions=tuple(questions),
            typos=typos,
            labels=labels,
            yields=yields,
            tools=tools,
            programs=programs,
            ratings=ratings,
            categories={i: tuple(c) for i, c in categories.items()},
            combos=combos,
            rating_pattern_weight=float(settings.get("rating_pattern_weight", 4.0)),
            yield_min_score=float(settings.get("yield_min_score", 2.5)),
        )

    def combos(self, known: set[tuple[str, str]], tools: dict[str, str]) -> tuple[Combo, ...]:
        raw = self.data.get("combos", [])
        if not isinstance(raw, list):
            raise self.fail((), "combos", "combos must be an array of tables: [[combos]]")
        header_lines = [i + 1 for i, line in enumerate(self.lines.lines)
                        if line.strip().startswith("[[combos]]")]
        out: list[Combo] = []
        for n, combo in enumerate(raw):
            line = header_lines[n] if n < len(header_lines) else None

            def bad(message: str, line: int | None = line) -> LexiconError:
                return LexiconError(self.path, line, f"[[combos]]: {message}")

            if not isinstance(combo, dict):
                raise bad("each combo must be a table")
            unknown = set(combo) - _COMBO_KEYS
            if unknown:
                raise bad(f"unknown key(s) {sorted(unknown)}; expected {sorted(_COMBO_KEYS)}")
            intent = combo.get("intent")
            if intent not in INTENTS:
                raise bad(f"unknown intent {intent!r}")
            category = combo.get("category")
            if category is not None and (intent, category) not in known:
                raise bad(f"no category {category!r} under intent {intent!r}")
            weight = combo.get("weight")
            if isinstance(weight, bool) or not isinstance(weight, int | float) \
                    or not 0 < weight <= _MAX_WEIGHT:
                raise bad(f"weight must be a number in (0, {_MAX_WEIGHT}]")
            groups = combo.get("groups")
            if not isinstance(groups, list) or len(groups) < 1:
                raise bad("groups must be a list of lists of cue strings")
            built: list[tuple[str, ...]] = []
            for group in groups:
                if not isinstance(group, list) or not group or \
                        not all(isinstance(c, str) and c for c in group):
                    raise bad("every group must be a non-empty list of strings")
                cues: list[str] = []
                for cue in group:
                    if cue == "@tools":
                        cues.extend(tools)
                    else:
                        self.check_normal(cue, ())
                        cues.append(cue)
                built.append(tuple(cues))
            suppress = combo.get("suppress", [])
            if not isinstance(suppress, list) or not all(s in INTENTS for s in suppress):
                raise bad(f"suppress must be a list of intents, got {suppress!r}")
            if intent in suppress:
                raise bad(f"a combo cannot suppress its own intent {intent!r}")
            out.append(Combo(intent, category, float(weight), tuple(built), line or 0,
                             tuple(suppress)))
        return tuple(out)

    def check_intent(self, intent: str, table: tuple[str, ...], needle: str) -> None:
        if intent not in INTENTS:
            raise self.fail(table, needle,
                            f"unknown intent {intent!r}; expected one of {', '.join(INTENTS)}")

    def check_target(self, target: Any, table: tuple[str, ...], needle: str,
                     known: set[tuple[str, str]]) -> tuple[str, str]:
        if not isinstance(target, str) or target.count("/") != 1:
            raise self.fail(table, needle, f"{target!r} must read 'intent/category'")
        intent, cat = target.split("/")
        if (intent, cat) not in known:
            raise self.fail(table, needle, f"no category {cat!r} under intent {intent!r}")
        return intent, cat

    def check_normal(self, word: str, table: tuple[str, ...]) -> None:
        normal = self.plain.normalize(word)
        if normal != word:
            raise self.fail(table, word, f"{word!r} can never match: messages are normalised "
                            f"to {normal!r} first (simplified, lower-case, typos fixed)")

    def string_map(self, key: str) -> dict[str, str]:
        table = self.table(key)
        for k, v in table.items():
            if not isinstance(v, str) or not v:
                raise self.fail((key,), k, f"[{key}] values must be non-empty strings")
        return dict(table)

    def alias_map(self, slots: dict[str, Any], key: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for canonical, aliases in slots.get(key, {}).items():
            if not isinstance(aliases, list) or not all(isinstance(a, str) and a
                                                        for a in aliases):
                raise self.fail(("slots", key), canonical, "aliases must be a list of strings")
            for alias in [canonical, *aliases]:
                self.check_normal(alias, ("slots", key))
                if out.get(alias, canonical) != canonical:
                    raise self.fail(("slots", key), alias,
                                    f"alias {alias!r} names both {out[alias]} and {canonical}")
                out[alias] = canonical
        return out

    def add_weights(self, words: Any, table: tuple[str, ...], intent: str,
                    category: str | None) -> None:
        if not isinstance(words, dict):
            raise self.fail(table, None, "expected a table of \"keyword\" = weight lines")
        for word, weight in words.items():
            if isinstance(weight, bool) or not isinstance(weight, int | float):
                raise self.fail(table, word, f"weight of {word!r} must be a number")
            if not 0 < weight <= _MAX_WEIGHT:
                raise self.fail(table, word, f"weight of {word!r} must be in (0, {_MAX_WEIGHT}]")
            self.add_entry(word, Entry(word, intent, category, float(weight)), table)

    def add_entry(self, word: str, entry: Entry, table: tuple[str, ...],
                  needle: str | None = None) -> None:
        line = self.lines.of(table, needle or word) or 0
        if not word.strip():
            raise self.fail(table, word, "empty keyword")
        self.check_normal(word, table)
        if word in self.entries:
            first = self.entries[word]
            raise LexiconError(self.path, line, f"keyword {word!r} already listed on line "
                               f"{first.line} (for {first.intent}"
                               f"{'/' + first.category if first.category else ''})")
        self.entries[word] = Entry(entry.keyword, entry.intent, entry.category, entry.weight,
                                   line)

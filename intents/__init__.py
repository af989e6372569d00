"""Understanding resident messages: text → (intent, category, confidence, slots).

jieba segmentation with a domain user dictionary, a keyword lexicon kept as data
(``lexicon.toml``) and rule-based slot extraction. Entry point: ``Classifier.classify``.

Modules, in the order a message flows through them::

    normalize.py   full-width → ASCII, traditional → simplified, emoji/stickers out, typos fixed
    lexicon.py     lexicon.toml → validated ``Lexicon`` (LexiconError names file and line)
    segment.py     private jieba.Tokenizer + userdict.txt (never the global jieba.dt)
    phrases.py     first-character index for fast longest-match phrase scanning
    classify.py    scoring → ``Understanding`` (intent, category, confidence, slots, urgent)
    emergency.py   emergency.toml → ``Detector``: live emergencies, their kinds and numbers
    slots.py       building/unit/room, phone, time/date, quantity, days, child, rating, ticket
    evaluate.py    precision/recall/F1, confusion, mistakes, speed on a labelled TSV

Exceptions::

    IntentsError            (errors.py) bad evaluation file
     └── LexiconError       invalid lexicon.toml / userdict.txt; .path, .line

Decisions (see ``lexicon.toml`` for the data they act on):

- Scores are sums of keyword weights; a keyword right after a negation cue does not count
  (不是投诉), except in A-not-A questions (能不能借, 有没有轮椅).
- One-character keywords (修, 堵, 借, 狗 …) count only where jieba cuts them as a word;
  longer keywords match anywhere, the longest at each position first. ``[neutral]`` words
  stop a keyword inside them (单元门口 is no broken 单元门).
- ``[[combos]]`` add weight when cues co-occur (报的 … 了吗 → status_query; 借 + a tool); a
  combo may ``suppress`` intents whose words it explains: 物业/开发商/房东 cutting water or
  power on purpose (故意, 以欠费为由) is a complaint about 物业服务, not a repair; an earlier
  report plus time passing (报修三天了还没人来) is 催办 (``urge``), not a new report.
- ``[yields]``: a complaint about the 物业 inside a repair request is the repair; politeness
  (您好, 打扰了, 谢谢, 辛苦了 → ``greeting`` / ``thanks``) yields to any intent with clear
  evidence (``yield_min_score``), so it decides only messages that are nothing else; the
  进度 or delay of an administrative matter (房产证, 社保, 补贴) is ``referral``.
- Danger is decided by the emergency layer (``emergency.py`` + ``emergency.toml``: kinds,
  triggers from word classes, negation/past/hypothetical cues, numbers to dial), which sets
  ``Understanding.emergency`` and ``urgent`` (「着火了都跑不出去」 about a cluttered hallway
  and 「上次着火的事」 are not emergencies). Danger words still score their repair category.
- Confidence = strength × (½ + ½ × margin): strength = 1 − e^(−best/3) grows with the
  evidence, margin = (best − second) / best falls when two intents compete; below the
  lexicon's threshold the bot asks, offering ``alternatives``.
- Whole-message forms (是, 好的, 不用了, 5, 满意) come from ``[exact]`` and the rating
  table; bare digits are ratings — the clarifying dialogue reads 「回复1或2」 itself.
- Labelled data: ``data/dev.tsv`` (tuned on), ``data/test.tsv`` (short chat, held out) and
  ``data/heldout.tsv`` (long real-style messages, written before tuning, never tuned on);
  ``gridbot intents eval FILE`` reports each.
"""

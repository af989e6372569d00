"""``gridbot intents …``: classify one message, or evaluate the classifier on a labelled file.

Wired into ``bot/cli.py`` as a sub-app (``app.add_typer(cli_intents.app, name="intents")``).
Metric computation lives in ``intents/evaluate.py``; this module only formats.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:  # imported where used: jieba loads only for the commands that need it
    from intents.classify import Classifier
    from intents.evaluate import Report

app = typer.Typer(help="消息理解：看机器人怎样理解一条消息，或用标注文件评估准确率。",
                  no_args_is_help=True)

LexiconOpt = Annotated[Path | None, typer.Option("--lexicon", help="使用这个 lexicon.toml 关键词表。")]
UserdictOpt = Annotated[Path | None, typer.Option("--userdict", help="使用这个 jieba 用户词典。")]


def _load(lexicon: Path | None, userdict: Path | None) -> Classifier:
    from intents.classify import Classifier
    from intents.errors import IntentsError

    try:
        return Classifier.load(lexicon, userdict)
    except IntentsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


@app.command(help="显示机器人对一条消息的理解：意图、类别、置信度、提取的信息（楼号、电话等）和是否紧急。")
def classify(
    text: Annotated[str, typer.Argument(help="消息原文（居民怎么写就怎么输入）。")],
    today: Annotated[str | None, typer.Option(help="“明天、周六”等以哪天为准，YYYY-MM-DD。")]
    = None,
    as_json: Annotated[bool, typer.Option("--json", help="输出一个 JSON 对象。")] = False,
    lexicon: LexiconOpt = None,
    userdict: UserdictOpt = None,
) -> None:
    """Print intent, category, confidence, slots and urgency of TEXT."""
    clf = _load(lexicon, userdict)
    u = clf.classify(text, today=date.fromisoformat(today) if today else None)
    if as_json:
        typer.echo(json.dumps({
            "intent": u.intent, "category": u.category, "confidence": u.confidence,
            "slots": u.slots, "urgent": u.urgent, "alternatives": u.alternatives,
            "clarify": u.confidence < clf.threshold, "evidence": u.evidence,
        }, ensure_ascii=False))
        return
    typer.echo(f"intent:       {u.intent}")
    typer.echo(f"category:     {u.category or '-'}")
    typer.echo(f"confidence:   {u.confidence:.3f}"
               + ("  (below threshold: would ask)" if u.confidence < clf.threshold else ""))
    typer.echo(f"slots:        {json.dumps(u.slots, ensure_ascii=False)}")
    typer.echo(f"urgent:       {'YES' if u.urgent else 'no'}")
    if u.alternatives:
        alts = ", ".join(f"{i} {s:.2f}" for i, s in u.alternatives)
        typer.echo(f"alternatives: {alts}")
    typer.echo(f"evidence:     {' '.join(u.evidence) or '-'}")


@app.command("eval", help="用标注文件评估：各意图的精确率、召回率、F1，宏平均 F1，准确率，混淆矩阵，"
                           "错得最多的例子和每秒处理条数。")
def eval_(
    file: Annotated[Path, typer.Argument(help="TSV 文件，每行：消息、制表符、意图（可再加制表符和类别）。",
                                         exists=True, dir_okay=False, readable=True)],
    as_json: Annotated[bool, typer.Option("--json", help="输出一个 JSON 对象。")] = False,
    mistakes: Annotated[int, typer.Option(help="显示几个错得最多的例子。")] = 15,
    lexicon: LexiconOpt = None,
    userdict: UserdictOpt = None,
) -> None:
    """Per-intent precision/recall/F1, macro-F1, accuracy, confusion matrix, worst mistakes
    and messages/s of the classifier on FILE."""
    from intents.errors import IntentsError
    from intents.evaluate import evaluate, read_examples

    clf = _load(lexicon, userdict)
    try:
        examples = read_examples(file)
    except IntentsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    report = evaluate(clf, examples)
    if as_json:
        typer.echo(json.dumps(report.to_dict(mistakes), ensure_ascii=False))
        return
    typer.echo(format_report(report, mistakes))


def format_report(report: Report, mistakes: int = 15) -> str:
    """Human-readable report: per-intent table, totals, confusion matrix, worst mistakes."""
    lines = [f"{'intent':<14}{'prec':>7}{'recall':>8}{'f1':>7}{'n':>6}"]
    for intent, m in report.per_intent.items():
        lines.append(f"{intent:<14}{m['precision']:>7.3f}{m['recall']:>8.3f}{m['f1']:>7.3f}"
                     f"{int(m['support']):>6}")
    worst, worst_f1 = report.worst_intent()
    lines += [
        "",
        f"messages:      {report.n}",
        f"accuracy:      {report.accuracy:.4f}",
        f"macro-F1:      {report.macro_f1:.4f}",
        f"worst intent:  {worst} (F1 {worst_f1:.3f})",
    ]
    if report.category_accuracy is not None:
        lines.append(f"category acc.: {report.category_accuracy:.4f}")
    lines.append(f"messages/s:    {report.messages_per_second:,.0f}")
    short = [label[:5] for label in report.labels]
    lines += ["", "confusion (rows: expected, columns: predicted)",
              " " * 14 + "".join(f"{s:>6}" for s in short)]
    for gold in report.labels:
        row = report.confusion[gold]
        lines.append(f"{gold:<14}" + "".join(
            f"{(row[p] if row[p] else '.'):>6}" for p in report.labels))
    if report.mistakes:
        lines += ["", f"worst mistakes (most confident first, {len(report.mistakes)} in all)"]
        for m in report.mistakes[:mistakes]:
            lines.append(f"  line {m.line:>4}  {m.expected} → {m.predicted} "
                         f"({m.confidence:.2f})  {m.text}")
    return "\n".join(lines)


if __name__ == "__main__":
    app()

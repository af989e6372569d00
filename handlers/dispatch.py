"""Routes one message to its handler: events, worker commands, an open dialogue, or the
intent the classifier finds (asking a short clarifying question when it is unsure)."""

from __future__ import annotations

from dataclasses import replace

from wechatpy.messages import BaseMessage

from handlers import HANDLERS, events, media, worker
from handlers import cancel as _cancel  # noqa: F401  (registers handlers)
from handlers import care_signup as _care  # noqa: F401
from handlers import chitchat as _chitchat  # noqa: F401
from handlers import lend_tool as _lend  # noqa: F401
from handlers import progress as _progress  # noqa: F401
from handlers import rating as _rating  # noqa: F401
from handlers import report
from handlers.messages import msg
from handlers.turn import Turn
from intents.slots import extract_address

CLARIFIABLE = ("repair", "complaint", "tool_lending", "care_signup", "status_query")
"""Intents offered as choices when the classifier is unsure."""


def handle_message(turn: Turn, message: BaseMessage) -> str:
    """The reply text for ``message`` ("" for nothing). Fills ``turn.text``."""
    kind = message.type
    if kind == "event":
        return events.handle(turn, message)
    if kind == "image":
        return media.image(turn, message)
    if kind == "location":
        return media.location(turn, message)
    if kind == "voice":
        turn.text = (getattr(message, "recognition", None) or "").strip()
        if not turn.text:
            return msg("voice_unclear")
    elif kind == "text":
        turn.text = (message.content or "").strip()
    else:
        return msg("not_text")
    return handle_text(turn)


def handle_text(turn: Turn) -> str:
    """Route a text (or recognised voice) message."""
    if turn.worker is not None and (command := worker.parse(turn.text)):
        return worker.handle(turn, command)
    u = turn.classifier.classify(turn.text, today=turn.now.date())
    turn.understanding = u
    state = turn.state or {}
    if state.get("flow") == report.FLOW:
        if u.intent == "cancel" and "ticket_no" not in u.slots:
            turn.finish()
            return msg("dialogue_cancelled")
        new_topic = u.intent in CLARIFIABLE and (
            u.confidence >= turn.classifier.threshold) and "building" not in extract_address(
            turn.text)
        if not new_topic:
            return report.continue_report(turn)
        turn.finish()
    elif state.get("flow") == "clarify":
        choice = _choice(turn.text, len(state["choices"]))
        if choice is not None:
            turn.text = state["text"]
            original = turn.classifier.classify(turn.text, today=turn.now.date())
            turn.understanding = replace(original, intent=state["choices"][choice],
                                         confidence=1.0)
            turn.finish()
            return HANDLERS[turn.understanding.intent](turn)
        turn.finish()
    if turn.worker is not None and u.intent in ("help", "greeting", "other"):
        return msg("worker.help")
    if u.confidence < turn.classifier.threshold:
        choices = [i for i in (u.intent, *(a for a, _ in u.alternatives)) if i in CLARIFIABLE]
        choices = list(dict.fromkeys(choices))[:3]
        if len(choices) >= 2:
            turn.ask({**_keep_attachments(state), "flow": "clarify", "choices": choices,
                      "text": turn.text})
            options = "\n".join(msg("clarify_option", n=n, label=msg(f"intent.{c}"))
                                for n, c in enumerate(choices, start=1))
            return msg("clarify", options="\n" + options + "\n")
    return HANDLERS[u.intent](turn)


def _keep_attachments(state: dict) -> dict:
    return {k: state[k] for k in ("photos", "location") if k in state}


def _choice(text: str, count: int) -> int | None:
    text = text.strip().translate(str.maketrans("１２３", "123"))
    if text in {str(n) for n in range(1, count + 1)}:
        return int(text) - 1
    return None

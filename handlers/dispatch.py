"""Routes one message to its handler: events, staff commands, an open dialogue, or the
intent the classifier finds (asking a short clarifying question when it is unsure)."""

from __future__ import annotations

from dataclasses import replace

from wechatpy.messages import BaseMessage

from handlers import FLOWS, HANDLERS, community, continues, emergency, events, home, load_all, media, worker
from handlers.location import home_claim
from handlers.turn import Turn
from services.messages import msg

load_all()  # every handlers/ module: their decorators fill HANDLERS, FLOWS, WORKER_COMMANDS

CLARIFIABLE = ("repair", "complaint", "tool_lending", "care_signup", "status_query")
"""Intents offered as choices when the classifier is unsure."""

NOT_GUESSED = ("urge", "referral", "chitchat")
"""Intents whose answer would mislead when the classifier is unsure (a rating with a phone
number read as a referral): below the threshold the message is kept for staff instead."""


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
    # Understood up to max_text_chars; the whole text stays on the inbound row for staff.
    turn.text = turn.text[: turn.settings.max_text_chars]
    return handle_text(turn)


def handle_text(turn: Turn) -> str:
    """Route a text (or recognised voice) message."""
    if turn.worker is not None and (command := worker.parse(turn.text)):
        return worker.handle(turn, command)
    u = turn.classifier.classify(turn.text, today=turn.now.date())
    turn.understanding = u
    if u.emergency is not None and turn.resident is not None:  # 三必到: danger before all else
        return emergency.respond(turn, u.emergency)
    flow = (turn.state or {}).get("flow")
    if flow == community.FLOW:  # 「您住哪个小区？」 answered: the message that waited is handled
        if (reply := community.answer(turn)) is not None:
            return reply
        return handle_text(turn)
    if flow in FLOWS:
        if u.intent == "cancel" and "ticket_no" not in u.slots:
            turn.finish()
            return msg("dialogue_cancelled")
        reply = FLOWS[flow](turn)
        if reply is not None:
            return reply
        turn.state = turn.attachments()
        turn.finish()
    if turn.worker is not None and u.intent in ("help", "greeting", "other", "confirm", "deny"):
        return msg("worker.help")
    if (reply := community.gate(turn, home_claim=home_claim(turn.text) is not None)) is not None:
        return reply  # several communities and this one unknown: 「您住哪个小区？」 first
    if (reply := home.statement(turn)) is not None:  # 「我家住…」「地址改为…」: asks to confirm
        return reply
    if u.confidence < turn.classifier.threshold:
        choices = [i for i in (u.intent, *(a for a, _ in u.alternatives)) if i in CLARIFIABLE]
        choices = list(dict.fromkeys(choices))[:3]
        if len(choices) >= 2:
            turn.ask({**turn.attachments(), "flow": "clarify", "choices": choices,
                      "text": turn.text})
            options = "\n".join(msg("clarify_option", n=n, label=msg(f"intent.{c}"))
                                for n, c in enumerate(choices, start=1))
            return msg("clarify", options="\n" + options + "\n")
        if u.intent in CLARIFIABLE + NOT_GUESSED:
            # Unsure and nothing to choose between: do not guess, keep it for staff.
            return HANDLERS["other"](turn)
    return HANDLERS[u.intent](turn)


@continues("clarify")
def answer_clarify(turn: Turn) -> str | None:
    """「回复1或2」: run the chosen intent on the original message; None for anything else."""
    state = turn.state or {}
    choice = _choice(turn.text, len(state.get("choices", [])))
    if choice is None:
        return None
    turn.text = state["text"]
    original = turn.classifier.classify(turn.text, today=turn.now.date())
    turn.understanding = replace(original, intent=state["choices"][choice], confidence=1.0)
    turn.state = turn.attachments()
    turn.finish()
    return HANDLERS[turn.understanding.intent](turn)


def _choice(text: str, count: int) -> int | None:
    text = text.strip().translate(str.maketrans("１２３", "123"))
    if text in {str(n) for n in range(1, count + 1)}:
        return int(text) - 1
    return None

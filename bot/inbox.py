"""From a verified WeChat push to the passive reply, exactly once per delivery.

Steps: verify/decrypt/parse (bot.protocol) → claim the delivery (storage.dedup) → in one
database transaction keep the inbound message, run the handler, stage pushes in the outbox
→ write the dialogue state → remember the reply for WeChat's retries. Only here are
exceptions caught broadly: the failure is logged, the message is kept for staff and the
resident gets a polite reply.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select
from wechatpy.messages import BaseMessage

from bot.protocol import Protocol
from bot.settings import Settings
from handlers.dispatch import handle_message
from handlers.messages import msg
from handlers.turn import KEEP, Turn
from intents.classify import Classifier
from storage import org
from storage.db import session_scope
from storage.dedup import RetryGuard, dedup_key
from storage.dialogue import DialogueStore
from storage.models import InboundMessage
from storage.times import Clock, utcnow

log = logging.getLogger("gridbot.inbox")


@dataclass
class Answer:
    """The HTTP body to return and the outbox rows to nudge the relay for."""

    body: str
    outbox_ids: list[int] = field(default_factory=list)


class Inbox:
    """Processes WeChat pushes for one account; safe to share between threads."""

    def __init__(self, settings: Settings, engine: Engine, redis: Any, classifier: Classifier,
                 clock: Clock = utcnow) -> None:
        self.settings = settings
        self.engine = engine
        self.classifier = classifier
        self.clock = clock
        self.protocol = Protocol(settings)
        self.guard = RetryGuard(redis, settings.dedup_ttl_s, settings.retry_wait_s)
        self.dialogues = DialogueStore(redis, settings.dialogue_ttl_s)

    def process(self, params: dict[str, str], body: bytes) -> Answer:
        """Answer one POST. Raises bot.protocol.ProtocolError for a request to refuse."""
        now = self.clock()
        message = self.protocol.open(params, body, now=now.timestamp())
        key = dedup_key(message)
        if not self.guard.claim(key):
            log.info("retry of %s", key)
            return Answer(self.protocol.reply(self.guard.reply_of(key), message, params))
        try:
            reply, outbox_ids = self._handle(message, key)
        except BaseException:
            self.guard.release(key)
            raise
        self.guard.store(key, reply)
        return Answer(self.protocol.reply(reply, message, params), outbox_ids)

    def _handle(self, message: BaseMessage, key: str) -> tuple[str, list[int]]:
        openid = message.source
        now = self.clock()
        state = self.dialogues.get(openid)
        try:
            with session_scope(self.engine) as session:
                inbound = InboundMessage(dedup_key=key, openid=openid, msg_type=message.type,
                                         content=_content(message), received_at=now)
                session.add(inbound)
                session.flush()
                turn = Turn(session=session, settings=self.settings, classifier=self.classifier,
                            openid=openid, text="", now=now, inbound=inbound, state=state,
                            worker=org.worker_by_openid(session, openid),
                            resident=org.resident_for(session, openid, now))
                reply = handle_message(turn, message)
                u = turn.understanding
                inbound.reply = reply
                inbound.intent = u.intent if u else None
                inbound.confidence = u.confidence if u else None
                inbound.needs_staff = turn.needs_staff
                outbox_ids = list(session.info.get("outbox_ids", []))
        except IntegrityError:
            earlier = self._earlier_reply(key)
            if earlier is None:
                raise
            log.info("duplicate delivery %s answered from the database", key)
            return earlier, []
        except Exception as exc:
            log.exception("failed to handle %s from %s", key, openid)
            self._keep_failed(message, key, now, exc)
            return msg("error"), []
        if turn.next_state is not KEEP:
            if turn.next_state is None:
                self.dialogues.clear(openid)
            else:
                self.dialogues.set(openid, turn.next_state)
        return reply, outbox_ids

    def _earlier_reply(self, key: str) -> str | None:
        with Session(self.engine) as session:
            row = session.exec(select(InboundMessage).where(InboundMessage.dedup_key == key)).first()
            return None if row is None else (row.reply or "")

    def _keep_failed(self, message: BaseMessage, key: str, now: Any, exc: Exception) -> None:
        """Keep a message we failed on for staff; never raises."""
        try:
            with session_scope(self.engine) as session:
                session.add(InboundMessage(
                    dedup_key=key, openid=message.source, msg_type=message.type,
                    content=_content(message), received_at=now, needs_staff=True,
                    reply=msg("error"), error=f"{type(exc).__name__}: {exc}"[:2000]))
        except Exception:  # the database itself is failing; the log has the message
            log.exception("could not keep failed message %s", key)


def _content(message: BaseMessage) -> str | None:
    """The human content of a message: text, recognised voice, picture URL, place or event."""
    for attr in ("content", "recognition", "image", "label"):
        value = getattr(message, attr, None)
        if value:
            return str(value)
    if message.type == "location":
        return str(message.location)
    if message.type == "event":
        return f"{message.event}:{getattr(message, 'key', '') or ''}"
    return None

"""From a verified WeChat push to the passive reply, exactly once per delivery, losing none.

Steps, in order:

1. verify, decrypt, parse (``bot.protocol``);
2. one Redis round trip (``storage.gate``): in plaintext mode the (timestamp, nonce) of the
   signed URL is accepted for one delivery only (a replay → 403); the delivery is claimed
   (a retry gets the first reply, ``storage.dedup``); the per-OpenID rate limit. Redis
   unavailable → go on: the unique ``InboundMessage.dedup_key``/``nonce_key`` are the backstop;
3. in ONE database transaction: run the handler (dialogue state on the resident row), stage
   pushes in the outbox and keep the inbound message with its reply (over the rate limit:
   kept with a kind reply, not handled); the unique dedup key makes a concurrent second
   delivery roll back whole;
4. remember the reply for WeChat's retries — only a reply to a message that was kept.

When the database is unavailable the message goes to the spool (``storage.spool``: a Redis
stream, else a local file), the resident is told it is queued — never that it was recorded —
and ``drain_spool`` handles it when the database is back, sending the reply as a push. When
it cannot be kept anywhere the claim is released so WeChat's next retry tries again.

Only here are exceptions caught broadly: a bug is logged, the message is kept for staff and
the resident gets a polite reply.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import xmltodict
from psycopg.errors import QueryCanceled
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import Session, or_, select
from wechatpy import parse_message
from wechatpy.messages import BaseMessage

from bot.protocol import BadSignature, Protocol
from bot.settings import Settings
from handlers.dispatch import handle_message
from handlers.turn import KEEP, Turn
from intents.classify import Classifier
from services.config_docs import LiveConfig
from services.messages import msg
from storage import dialogue, org, orgcache
from storage.db import session_scope
from storage.dedup import RetryGuard, dedup_key
from storage.gate import Gate, nonce_key
from storage.models import GridWorker, InboundMessage, Outbox, Resident
from storage.orgcache import OrgCache
from storage.outbox import Recipient, add_push, staged_ids
from storage.spool import Spool, Spooled
from storage.times import Clock, utcnow

log = logging.getLogger("gridbot.inbox")
QUEUED_REPLY = "queued_reply"
"""Outbox event of a reply that could not be the passive reply (the message was queued)."""


class ReplayedRequest(BadSignature):
    """A plaintext-mode signed URL reused for another delivery (403)."""


class Replay(Exception):
    """The database says this (timestamp, nonce) was used by another delivery."""


def database_unavailable(exc: BaseException) -> bool:
    """True for errors that mean "the database cannot be reached" (connection refused or
    lost, no pooled connection in time, a lock wait timed out), as opposed to a bug or a
    constraint. A statement cancelled by ``statement_timeout`` is the statement's own fault:
    not "unavailable" — spooling it would only time out again and hold up the spool behind
    it — so that message is kept for staff instead."""
    if isinstance(getattr(exc, "orig", None), QueryCanceled):
        return False
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


@dataclass
class Answer:
    """The HTTP body to return and the outbox rows to nudge the relay for."""

    body: str
    outbox_ids: list[int] = field(default_factory=list)


class Inbox:
    """Processes WeChat pushes for one account; safe to share between threads."""

    def __init__(self, settings: Settings, engine: Engine, redis: Any, classifier: Classifier,
                 clock: Clock = utcnow, live: LiveConfig | None = None) -> None:
        self.settings = settings
        self.engine = engine
        self.classifier = classifier
        self.live = live
        """Staff-edited lexicon and SLA policies (``services.config_docs``): when given, each
        message is read by ``live.classifier``, refreshed before the message's transaction."""
        self.clock = clock
        self.protocol = Protocol(settings)
        self.guard = RetryGuard(redis, settings.dedup_ttl_s, settings.retry_wait_s)
        self.gate = Gate(redis, dedup_ttl_s=settings.dedup_ttl_s,
                         nonce_ttl_s=2 * settings.timestamp_window_s,
                         burst=settings.rate_limit_burst, per_minute=settings.rate_limit_per_minute)
        self.spool = Spool(redis, settings.spool_dir)
        self.org = OrgCache(engine, redis, ttl_s=settings.org_cache_ttl_s)

    def process(self, params: dict[str, str], body: bytes) -> Answer:
        """Answer one POST. Raises bot.protocol.ProtocolError for a request to refuse
        (ReplayedRequest for a reused plaintext-mode URL)."""
        now = self.clock()
        message = self.protocol.open(params, body, now=now.timestamp())
        key = dedup_key(message)
        nonce = None if params.get("encrypt_type") == "aes" else nonce_key(params)
        verdict = self.gate.admit(key, message.source, nonce, now.timestamp())
        if verdict.state == "replay":
            raise ReplayedRequest(f"nonce {nonce} already used by another delivery")
        if verdict.state == "retry":
            earlier = self.guard.reply_of(key)
            if earlier is None and self.gate.admit(key, message.source, None,
                                                   now.timestamp()).state == "retry":
                log.info("retry of %s while the first is still being handled", key)
                return Answer("success")
            if earlier is not None:
                log.info("retry of %s", key)
                return Answer(self.protocol.reply(earlier, message, params))
            # the first delivery failed and let go of its claim: handle this one
        redis_up = verdict.state != "unknown"
        try:
            reply, outbox_ids = self._handle(message, key, now, nonce, allowed=verdict.allowed)
        except Replay as exc:
            self._release(key, redis_up)
            raise ReplayedRequest(str(exc)) from None
        except Exception as exc:
            if not database_unavailable(exc):
                self._release(key, redis_up)
                raise
            reply = self._queue(message, key, now, exc, redis_up)
            return Answer(self.protocol.reply(reply, message, params))
        if redis_up:
            self.guard.store(key, reply)
        return Answer(self.protocol.reply(reply, message, params), outbox_ids)

    def _release(self, key: str, redis_up: bool) -> None:
        if redis_up:
            self.guard.release(key)

    def overdue(self, params: dict[str, str], body: bytes) -> Answer:
        """The answer for a push whose handling ran past ``settings.webhook_deadline_s`` (a
        stuck database or Redis): the message is spooled and the resident told it is queued.
        The late handling and the spool's are one delivery (unique dedup key): whichever
        commits second does nothing, and the reply reaches the resident once as a push
        (``drain_spool``). Raises ProtocolError as ``process`` does."""
        now = self.clock()
        message = self.protocol.open(params, body, now=now.timestamp())
        key = dedup_key(message)
        reply = self._queue(message, key, now, TimeoutError("webhook deadline"), redis_up=True)
        return Answer(self.protocol.reply(reply, message, params))

    def _queue(self, message: BaseMessage, key: str, now: datetime, exc: BaseException,
               redis_up: bool) -> str:
        """The database is unavailable: spool the message; the honest reply."""
        log.error("database unavailable for %s (%s: %s); spooling", key, type(exc).__name__,
                  str(exc).splitlines()[0] if str(exc) else "")
        xml = xmltodict.unparse({"xml": message._data})
        where = self.spool.put(Spooled(xml=xml, key=key, received_at=now.isoformat()))
        if where is None:
            self._release(key, redis_up)
            return msg("busy_not_kept")
        reply = msg("busy_queued")
        if redis_up:
            self.guard.store(key, reply)
        return reply

    # -- handling -------------------------------------------------------------------------

    def _handle(self, message: BaseMessage, key: str, received: datetime, nonce: str | None,
                allowed: bool = True, deferred: bool = False) -> tuple[str, list[int]]:
        """Keep, understand and answer ``message`` in one transaction; (reply, outbox ids).

        ``allowed``: False when the sender is over the rate limit (the message is kept with a
        kind reply, not handled). ``deferred``: the message comes from the spool; its reply
        is pushed (客服消息 or template message) in the same transaction, as the passive
        reply is long gone.
        Raises Replay when ``nonce`` was used by another delivery, and the database's errors
        when it is unavailable; a bug is logged, kept for staff and answered politely.
        """
        openid = message.source
        now = self.clock()
        if self.live is not None:
            self.classifier = self.live.refresh(self.engine) or self.classifier
        try:
            with session_scope(self.engine) as session:
                orgcache.attach(session, self.org)
                inbound = InboundMessage(dedup_key=key, nonce_key=nonce, openid=openid,
                                         msg_type=message.type, content=_content(message),
                                         received_at=received)
                if not allowed:
                    log.warning("rate limit: %s kept unhandled", key)
                    inbound.reply = msg("rate_limited")
                    inbound.error = "rate limited"
                    session.add(inbound)
                    return inbound.reply, []
                reply = self._run_turn(session, message, inbound, now)
                # Inserted last, with its reply, in the turn's transaction (a handler that
                # needs its id inserts it earlier): a second delivery of the same message
                # fails here on the unique dedup key and everything it did is rolled back.
                session.add(inbound)
                if deferred and reply:
                    self._push_reply(session, openid, key, reply)
            outbox_ids = staged_ids(session)  # committed: the rows have their ids
        except IntegrityError as exc:
            earlier = self._earlier_reply(key, nonce)
            if earlier is not None:
                log.info("duplicate delivery %s answered from the database", key)
                if deferred and earlier:
                    # handled by a request that ran past its deadline: its passive reply
                    # was "queued", so its reply goes out as a push (once)
                    with session_scope(self.engine) as session:
                        if self._push_reply(session, openid, key, earlier):
                            return earlier, staged_ids(session)
                return earlier, []
            log.exception("constraint failure handling %s", key)
            self._keep_failed(message, key, received, exc)
            return msg("error"), []
        except Exception as exc:
            if database_unavailable(exc):
                raise
            log.exception("failed to handle %s", key)
            self._keep_failed(message, key, received, exc)
            return msg("error"), []
        return reply, outbox_ids

    @staticmethod
    def _push_reply(session: Session, openid: str, key: str, reply: str) -> bool:
        """Stage ``reply`` to a queued message as a push, unless one was staged already for
        ``key`` (a spool entry drained twice); True when staged."""
        marker = {"_inbound": key}
        already = session.exec(select(Outbox.id).where(
            Outbox.openid == openid, Outbox.event == QUEUED_REPLY,
            Outbox.data["_inbound"].as_string() == key)).first()
        if already is not None:
            return False
        add_push(session, to=_sender(session, openid), event=QUEUED_REPLY,
                 text=msg("push.queued_reply", reply=reply), data=marker)
        return True

    def _run_turn(self, session: Session, message: BaseMessage, inbound: InboundMessage,
                  now: datetime) -> str:
        openid = message.source
        resident = org.resident_for(session, openid, now)
        turn = Turn(session=session, settings=self.settings, classifier=self.classifier,
                    openid=openid, text="", now=now, inbound=inbound,
                    state=dialogue.current(resident, now),
                    worker=org.worker_by_openid(session, openid), resident=resident)
        reply = handle_message(turn, message)
        u = turn.understanding
        inbound.reply = reply
        inbound.intent = u.intent if u else None
        inbound.confidence = u.confidence if u else None
        inbound.needs_staff = turn.needs_staff
        if turn.next_state is None:
            dialogue.forget(resident)
        elif turn.next_state is not KEEP:
            dialogue.remember(resident, turn.next_state, now,
                              turn.next_ttl_s or self.settings.dialogue_ttl_s)
        return reply

    def _earlier_reply(self, key: str, nonce: str | None) -> str | None:
        """The reply kept for ``key``; raises Replay when only ``nonce`` collided."""
        with Session(self.engine) as session:
            conditions = [InboundMessage.dedup_key == key]
            if nonce is not None:
                conditions.append(InboundMessage.nonce_key == nonce)
            rows = session.exec(select(InboundMessage).where(or_(*conditions))).all()
        for row in rows:
            if row.dedup_key == key:
                return row.reply or ""
        if rows:
            raise Replay(f"nonce {nonce} already used by another delivery")
        return None

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

    # -- the spool --------------------------------------------------------------------------

    def drain_spool(self, limit: int = 500) -> int:
        """Handle messages spooled while the database was down (their replies are pushed).

        Returns how many were handled; 0 while the database is still unavailable (logged).
        Safe in several processes at once: the unique dedup key makes a second pass a no-op.
        """
        try:
            return self.spool.drain(self._handle_spooled, limit)
        except Exception as exc:
            if not database_unavailable(exc):
                raise
            log.warning("spool not drained, database still unavailable: %s",
                        str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            return 0

    def _handle_spooled(self, entry: Spooled) -> None:
        message = parse_message(entry.xml)
        self._handle(message, entry.key, entry.received, None, deferred=True)
        log.info("spooled message %s handled", entry.key)


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


def _sender(session: Session, openid: str) -> Recipient:
    """The person who wrote from ``openid``: the resident, else the staff member with that
    OpenID; a sender known to neither (their turn failed before a resident row was made) is
    addressed as a resident with no id, by OpenID alone."""
    resident = session.exec(select(Resident).where(Resident.openid == openid)).first()
    if resident is not None:
        return Recipient.resident(resident)
    worker = session.exec(select(GridWorker).where(GridWorker.openid == openid)).first()
    if worker is not None:
        return Recipient.staff(worker)
    return Recipient("resident", None, openid)

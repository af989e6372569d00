"""Fixtures for talking to the real app: a demo community in PostgreSQL, Redis, a frozen
clock, and ``Chat`` — a resident's or worker's conversation over the webhook."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.app import create_app
from bot.demo import COMMUNITY_FILE, seed
from bot.devtools.simulator import Delivery, WeChatSimulator
from bot.settings import Settings
from intents.classify import Classifier
from storage.models import Outbox, Ticket
from storage.times import FrozenClock

START = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


@pytest.fixture(scope="session")
def classifier() -> Classifier:
    """One classifier for the whole run (jieba loads once per process, as in production)."""
    return Classifier.load()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def settings(postgres_url: str, redis_url: str) -> Settings:
    return Settings(database_url=postgres_url, redis_url=redis_url, embedded_worker=False,
                    _env_file=None)


@pytest.fixture
def community(clean_db: Engine, redis) -> Engine:
    """The demo community (3 grids, buildings 1–12, worker-g1…g3, leader-g1, admin-1)."""
    seed(clean_db, files=(COMMUNITY_FILE,))
    return clean_db


@dataclass
class Chat:
    """One app and one simulated WeChat server; say things as any OpenID."""

    client: TestClient
    sim: WeChatSimulator
    engine: Engine
    last: Delivery | None = None
    replies: list[str] = field(default_factory=list)

    def post(self, delivery: Delivery):
        return self.client.post("/wechat", params=delivery.params, content=delivery.body)

    def send(self, delivery: Delivery) -> str:
        self.last = delivery
        response = self.post(delivery)
        assert response.status_code == 200, response.text
        reply = self.sim.reply_text(response.content)
        self.replies.append(reply)
        return reply

    def say(self, openid: str, text: str) -> str:
        return self.send(self.sim.text(openid, text))

    def retry_last(self) -> str:
        assert self.last is not None
        return self.send(self.sim.retry(self.last))

    def event(self, openid: str, event: str, key: str | None = None) -> str:
        return self.send(self.sim.event(openid, event, key))

    def tickets(self) -> list[Ticket]:
        with Session(self.engine) as s:
            return list(s.exec(select(Ticket).order_by(Ticket.id)))

    def pushes(self, openid: str | None = None) -> list[Outbox]:
        with Session(self.engine) as s:
            query = select(Outbox).order_by(Outbox.id)
            if openid:
                query = query.where(Outbox.openid == openid)
            return list(s.exec(query))


@pytest.fixture
def make_chat(settings: Settings, community: Engine, clock: FrozenClock, classifier: Classifier
              ) -> Iterator[Callable[..., Chat]]:
    """Factory: ``make_chat(safe_mode=False, **settings_overrides)`` → a started Chat."""
    clients: list[TestClient] = []

    def make(safe_mode: bool = False, **overrides) -> Chat:
        if safe_mode:
            overrides.setdefault("wechat_aes_key", AES_KEY)
        s = settings.model_copy(update=overrides)
        client = TestClient(create_app(s, clock=clock, classifier=classifier))
        client.__enter__()
        clients.append(client)
        sim = WeChatSimulator(s.wechat_token, s.wechat_app_id, s.wechat_aes_key,
                              now=lambda: clock().timestamp())
        return Chat(client, sim, community)

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def chat(make_chat) -> Chat:
    return make_chat()

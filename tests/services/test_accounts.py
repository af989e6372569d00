"""services.accounts: console passwords (argon2id, rehash on new parameters), logins,
sessions (idle / absolute expiry, purge)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlmodel import select

from services import accounts
from services.errors import Invalid
from storage.accounts import ConsoleSession
from storage.models import GridWorker, Role
from tests.chat import START


@pytest.fixture
def staff(session):
    people = [GridWorker(openid="o-a", name="甲", phone="13800000001"),
              GridWorker(openid="o-b", name="乙"),
              GridWorker(openid="o-c", name="丙", role=Role.COMMUNITY_ADMIN, phone="13800000003")]
    session.add_all(people)
    session.flush()
    return people


def test_logins_default_to_the_phone_else_the_openid(session, staff):
    a, b, c = staff
    accounts.set_password(session, a, "password-a")
    accounts.set_password(session, b, "password-b")
    assert (a.login, b.login) == ("13800000001", "o-b")
    assert a.password_hash.startswith("$argon2id$") and "password-a" not in a.password_hash
    with pytest.raises(Invalid):
        accounts.set_password(session, c, "password-c", login="13800000001")  # a's
    with pytest.raises(Invalid):
        accounts.set_password(session, c, "short")
    with pytest.raises(Invalid):
        accounts.set_password(session, c, "password-c", login="  ")
    assert c.password_hash is None


def test_authenticate_by_login_or_phone(session, staff):
    a, _, c = staff
    accounts.set_password(session, a, "password-a", login="jia")
    assert accounts.authenticate(session, "jia", "password-a") is a
    assert accounts.authenticate(session, " 13800000001 ", "password-a") is a
    assert accounts.authenticate(session, "jia", "password-b") is None
    assert accounts.authenticate(session, "13800000003", "") is None  # c has no password
    assert accounts.authenticate(session, "", "password-a") is None
    a.active = False
    assert accounts.authenticate(session, "jia", "password-a") is None


def test_an_old_hash_is_upgraded_when_the_password_is_right(session, staff):
    a = staff[0]
    a.password_hash = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash("password-a")
    a.login = "jia"
    old = a.password_hash
    assert not accounts.verify(session, a, "wrong-one")
    assert a.password_hash == old
    assert accounts.verify(session, a, "password-a")
    assert a.password_hash != old and not accounts.hasher.check_needs_rehash(a.password_hash)


def test_sessions_expire_idle_and_absolute(session, staff):
    a = staff[0]
    token, row = accounts.start_session(session, a, START, max_s=3600, ip="10.0.0.1")
    assert row.token_hash == accounts.token_hash(token) and token not in row.token_hash
    assert accounts.session_for_token(session, token, START + timedelta(minutes=20), idle_s=1800)
    assert row.last_seen_at == START + timedelta(minutes=20)
    assert accounts.session_for_token(session, token, START + timedelta(minutes=45), idle_s=1800)
    assert accounts.session_for_token(session, token, START + timedelta(minutes=61), idle_s=1800) is None
    assert session.exec(select(ConsoleSession)).all() == []
    assert accounts.session_for_token(session, "forged", START, idle_s=1800) is None
    assert accounts.session_for_token(session, None, START, idle_s=1800) is None


def test_end_session_and_purge(session, staff):
    a, b, _ = staff
    token_a, _ = accounts.start_session(session, a, START, max_s=3600)
    accounts.start_session(session, b, START - timedelta(hours=2), max_s=3600)  # past its end
    accounts.start_session(session, b, START - timedelta(minutes=40), max_s=3600)  # idle 40 min
    assert accounts.purge_expired(session, START, idle_s=1800) == 2
    assert accounts.end_session(session, token_a) == a.id
    assert accounts.end_session(session, token_a) is None
    assert session.exec(select(ConsoleSession)).all() == []

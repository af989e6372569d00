"""services.api_keys and `gridbot apikey`: a key is shown once, stored hashed, checked on
POST, limited to a community when asked, and revoked for good."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from bot.cli import app
from services import api_keys
from services.errors import Invalid, NotAllowed, NotFound
from storage.accounts import ApiKey
from storage.models import Community
from tests.chat import START


def test_issue_verify_revoke(community):
    s = Session(community)
    row, plain = api_keys.issue(s, " 市12345平台 ", START)
    s.commit()
    assert plain.startswith(api_keys.PREFIX) and len(plain) > 40
    stored = s.exec(select(ApiKey)).one()
    assert stored.name == "市12345平台" and stored.key_hash == api_keys.digest(plain)
    assert plain not in stored.key_hash
    assert api_keys.verify(s, plain).id == row.id
    for wrong in (None, "", plain + "x", stored.key_hash):
        with pytest.raises(NotAllowed):
            api_keys.verify(s, wrong)
    with pytest.raises(Invalid):  # one active key per name
        api_keys.issue(s, "市12345平台", START)
    assert api_keys.revoke(s, "市12345平台", START).revoked_at == START
    with pytest.raises(NotAllowed):
        api_keys.verify(s, plain)
    with pytest.raises(NotFound):
        api_keys.revoke(s, str(row.id), START)
    assert api_keys.listing(s) == [] and len(api_keys.listing(s, include_revoked=True)) == 1
    again, _ = api_keys.issue(s, "市12345平台", START)  # a new key under the old name
    assert again.id != row.id
    s.close()


def test_issue_refuses_a_bad_name_or_community(community):
    with Session(community) as s:
        for name in ("", "  ", "x" * (api_keys.MAX_NAME_CHARS + 1)):
            with pytest.raises(Invalid):
                api_keys.issue(s, name, START)
        with pytest.raises(NotFound):
            api_keys.issue(s, "大屏", START, community_id=999_999)


@pytest.fixture
def env(monkeypatch, postgres_url, redis_url, community):
    monkeypatch.setenv("GRIDBOT_DATABASE_URL", postgres_url)
    monkeypatch.setenv("GRIDBOT_REDIS_URL", redis_url)
    return community


def test_cli_create_list_revoke(env):
    runner = CliRunner()
    created = runner.invoke(app, ["apikey", "create", "市12345平台"])
    assert created.exit_code == 0, created.output
    key = next(line for line in created.output.splitlines() if line.startswith("g311_"))
    limited = runner.invoke(app, ["apikey", "create", "社区大屏", "--community", "幸福新社区"])
    assert limited.exit_code == 0 and "仅限幸福新社区" in limited.output
    with Session(env) as s:
        assert api_keys.verify(s, key).name == "市12345平台"
        community_id = s.exec(select(Community.id)).one()
        assert s.exec(select(ApiKey).where(ApiKey.name == "社区大屏")).one().community_id \
            == community_id
    listed = runner.invoke(app, ["apikey", "list"]).output
    assert "#1 市12345平台 全部社区" in listed and "#2 社区大屏 幸福新社区" in listed
    assert key not in listed
    assert runner.invoke(app, ["apikey", "revoke", "#1"]).exit_code == 0
    assert "#1" not in runner.invoke(app, ["apikey", "list"]).output
    assert "已撤销" in runner.invoke(app, ["apikey", "list", "--all"]).output
    unknown = runner.invoke(app, ["apikey", "revoke", "nobody"])
    assert unknown.exit_code == 1
    elsewhere = runner.invoke(app, ["apikey", "create", "x", "--community", "没有这个社区"])
    assert elsewhere.exit_code == 1

"""POST requests per API key are limited per clock minute and hour (GRIDBOT_OPEN311_POSTS_*):
past the limit the answer is 429 in the spec's error shape with Retry-After, nothing is filed,
and the count starts again with the next window (the app clock moves the windows)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from bot.app import create_app
from services.messages import msg
from services.open311_limit import PostLimit
from storage.models import Ticket
from storage.redis import sync_client
from tests.chat import START
from tests.open311.conftest import BASE, issue, xml_rows

FIELDS = {"service_code": "stairwell_light", "address_string": "幸福新社区3号楼",
          "description": "楼道灯坏了"}


@pytest.fixture
def limited(settings, community: Engine, clock, classifier) -> Iterator[TestClient]:
    """The app with 2 POSTs a minute and 3 an hour per key."""
    tight = settings.model_copy(update={"open311_posts_per_minute": 2,
                                        "open311_posts_per_hour": 3})
    app = create_app(tight, clock=clock, classifier=classifier)
    with TestClient(app) as client:
        app.state.clock = clock
        yield client


def post(client: TestClient, key: str, fmt: str = "json"):
    return client.post(f"{BASE}/requests.{fmt}", data={"api_key": key, **FIELDS})


def tickets(engine: Engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(Ticket)).one()


def test_past_the_minute_limit_a_post_gets_429_with_retry_after_and_files_nothing(
        limited, community, clock):
    key = issue(community)
    assert START.second == 0 and START.minute == 0  # windows start on the clock's minute
    assert [post(limited, key).status_code for _ in range(2)] == [201, 201]
    refused = post(limited, key)
    assert refused.status_code == 429, refused.text
    assert refused.headers["Retry-After"] == "60"
    assert refused.json() == [{"code": 429, "description": msg(
        "open311.error_rate_limited", per_minute=2, per_hour=3, seconds=60)}]
    assert "每分钟最多 2 件" in refused.json()[0]["description"]
    assert tickets(community) == 2
    clock.advance(45)
    again = post(limited, key)
    assert again.status_code == 429 and again.headers["Retry-After"] == "15"
    assert tickets(community) == 2
    # the next minute counts afresh; the refused attempts did not use up the hour
    clock.advance(15)
    assert post(limited, key).status_code == 201
    assert tickets(community) == 3


def test_the_hour_limit_holds_across_minutes_until_the_next_hour(limited, community, clock):
    key = issue(community)
    for _ in range(3):
        assert post(limited, key).status_code == 201
        clock.advance(60)
    refused = post(limited, key)  # 10:03, a fresh minute but the hour's 3 are used
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == str(3600 - 180)
    clock.advance(3600 - 180)
    assert post(limited, key).status_code == 201
    assert tickets(community) == 4


def test_429_in_xml_and_each_key_has_its_own_count(limited, community):
    key, other = issue(community), issue(community, name="区网格中心")
    assert [post(limited, key, "xml").status_code for _ in range(2)] == [201, 201]
    refused = post(limited, key, "xml")
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("text/xml")
    assert refused.headers["Retry-After"] == "60"
    [error] = xml_rows(refused.text, "errors", "error")
    assert error == {"code": "429", "description": msg(
        "open311.error_rate_limited", per_minute=2, per_hour=3, seconds=60)}
    assert post(limited, other).status_code == 201  # another client is not held up
    assert tickets(community) == 3


def test_a_bad_key_is_still_403_and_not_counted(limited, community):
    key = issue(community)
    assert [post(limited, "g311_wrong").status_code for _ in range(3)] == [403, 403, 403]
    assert post(limited, key).status_code == 201


def test_default_limits_let_a_normal_client_through(o311, community):
    key = issue(community)
    assert o311.app.state.settings.open311_posts_per_minute == 30
    assert o311.app.state.settings.open311_posts_per_hour == 600
    assert all(post(o311, key).status_code == 201 for _ in range(3))


def test_redis_unavailable_lets_posts_through():
    down = sync_client("redis://127.0.0.1:1/0", timeout_s=0.2)  # nothing listens on port 1
    limit = PostLimit(down, per_minute=1, per_hour=1)
    assert limit.take(7, START).allowed and limit.take(7, START).allowed


def test_limits_below_one_are_refused(redis):
    with pytest.raises(ValueError):
        PostLimit(redis, per_minute=0, per_hour=10)

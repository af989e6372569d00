"""Migration c4d2e6a8f1b3 (codes unique within their parent; a resident's community) goes up,
down and up again on PostgreSQL and SQLite, keeps data, and leaves the models in step."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
import sqlalchemy as sa
from alembic import command

from storage import migrate
from storage.db import make_engine
from tests.conftest import PG_ADMIN_DSN

BEFORE = "79584a534050"
THIS = "c4d2e6a8f1b3"


@pytest.fixture(params=["postgresql", "sqlite"])
def empty_url(request, tmp_path) -> Iterator[str]:
    """URL of an empty database of each kind (both are tested whatever the backend)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/m.db"
        return
    name = f"gridbot_mig_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/" + name
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _run(url: str, *sql: str) -> list:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            rows = [conn.execute(sa.text(q)).all() if q.lstrip().upper().startswith("SELECT")
                    else conn.execute(sa.text(q)) for q in sql]
        return [r for r in rows if isinstance(r, list)]
    finally:
        engine.dispose()


def test_up_down_up_keeps_data_and_scopes_codes(empty_url):
    url = empty_url
    migrate.upgrade(url, BEFORE)
    _run(url,
         "INSERT INTO street (id, name) VALUES (1, '幸福街道')",
         "INSERT INTO community (id, street_id, name) VALUES (1, 1, '幸福新社区')",
         "INSERT INTO grid (id, community_id, code, name) VALUES (1, 1, 'G01', '一网格')",
         "INSERT INTO building (id, community_id, grid_id, number, name)"
         " VALUES (1, 1, 1, 3, '3号楼')",
         "INSERT INTO resident (id, openid, building_id, subscribed, created_at)"
         " VALUES (1, 'o-home', 1, true, '2026-11-22 02:00:00+00')",
         "INSERT INTO resident (id, openid, subscribed, created_at)"
         " VALUES (2, 'o-new', true, '2026-11-22 02:00:00+00')")

    migrate.upgrade(url)
    assert migrate.pending_changes(url) == []
    [residents, estates] = _run(
        url, "SELECT id, community_id, estate FROM resident ORDER BY id",
        "SELECT estates FROM community")
    assert [tuple(r) for r in residents] == [(1, 1, None), (2, None, None)]
    assert estates[0][0] in ([], "[]")  # JSON: a list on PostgreSQL, text on SQLite
    # A second community may now have its own G01, station and programme of the same name.
    _run(url,
         "INSERT INTO community (id, street_id, name) VALUES (2, 1, '阳光社区')",
         "INSERT INTO grid (id, community_id, code, name) VALUES (2, 2, 'G01', '阳光一网格')",
         "INSERT INTO lend_station (community_id, name, address, opening_hours,"
         " max_open_per_resident, hold_hours, active) VALUES (1, '驿站', '', '', 3, 24, true),"
         " (2, '驿站', '', '', 3, 24, true)")
    with pytest.raises(sa.exc.IntegrityError):  # but not two G01 in one community
        _run(url, "INSERT INTO grid (community_id, code, name) VALUES (2, 'G01', '重复')")
    with pytest.raises(sa.exc.IntegrityError):  # nor two communities of one name in a street
        _run(url, "INSERT INTO community (street_id, name) VALUES (1, '阳光社区')")

    _run(url, "DELETE FROM grid WHERE id = 2", "DELETE FROM lend_station WHERE community_id = 2")
    command.downgrade(migrate.config(url), BEFORE)
    with pytest.raises(sa.exc.IntegrityError):  # the old schema: grid codes global again
        _run(url, "INSERT INTO grid (community_id, code, name) VALUES (2, 'G01', '重复')")
    migrate.upgrade(url)
    assert migrate.pending_changes(url) == []
    [residents] = _run(url, "SELECT id, community_id FROM resident ORDER BY id")
    assert [tuple(r) for r in residents] == [(1, 1), (2, None)]

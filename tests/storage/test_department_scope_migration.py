"""Migration a3c5e7f9b1d4 (department names unique within their community; street-level
departments unique among themselves) goes up, down and up again on PostgreSQL and SQLite,
keeps data, and leaves the models in step."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command

from storage import migrate
from tests.storage.test_scoped_codes_migration import _run, empty_url  # noqa: F401 (fixture)

BEFORE = "e1c0a5f7b9d2"


def test_up_down_up_keeps_departments_and_scopes_their_names(empty_url):  # noqa: F811
    url = empty_url
    migrate.upgrade(url, BEFORE)
    _run(url,
         "INSERT INTO street (id, name) VALUES (1, '幸福街道')",
         "INSERT INTO community (id, street_id, name) VALUES (1, 1, '幸福新社区'),"
         " (2, 1, '阳光社区')",
         "INSERT INTO department (id, name, community_id, phone)"
         " VALUES (1, '物业公司', 1, '024-88886666'), (2, '城管', NULL, NULL)")
    with pytest.raises(sa.exc.IntegrityError):  # the old schema: one 物业公司 per account
        _run(url, "INSERT INTO department (name, community_id) VALUES ('物业公司', 2)")

    migrate.upgrade(url)  # head: THIS or later
    assert migrate.pending_changes(url) == []
    [rows] = _run(url, "SELECT id, name, community_id, phone FROM department ORDER BY id")
    assert [tuple(r) for r in rows] == [(1, "物业公司", 1, "024-88886666"), (2, "城管", None, None)]
    # each community its own 物业公司 …
    _run(url, "INSERT INTO department (id, name, community_id) VALUES (3, '物业公司', 2)")
    with pytest.raises(sa.exc.IntegrityError):  # … but one per community
        _run(url, "INSERT INTO department (name, community_id) VALUES ('物业公司', 2)")
    with pytest.raises(sa.exc.IntegrityError):  # and one street-level 城管
        _run(url, "INSERT INTO department (name, community_id) VALUES ('城管', NULL)")
    _run(url, "INSERT INTO department (id, name, community_id) VALUES (4, '城管', 1)")

    _run(url, "DELETE FROM department WHERE id IN (3, 4)")
    command.downgrade(migrate.config(url), BEFORE)
    with pytest.raises(sa.exc.IntegrityError):  # names global again
        _run(url, "INSERT INTO department (name, community_id) VALUES ('城管', 2)")
    migrate.upgrade(url)
    assert migrate.pending_changes(url) == []
    [rows] = _run(url, "SELECT id, name FROM department ORDER BY id")
    assert [tuple(r) for r in rows] == [(1, "物业公司"), (2, "城管")]

"""Migration b5d7f9a1c3e6 (the durable ``privacy_sweep`` rows the worker sweeps from) goes up,
down and up again on PostgreSQL and SQLite, keeps residents, and leaves the models in step."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command

from storage import migrate
from tests.storage.test_scoped_codes_migration import _run, empty_url  # noqa: F401 (fixture)

BEFORE = "a3c5e7f9b1d4"


def test_up_down_up(empty_url):  # noqa: F811
    url = empty_url
    migrate.upgrade(url, BEFORE)
    _run(url, "INSERT INTO resident (id, openid, subscribed, created_at)"
              " VALUES (7, 'o-res', true, '2026-11-22 01:00:00+00')")
    migrate.upgrade(url)
    assert migrate.pending_changes(url) == []
    _run(url, "INSERT INTO privacy_sweep (resident_id, swaps, requested_at)"
              " VALUES (7, '[[\"13912345678\", \"***\"]]', '2026-11-22 02:00:00+00')")
    [rows] = _run(url, "SELECT resident_id, attempts FROM privacy_sweep")
    assert [tuple(r) for r in rows] == [(7, 0)]
    with pytest.raises(sa.exc.IntegrityError):  # a sweep names a resident that exists
        _run(url, "INSERT INTO privacy_sweep (resident_id, swaps, requested_at)"
                  " VALUES (99, '[]', '2026-11-22 02:00:00+00')")

    command.downgrade(migrate.config(url), BEFORE)
    [rows] = _run(url, "SELECT id, openid FROM resident")
    assert [tuple(r) for r in rows] == [(7, "o-res")]
    migrate.upgrade(url)
    [rows] = _run(url, "SELECT count(*) FROM privacy_sweep")
    assert rows[0][0] == 0

"""Migration d7f1a3c5e9b2 (the outbox addresses a recipient) goes up, down and up again on
PostgreSQL and SQLite, backfills the recipient of existing rows from their OpenID, and
leaves the models in step."""

from __future__ import annotations

from alembic import command

from storage import migrate
from tests.storage.test_scoped_codes_migration import _run, empty_url  # noqa: F401 (fixture)

BEFORE = "c4d2e6a8f1b3"
ROWS = "SELECT id, recipient_kind, recipient_id FROM outbox ORDER BY id"


def _outbox(row_id: int, openid: str, audience: str) -> str:
    return ("INSERT INTO outbox (id, created_at, openid, audience, event, text, data, status,"
            " attempts, next_attempt_at) VALUES"
            f" ({row_id}, '2026-11-22 02:00:00+00', '{openid}', '{audience}', 'notice', '通知',"
            " '{}', 'sent', 1, '2026-11-22 02:00:00+00')")


def test_up_down_up_backfills_the_recipient(empty_url):  # noqa: F811
    url = empty_url
    migrate.upgrade(url, BEFORE)
    _run(url,
         "INSERT INTO resident (id, openid, subscribed, created_at)"
         " VALUES (7, 'o-res', true, '2026-11-22 02:00:00+00')",
         "INSERT INTO gridworker (id, openid, name, role, active)"
         " VALUES (3, 'o-staff', '王芳', 'grid_worker', true)",
         _outbox(1, "o-res", "resident"),
         _outbox(2, "o-staff", "worker"),
         _outbox(3, "anon:9", "resident"),  # a forgotten resident (services.privacy)
         _outbox(4, "o-gone", "resident"))  # nobody has this OpenID any more

    migrate.upgrade(url)
    assert migrate.pending_changes(url) == []
    [rows] = _run(url, ROWS)
    assert [tuple(r) for r in rows] == [
        (1, "resident", 7), (2, "staff", 3), (3, "resident", 9), (4, "resident", None)]

    command.downgrade(migrate.config(url), BEFORE)
    [rows] = _run(url, "SELECT id, openid FROM outbox ORDER BY id")
    assert [tuple(r) for r in rows] == [(1, "o-res"), (2, "o-staff"), (3, "anon:9"), (4, "o-gone")]
    migrate.upgrade(url)
    assert migrate.pending_changes(url) == []
    [rows] = _run(url, ROWS)
    assert [tuple(r)[2] for r in rows] == [7, 3, 9, None]

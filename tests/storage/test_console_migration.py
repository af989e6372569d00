"""Migration e1c0a5f7b9d2 (the staff console's tables and columns) goes up, down and up again
on PostgreSQL and SQLite, keeps existing staff and messages, and leaves the models in step."""

from __future__ import annotations

from alembic import command

from storage import migrate
from tests.storage.test_scoped_codes_migration import _run, empty_url  # noqa: F401 (fixture)

BEFORE = "d7f1a3c5e9b2"


def test_up_down_up_keeps_rows(empty_url):  # noqa: F811
    url = empty_url
    migrate.upgrade(url, BEFORE)
    _run(url,
         "INSERT INTO gridworker (id, openid, name, role, active)"
         " VALUES (3, 'o-staff', '王芳', 'grid_worker', true)",
         "INSERT INTO inboundmessage (id, dedup_key, openid, msg_type, content, received_at,"
         " needs_staff) VALUES (5, 'k5', 'o-res', 'text', '你好', '2026-11-22 02:00:00+00', true)")
    migrate.upgrade(url)
    assert migrate.pending_changes(url) == []
    _run(url,
         "UPDATE gridworker SET login = '13800000001', password_hash = 'x' WHERE id = 3",
         "UPDATE inboundmessage SET handled_by_id = 3, staff_reply = '已处理',"
         " handled_at = '2026-11-22 03:00:00+00' WHERE id = 5",
         "INSERT INTO auditentry (at, worker_id, action, detail)"
         " VALUES ('2026-11-22 03:00:00+00', 3, 'login', '{}')")
    [rows] = _run(url, "SELECT login, staff_reply FROM gridworker, inboundmessage")
    assert [tuple(r) for r in rows] == [("13800000001", "已处理")]

    command.downgrade(migrate.config(url), BEFORE)
    [rows] = _run(url, "SELECT id, name FROM gridworker")
    assert [tuple(r) for r in rows] == [(3, "王芳")]
    migrate.upgrade(url)
    assert migrate.pending_changes(url) == []
    [rows] = _run(url, "SELECT count(*) FROM auditentry")
    assert rows[0][0] == 0

"""indexes for the hot paths at city scale (docs/scale.md): a resident's latest tickets, a
period's tickets per grid and in all, partial indexes over open tickets (grid queue, 我的任务,
duplicates) and over pending pushes (relay claim); the single-column indexes they make
redundant are dropped.

On PostgreSQL the indexes are built and dropped CONCURRENTLY, outside the migration's
transaction, so a live city's tickets and pushes are not locked while they build (minutes
for millions of rows). An interrupted concurrent build leaves an INVALID index: drop it and
run the upgrade again.

Revision ID: 41d8b081e519
Revises: a1c3e5f7b9d2
Create Date: 2026-11-29 04:26:17.766934
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '41d8b081e519'
down_revision: str | None = 'a1c3e5f7b9d2'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = ("status IN ('submitted', 'assigned', 'accepted', 'in_progress', 'waiting_resident',"
        " 'reopened')")
"""storage.models.OPEN_TICKETS_SQL as of this revision."""
PENDING = "status = 'pending'"

NEW = [  # (name, table, columns, partial predicate or None)
    ('ix_ticket_resident_created', 'ticket', ['resident_id', 'created_at', 'id'], None),
    ('ix_ticket_grid_created', 'ticket', ['grid_id', 'created_at'], None),
    ('ix_ticket_created_at', 'ticket', ['created_at'], None),
    ('ix_ticket_open_grid', 'ticket', ['grid_id'], OPEN),
    ('ix_ticket_open_assignee', 'ticket', ['assignee_id'], OPEN),
    ('ix_ticket_open_building', 'ticket', ['building_id', 'created_at'], OPEN),
    ('ix_outbox_due', 'outbox', ['next_attempt_at', 'id'], PENDING),
]
OLD = [  # replaced by the above: (name, table, columns)
    ('ix_ticket_resident_id', 'ticket', ['resident_id']),
    ('ix_ticket_grid_id', 'ticket', ['grid_id']),
    ('ix_ticket_assignee_id', 'ticket', ['assignee_id']),
    ('ix_outbox_next_attempt_at', 'outbox', ['next_attempt_at']),
]


def _run(build) -> None:
    """``build(concurrently)``: outside the transaction and CONCURRENTLY on PostgreSQL."""
    if op.get_bind().dialect.name == 'postgresql':
        with op.get_context().autocommit_block():
            build(True)
    else:
        build(False)


def _create(name: str, table: str, columns: list[str], where: str | None, concurrently: bool) -> None:
    partial = {} if where is None else {'postgresql_where': sa.text(where),
                                        'sqlite_where': sa.text(where)}
    op.create_index(name, table, columns, unique=False, postgresql_concurrently=concurrently,
                    **partial)


def upgrade() -> None:
    def build(concurrently: bool) -> None:
        for name, table, columns, where in NEW:
            _create(name, table, columns, where, concurrently)
        for name, table, _ in OLD:
            op.drop_index(name, table_name=table, postgresql_concurrently=concurrently)
    _run(build)


def downgrade() -> None:
    def build(concurrently: bool) -> None:
        for name, table, columns in OLD:
            _create(name, table, columns, None, concurrently)
        for name, table, _, _ in NEW:
            op.drop_index(name, table_name=table, postgresql_concurrently=concurrently)
    _run(build)

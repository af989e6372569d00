"""partial index of open tickets per public place: the duplicate lookup of a report at a
place (东门 …), as ``ix_ticket_open_building`` serves one in a building.

Built CONCURRENTLY on PostgreSQL, outside the migration's transaction (as 41d8b081e519), so
a live city's tickets are not locked while it builds. An interrupted build leaves an INVALID
index: drop it and run the upgrade again.

Revision ID: 79584a534050
Revises: 49c7eeb42fd4
Create Date: 2026-11-29 06:41:39.145019
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '79584a534050'
down_revision: str | None = '49c7eeb42fd4'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = ("status IN ('submitted', 'assigned', 'accepted', 'in_progress', 'waiting_resident',"
        " 'reopened')")
"""storage.models.OPEN_TICKETS_SQL as of this revision."""
NAME = 'ix_ticket_open_place'


def _concurrently() -> bool:
    return op.get_bind().dialect.name == 'postgresql'


def upgrade() -> None:
    where = {'postgresql_where': sa.text(OPEN), 'sqlite_where': sa.text(OPEN)}
    if _concurrently():
        with op.get_context().autocommit_block():
            op.create_index(NAME, 'ticket', ['place_id', 'created_at'], unique=False,
                            postgresql_concurrently=True, **where)
    else:
        op.create_index(NAME, 'ticket', ['place_id', 'created_at'], unique=False, **where)


def downgrade() -> None:
    if _concurrently():
        with op.get_context().autocommit_block():
            op.drop_index(NAME, table_name='ticket', postgresql_concurrently=True)
    else:
        op.drop_index(NAME, table_name='ticket')

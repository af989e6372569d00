"""kept messages: a partial index over the unhandled ones (待人工处理)

The console lists the messages kept for staff that nobody handled yet, and counts them for
the nav badge on every page; ``ix_inboundmessage_kept_open`` covers only those rows, so the
list and the count stay small however many messages arrive.

Revision ID: f2b4d6e8a0c1
Revises: b5d7f9a1c3e6
Create Date: 2026-11-29 11:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'f2b4d6e8a0c1'
down_revision: str | None = 'b5d7f9a1c3e6'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PREDICATE = "handled_at IS NULL AND (needs_staff OR error IS NOT NULL)"


def upgrade() -> None:
    with op.batch_alter_table('inboundmessage', schema=None) as batch_op:
        batch_op.create_index('ix_inboundmessage_kept_open', ['received_at', 'id'], unique=False,
                              postgresql_where=sa.text(PREDICATE),
                              sqlite_where=sa.text(PREDICATE))


def downgrade() -> None:
    with op.batch_alter_table('inboundmessage', schema=None) as batch_op:
        batch_op.drop_index('ix_inboundmessage_kept_open',
                            postgresql_where=sa.text(PREDICATE),
                            sqlite_where=sa.text(PREDICATE))

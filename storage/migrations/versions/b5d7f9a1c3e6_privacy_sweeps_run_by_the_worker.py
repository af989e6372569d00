"""privacy sweeps run by the worker: one durable row per pending sweep

An unsubscribe anonymised the resident's own rows and swept everyone's free text in the
webhook's transaction. The sweep (a scan of every free-text table) now runs in the worker
(bot/jobs_privacy.py): the webhook inserts a ``privacy_sweep`` row naming the values to
replace, and the worker deletes it in the transaction that did the sweep.

Revision ID: b5d7f9a1c3e6
Revises: a3c5e7f9b1d4
Create Date: 2026-11-29 10:50:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'b5d7f9a1c3e6'
down_revision: str | None = 'a3c5e7f9b1d4'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'privacy_sweep',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('resident_id', sa.Integer(), nullable=False),
        sa.Column('swaps', sa.JSON(), nullable=False),
        sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
        sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['resident_id'], ['resident.id']),
        sa.PrimaryKeyConstraint('id'),
    )


def downgrade() -> None:
    op.drop_table('privacy_sweep')

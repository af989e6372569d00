"""outbox addresses a recipient: ``recipient_kind`` + ``recipient_id``

A push was addressed by OpenID alone, so a channel that is not WeChat's official account
(WeCom, SMS) had to find the person again from it. Now each row names the person:
``recipient_kind`` "resident" (``recipient_id`` = resident.id) or "staff" (gridworker.id).
``openid`` stays as the address of record. Existing rows are backfilled from ``audience``
and the OpenID (a resident or gridworker with that OpenID; forgotten residents' rows,
"anon:<id>", from the id); rows whose OpenID matches nobody keep ``recipient_id`` NULL.

Revision ID: d7f1a3c5e9b2
Revises: c4d2e6a8f1b3
Create Date: 2026-11-29 08:20:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'd7f1a3c5e9b2'
down_revision: str | None = 'c4d2e6a8f1b3'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('outbox') as batch:
        batch.add_column(sa.Column('recipient_kind', sa.String(), nullable=True))
        batch.add_column(sa.Column('recipient_id', sa.Integer(), nullable=True))
    op.execute("UPDATE outbox SET recipient_kind = CASE WHEN audience = 'worker' "
               "THEN 'staff' ELSE 'resident' END")
    op.execute("UPDATE outbox SET recipient_id = (SELECT r.id FROM resident r "
               "WHERE r.openid = outbox.openid) WHERE recipient_kind = 'resident'")
    op.execute("UPDATE outbox SET recipient_id = (SELECT w.id FROM gridworker w "
               "WHERE w.openid = outbox.openid) WHERE recipient_kind = 'staff'")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("UPDATE outbox SET recipient_id = CAST(substr(openid, 6) AS INTEGER) "
                   "WHERE recipient_id IS NULL AND recipient_kind = 'resident' "
                   "AND openid ~ '^anon:[0-9]+$'")
    else:
        op.execute("UPDATE outbox SET recipient_id = CAST(substr(openid, 6) AS INTEGER) "
                   "WHERE recipient_id IS NULL AND recipient_kind = 'resident' "
                   "AND openid GLOB 'anon:[0-9]*'")
    with op.batch_alter_table('outbox') as batch:
        batch.alter_column('recipient_kind', existing_type=sa.String(), nullable=False)
        batch.create_index('ix_outbox_recipient_id', ['recipient_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('outbox') as batch:
        batch.drop_index('ix_outbox_recipient_id')
        batch.drop_column('recipient_id')
        batch.drop_column('recipient_kind')

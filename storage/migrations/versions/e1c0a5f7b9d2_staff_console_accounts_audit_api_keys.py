"""staff console: logins, sessions, audit log, Open311 API keys, config documents, kept messages

- ``gridworker.login`` (unique console user name) and ``gridworker.password_hash`` (argon2);
- ``consolesession`` (hashed session tokens), ``auditentry`` (who did what, indexed by time),
  ``apikey`` (hashed Open311 keys), ``configdocument`` (staff-edited TOML by name);
- ``inboundmessage.handled_at / handled_by_id / handled_ticket_id / staff_reply``: how staff
  dealt with a message kept for them (待人工处理). ``handled_ticket_id`` → ticket closes a
  cycle with ``ticket.source_msg_id`` → inboundmessage, so that key is added after both
  tables exist (``use_alter``) and is set NULL when the ticket goes.

The role ``street_admin`` (街道管理员) needs no schema change (roles are plain strings).

Revision ID: e1c0a5f7b9d2
Revises: d7f1a3c5e9b2
Create Date: 2026-11-29 10:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = 'e1c0a5f7b9d2'
down_revision: str | None = 'd7f1a3c5e9b2'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_str = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        'consolesession',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token_hash', _str(), nullable=False),
        sa.Column('worker_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('csrf_token', _str(), nullable=False),
        sa.Column('ip', _str(), nullable=True),
        sa.Column('user_agent', _str(), nullable=True),
        sa.ForeignKeyConstraint(['worker_id'], ['gridworker.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_consolesession_token_hash', 'consolesession', ['token_hash'], unique=True)
    op.create_index('ix_consolesession_worker_id', 'consolesession', ['worker_id'], unique=False)
    op.create_table(
        'auditentry',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('worker_id', sa.Integer(), nullable=True),
        sa.Column('action', _str(), nullable=False),
        sa.Column('target_kind', _str(), nullable=True),
        sa.Column('target_id', _str(), nullable=True),
        sa.Column('detail', sa.JSON(), nullable=False),
        sa.Column('ip', _str(), nullable=True),
        sa.ForeignKeyConstraint(['worker_id'], ['gridworker.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_auditentry_at', 'auditentry', ['at'], unique=False)
    op.create_index('ix_auditentry_worker_id', 'auditentry', ['worker_id'], unique=False)
    op.create_table(
        'apikey',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', _str(), nullable=False),
        sa.Column('key_hash', _str(), nullable=False),
        sa.Column('community_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['community_id'], ['community.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_apikey_key_hash', 'apikey', ['key_hash'], unique=True)
    op.create_table(
        'configdocument',
        sa.Column('name', _str(), nullable=False),
        sa.Column('text', _str(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['updated_by_id'], ['gridworker.id']),
        sa.PrimaryKeyConstraint('name'),
    )
    with op.batch_alter_table('gridworker') as batch:
        batch.add_column(sa.Column('login', _str(), nullable=True))
        batch.add_column(sa.Column('password_hash', _str(), nullable=True))
        batch.create_index('ix_gridworker_login', ['login'], unique=True)
    with op.batch_alter_table('inboundmessage') as batch:
        batch.add_column(sa.Column('handled_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('handled_by_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('handled_ticket_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('staff_reply', _str(), nullable=True))
        batch.create_foreign_key('fk_inboundmessage_handled_by_id_gridworker', 'gridworker',
                                 ['handled_by_id'], ['id'])
        batch.create_foreign_key('fk_inboundmessage_handled_ticket_id_ticket', 'ticket',
                                 ['handled_ticket_id'], ['id'], ondelete='SET NULL')


def downgrade() -> None:
    with op.batch_alter_table('inboundmessage') as batch:
        batch.drop_constraint('fk_inboundmessage_handled_ticket_id_ticket', type_='foreignkey')
        batch.drop_constraint('fk_inboundmessage_handled_by_id_gridworker', type_='foreignkey')
        batch.drop_column('staff_reply')
        batch.drop_column('handled_ticket_id')
        batch.drop_column('handled_by_id')
        batch.drop_column('handled_at')
    with op.batch_alter_table('gridworker') as batch:
        batch.drop_index('ix_gridworker_login')
        batch.drop_column('password_hash')
        batch.drop_column('login')
    op.drop_table('configdocument')
    op.drop_index('ix_apikey_key_hash', table_name='apikey')
    op.drop_table('apikey')
    op.drop_index('ix_auditentry_worker_id', table_name='auditentry')
    op.drop_index('ix_auditentry_at', table_name='auditentry')
    op.drop_table('auditentry')
    op.drop_index('ix_consolesession_worker_id', table_name='consolesession')
    op.drop_index('ix_consolesession_token_hash', table_name='consolesession')
    op.drop_table('consolesession')

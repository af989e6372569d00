"""ticket location: public places, coordinates of buildings and places, the ticket's own
place and shared location

``place`` holds a community's named public places (东门, 广场 …) with the grid covering each
and the aliases residents use; ``building`` and ``place`` get optional WGS-84 coordinates
(a shared WeChat location finds the nearest one); ``ticket`` gets the place of the problem
(``place_id``) and a shared location's ``latitude``/``longitude``. Existing tickets keep
their building (which was the reporter's home when they were opened); no data moves.

Revision ID: 49c7eeb42fd4
Revises: 95e5b5f33dcf
Create Date: 2026-11-29 06:23:05.567450
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '49c7eeb42fd4'
down_revision: str | None = '95e5b5f33dcf'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FK = 'fk_ticket_place_id_place'


def upgrade() -> None:
    op.create_table('place',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('grid_id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('aliases', sa.JSON(), nullable=False),
    sa.Column('latitude', sa.Float(), nullable=True),
    sa.Column('longitude', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], ),
    sa.ForeignKeyConstraint(['grid_id'], ['grid.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('community_id', 'name')
    )
    op.create_index(op.f('ix_place_community_id'), 'place', ['community_id'], unique=False)
    op.create_index(op.f('ix_place_grid_id'), 'place', ['grid_id'], unique=False)
    op.add_column('building', sa.Column('latitude', sa.Float(), nullable=True))
    op.add_column('building', sa.Column('longitude', sa.Float(), nullable=True))
    with op.batch_alter_table('ticket') as batch:
        batch.add_column(sa.Column('place_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('latitude', sa.Float(), nullable=True))
        batch.add_column(sa.Column('longitude', sa.Float(), nullable=True))
        batch.create_foreign_key(FK, 'place', ['place_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('ticket') as batch:
        batch.drop_constraint(FK, type_='foreignkey')
        batch.drop_column('longitude')
        batch.drop_column('latitude')
        batch.drop_column('place_id')
    op.drop_column('building', 'longitude')
    op.drop_column('building', 'latitude')
    op.drop_index(op.f('ix_place_grid_id'), table_name='place')
    op.drop_index(op.f('ix_place_community_id'), table_name='place')
    op.drop_table('place')

"""codes unique within their parent; a resident's community and estate; a community's estates

Grid codes were unique over the whole account, so importing a second community with a G01
moved the first one's grid. Now: grid code unique within its community, community name
within its street, lending station and care programme names within their community
(building numbers already were). ``resident.community_id`` (backfilled from the resident's
building) and ``resident.estate`` record where a resident lives once known;
``community.estates`` lists the 小区 names residents use for a community.

The old single-column unique constraints were created unnamed: PostgreSQL named them
``<table>_<column>_key`` (looked up here, not assumed), SQLite left them nameless (the batch
copy names them by ``NAMING`` so they can be dropped). A downgrade names them
``<table>_<column>_key`` on both.

Revision ID: c4d2e6a8f1b3
Revises: 79584a534050
Create Date: 2026-11-29 07:20:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'c4d2e6a8f1b3'
down_revision: str | None = '79584a534050'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}
"""Names SQLite's nameless unique constraints in a batch copy."""

SCOPED = (
    # table, globally unique column, parent column, new constraint name
    ('grid', 'code', 'community_id', 'uq_grid_community_code'),
    ('community', 'name', 'street_id', 'uq_community_street_name'),
    ('lend_station', 'name', 'community_id', 'uq_lend_station_community_name'),
    ('care_programme', 'name', 'community_id', 'uq_care_programme_community_name'),
)


def _single_unique(table: str, column: str) -> str:
    """Name of the unique constraint on ``table(column)`` alone, as the database has it."""
    for uc in sa.inspect(op.get_bind()).get_unique_constraints(table):
        if uc['column_names'] == [column]:
            return uc['name'] or NAMING['uq'] % {'table_name': table, 'column_0_name': column}
    raise LookupError(f"no unique constraint on {table}({column})")


def upgrade() -> None:
    for table, column, parent, name in SCOPED:
        old = _single_unique(table, column)
        with op.batch_alter_table(table, naming_convention=NAMING) as batch_op:
            batch_op.drop_constraint(old, type_='unique')
            batch_op.create_unique_constraint(name, [parent, column])
    with op.batch_alter_table('community') as batch_op:
        batch_op.add_column(sa.Column('estates', sa.JSON(), nullable=False, server_default='[]'))
    with op.batch_alter_table('resident') as batch_op:
        batch_op.add_column(sa.Column('community_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('estate', sa.String(), nullable=True))
        batch_op.create_index(batch_op.f('ix_resident_community_id'), ['community_id'],
                              unique=False)
        batch_op.create_foreign_key('fk_resident_community_id_community', 'community',
                                    ['community_id'], ['id'])
    op.execute("UPDATE resident SET community_id = (SELECT building.community_id FROM building"
               " WHERE building.id = resident.building_id) WHERE building_id IS NOT NULL")


def downgrade() -> None:
    """Fails (unique violation) when two communities share a grid code or a name, as it
    must: the old schema cannot hold them."""
    with op.batch_alter_table('resident') as batch_op:
        batch_op.drop_constraint('fk_resident_community_id_community', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_resident_community_id'))
        batch_op.drop_column('estate')
        batch_op.drop_column('community_id')
    with op.batch_alter_table('community') as batch_op:
        batch_op.drop_column('estates')
    for table, column, _parent, name in SCOPED:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_constraint(name, type_='unique')
            batch_op.create_unique_constraint(f'{table}_{column}_key', [column])

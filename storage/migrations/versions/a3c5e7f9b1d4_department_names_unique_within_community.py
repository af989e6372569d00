"""department names unique within their community; street-level ones among themselves

``department.name`` was unique over the whole account, so two communities could not each
have a 物业公司. Now a department's name is unique within its community
(``uq_department_community_name``); a department with no community (街道部门: 城管, 派出所 …,
serving every community) is unique among those by a partial unique index
(``uq_department_street_name`` ``WHERE community_id IS NULL``: a plain unique constraint
lets NULLs repeat).

The old constraint was created unnamed: PostgreSQL named it ``department_name_key`` (looked
up, not assumed), SQLite left it nameless (the batch copy names it by ``NAMING``). A
downgrade recreates ``department_name_key``; it fails when two departments share a name, as
it must: the old schema cannot hold them.

Revision ID: a3c5e7f9b1d4
Revises: e1c0a5f7b9d2
Create Date: 2026-11-29 10:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'a3c5e7f9b1d4'
down_revision: str | None = 'e1c0a5f7b9d2'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}
"""Names SQLite's nameless unique constraint in a batch copy."""
STREET_LEVEL = sa.text("community_id IS NULL")


def _name_unique() -> str:
    """Name of the unique constraint on ``department(name)`` alone, as the database has it."""
    for uc in sa.inspect(op.get_bind()).get_unique_constraints('department'):
        if uc['column_names'] == ['name']:
            return uc['name'] or NAMING['uq'] % {'table_name': 'department', 'column_0_name': 'name'}
    raise LookupError("no unique constraint on department(name)")


def upgrade() -> None:
    old = _name_unique()
    with op.batch_alter_table('department', naming_convention=NAMING) as batch_op:
        batch_op.drop_constraint(old, type_='unique')
        batch_op.create_unique_constraint('uq_department_community_name',
                                          ['community_id', 'name'])
    op.create_index('uq_department_street_name', 'department', ['name'], unique=True,
                    postgresql_where=STREET_LEVEL, sqlite_where=STREET_LEVEL)


def downgrade() -> None:
    op.drop_index('uq_department_street_name', table_name='department')
    with op.batch_alter_table('department') as batch_op:
        batch_op.drop_constraint('uq_department_community_name', type_='unique')
        batch_op.create_unique_constraint('department_name_key', ['name'])

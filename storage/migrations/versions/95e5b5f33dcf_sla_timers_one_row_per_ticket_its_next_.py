"""sla timers: one row per ticket (its next due step), not one per step

``tickettimer`` becomes one row per ticket keyed by ``ticket_id``: the next due ``step`` and
``due_at`` (NULL when nothing is to come), the ``cycle`` and the steps already ``fired`` in
it (a JSON list). Alembic does not see a primary-key change, so this is written by hand: the
old table is renamed, the new one created and filled, the old one dropped.

Data: per ticket with timers, its current cycle (``ticket.sla_cycle``), the earliest pending
step of that cycle (soonest due, then oldest row) and the steps fired in it, in firing
order. ``enqueued_at`` starts empty: the next sweep queues each step under its new job id.
Jobs queued before the upgrade ("timer:<old id>", one argument) fail in the worker with a
TypeError, harmlessly: the sweep fires their steps. Downgrade keeps each ticket's next step
as its one pending row and each fired step as a fired row (due at its firing time); the old
code re-plans the remaining steps at the ticket's next change.

Revision ID: 95e5b5f33dcf
Revises: 41d8b081e519
Create Date: 2026-11-29 04:27:40.709426
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '95e5b5f33dcf'
down_revision: str | None = '41d8b081e519'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_INDEXES = ("due_at", "state", "ticket_id")


def _rename(table: str, to: str) -> None:
    """Rename a table, and on PostgreSQL its primary key (an index: names are per schema)."""
    op.rename_table(table, to)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f'ALTER TABLE "{to}" RENAME CONSTRAINT "{table}_pkey" TO "{to}_pkey"')


def upgrade() -> None:
    for column in OLD_INDEXES:
        op.drop_index(f'ix_tickettimer_{column}', table_name='tickettimer')
    _rename('tickettimer', 'tickettimer_old')
    op.create_table('tickettimer',
    sa.Column('ticket_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('cycle', sa.Integer(), nullable=False),
    sa.Column('step', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('fired', sa.JSON(), nullable=False),
    sa.Column('enqueued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('fired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], ),
    sa.PrimaryKeyConstraint('ticket_id')
    )
    op.create_index('ix_tickettimer_due_at', 'tickettimer', ['due_at'], unique=False)
    this = "o.ticket_id = t.id AND o.cycle = t.sla_cycle"  # the ticket's current cycle
    if op.get_bind().dialect.name == "postgresql":
        fired = ("COALESCE((SELECT json_agg(o.step ORDER BY o.fired_at, o.id)"
                 f" FROM tickettimer_old o WHERE {this} AND o.state = 'fired'), '[]'::json)")
    else:  # SQLite keeps a subquery's order for json_group_array
        fired = ("(SELECT json_group_array(step) FROM (SELECT o.step FROM tickettimer_old o"
                 f" WHERE {this} AND o.state = 'fired' ORDER BY o.fired_at, o.id))")
    first_pending = (f"FROM tickettimer_old o WHERE {this} AND o.state = 'pending'"
                     " ORDER BY o.due_at, o.id LIMIT 1")
    op.execute(f"""
        INSERT INTO tickettimer (ticket_id, cycle, step, due_at, fired, enqueued_at, fired_at,
                                 created_at)
        SELECT t.id, t.sla_cycle,
               (SELECT o.step {first_pending}),
               (SELECT o.due_at {first_pending}),
               {fired},
               NULL,
               (SELECT max(o.fired_at) FROM tickettimer_old o WHERE {this} AND o.state = 'fired'),
               (SELECT min(o.created_at) FROM tickettimer_old o WHERE o.ticket_id = t.id)
        FROM ticket t
        WHERE EXISTS (SELECT 1 FROM tickettimer_old o WHERE o.ticket_id = t.id)
    """)
    op.drop_table('tickettimer_old')


def downgrade() -> None:
    op.drop_index('ix_tickettimer_due_at', table_name='tickettimer')
    _rename('tickettimer', 'tickettimer_new')
    op.create_table('tickettimer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('cycle', sa.Integer(), nullable=False),
    sa.Column('step', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('enqueued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('fired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    for column in OLD_INDEXES:
        op.create_index(f'ix_tickettimer_{column}', 'tickettimer', [column], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        steps = "json_array_elements_text(n.fired) AS f(step)"
        step = "f.step"
    else:
        steps = "json_each(n.fired) AS f"
        step = "f.value"
    op.execute(f"""
        INSERT INTO tickettimer (ticket_id, cycle, step, due_at, state, fired_at, created_at)
        SELECT n.ticket_id, n.cycle, {step}, COALESCE(n.fired_at, n.created_at), 'fired',
               n.fired_at, n.created_at
        FROM tickettimer_new n, {steps}
    """)
    op.execute("""
        INSERT INTO tickettimer (ticket_id, cycle, step, due_at, state, created_at)
        SELECT n.ticket_id, n.cycle, n.step, n.due_at, 'pending', n.created_at
        FROM tickettimer_new n WHERE n.step IS NOT NULL
    """)
    op.drop_table('tickettimer_new')

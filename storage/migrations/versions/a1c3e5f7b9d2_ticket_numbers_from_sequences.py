"""ticket numbers from per-day sequences (no counter row locked until commit)

Revision ID: a1c3e5f7b9d2
Revises: 5980de2a9485
Create Date: 2026-11-29 03:55:00
"""
from collections.abc import Sequence

from alembic import op

from storage.tickets import NUMBER_FUNCTION_SQL

revision: str = 'a1c3e5f7b9d2'
down_revision: str | None = '5980de2a9485'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite keeps the dailycounter upsert (one writer at a time)
    op.execute(NUMBER_FUNCTION_SQL)
    # Today's numbers go on from the counter row, so a deployment mid-day repeats none.
    op.execute("""
        DO $$
        DECLARE r record;
        BEGIN
          FOR r IN SELECT name, day, value FROM dailycounter LOOP
            PERFORM gridbot_next_number(r.name, r.day);
            PERFORM setval(quote_ident('gridbot_seq_' || lower(r.name) || '_' || r.day), r.value);
          END LOOP;
        END $$;
    """)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION IF EXISTS gridbot_next_number(text, text)")

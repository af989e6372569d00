"""Database round trips per message on the hot path (issue: a lean request).

Counted with SQLAlchemy's ``before_cursor_execute`` on the app's engine: every statement is
one round trip to the server. Not counted: the transaction's BEGIN and COMMIT and the pool's
pre-ping on checkout (3 more round trips per message).
"""

from __future__ import annotations

import pytest

from tests.conftest import BACKEND, counting

pytestmark = pytest.mark.skipif(BACKEND == "sqlite", reason="budgets are for PostgreSQL, the "
                                "production database (SQLite numbers tickets with an upsert)")


@pytest.fixture
def counted(chat):
    engine = chat.client.app.state.engine
    chat.say("rt-warm", "3号楼1单元101，电梯坏了")  # pools and the org cache warm

    def run(openid: str, text: str) -> list[str]:
        with counting(engine) as statements:
            chat.say(openid, text)
        return statements

    return run


def test_a_greeting_is_two_statements(counted):
    counted("rt-g", "你好")
    assert len(counted("rt-g", "你好")) <= 2  # the resident, then the message with its reply


def test_a_progress_query_is_four_statements_whatever_the_number_of_tickets(counted):
    """Resident, their tickets, the message, and the numbered list remembered on the resident
    row (so 「撤销 1」 means the ticket shown first: ``handlers.shortref``)."""
    for n, problem in enumerate(("楼道灯坏了", "电梯坏了", "下水道堵了", "暖气不热")):
        counted(f"rt-q{n}", f"3号楼2单元50{n}，{problem}")
    few = counted("rt-q0", "查询")
    for problem in ("楼道灯又坏了", "门禁坏了"):
        counted("rt-q0", f"3号楼2单元500，{problem}")
    many = counted("rt-q0", "查询")
    assert len(few) <= 4 and len(many) <= 4, many


def test_a_report_by_a_known_resident_is_lean(counted):
    counted("rt-r", "3号楼2单元501，暖气不热")  # known from now on (no duplicate offer)
    statements = counted("rt-r", "3号楼2单元501，楼道灯坏了")
    # resident; burst and duplicate checks; message; number; ticket; push; timeline; the SLA
    # timer (one upsert); reply. Buildings, grids and staff come from the org cache.
    assert len(statements) <= 10, "\n".join(statements)
    assert not [s for s in statements if "FROM building" in s or "FROM gridworker" in s]

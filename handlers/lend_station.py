"""Station staff's lending commands in chat (role ``station_staff`` or ``community_admin``):

- ``借出 <单号>`` — the resident collected a held reservation; the due date starts.
- ``归还 <单号> [完好|损坏 说明]`` — the units are back (damaged ones leave service); the
  next resident in the queue is offered them.
- ``借用清单`` — holds and loans of the stations, overdue ones first.

Each step is pushed to the resident.
"""

from __future__ import annotations

from handlers import worker_command
from handlers.turn import Turn
from services import lending as lending_actions
from services import lending_notify as notify
from services import permissions
from services.errors import WrongState
from services.messages import msg
from storage import NotFound, lending, numbers, org
from storage.lending import Loan, LoanStatus
from storage.models import Resident
from storage.times import as_utc

DAMAGED_WORDS = ("损坏", "坏了", "损毁", "破损")


def _load(turn: Turn, verb: str, argument: str) -> tuple[Loan, str] | str:
    """(loan, rest of the argument) or the reply refusing the command."""
    if not permissions.may_lend(turn.session, turn.worker):
        return msg("lending.staff_not_allowed")
    m = numbers.LOANS.match(argument)
    if m is None:
        return msg("lending.staff_need_number", command=verb)
    try:
        loan = lending.loan_by_number(turn.session, m[0])
    except NotFound:
        return msg("lending.not_found", no=m[0])
    if not permissions.may_lend(turn.session, turn.worker, loan):
        return msg("lending.staff_not_allowed")
    return loan, m[1]


def _who(turn: Turn, loan: Loan) -> str:
    """How staff recognise the borrower: 「3号楼2单元501 13800000001」, what is known of it."""
    resident = turn.session.get(Resident, loan.resident_id)
    if resident is None:
        return msg("lending.staff_resident")
    parts = [org.address_of(turn.session, resident), resident.phone]
    return " ".join(p for p in parts if p) or msg("lending.staff_resident")


@worker_command("借出")
def hand_out_command(turn: Turn, verb: str, argument: str) -> str:
    """``借出 <单号>``: hand the held units to the resident."""
    loaded = _load(turn, verb, argument)
    if isinstance(loaded, str):
        return loaded
    loan, _ = loaded
    tz = turn.settings.timezone
    try:
        lending_actions.hand_out(turn.session, loan, turn.worker.id, turn.now, tz)
    except WrongState:
        status = loan.status
        if status == LoanStatus.HELD:  # held but past its expiry
            status = LoanStatus.EXPIRED
        return msg("lending.staff_bad_state", no=loan.number, action=verb,
                   status=msg(f"lending.status_{status}"))
    notify.handed_out(turn.session, loan, turn.now, tz)
    f = notify.fields(turn.session, loan, tz)
    return msg("lending.staff_handed_out", who=_who(turn, loan),
               **{**f, "terms": ("\n" + msg("lending.staff_collect", terms=f["terms"]))
                  if f["terms"] else ""})


@worker_command("归还")
def take_back_command(turn: Turn, verb: str, argument: str) -> str:
    """``归还 <单号> [完好|损坏 说明]``: take the units back."""
    loaded = _load(turn, verb, argument)
    if isinstance(loaded, str):
        return loaded
    loan, rest = loaded
    damaged = any(rest.startswith(w) for w in DAMAGED_WORDS)
    note = rest
    for word in (*DAMAGED_WORDS, "完好", "正常"):
        if note.startswith(word):
            note = note[len(word):]
            break
    note = note.strip(" ，,：:") or None
    if damaged and note is None:
        return msg("lending.staff_need_damage_note", no=loan.number)
    tz = turn.settings.timezone
    try:
        released = lending_actions.take_back(turn.session, loan, turn.worker.id, turn.now,
                                             damaged, note)
    except WrongState:
        return msg("lending.staff_bad_state", no=loan.number, action=verb,
                   status=msg(f"lending.status_{loan.status}"))
    offered = notify.taken_back(turn.session, loan, released, turn.now, tz)
    f = notify.fields(turn.session, loan, tz)
    return msg("lending.staff_returned", condition=loan.return_condition,
               next=msg("lending.staff_next_offered", count=offered) if offered else "", **f)


@worker_command("借用清单", "驿站清单")
def list_command(turn: Turn, verb: str, argument: str) -> str:
    """``借用清单``: overdue loans first, then loans out, then holds awaiting collection."""
    if not permissions.may_lend(turn.session, turn.worker):
        return msg("lending.staff_not_allowed")
    tz = turn.settings.timezone
    loans = [loan for loan in lending.open_loans(turn.session)
             if permissions.may_lend(turn.session, turn.worker, loan)]
    if not loans:
        return msg("lending.staff_list_empty")

    def overdue(loan: Loan) -> bool:
        return loan.status == LoanStatus.OUT and as_utc(loan.due_at) < turn.now

    loans.sort(key=lambda x: (not overdue(x), x.status != LoanStatus.OUT, x.id))
    lines = [msg("lending.staff_list_header", count=len(loans))]
    for loan in loans:
        f = notify.fields(turn.session, loan, tz)
        when = f["due"] if loan.status == LoanStatus.OUT else f["deadline"]
        lines.append(msg("lending.staff_list_line", when=when,
                         overdue=msg("lending.overdue_flag") if overdue(loan) else "", **f))
    return "\n".join(lines)

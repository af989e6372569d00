"""Seed a PostgreSQL database at city scale, then measure the hot paths' queries in it.

Usage::

    python bench/seed_city.py [--scale 1.0] [--name NAME] [--drop] [--repeat 5] [--plans]
    python bench/seed_city.py --reuse NAME [--drop]      # measure again (after new migrations)

1. Database. ``--name`` (default ``gridbot_city_<random>``) is CREATED through
   ``--pg-admin-url`` and marked with ``COMMENT ON DATABASE … 'gridbot seed_city'``; an
   existing database is never reused unless ``--reuse`` names it and it bears that mark, and
   ``--drop`` drops only the database of this run (after measuring). The schema comes from
   ``storage.migrate.upgrade(url)`` (alembic), as in production; ``--reuse`` runs it again, so
   a new migration (an index) is applied before measuring.
2. Data, at ``--scale`` 1.0 (``--scale 0.1`` for a quick run; the organisation scales with
   the number of streets): 50 streets × 20 communities × 10 grids = 10,000 grids, 10
   buildings per grid (100,000), one grid worker and one grid leader per grid, one admin and
   one department (with a member) per community, a few inactive former workers;
   1,000,000 residents; 200,000 open tickets created in the last 45 days and 300,000 older
   ones (resolved, closed, cancelled, rejected, created in the last 365 days); about 2.2 M
   timeline events (one per step each ticket went through); SLA timers (one pending per open
   ticket, one fired per finished ticket); 1,000,000 outbox rows (mostly sent; some pending,
   due or not, dead, unknown); 1,000,000 inbound messages; duplicate-report followers.
   Resident 1 is a heavy user (one ticket in 2,000: 250 at full size). Every table is filled
   by ``INSERT … SELECT … FROM generate_series`` in the server (no rows cross the wire; seeded
   ``random()`` so a run is repeatable), then ``VACUUM ANALYZE``. Times and row counts are
   printed.
3. Measurements. Each hot path calls the real function of ``storage``/``handlers`` (no
   hand-written SQL) on a session of the seeded database; an engine event captures every
   statement it sends, with its parameters, and each is then run ``--repeat`` times under
   ``EXPLAIN (ANALYZE, BUFFERS)`` inside a transaction that is rolled back. Printed per
   statement: the median and worst execution time (ms, as PostgreSQL reports it, so no
   network or Python time), the plan's nodes (indexes used, rows) and buffers; ``--plans``
   prints the whole text plan. Target: under 10 ms (``TARGET_MS``); a statement over it is
   flagged "SLOW". The wall time of the real call (Python included) is printed beside.

Exit status 0: figures, not assertions (the machine may be shared; the load average is
printed before and after).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

SCRIPT = Path(__file__).resolve()
if sys.path and Path(sys.path[0] or ".").resolve() == SCRIPT.parent:
    sys.path[0] = str(SCRIPT.parent.parent)  # run as a script: import the project, not bench/

import psycopg  # noqa: E402
from sqlalchemy import Engine, event, text  # noqa: E402
from sqlmodel import Session  # noqa: E402

from storage import migrate  # noqa: E402
from storage.db import make_engine  # noqa: E402

PG_ADMIN_URL = os.environ.get("GRIDBOT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
MARK = "gridbot seed_city"
"""Comment on every database this script creates; --reuse and --drop require it."""
TARGET_MS = 10.0

CATEGORIES = ("楼道灯", "漏水", "电梯", "下水道", "暖气", "噪音", "楼道堆物", "飞线充电", "停车",
              "宠物扰民", "物业服务", "危树")


@dataclass
class Sizes:
    """Row counts at a scale (1.0 = the city of issue 9)."""

    streets: int
    communities_per_street: int = 20
    grids_per_community: int = 10
    buildings_per_grid: int = 10
    residents: int = 1_000_000
    open_tickets: int = 200_000
    old_tickets: int = 300_000
    outbox: int = 1_000_000
    inbound: int = 1_000_000
    followers: int = 20_000

    @classmethod
    def at(cls, scale: float) -> Sizes:
        def n(full: int) -> int:
            return max(int(full * scale), 10)
        return cls(streets=max(round(50 * scale), 1), residents=n(1_000_000),
                   open_tickets=n(200_000), old_tickets=n(300_000), outbox=n(1_000_000),
                   inbound=n(1_000_000), followers=n(20_000))

    @property
    def communities(self) -> int:
        return self.streets * self.communities_per_street

    @property
    def grids(self) -> int:
        return self.communities * self.grids_per_community

    @property
    def buildings(self) -> int:
        return self.grids * self.buildings_per_grid

    @property
    def tickets(self) -> int:
        return self.open_tickets + self.old_tickets


# -- the database --------------------------------------------------------------------------------
def _sqlalchemy_url(admin_url: str, name: str) -> str:
    return admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) + "/" + name


def _is_ours(admin_url: str, name: str) -> bool:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        row = conn.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database"
                           " WHERE datname = %s", (name,)).fetchone()
    return row is not None and row[0] == MARK


@contextlib.contextmanager
def seeded_database(admin_url: str, name: str | None, reuse: str | None,
                    drop: bool) -> Iterator[tuple[str, bool]]:
    """(SQLAlchemy URL, created now) of this run's database; dropped on exit when ``drop``.

    Raises SystemExit when ``name`` exists already or ``reuse`` is not a database this
    script made (no other database is ever touched)."""
    if reuse:
        if not _is_ours(admin_url, reuse):
            raise SystemExit(f"{reuse!r} is not a database made by seed_city (no {MARK!r} mark)")
        name, created = reuse, False
    else:
        name = name or f"gridbot_city_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(admin_url, autocommit=True) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                raise SystemExit(f"database {name!r} exists: pick another --name (or --reuse it)")
            conn.execute(f'CREATE DATABASE "{name}"')
            conn.execute(f"COMMENT ON DATABASE \"{name}\" IS '{MARK}'")
        created = True
    print(f"database: {name}" + ("" if drop else "  (kept; drop it with --reuse NAME --drop)"))
    try:
        yield _sqlalchemy_url(admin_url, name), created
    finally:
        if drop and _is_ours(admin_url, name):
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            print(f"database {name} dropped")


# -- seeding -------------------------------------------------------------------------------------
def _steps(z: Sizes) -> list[tuple[str, str]]:
    """(table, INSERT … SELECT) in dependency order. Ids are given explicitly so that related
    rows are found by arithmetic (building b is in grid (b-1)/B+1; grid g's worker is g)."""
    G, B, C = z.grids, z.buildings, z.communities
    GPC, BPG = z.grids_per_community, z.buildings_per_grid
    cats = "ARRAY[" + ",".join(f"'{c}'" for c in CATEGORIES) + "]"
    # staff ids: 1..G grid workers (worker of grid g is g), G+1..2G leaders, 2G+1..2G+C admins,
    # 2G+C+1..2G+2C department members, then former (inactive) workers of every 10th grid.
    leader0, admin0, member0, former0 = G, 2 * G, 2 * G + C, 2 * G + 2 * C
    open_mix = ("CASE WHEN r1 < .05 THEN 'submitted' WHEN r1 < .45 THEN 'assigned'"
                " WHEN r1 < .70 THEN 'accepted' WHEN r1 < .90 THEN 'in_progress'"
                " WHEN r1 < .95 THEN 'waiting_resident' ELSE 'reopened' END")
    old_mix = ("CASE WHEN r1 < .06 THEN 'resolved' WHEN r1 < .84 THEN 'closed'"
               " WHEN r1 < .92 THEN 'cancelled' ELSE 'rejected' END")
    ticket_sql = f"""
INSERT INTO ticket (id, number, kind, category, description, building_id, unit, room, priority,
  urgent, status, grid_id, assignee_id, resident_id, created_at, assigned_at, accepted_at,
  resolved_at, closed_at, cancelled_at, rejected_at, first_owner_id, department_id, sla_policy,
  sla_cycle, response_due_at, resolve_due_at, responded_at, first_response_at, paused_at,
  paused_s, response_met, resolve_met, escalation_level, reopened_count, reopened_at, rating,
  auto_closed, resolution)
SELECT id, 'GD' || to_char(created_at AT TIME ZONE 'Asia/Shanghai', 'YYYYMMDD') || '-'
         || lpad(id::text, 6, '0'),
  CASE WHEN r2 < .6 THEN 'repair' ELSE 'complaint' END, cat, cat || '问题，请尽快处理',
  b, 1 + id % 6, (1 + id % 30)::text || '0' || (1 + id % 4)::text,
  CASE WHEN urgent THEN 0 ELSE 2 END, urgent, status, g,
  CASE WHEN status = 'submitted' THEN NULL ELSE g END, rid, created_at,
  CASE WHEN status = 'submitted' THEN NULL ELSE created_at + interval '1 second' END,
  CASE WHEN status IN ('submitted', 'assigned', 'cancelled') THEN NULL ELSE responded END,
  CASE WHEN status IN ('resolved', 'closed') THEN resolved END,
  CASE WHEN status = 'closed' THEN resolved + interval '2 days' END,
  CASE WHEN status = 'cancelled' THEN created_at + interval '30 minutes' END,
  CASE WHEN status = 'rejected' THEN responded END,
  CASE WHEN status IN ('submitted', 'assigned', 'cancelled') THEN NULL ELSE g END,
  CASE WHEN status NOT IN ('submitted', 'closed', 'cancelled', 'rejected', 'resolved')
       AND id % 50 = 0 THEN 1 + id % {C} END,
  CASE WHEN urgent THEN 'urgent' ELSE 'default' END,
  CASE WHEN status = 'reopened' THEN 1 ELSE 0 END,
  created_at + CASE WHEN urgent THEN interval '15 minutes' ELSE interval '1 hour' END,
  created_at + CASE WHEN urgent THEN interval '4 hours' ELSE interval '24 hours' END,
  CASE WHEN status IN ('submitted', 'assigned', 'cancelled') THEN NULL ELSE responded END,
  CASE WHEN status IN ('submitted', 'assigned', 'cancelled') THEN NULL ELSE responded END,
  CASE WHEN status = 'waiting_resident' THEN responded + interval '10 minutes' END,
  0,
  CASE WHEN status IN ('submitted', 'assigned', 'cancelled') THEN NULL
       ELSE responded <= created_at + interval '1 hour' END,
  CASE WHEN status IN ('resolved', 'closed') THEN resolved <= created_at + interval '24 hours'
       WHEN status = 'rejected' THEN true END,
  CASE WHEN r3 < .05 THEN 1 ELSE 0 END,
  CASE WHEN status = 'reopened' THEN 1 ELSE 0 END,
  CASE WHEN status = 'reopened' THEN resolved END,
  CASE WHEN status = 'closed' AND r3 > .3 THEN 1 + (r4 * 4.99)::int END,
  status = 'closed' AND r3 <= .3,
  CASE WHEN status IN ('resolved', 'closed') THEN '已处理' WHEN status = 'rejected'
       THEN '不属于社区事务，请拨打12345' END
FROM (
  SELECT id, b, (b - 1) / {BPG} + 1 AS g, rid, r1, r2, r3, r4, urgent, cat, status, created_at,
         created_at + (r4 * interval '2 hours') AS responded,
         created_at + interval '10 minutes' + (r3 * interval '40 hours') AS resolved
  FROM (
    SELECT id, 1 + (random() * ({B} - 1))::int AS b,
           CASE WHEN id % 2000 = 0 THEN 1 ELSE 1 + (random() * ({z.residents} - 1))::int END AS rid,
           r1, random() AS r2, random() AS r3, random() AS r4, random() < .03 AS urgent,
           ({cats})[1 + (random() * {len(CATEGORIES) - 1})::int] AS cat,
           CASE WHEN id <= {z.open_tickets} THEN {open_mix} ELSE {old_mix} END AS status,
           now() - CASE WHEN id <= {z.open_tickets} THEN random() * interval '45 days'
                        ELSE interval '2 days' + random() * interval '363 days' END AS created_at
    FROM (SELECT id, random() AS r1 FROM generate_series(1, {z.tickets}) id) s0
  ) s1
) s2"""
    events_sql = """
INSERT INTO ticketevent (ticket_id, at, kind, actor, note)
SELECT t.id, t.created_at + k * interval '7 minutes', (steps)[k],
       CASE WHEN k = 1 THEN 'resident:' || t.resident_id ELSE 'worker:' || t.grid_id END,
       CASE WHEN k = 1 THEN t.description END
FROM (SELECT id, created_at, resident_id, grid_id, description, CASE status
        WHEN 'submitted' THEN ARRAY['submitted']
        WHEN 'assigned' THEN ARRAY['submitted','assigned']
        WHEN 'accepted' THEN ARRAY['submitted','assigned','accepted']
        WHEN 'in_progress' THEN ARRAY['submitted','assigned','accepted','in_progress']
        WHEN 'waiting_resident' THEN
             ARRAY['submitted','assigned','accepted','in_progress','waiting_resident']
        WHEN 'reopened' THEN
             ARRAY['submitted','assigned','accepted','in_progress','resolved','reopened']
        WHEN 'resolved' THEN ARRAY['submitted','assigned','accepted','in_progress','resolved']
        WHEN 'closed' THEN
             ARRAY['submitted','assigned','accepted','in_progress','resolved','closed']
        WHEN 'cancelled' THEN ARRAY['submitted','cancelled']
        ELSE ARRAY['submitted','assigned','rejected'] END AS steps FROM ticket) t,
     generate_series(1, cardinality(t.steps)) k
ORDER BY t.created_at, t.id, k"""
    return [
        ("street", f"INSERT INTO street (id, name) SELECT s, '第' || s || '街道'"
                   f" FROM generate_series(1, {z.streets}) s"),
        ("community", f"INSERT INTO community (id, street_id, name, phone)"
                      f" SELECT c, (c - 1) / {z.communities_per_street} + 1, '社区' || c,"
                      f" '024-' || lpad(c::text, 8, '0') FROM generate_series(1, {C}) c"),
        ("grid", f"INSERT INTO grid (id, community_id, code, name) SELECT g, (g - 1) / {GPC} + 1,"
                 f" 'G' || lpad(g::text, 5, '0'), '第' || g || '网格' FROM generate_series(1, {G}) g"),
        ("building", f"INSERT INTO building (id, community_id, grid_id, number, name)"
                     f" SELECT b, (b - 1) / {GPC * BPG} + 1, (b - 1) / {BPG} + 1,"
                     f" (b - 1) % {GPC * BPG} + 1, ((b - 1) % {GPC * BPG} + 1) || '号楼'"
                     f" FROM generate_series(1, {B}) b"),
        ("gridworker", f"""
INSERT INTO gridworker (id, openid, name, phone, role, grid_id, community_id, active)
SELECT g, 'w-g' || g, '网格员' || g, '139' || lpad(g::text, 8, '0'), 'grid_worker', g,
       (g - 1) / {GPC} + 1, true FROM generate_series(1, {G}) g
UNION ALL SELECT {leader0} + g, 'l-g' || g, '网格长' || g, NULL, 'grid_leader', g,
       (g - 1) / {GPC} + 1, true FROM generate_series(1, {G}) g
UNION ALL SELECT {admin0} + c, 'a-c' || c, '社区干部' || c, NULL, 'community_admin', NULL, c,
       true FROM generate_series(1, {C}) c
UNION ALL SELECT {member0} + c, 'd-c' || c, '物业' || c, NULL, 'department', NULL, c, true
       FROM generate_series(1, {C}) c
UNION ALL SELECT {former0} + g / 10, 'old-g' || g, '原网格员' || g, NULL, 'grid_worker', g,
       (g - 1) / {GPC} + 1, false FROM generate_series(10, {G}, 10) g"""),
        ("department", f"INSERT INTO department (id, name, community_id, phone) SELECT c,"
                       f" '物业公司' || c, c, NULL FROM generate_series(1, {C}) c"),
        ("departmentmember", f"INSERT INTO departmentmember (department_id, worker_id)"
                             f" SELECT c, {member0} + c FROM generate_series(1, {C}) c"),
        ("resident", f"""
INSERT INTO resident (id, openid, building_id, unit, room, phone, subscribed, last_message_at,
                      created_at)
SELECT r, 'o-' || r, CASE WHEN r % 10 = 0 THEN NULL ELSE 1 + (random() * ({B} - 1))::int END,
       1 + r % 6, (1 + r % 30)::text || '0' || (1 + r % 4)::text,
       CASE WHEN r % 3 = 0 THEN '138' || lpad(r::text, 8, '0') END, r % 50 <> 0,
       now() - random() * interval '180 days', now() - interval '400 days' + r * interval '1 second'
FROM generate_series(1, {z.residents}) r"""),
        ("ticket", ticket_sql),
        ("ticketevent", events_sql),
        ("ticketfollower", f"""
INSERT INTO ticketfollower (ticket_id, resident_id, note, created_at)
SELECT DISTINCT ON (t, r) t, r, '我家也是', now() FROM (
  SELECT 1 + (random() * ({z.open_tickets} - 1))::int AS t,
         1 + (random() * ({z.residents} - 1))::int AS r FROM generate_series(1, {z.followers})) s"""),
        ("outbox", f"""
INSERT INTO outbox (created_at, openid, audience, event, text, data, ticket_id, status, attempts,
                    next_attempt_at, channel, last_error, sent_at)
SELECT at, CASE WHEN i % 2 = 0 THEN 'o-' || (1 + i % {z.residents}) ELSE 'w-g' || (1 + i % {G}) END,
       CASE WHEN i % 2 = 0 THEN 'resident' ELSE 'worker' END, 'push_task_assigned',
       '【新工单】请及时处理', '{{}}', 1 + i % {z.tickets}, status, CASE WHEN status = 'sent'
       THEN 1 ELSE 3 END,
       CASE WHEN status = 'pending' AND i % 2 = 0 THEN now() - random() * interval '1 minute'
            WHEN status = 'pending' THEN now() + random() * interval '1 hour' ELSE at END,
       CASE WHEN status = 'sent' THEN 'custom' END,
       CASE WHEN status IN ('dead', 'unknown') THEN 'errcode 45015' END,
       CASE WHEN status = 'sent' THEN at + interval '1 second' END
FROM (SELECT i, now() - interval '365 days' + i * (interval '365 days' / {z.outbox}) AS at,
             CASE WHEN i % 1000 < 980 THEN 'sent' WHEN i % 1000 < 995 THEN 'pending'
                  WHEN i % 1000 < 998 THEN 'dead' ELSE 'unknown' END AS status
      FROM generate_series(1, {z.outbox}) i) s"""),
        ("inboundmessage", f"""
INSERT INTO inboundmessage (dedup_key, openid, msg_type, content, received_at, intent,
                            confidence, reply, needs_staff, error)
SELECT 'msg:' || i, 'o-' || (1 + (random() * ({z.residents} - 1))::int), 'text', '楼道灯坏了',
       now() - interval '365 days' + i * (interval '365 days' / {z.inbound}), 'report_repair',
       0.9, '已为您登记报修工单', i % 1000 = 0, NULL
FROM generate_series(1, {z.inbound}) i"""),
    ]


def _timer_sql(conn) -> str:
    """SLA timers in the shape of the migrated table, as a running worker leaves them: an open
    ticket's next step is due within 48 h (one in 33 is due now: the sweep's work), those due
    within the hour are queued (nine in ten). One timer row per ticket (the
    ``fired`` list), or — the older shape, one row per step with a ``state`` — a pending row
    per open ticket and a fired one per finished ticket. Columns are read from the table, so
    a reshaped TicketTimer fails here by name instead of being seeded wrongly."""
    cols = {name: nullable for name, nullable in conn.execute(text(
        "SELECT column_name, is_nullable = 'YES' FROM information_schema.columns"
        " WHERE table_name = 'tickettimer'"))}
    per_step = "state" in cols
    known = {
        "id": None, "ticket_id": "id", "cycle": "sla_cycle",
        "step": "CASE WHEN open THEN 'resolve:warn' ELSE 'resolve:L1' END" if per_step
                else "CASE WHEN open THEN 'resolve:warn' END",
        "due_at": "CASE WHEN open THEN next_due" + (" ELSE resolve_due_at END" if per_step
                                                     else " END"),
        "state": "CASE WHEN open THEN 'pending' ELSE 'fired' END",
        "fired": "CASE WHEN open THEN '[\"response:warn\"]' ELSE"
                 " '[\"response:warn\", \"resolve:warn\"]' END::json",
        "enqueued_at": "CASE WHEN open AND next_due <= now() + interval '1 hour'"
                       " AND id % 10 <> 0 THEN now() END",
        "fired_at": "CASE WHEN NOT open THEN resolve_due_at END", "created_at": "created_at",
    }
    unknown = [c for c, nullable in cols.items() if c not in known and not nullable]
    if unknown:
        raise SystemExit(f"tickettimer has columns this script does not seed: {unknown}")
    names = [c for c in cols if known.get(c)]
    return (f"INSERT INTO tickettimer ({', '.join(names)}) SELECT {', '.join(known[c] for c in names)}"
            " FROM (SELECT *, CASE WHEN id % 33 = 0 THEN now() - random() * interval '1 minute'"
            " ELSE now() + random() * interval '48 hours' END AS next_due"
            " FROM (SELECT *, status IN ('submitted','assigned','accepted','in_progress',"
            "'waiting_resident','reopened') AS open FROM ticket"
            " WHERE status NOT IN ('cancelled')) t0) t")


def seed(engine: Engine, z: Sizes) -> None:
    """Fill the migrated, empty database; prints each table's rows and seconds."""
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL synchronous_commit = off"))
        conn.execute(text("SELECT setseed(0.42)"))
        for table, sql in [*_steps(z), ("tickettimer", None)]:
            t0 = time.perf_counter()
            rows = conn.execute(text(sql or _timer_sql(conn))).rowcount
            print(f"  {table:<17} {rows:>10,} rows  {time.perf_counter() - t0:6.1f} s", flush=True)
        for table in ("street", "community", "grid", "building", "gridworker", "department",
                      "departmentmember", "resident", "ticket", "ticketevent", "ticketfollower",
                      "outbox", "inboundmessage", "tickettimer"):
            if table == "tickettimer" and not conn.execute(text(
                    "SELECT 1 FROM information_schema.columns WHERE table_name = 'tickettimer'"
                    " AND column_name = 'id'")).first():
                continue  # one row per ticket: keyed by ticket_id
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                              f" (SELECT coalesce(max(id), 1) FROM {table}))"))
    t0 = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    print(f"  VACUUM ANALYZE {time.perf_counter() - t0:.1f} s;"
          f" seeded in {time.perf_counter() - started:.1f} s", flush=True)


def counts(engine: Engine) -> dict[str, int]:
    """Exact row counts of the seeded tables, and the database's size in MB."""
    tables = ("grid", "building", "gridworker", "resident", "ticket", "ticketevent",
              "tickettimer", "outbox", "inboundmessage", "ticketfollower")
    with engine.connect() as conn:
        out = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in tables}
        out["open tickets"] = conn.execute(text(
            "SELECT count(*) FROM ticket WHERE status IN ('submitted','assigned','accepted',"
            "'in_progress','waiting_resident','reopened')")).scalar_one()
        out["database MB"] = conn.execute(text(
            "SELECT pg_database_size(current_database()) / 1048576")).scalar_one()
    return out


# -- measuring -----------------------------------------------------------------------------------
@dataclass
class Statement:
    sql: str
    params: object
    times_ms: list[float] = field(default_factory=list)
    nodes: str = ""
    buffers: str = ""
    plan_text: str = ""


@dataclass
class Path_:
    label: str
    call_ms: float
    statements: list[Statement]


@contextlib.contextmanager
def captured(engine: Engine) -> Iterator[list[Statement]]:
    """Every statement ``engine`` sends meanwhile (SELECT/WITH only; pings left out)."""
    seen: list[Statement] = []

    def on_execute(_conn, _cursor, statement, parameters, _context, _many) -> None:
        head = statement.lstrip().upper()
        if head.startswith(("SELECT", "WITH")) and head.rstrip(";") != "SELECT 1":
            seen.append(Statement(statement, parameters))

    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)


def _nodes(plan: dict, depth: int = 0) -> list[str]:
    node = plan["Node Type"]
    if plan.get("Index Name"):
        node += f" {plan['Index Name']}"
    elif plan.get("Relation Name"):
        node += f" {plan['Relation Name']}"
    out = [f"{node} (rows {plan.get('Actual Rows', '?')}"
           f"{' ×' + str(plan['Actual Loops']) if plan.get('Actual Loops', 1) > 1 else ''})"]
    for child in plan.get("Plans", []):
        out += _nodes(child, depth + 1)
    return out


def explain(engine: Engine, st: Statement, repeat: int) -> None:
    """Run ``st`` under EXPLAIN (ANALYZE, BUFFERS) ``repeat`` times (rolled back) and keep the
    execution times, the node summary of the last run and its text plan."""
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        with raw.cursor() as cur:
            for _ in range(repeat):
                cur.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + st.sql, st.params)
                doc = cur.fetchone()[0][0]
                st.times_ms.append(doc["Execution Time"])
            top = doc["Plan"]
            st.nodes = " → ".join(_nodes(top))
            st.buffers = (f"shared hit {top.get('Shared Hit Blocks', 0)}"
                          f" read {top.get('Shared Read Blocks', 0)}")
            cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + st.sql, st.params)
            st.plan_text = "\n".join(r[0] for r in cur.fetchall())
        raw.rollback()


@dataclass
class Probe:
    """Parameters picked from the seeded data (worst cases where it matters)."""

    now: datetime
    heavy_resident: int
    resident: int
    resident_openid: str
    worker_id: int
    big_grid: int
    building: int
    building_kind: str
    building_category: str
    ticket_number: str
    community: str
    month: tuple[datetime, datetime]


def probe(engine: Engine) -> Probe:
    with engine.connect() as conn:
        q = lambda sql: conn.execute(text(sql)).one()  # noqa: E731
        now = q("SELECT now()")[0].astimezone(UTC)
        big_grid = q("SELECT grid_id FROM ticket WHERE status IN ('submitted','assigned',"
                     "'accepted','in_progress','waiting_resident','reopened') GROUP BY grid_id"
                     " ORDER BY count(*) DESC LIMIT 1")[0]
        busy = q("SELECT building_id, kind, category FROM ticket WHERE status = 'assigned'"
                 " ORDER BY created_at DESC LIMIT 1")
        resident = q("SELECT resident_id FROM ticket WHERE status = 'waiting_resident'"
                     " AND resident_id <> 1 ORDER BY id LIMIT 1")[0]
        number = q("SELECT number FROM ticket WHERE status = 'closed' ORDER BY id DESC LIMIT 1")[0]
        community = q("SELECT c.name FROM community c JOIN grid g ON g.community_id = c.id"
                      f" WHERE g.id = {big_grid}")[0]
    return Probe(now=now, heavy_resident=1, resident=resident, resident_openid=f"o-{resident}",
                 worker_id=big_grid, big_grid=big_grid, building=busy[0], building_kind=busy[1],
                 building_category=busy[2], ticket_number=number, community=community,
                 month=(now - timedelta(days=30), now))


def hot_paths(engine: Engine, p: Probe) -> list[tuple[str, Callable[[Session], object]]]:
    """(label, call) of every hot path: each call runs the project's own function."""
    from services import escalation, people
    from storage import org, outbox, stats, tickets
    from storage.models import GridWorker

    def worker(s: Session) -> GridWorker:
        found = s.get(GridWorker, p.worker_id)
        assert found is not None
        return found

    paths: list[tuple[str, Callable[[Session], object]]] = [
        ("routing: staff check of the sender (org.worker_by_openid)",
         lambda s: org.worker_by_openid(s, p.resident_openid)),
        ("routing: the resident (org.resident_for)",
         lambda s: org.resident_for(s, p.resident_openid, p.now)),
        ("routing: building → grid (org.building)", lambda s: org.building(s, p.building)),
        ("routing: grid → active grid worker (org.grid_worker_of)",
         lambda s: org.grid_worker_of(s, p.big_grid)),
        ("查询: latest tickets, heavy resident (tickets.of_resident)",
         lambda s: tickets.of_resident(s, p.heavy_resident)),
        ("查询: latest tickets (tickets.of_resident)", lambda s: tickets.of_resident(s, p.resident)),
        ("查询 工单号: ticket and timeline (tickets.by_number, tickets.timeline)",
         lambda s: tickets.timeline(s, tickets.by_number(s, p.ticket_number))),
        ("rating: awaiting_rating + recently_closed",
         lambda s: (tickets.awaiting_rating(s, p.heavy_resident),
                    tickets.recently_closed(s, p.heavy_resident, p.now - timedelta(days=7)))),
        ("answer: waiting_for", lambda s: tickets.waiting_for(s, p.resident)),
        ("report: burst cap (tickets.opened_since)",
         lambda s: tickets.opened_since(s, p.heavy_resident, p.now - timedelta(hours=1), 5)),
        ("report: duplicate lookup (tickets.open_duplicate)",
         lambda s: tickets.open_duplicate(s, p.building, p.building_kind, p.building_category,
                                          p.now - timedelta(days=3))),
        ("我的任务 (people.open_tickets_of)", lambda s: people.open_tickets_of(s, worker(s))),
        ("grid queue (tickets.grid_queue)", lambda s: tickets.grid_queue(s, p.big_grid)),
        ("outbox relay claim (outbox.claim_due, 100)", lambda s: outbox.claim_due(s, p.now, 100)),
        ("SLA sweep: due timers (escalation.due_timer_ids)",
         lambda s: escalation.due_timer_ids(engine, p.now)),
    ]
    with contextlib.suppress(ImportError, AttributeError):
        from bot import jobs_sla

        upcoming = jobs_sla._upcoming
        paths.append(("SLA sweep: upcoming timers to queue (jobs_sla._upcoming)",
                      lambda s: upcoming(engine, lambda: p.now)))
    paths += [
        (f"gridbot stats, one month, community {p.community} (stats.compute)",
         lambda s: stats.compute(s, *p.month, p.now, community=p.community)),
        ("gridbot stats, one month, whole city (stats.compute)",
         lambda s: stats.compute(s, *p.month, p.now)),
    ]
    return paths


def measure(engine: Engine, repeat: int, only: str | None) -> list[Path_]:
    p = probe(engine)
    out: list[Path_] = []
    for label, call in hot_paths(engine, p):
        if only and only not in label:
            continue
        with captured(engine) as seen, Session(engine) as session:
            t0 = time.perf_counter()
            call(session)
            call_ms = (time.perf_counter() - t0) * 1000
            session.rollback()
        for st in seen:
            explain(engine, st, repeat)
        out.append(Path_(label, call_ms, seen))
    return out


def report(paths: list[Path_], plans: bool) -> None:
    for path in paths:
        worst = max((max(st.times_ms) for st in path.statements), default=0.0)
        flag = "SLOW" if any(statistics.median(st.times_ms) > TARGET_MS for st in path.statements) else "ok"
        print(f"\n[{flag}] {path.label}: {len(path.statements)} statement(s), call {path.call_ms:.1f} ms"
              f" (Python included), worst statement {worst:.2f} ms at the database")
        for i, st in enumerate(path.statements, 1):
            sql = " ".join(st.sql.split())
            cut = sql[:300] + ("…" if len(sql) > 300 else "")
            print(f"  {i}. median {statistics.median(st.times_ms):.3f} ms, max {max(st.times_ms):.3f}"
                  f" ms; {st.buffers}\n     plan: {st.nodes}\n     sql: {cut}")
            if plans:
                print("     " + st.plan_text.replace("\n", "\n     "))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=1.0, help="1.0 = 1 M residents (0.1 quick)")
    ap.add_argument("--name", help="database to create (default gridbot_city_<random>)")
    ap.add_argument("--reuse", help="measure again in a database an earlier run kept")
    ap.add_argument("--drop", action="store_true", help="drop the database at the end")
    ap.add_argument("--repeat", type=int, default=5, help="EXPLAIN ANALYZE runs per statement")
    ap.add_argument("--plans", action="store_true", help="print every text plan")
    ap.add_argument("--only", help="measure only hot paths whose label contains this")
    ap.add_argument("--json", type=Path, help="write the figures to this file")
    ap.add_argument("--pg-admin-url", default=PG_ADMIN_URL)
    args = ap.parse_args(argv)
    print(f"load average before: {os.getloadavg()}")
    with seeded_database(args.pg_admin_url, args.name, args.reuse, args.drop) as (url, created):
        t0 = time.perf_counter()
        migrate.upgrade(url)
        print(f"migrated in {time.perf_counter() - t0:.1f} s")
        engine = make_engine(url)
        try:
            if created:
                sizes = Sizes.at(args.scale)
                print(f"seeding at scale {args.scale}: {sizes}")
                seed(engine, sizes)
            else:
                with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.execute(text("ANALYZE"))
            rows = counts(engine)
            print("rows: " + ", ".join(f"{k} {v:,}" for k, v in rows.items()))
            paths = measure(engine, args.repeat, args.only)
            report(paths, args.plans)
            if args.json:
                args.json.write_text(json.dumps({"rows": rows, "paths": [
                    {"label": p.label, "call_ms": p.call_ms, "statements": [
                        {"sql": s.sql, "median_ms": statistics.median(s.times_ms),
                         "max_ms": max(s.times_ms), "nodes": s.nodes, "buffers": s.buffers,
                         "plan": s.plan_text} for s in p.statements]} for p in paths]},
                    ensure_ascii=False, indent=1))
        finally:
            engine.dispose()
    print(f"\nload average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

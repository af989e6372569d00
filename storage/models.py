"""Core tables: the organisation (街道 → 社区 → 网格 → 楼栋 → 户), people, tickets,
their timeline, the push outbox and every inbound WeChat message.

All datetimes are aware UTC (``storage.times``). Enumerated values are plain strings whose
allowed values live in the classes below, so staff-facing data stays readable in SQL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, ForeignKey, Index, Integer, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from storage.times import utcnow


def _ts(nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=nullable, index=index))


def _created() -> Any:
    return Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


def _partial(predicate: str) -> dict[str, Any]:
    """``Index`` keywords making it a partial index (``WHERE predicate``) on PostgreSQL and
    SQLite alike. A query uses it when its own WHERE implies the predicate with the same
    constants written in the SQL (``storage.tickets.is_open``), not bound parameters."""
    return {"postgresql_where": text(predicate), "sqlite_where": text(predicate)}


class Role:
    """Staff roles (GridWorker.role)."""

    GRID_WORKER = "grid_worker"  # 网格员
    GRID_LEADER = "grid_leader"  # 网格长
    COMMUNITY_ADMIN = "community_admin"  # 社区工作人员
    STATION_STAFF = "station_staff"  # 驿站管理员
    DEPARTMENT = "department"  # 部门人员
    STREET_ADMIN = "street_admin"  # 街道管理员: every community of the account

    ALL = (GRID_WORKER, GRID_LEADER, COMMUNITY_ADMIN, STATION_STAFF, DEPARTMENT, STREET_ADMIN)


class TicketStatus:
    """Ticket life cycle (``storage.tickets.ALLOWED`` has every allowed change)::

        submitted → assigned → accepted → in_progress ⇄ waiting_resident → resolved → closed
                                                                              ↘ reopened → …
        any open status → cancelled (resident) | rejected (not our business, with where to go)
    """

    SUBMITTED = "submitted"
    ASSIGNED = "assigned"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    WAITING_RESIDENT = "waiting_resident"
    """Paused: the worker asked the resident a question; the SLA clock stops."""
    RESOLVED = "resolved"
    REOPENED = "reopened"
    """The resident was not satisfied (score ≤ 2) within the reopen window."""
    CLOSED = "closed"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    """驳回: not the community's business; the resolution says why and where to go."""

    OPEN = (SUBMITTED, ASSIGNED, ACCEPTED, IN_PROGRESS, WAITING_RESIDENT, REOPENED)
    FINAL = (CLOSED, CANCELLED, REJECTED)


OPEN_TICKETS_SQL = "status IN (" + ", ".join(f"'{s}'" for s in TicketStatus.OPEN) + ")"
"""The predicate of the partial indexes on open tickets (a small share of all, ever)."""


class Priority:
    """Lower sorts first in a grid's queue."""

    URGENT = 0
    HIGH = 1
    NORMAL = 2
    LOW = 3


class Street(SQLModel, table=True):
    """街道 (sub-district)."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)


class Community(SQLModel, table=True):
    """社区; its name is unique within its street (two streets may both have a 和平社区).

    ``estates`` are the 小区 (residential estates) it covers, as residents name them
    (["阳光小区", "阳光花园"]): an estate name in a message, or a choice from the numbered list
    of the account's estates, tells which community a resident lives in. Empty: the community
    is known by its own name.
    """

    __table_args__ = (UniqueConstraint("street_id", "name", name="uq_community_street_name"),)

    id: int | None = Field(default=None, primary_key=True)
    street_id: int = Field(foreign_key="street.id", index=True)
    name: str
    phone: str | None = None
    estates: list[str] = Field(default_factory=list,
                               sa_column=Column(JSON, nullable=False, server_default="[]"))


class Grid(SQLModel, table=True):
    """网格: 300–500 households served by one full-time grid worker. ``code`` (G01) is unique
    within its community: two communities may both have a G01."""

    __table_args__ = (UniqueConstraint("community_id", "code", name="uq_grid_community_code"),)

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    code: str
    name: str


class Building(SQLModel, table=True):
    """楼栋; ``number`` is what residents write ("3号楼" → 3). The building decides the grid."""

    __table_args__ = (UniqueConstraint("community_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    grid_id: int = Field(foreign_key="grid.id", index=True)
    number: int
    name: str
    latitude: float | None = None
    """WGS-84 degrees, when the import gives them (a shared WeChat location finds the
    nearest building or place)."""
    longitude: float | None = None


class Place(SQLModel, table=True):
    """A named public place of a community (东门, 广场, 小区主路, 地下车库 …) and the grid that
    covers it; a problem reported there is routed to that grid, not to the reporter's home.
    ``aliases`` are other names residents use (东大门, 中心广场 …)."""

    __table_args__ = (UniqueConstraint("community_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    community_id: int = Field(foreign_key="community.id", index=True)
    grid_id: int = Field(foreign_key="grid.id", index=True)
    name: str
    aliases: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    latitude: float | None = None
    """WGS-84 degrees, or None."""
    longitude: float | None = None


class GridWorker(SQLModel, table=True):
    """A member of staff who receives pushed tasks (网格员, 网格长, 驿站, 部门 …)."""

    id: int | None = Field(default=None, primary_key=True)
    openid: str = Field(unique=True, index=True)
    name: str
    phone: str | None = None
    role: str = Role.GRID_WORKER
    grid_id: int | None = Field(default=None, foreign_key="grid.id", index=True)
    community_id: int | None = Field(default=None, foreign_key="community.id")
    wecom_userid: str | None = None
    active: bool = True
    login: str | None = Field(default=None, unique=True, index=True)
    """Console user name (员工控制台); the phone by default when a password is first set."""
    password_hash: str | None = None
    """argon2 hash of the console password (``services.accounts``); None: no console login."""


class Resident(SQLModel, table=True):
    """A follower of the official account (户 once the address is known)."""

    id: int | None = Field(default=None, primary_key=True)
    openid: str | None = Field(default=None, unique=True, index=True)
    """None once anonymised after unsubscribe."""
    community_id: int | None = Field(default=None, foreign_key="community.id", index=True)
    """The community the resident lives in, from how they arrived (a community's or
    building's QR scene), an estate they named or chose, or their building; None: unknown
    yet (an account with one community needs no answer)."""
    estate: str | None = None
    """The 小区 the resident named or chose (one of ``Community.estates``), when known."""
    building_id: int | None = Field(default=None, foreign_key="building.id")
    unit: int | None = None
    room: str | None = None
    phone: str | None = None
    vulnerability: str | None = None
    """红/橙/黄/蓝/绿 care level, or None."""
    subscribed: bool = True
    last_message_at: datetime | None = _ts()
    anonymised_at: datetime | None = _ts()
    created_at: datetime = _created()
    dialogue: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    """What the bot waits for from this person (``storage.dialogue``), e.g. ``{"flow":
    "report", "awaiting": "address", "pending": {…}}``; kept in the database so a pending
    report survives a Redis flush, and written in the same transaction as the turn."""
    dialogue_expires_at: datetime | None = _ts()
    """When ``dialogue`` lapses (aware UTC); a resident who walks away starts fresh."""


class DailyCounter(SQLModel, table=True):
    """Per-day sequence behind people-facing numbers (GD20261122-0007)."""

    name: str = Field(primary_key=True)
    day: str = Field(primary_key=True)
    value: int = 0


class Ticket(SQLModel, table=True):
    """A 工单: one resident request in the queue of a grid.

    Indexes follow the hot paths (docs/scale.md has their plans at city scale): a resident's
    latest tickets (查询, rating, burst cap), a period's tickets per grid or in all
    (``gridbot stats``), and — partial, over open tickets only, so they stay small however
    long the history — a grid's queue, a worker's tasks (我的任务) and the duplicate lookup
    (per building, and per public place).
    """

    __table_args__ = (
        Index("ix_ticket_resident_created", "resident_id", "created_at", "id"),
        Index("ix_ticket_grid_created", "grid_id", "created_at"),
        Index("ix_ticket_created_at", "created_at"),
        Index("ix_ticket_open_grid", "grid_id", **_partial(OPEN_TICKETS_SQL)),
        Index("ix_ticket_open_assignee", "assignee_id", **_partial(OPEN_TICKETS_SQL)),
        Index("ix_ticket_open_building", "building_id", "created_at",
              **_partial(OPEN_TICKETS_SQL)),
        Index("ix_ticket_open_place", "place_id", "created_at", **_partial(OPEN_TICKETS_SQL)),
    )

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(unique=True, index=True)
    kind: str = Field(index=True)
    """complaint | repair"""
    category: str | None = None
    description: str
    location: str | None = None
    """Where the problem is, as text for staff (a shared WeChat location's label and
    coordinates, or the resident's own words when no building or place matched)."""
    building_id: int | None = Field(default=None, foreign_key="building.id")
    """The building where the problem is (not necessarily the reporter's home)."""
    unit: int | None = None
    room: str | None = None
    place_id: int | None = Field(default=None, foreign_key="place.id")
    """The public place where the problem is (东门, 广场 …), when not a building."""
    latitude: float | None = None
    """A shared WeChat location (WGS-84 degrees), when the resident sent one."""
    longitude: float | None = None
    priority: int = Priority.NORMAL
    urgent: bool = False
    status: str = Field(default=TicketStatus.SUBMITTED, index=True)
    grid_id: int | None = Field(default=None, foreign_key="grid.id")
    assignee_id: int | None = Field(default=None, foreign_key="gridworker.id")
    resident_id: int | None = Field(default=None, foreign_key="resident.id")
    source_msg_id: int | None = Field(default=None, foreign_key="inboundmessage.id")
    resolution: str | None = None
    rating: int | None = None
    rating_comment: str | None = None
    created_at: datetime = _created()
    assigned_at: datetime | None = _ts()
    accepted_at: datetime | None = _ts()
    resolved_at: datetime | None = _ts()
    closed_at: datetime | None = _ts()
    cancelled_at: datetime | None = _ts()
    # -- hand-over (首问负责) --------------------------------------------------------------
    first_owner_id: int | None = Field(default=None, foreign_key="gridworker.id")
    """首问责任人: the first worker to take the ticket; stays accountable (pushed each step)
    when the ticket is transferred to a department. Changes only on a transfer to another grid."""
    department_id: int | None = Field(default=None, foreign_key="department.id", index=True)
    """The department the ticket was transferred to (转派), whose members may act on it."""
    # -- SLA (storage.sla); due times are aware UTC -----------------------------------------
    sla_policy: str | None = None
    """Name of the matched policy in handlers/sla.toml."""
    sla_cycle: int = 0
    """Incremented on each reopen; timers and fired steps belong to one cycle."""
    response_due_at: datetime | None = _ts(index=True)
    resolve_due_at: datetime | None = _ts(index=True)
    responded_at: datetime | None = _ts()
    """First response in the current cycle (接单, 询问, 到场, 办结 or 驳回); stops the response clock."""
    first_response_at: datetime | None = _ts()
    """First response ever (statistics)."""
    paused_at: datetime | None = _ts()
    """Start of the current waiting_resident pause, else None."""
    paused_s: int = 0
    """Seconds spent paused in all, counted on the resolution clock's calendar (each due
    time moved on by the pause on its own calendar)."""
    response_met: bool | None = None
    """First response within response_due_at (first cycle); None while running."""
    resolve_met: bool | None = None
    """Resolved (or rejected) within resolve_due_at, in the latest cycle; None while running."""
    escalation_level: int = 0
    """Highest 督办 level reached: 0 none, 1 grid leader, 2 community, 3 department."""
    reopened_count: int = 0
    reopened_at: datetime | None = _ts()
    rejected_at: datetime | None = _ts()
    auto_closed: bool = False
    """Closed as default-satisfied (默认满意) after no rating within the rating window."""


class TicketEvent(SQLModel, table=True):
    """One step on a ticket's timeline (created, assigned, accepted, resolved, rated …)."""

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    at: datetime = _created()
    kind: str
    actor: str
    """"resident:<id>", "worker:<id>" or "system"."""
    note: str | None = None


class Department(SQLModel, table=True):
    """A responsible department (住建, 民政, 派出所, 物业公司 …): 网格吹哨、部门报到.

    Departments are assignees: a ticket transferred to one (``Ticket.department_id``) is pushed
    to its members (``DepartmentMember``), any of whom may accept and resolve it.

    A department belongs to a community (its name unique there: each community may have its
    own 物业公司), or, ``community_id`` None, to the street (街道部门 such as 城管 or 派出所,
    serving every community; its name unique among the street-level ones). By name, the
    ticket's community's department is found before a street-level one
    (``storage.org.department_by_name``).
    """

    __table_args__ = (
        UniqueConstraint("community_id", "name", name="uq_department_community_name"),
        Index("uq_department_street_name", "name", unique=True,
              **_partial("community_id IS NULL")),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str
    community_id: int | None = Field(default=None, foreign_key="community.id")
    phone: str | None = None


class DepartmentMember(SQLModel, table=True):
    """A staff member (GridWorker, usually role "department") who acts for a department."""

    __table_args__ = (UniqueConstraint("department_id", "worker_id"),)

    id: int | None = Field(default=None, primary_key=True)
    department_id: int = Field(foreign_key="department.id", index=True)
    worker_id: int = Field(foreign_key="gridworker.id", index=True)


class TicketTimer(SQLModel, table=True):
    """The SLA timer of one ticket: its NEXT due step (the database is the timers' truth).

    One row per ticket, written by ``storage.sla.plan`` in the same transaction as each
    ticket change (one upsert). ``step`` is "<clock>:<name>" — "response:warn",
    "response:L1", "resolve:remind2", "rating:autoclose" — due at ``due_at`` (aware UTC);
    both are None when nothing is to come (paused, closed, every step fired). ``fired``
    lists the steps already fired in ``cycle`` (the ticket's ``sla_cycle``; a reopen starts
    a new list). The worker queues an arq job ``fire_timer`` whose id names ticket, cycle,
    step and due time (``storage.sla.job_id``); ``services.escalation.fire`` locks the row,
    fires the step once, appends it to ``fired`` and moves the row to the next step.
    """

    ticket_id: int = Field(foreign_key="ticket.id", primary_key=True,
                           sa_column_kwargs={"autoincrement": False})
    cycle: int = 0
    step: str | None = None
    due_at: datetime | None = _ts(index=True)
    fired: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    """Steps fired in ``cycle``, in firing order, e.g. ["response:warn", "response:L1"]."""
    enqueued_at: datetime | None = _ts()
    """When a deferred arq job was queued for the current step (None: not yet)."""
    fired_at: datetime | None = _ts()
    """When the last step fired."""
    created_at: datetime = _created()


class TicketFollower(SQLModel, table=True):
    """A resident who joined an open ticket as a duplicate report and is told its updates."""

    __table_args__ = (UniqueConstraint("ticket_id", "resident_id"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    resident_id: int = Field(foreign_key="resident.id", index=True)
    note: str | None = None
    """What the follower wrote."""
    created_at: datetime = _created()


class Notice(SQLModel, table=True):
    """A notice (停水停电通知, activities) sent by staff to residents of an area."""

    id: int | None = Field(default=None, primary_key=True)
    title: str
    text: str
    scope: str
    """Human description of the audience, e.g. "社区:幸福新社区", "网格:G01", "楼栋:1,2"."""
    sender: str | None = None
    recipients: int = 0
    created_at: datetime = _created()


class NoticeDelivery(SQLModel, table=True):
    """Links a notice to the outbox row of each recipient (delivery counts come from it)."""

    id: int | None = Field(default=None, primary_key=True)
    notice_id: int = Field(foreign_key="notice.id", index=True)
    outbox_id: int = Field(foreign_key="outbox.id", index=True)
    resident_id: int = Field(foreign_key="resident.id")


class OutboxStatus:
    PENDING = "pending"
    SENDING = "sending"
    """Claimed by a relay, which is sending it until ``lease_until`` (storage.outbox)."""
    SENT = "sent"
    DEAD = "dead"
    """Gave up after the last retry; last_error says why."""
    UNKNOWN = "unknown"
    """In doubt: the last attempt may have reached WeChat (relay died mid-send, read timeout,
    reset after sending, HTTP 5xx). Never resent by itself; staff check and re-queue it."""


class Outbox(SQLModel, table=True):
    """A push to send, written in the same transaction as the change that causes it.

    The worker relays it through a channel (客服消息, 模板消息 or WeCom) and records the
    channel used, every failure (``last_error``) and the retry schedule. The relay's claim
    (``storage.outbox.claim_due``) reads ``ix_outbox_due``, a partial index over pending rows
    only: the sent history never slows it down.
    """

    __table_args__ = (Index("ix_outbox_due", "next_attempt_at", "id", **_partial("status = 'pending'")),)

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = _created()
    recipient_kind: str
    """Who the push is for: "resident" (``recipient_id`` is a resident.id) or "staff" (a
    gridworker.id). The relay resolves the address from the person at send time."""
    recipient_id: int | None = Field(default=None, index=True)
    """resident.id or gridworker.id; None only for rows older than the recipient columns
    whose OpenID matched nobody."""
    openid: str = Field(index=True)
    """The OpenID the push was staged for: the address of record (what was sent, to whom);
    "anon:<id>" once the resident is forgotten (``services.privacy``)."""
    audience: str
    """resident | worker (the recipient kind in the template/channel vocabulary)"""
    event: str
    """Catalogue key of the push (e.g. "push_task_assigned"); picks the template ID."""
    text: str
    data: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    """Template message fields (first/keyword1…/remark) when a template is used."""
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id", index=True)
    status: str = Field(default=OutboxStatus.PENDING, index=True)
    attempts: int = 0
    next_attempt_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    channel: str | None = None
    last_error: str | None = None
    sent_at: datetime | None = _ts()
    lease_until: datetime | None = _ts()
    """While "sending": when the relay's claim runs out (aware UTC); after that the push is
    in doubt ("unknown")."""
    last_attempt_at: datetime | None = _ts()
    """When the latest attempt was claimed (aware UTC); ``attempts`` counts them all."""


KEPT_SQL = "(needs_staff OR error IS NOT NULL)"
"""Messages kept for staff (not placed, or failed on): 待人工处理."""


class InboundMessage(SQLModel, table=True):
    """Every message WeChat delivered, once (``dedup_key`` is unique), with our reply.

    Messages we could not place (``needs_staff``) or failed on (``error``) are kept for staff
    (「待人工处理」, ``services.kept``); ``ix_inboundmessage_kept_open``, a partial index over
    those not yet handled, keeps that list and the console's badge count small however many
    messages arrive.
    """

    __table_args__ = (Index("ix_inboundmessage_kept_open", "received_at", "id",
                            **_partial(f"handled_at IS NULL AND {KEPT_SQL}")),)

    id: int | None = Field(default=None, primary_key=True)
    dedup_key: str = Field(unique=True)
    nonce_key: str | None = Field(default=None, unique=True, index=True)
    """"<timestamp>:<nonce>" of a plaintext-mode delivery: a replay of the signed URL with
    another body collides here (the database backstop of ``storage.gate``)."""
    openid: str = Field(index=True)
    msg_type: str
    content: str | None = None
    received_at: datetime = _created()
    intent: str | None = None
    confidence: float | None = None
    reply: str | None = None
    needs_staff: bool = Field(default=False, index=True)
    error: str | None = None
    # -- 待人工处理 (kept for staff): how staff dealt with it -----------------------------------
    handled_at: datetime | None = _ts()
    """When a member of staff answered it or turned it into a ticket (aware UTC); None: open."""
    handled_by_id: int | None = Field(default=None, foreign_key="gridworker.id")
    handled_ticket_id: int | None = Field(default=None, sa_column=Column(
        Integer, ForeignKey("ticket.id", use_alter=True, ondelete="SET NULL"), nullable=True))
    """The ticket staff made of it, if they did."""
    staff_reply: str | None = None
    """What staff answered the resident, if they did."""

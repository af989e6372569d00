"""Demo data for `gridbot serve --demo`: a 街道 of three communities. The first has 12
buildings, 3 grids, staff, departments, a lending station and after-school care programmes;
阳光社区 and 和谐社区 repeat its grid code G01 and building numbers, so routing by QR scene
and by estate name (小区) shows (``gridbot qrcode`` makes their codes)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import select

from storage.db import session_scope
from storage.importer import ImportReport, import_file
from storage.models import Community

COMMUNITY_FILE = Path(__file__).with_name("demo_community.yaml")
SERVICES_FILE = Path(__file__).with_name("demo_services.yaml")
MORE_COMMUNITY_FILES = (Path(__file__).with_name("demo_yangguang.yaml"),
                        Path(__file__).with_name("demo_hexie.yaml"))
DEMO_FILES = (COMMUNITY_FILE, SERVICES_FILE, *MORE_COMMUNITY_FILES)


def seed(engine: Engine, files: tuple[Path, ...] = DEMO_FILES) -> list[ImportReport]:
    """Import ``files`` unless the demo community exists already (idempotent)."""
    with session_scope(engine) as session:
        if session.exec(select(Community).where(Community.name == "幸福新社区")).first():
            return []
        return [import_file(session, path) for path in files]


DEMO_PASSWORD = "gridbot-demo"
"""Console password of every demo staff member (`gridbot serve --demo` only)."""
DEMO_ADMIN_LOGIN = "admin"
"""Console login of the demo's street administrator (街道管理员, every community)."""


def console_logins(engine: Engine, password: str = DEMO_PASSWORD) -> list[tuple[str, str, str]]:
    """Give the demo's staff console logins: a street administrator 「刘主任」 (login
    ``admin``, created if missing) and every other member of staff without a password (login:
    their phone, else OpenID), all with ``password``. Returns (login, name, role) of each
    login set now (empty when run before)."""
    from services import accounts
    from storage.models import GridWorker, Role

    made: list[tuple[str, str, str]] = []
    with session_scope(engine) as session:
        admin = session.exec(select(GridWorker).where(GridWorker.openid == "street-admin")).first()
        if admin is None:
            admin = GridWorker(openid="street-admin", name="刘主任", role=Role.STREET_ADMIN,
                               phone="13800000300")
            session.add(admin)
            session.flush()
        for worker in [admin, *session.exec(select(GridWorker).order_by(GridWorker.id))]:
            if worker.password_hash or not worker.active:
                continue
            login = DEMO_ADMIN_LOGIN if worker.id == admin.id else None
            accounts.set_password(session, worker, password, login=login)
            made.append((worker.login, worker.name, worker.role))
    return made


DEMO_API_KEY = "g311_gridbot-demo-open311-key"
"""The demo's Open311 API key (`gridbot serve --demo` only: it is public, like
``DEMO_PASSWORD``); kept hashed in ``ApiKey`` like every key (``services.api_keys``)."""
DEMO_API_KEY_NAME = "演示"


def open311_key(engine: Engine, now: datetime) -> str | None:
    """``DEMO_API_KEY``, issued (an ``ApiKey`` row named ``DEMO_API_KEY_NAME``, every
    community) unless its row exists already; ``now`` is aware UTC. Returns the key, or
    None when staff have revoked it (it is not issued again)."""
    from services.api_keys import digest
    from storage.accounts import ApiKey

    with session_scope(engine) as session:
        row = session.exec(select(ApiKey).where(ApiKey.key_hash == digest(DEMO_API_KEY))).first()
        if row is None:
            session.add(ApiKey(name=DEMO_API_KEY_NAME, key_hash=digest(DEMO_API_KEY),
                               created_at=now))
            return DEMO_API_KEY
        return DEMO_API_KEY if row.revoked_at is None else None

"""Demo data for `gridbot serve --demo`: a 街道 of three communities. The first has 12
buildings, 3 grids, staff, departments, a lending station and after-school care programmes;
阳光社区 and 和谐社区 repeat its grid code G01 and building numbers, so routing by QR scene
and by estate name (小区) shows (``gridbot qrcode`` makes their codes)."""

from __future__ import annotations

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

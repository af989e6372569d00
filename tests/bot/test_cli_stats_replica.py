"""`gridbot stats` reads GRIDBOT_STATS_DATABASE_URL (a read replica) when it is set.

The "replica" is a second database created by the test holding another community, so what
the report shows tells which database it read."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from bot.cli import app
from storage.db import create_schema, make_engine, session_scope
from storage.importer import import_file
from tests.conftest import BACKEND, PG_ADMIN_DSN

COMMUNITY = """
street: 和平街道
community: {community}
grids:
  - {{code: G01, name: {grid}, buildings: "1-4", workers: [{{name: 王芳, openid: w1}}]}}
"""


def _load(url: str, tmp_path: Path, community: str, grid: str) -> None:
    path = tmp_path / f"{uuid.uuid4().hex}.yaml"
    path.write_text(COMMUNITY.format(community=community, grid=grid), encoding="utf-8")
    engine = make_engine(url)
    with session_scope(engine) as session:
        import_file(session, path)
    engine.dispose()


@pytest.fixture
def replica_url(tmp_path: Path) -> Iterator[str]:
    """A second database with the schema, standing in for a streaming replica."""
    if BACKEND == "sqlite":
        url = f"sqlite:///{tmp_path / 'replica.db'}"
    else:
        name = f"gridbot_test_replica_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = f"{PG_ADMIN_DSN.rsplit('/', 1)[0].replace('postgresql://', 'postgresql+psycopg://')}/{name}"
    engine = make_engine(url)
    create_schema(engine)
    engine.dispose()
    yield url
    if BACKEND != "sqlite":
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def stats(**env: str):
    cleared: dict[str, str | None] = {k: None for k in os.environ if k.startswith("GRIDBOT_")}
    cleared |= {f"GRIDBOT_{k.upper()}": v for k, v in env.items()}
    return CliRunner().invoke(app, ["stats", "--csv"], env=cleared)


def test_stats_read_the_configured_replica_not_the_main_database(clean_db, postgres_url,
                                                                  replica_url, tmp_path):
    _load(postgres_url, tmp_path, "幸福新社区", "主库网格")
    _load(replica_url, tmp_path, "和谐社区", "副本网格")

    main = stats(database_url=postgres_url)
    assert main.exit_code == 0, main.output
    assert "主库网格" in main.stdout and "副本网格" not in main.stdout

    replica = stats(database_url=postgres_url, stats_database_url=replica_url)
    assert replica.exit_code == 0, replica.output
    assert "副本网格" in replica.stdout and "和谐社区" in replica.stdout
    assert "主库网格" not in replica.stdout

    blank = stats(database_url=postgres_url, stats_database_url="")  # blank: the main database
    assert blank.exit_code == 0 and "主库网格" in blank.stdout


@pytest.mark.skipif(BACKEND == "sqlite", reason="needs the real PostgreSQL")
def test_an_unreachable_replica_is_one_line_naming_its_setting(clean_db, postgres_url):
    result = stats(database_url=postgres_url, db_connect_timeout_s="1",
                   stats_database_url="postgresql+psycopg://gridbot:pw-replica-77@127.0.0.1:1/gridbot")
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("gridbot: GRIDBOT_STATS_DATABASE_URL：读不了统计用的数据库（"), result.stderr
    assert "pw-replica-77" not in result.stderr


def test_the_replica_password_is_masked_in_logs():
    from bot import logs
    from bot.settings import Settings

    settings = Settings(_env_file=None,
                        stats_database_url="postgresql+psycopg://report:Replica-pw-4411@pg-replica/gridbot")
    assert "Replica-pw-4411" in logs.secrets_of(settings)
    assert logs.SecretFilter(logs.secrets_of(settings)).redact("lost Replica-pw-4411") == "lost ***"

"""Real databases for the tests: a SQLite file, and a PostgreSQL database created on the local server
for the run and dropped after. Every schema is built by `alembic upgrade head`, never by create_all."""

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text

from persistence.migrate import upgrade

# The server on this machine (trust auth). Override for another server.
POSTGRES_ADMIN_URL = os.environ.get(
    "STYLETRIAL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@contextmanager
def postgres_database() -> Iterator[str]:
    name = f"styletrial_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = admin.url.set(database=name).render_as_string(hide_password=False)
        upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def sqlite_database(folder: Path) -> Iterator[str]:
    url = f"sqlite:///{folder / f'styletrial-{uuid.uuid4().hex[:8]}.sqlite'}"
    upgrade(url)
    yield url


@contextmanager
def database(kind: str, folder: Path) -> Iterator[str]:
    with postgres_database() if kind == "postgresql" else sqlite_database(folder) as url:
        yield url

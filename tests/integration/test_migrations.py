"""Alembic is the only source of the schema, and it matches the models exactly, on both databases."""

import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from persistence.migrate import downgrade, upgrade
from persistence.models import Base

TABLES = {
    "trials", "pieces", "trial_events", "money_movements", "simulated_authorizations", "simulated_operations",
    "outbox_events", "webhook_deliveries", "stock_reservations", "stock_operations", "client_messages",
    "alembic_version",
}  # fmt: skip


def test_upgrade_head_matches_the_models_exactly(db_url: str):
    engine = create_engine(db_url)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(ctx, Base.metadata) == []
        assert set(inspect(conn).get_table_names()) == TABLES
    engine.dispose()


def test_downgrade_and_upgrade_round_trip(db_url: str):
    downgrade(db_url, "base")
    engine = create_engine(db_url)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(db_url)
    assert set(inspect(engine).get_table_names()) == TABLES
    engine.dispose()


def test_styletrial_db_upgrade_builds_the_embedded_database(tmp_path: Path):
    env = {"STYLETRIAL_DATA_DIR": str(tmp_path / "data"), "PATH": str(Path(sys.executable).parent)}
    for _ in range(2):  # idempotent
        out = subprocess.run(
            [str(Path(sys.executable).parent / "styletrial"), "db", "upgrade"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        assert "Database at head" in out.stdout
    engine = create_engine(f"sqlite:///{tmp_path / 'data' / 'styletrial.sqlite'}")
    assert set(inspect(engine).get_table_names()) == TABLES

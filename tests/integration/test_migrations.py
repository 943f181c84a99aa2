"""Alembic is the only source of the schema, and it matches the models exactly, on both databases."""

import shutil
import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from persistence.migrate import alembic_config, downgrade, upgrade
from persistence.models import Base

TABLES = {
    "trials", "pieces", "trial_events", "money_movements", "simulated_authorizations", "simulated_operations",
    "outbox_events", "webhook_deliveries", "stock_reservations", "stock_operations", "client_messages", "idempotency_keys",
    "tracking_numbers", "return_labels", "return_booking_progress", "attention_items", "digests_sent", "trial_keys", "erasures",
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


def _alembic(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    alembic = str(Path(sys.executable).parent / "alembic")
    return subprocess.run([alembic, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


ROOT = Path(__file__).resolve().parents[2]


def test_the_standard_alembic_cli_works_from_the_repository_root(db_url: str, tmp_path: Path):
    """`alembic upgrade head`, `alembic check` and `alembic revision --autogenerate` as a developer types them,
    with the URL from STYLETRIAL_DATABASE_URL (it used to fail with KeyError: 'url')."""
    env = {"STYLETRIAL_DATABASE_URL": db_url, "PATH": str(Path(sys.executable).parent), "PYTHONPATH": str(ROOT)}
    for args in (["downgrade", "base"], ["upgrade", "head"], ["check"], ["current"]):
        out = _alembic(args, ROOT, env)
        assert out.returncode == 0, (args, out.stderr)
    engine = create_engine(db_url)
    assert set(inspect(engine).get_table_names()) == TABLES
    engine.dispose()
    # --autogenerate writes a file: run it on a copy of the migrations, never into the source tree.
    shutil.copytree(ROOT / "migrations", tmp_path / "migrations", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "alembic.ini", tmp_path / "alembic.ini")
    out = _alembic(["revision", "--autogenerate", "-m", "nothing changed"], tmp_path, env)
    assert out.returncode == 0, out.stderr
    (made,) = [p for p in (tmp_path / "migrations" / "versions").glob("*nothing_changed*.py")]
    body = made.read_text()
    # The models and the migrations agree, so the generated revision does nothing.
    head = ScriptDirectory.from_config(alembic_config(db_url)).get_current_head()
    assert f"Revises: {head}" in body
    upgrade_body = body.split("def upgrade() -> None:")[1].split("def downgrade")[0]
    assert [
        line.strip() for line in upgrade_body.splitlines() if line.strip() and not line.strip().startswith("#")
    ] == ["pass"]


def test_the_standard_alembic_cli_defaults_to_the_embedded_database(tmp_path: Path):
    env = {
        "STYLETRIAL_DATA_DIR": str(tmp_path / "data"),
        "PATH": str(Path(sys.executable).parent),
        "PYTHONPATH": str(ROOT),
    }
    out = _alembic(["upgrade", "head"], ROOT, env)
    assert out.returncode == 0, out.stderr
    engine = create_engine(f"sqlite:///{tmp_path / 'data' / 'styletrial.sqlite'}")
    assert set(inspect(engine).get_table_names()) == TABLES
    engine.dispose()


def test_0009_gives_the_pieces_already_there_their_trial_s_opening_and_client(db_url: str):
    from datetime import UTC, datetime

    from domain.examples import order
    from domain.policy import TrialPolicy
    from domain.trial import Trial
    from domain.view import view_of
    from persistence.store import SqlStore

    downgrade(db_url, "0008")
    engine = create_engine(db_url)
    opened = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    view = view_of(Trial(order(2, shopper="ps-9"), TrialPolicy(), opened))
    with engine.begin() as conn:  # a trial and its pieces as the 0008 schema held them
        conn.execute(text(
            "INSERT INTO trials (trial_id, order_id, revision, status, needs_attention, attention, customer_id, tier, "
            "region, personal_shopper_id, currency, value, authorized, charged, released, opened_at, extension_days, "
            "updated_at) VALUES (:t, :o, 1, 'AUTHORIZING', false, '{}', 'c', 'EIP', 'JP', 'ps-9', 'JPY', 1, 0, 0, 0, "
            ":at, 0, :at)"), {"t": view.trial_id, "o": view.order_id, "at": opened if db_url.startswith("postgresql") else opened.replace(tzinfo=None)})  # fmt: skip
        for i, p in enumerate(view.pieces):
            conn.execute(text(
                "INSERT INTO pieces (trial_id, piece_id, position, sku, description, price, state, charged) "
                "VALUES (:t, :p, :i, 'S', 'd', 1, 'RESERVED', false)"), {"t": view.trial_id, "p": p.piece_id, "i": i})  # fmt: skip
    upgrade(db_url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT region, tier, currency, personal_shopper_id FROM pieces")).all()
    assert [tuple(r) for r in rows] == [("JP", "EIP", "JPY", "ps-9")] * 2
    assert SqlStore(engine).list_trials(limit=5).items  # the trial is still read as before
    engine.dispose()

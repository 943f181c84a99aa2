"""The data folder (history, read model, dev codec key) is readable by its owner only."""

import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def test_the_data_folder_is_0700_and_its_files_0600_even_if_they_were_not(tmp_path: Path):
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    old = data / "left-by-an-older-version.txt"
    old.write_text("x")
    old.chmod(0o644)
    env = {**os.environ, "STYLETRIAL_DATA_DIR": str(data)}
    subprocess.run([str(BIN / "styletrial"), "db", "upgrade"], env=env, check=True, capture_output=True)
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    files = [p for p in data.rglob("*") if p.is_file()]
    assert any(p.name == "styletrial.sqlite" for p in files)
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_a_file_that_vanishes_while_the_folder_is_made_private_is_no_error(tmp_path: Path, monkeypatch):
    """A running dev server's SQLite journal comes and goes; a worker starting beside it must not die."""
    from cli.main import _keep_data_private

    (tmp_path / "kept").write_text("x")
    walk = Path.rglob
    monkeypatch.setattr(Path, "rglob", lambda self, pattern: [*walk(self, pattern), self / "gone-journal"])
    _keep_data_private(tmp_path)
    assert stat.S_IMODE((tmp_path / "kept").stat().st_mode) == 0o600


def test_the_stripe_sdk_never_logs_requests(monkeypatch):
    from activities.stripe_gateway import StripeGateway

    monkeypatch.setenv("STRIPE_LOG", "info")
    try:
        StripeGateway("rk_test_x")
    except ValueError as err:
        assert "STRIPE_LOG" in str(err)
    else:
        raise AssertionError("a gateway that would print every request started")
    monkeypatch.delenv("STRIPE_LOG")
    StripeGateway("rk_test_x")

    assert logging.getLogger("stripe").getEffectiveLevel() >= logging.WARNING

"""`styletrial demo` against the engine as separate processes: every scenario reaches the status it names."""

import subprocess
from pathlib import Path

import pytest

from soak.processes import BIN, Stack

pytestmark = [pytest.mark.devserver, pytest.mark.timeout(180)]


def test_the_demo_starts_every_scenario_and_plays_fulfilment(tmp_path: Path):
    stack = Stack(tmp_path, time_scale=1, workers=1)
    stack.start()
    try:
        done = subprocess.run(
            [str(BIN / "styletrial"), "demo", "--day-seconds", "2"], env=stack.env(), capture_output=True,
            text=True, timeout=150,
        )  # fmt: skip
    finally:
        stack.stop()
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    for scenario in ("awaiting dispatch", "in transit", "on trial", "awaiting returns", "completed", "cancelled",
                     "declined card", "dunning"):  # fmt: skip
        assert any(line.strip().startswith(scenario) and "failed" not in line for line in lines), done.stdout

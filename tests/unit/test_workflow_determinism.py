"""What replaces the workflow sandbox at run time: the code a workflow runs never reads the clock, randomness,
the environment, files or the network.

The worker runs workflows unsandboxed (bootstrap.build_worker; why: docs/performance.md, "The workflow
sandbox"). The sandbox only ever checked workflows/*.py anyway: the domain, pydantic and our own helpers are
passed through it. So this test checks every module workflow code runs, statically, for the calls the
sandbox would have refused; the replay tests still run the recorded trials inside the SDK's sandbox.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Everything a workflow runs: the workflow package and the domain it drives (examples.py is test data).
MODULES = sorted([*ROOT.glob("workflows/*.py"), *(p for p in ROOT.glob("domain/*.py") if p.name != "examples.py")])
FORBIDDEN_IMPORTS = {
    "random", "secrets", "time", "os", "uuid", "threading", "subprocess", "socket", "asyncio.subprocess",
    "requests", "httpx", "sqlalchemy", "stripe", "config", "persistence", "api", "application",
}  # fmt: skip
# Attribute calls that read the clock or the environment, whatever they were imported as.
FORBIDDEN_CALLS = {"now", "utcnow", "today", "time", "monotonic", "perf_counter", "getenv", "uuid4", "urandom"}
FORBIDDEN_NAMES = {"open", "input", "environ"}


def problems(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        found += [f"imports {n}" for n in names if n in FORBIDDEN_IMPORTS or n.split(".")[0] in FORBIDDEN_IMPORTS]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            # workflow.now() is Temporal's deterministic clock; everything else named `now` is the machine's.
            allowed = isinstance(owner, ast.Name) and owner.id == "workflow"
            if node.func.attr in FORBIDDEN_CALLS and not allowed:
                found.append(f"calls {ast.unparse(node.func)}() at line {node.lineno}")
        if isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
            found.append(f"uses {node.id} at line {node.lineno}")
        if isinstance(node, ast.Attribute) and node.attr == "environ":
            found.append(f"uses {ast.unparse(node)} at line {node.lineno}")
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_workflow_code_is_deterministic(path: Path):
    assert problems(path) == []


def test_the_check_finds_what_the_sandbox_would_refuse(tmp_path: Path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import random\nfrom datetime import datetime\nimport os\n"
        "def f():\n    return datetime.now(), os.environ['X'], open('f'), workflow.now()\n"
    )
    assert problems(bad) == [
        "imports random", "imports os", "calls datetime.now() at line 5", "uses os.environ at line 5",
        "uses open at line 5",
    ]  # fmt: skip

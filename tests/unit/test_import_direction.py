"""Imports run one way: a layer may import the layers below it, never one above.

    domain  <-  security, config, activities, persistence, observability  <-  workflows  <-  application  <-  api  <-  api_client  <-  bootstrap, worker  <-  cli

Within the second layer, ports do not depend on adapters: `activities` never imports `persistence`, and
`persistence` (the adapters for the ledger, the read model and the simulated gateway's book) imports only
the ports it implements (`activities.ports`). Only `bootstrap` (the composition root) wires processes.
"""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYERS = [
    {"domain"},
    {"security", "config", "activities", "persistence", "observability"},
    {"workflows"},
    {"application"},
    {"api"},
    {"api_client"},
    {"bootstrap", "worker"},
    {"cli"},
]
LEVEL = {package: i for i, layer in enumerate(LAYERS) for package in layer}


def _sources() -> list[Path]:
    files = [ROOT / f"{name}.py" for name in LEVEL if (ROOT / f"{name}.py").exists()]
    return files + [p for name in LEVEL if (ROOT / name).is_dir() for p in (ROOT / name).rglob("*.py")]


def _imports(path: Path) -> list[str]:
    """Every project module the file imports, at the top or inside a function."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return [name for name in found if name.split(".")[0] in LEVEL]


def _package(path: Path) -> str:
    return path.relative_to(ROOT).parts[0].removesuffix(".py")


def test_no_layer_imports_a_layer_above_it():
    wrong = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _sources()
        for name in _imports(path)
        if LEVEL[name.split(".")[0]] > LEVEL[_package(path)]
    ]
    assert not wrong, "\n".join(wrong)


def test_ports_do_not_depend_on_their_adapters():
    wrong = []
    for path in _sources():
        package = _package(path)
        for name in _imports(path):
            if package == "activities" and name.startswith("persistence"):
                wrong.append(f"{path.relative_to(ROOT)} imports {name}")
            if package == "persistence" and name.startswith("activities") and name != "activities.ports":
                wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not wrong, "\n".join(wrong)


# The API is only HTTP: it reaches the engine through the application's one door (application/door.py).
API_MAY_IMPORT = {"api", "application", "domain", "security", "observability"}


def test_the_api_imports_only_the_application_domain_security_and_observability():
    wrong = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _sources()
        if _package(path) == "api"
        for name in _imports(path)
        if name.split(".")[0] not in API_MAY_IMPORT
    ]
    assert not wrong, "\n".join(wrong)


def test_the_http_client_stands_alone():
    """A fulfilment developer installs `api_client` alone: it imports none of the engine's packages (its wire
    models are generated from the OpenAPI document, api/client_codegen.py)."""
    wrong = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _sources()
        if _package(path) == "api_client"
        for name in _imports(path)
        if name.split(".")[0] != "api_client"
    ]
    assert not wrong, "\n".join(wrong)


def test_the_workflow_module_loads_no_database_or_web_code():
    """It is imported into Temporal's sandbox for every new workflow: it stays small."""
    code = "import sys, workflows.style_trial; print(','.join(m for m in ('sqlalchemy', 'fastapi', 'stripe') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == ""

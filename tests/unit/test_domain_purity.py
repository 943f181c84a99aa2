"""`domain/` is pure: it imports neither Temporal nor SQLAlchemy, directly or through anything it imports."""

import ast
import subprocess
import sys
from pathlib import Path

DOMAIN = Path(__file__).resolve().parents[2] / "domain"
FORBIDDEN = ("temporalio", "sqlalchemy", "alembic", "fastapi", "stripe", "activities", "workflows")


def test_no_domain_module_names_an_infrastructure_package():
    for path in DOMAIN.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in FORBIDDEN, f"{path.name} imports {name}"


def test_importing_the_whole_domain_loads_no_infrastructure():
    modules = ", ".join(f"domain.{p.stem}" for p in DOMAIN.glob("*.py") if p.stem != "__init__")
    code = f"import sys, {modules}; print(','.join(m for m in {FORBIDDEN!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=DOMAIN.parent)
    assert out.stdout.strip() == ""

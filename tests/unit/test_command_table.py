"""The command table (domain/command_table.py) is the one place a command is declared: every row has its
route and OpenAPI operation, its named Temporal update with a validator and the row's description, its HTTP
client method, and its aggregate pair; nothing answers to a command the table does not hold."""

import inspect
from typing import Any, cast

from api.app import create_app
from api_client import StyleTrialApi
from application.door import Application
from domain.command_table import BY_MODEL, BY_UPDATE, COMMANDS
from domain.policy import PolicyTable, TrialPolicy
from domain.trial import Trial
from workflows.style_trial import StyleTrialWorkflow

NONE = cast(Any, None)


def _openapi() -> dict[str, Any]:
    return create_app(Application(NONE, NONE, NONE, PolicyTable(base=TrialPolicy())), tokens={}).openapi()


def _updates() -> dict[str, Any]:
    from temporalio.workflow import _Definition

    definition = _Definition.from_class(StyleTrialWorkflow)
    assert definition is not None
    return {str(name): update for name, update in definition.updates.items()}


def test_every_command_has_its_route_and_openapi_operation():
    paths = _openapi()["paths"]
    for row in COMMANDS:
        op = paths[f"/v1/trials/{{order_id}}/{row.path}"]["post"]
        assert op["operationId"] == row.operation, row.update
        assert op["summary"] == row.summary
        assert op["description"].startswith(f"Roles: {', '.join(row.roles)}. ")
        assert row.description in op["description"]
        body = op["requestBody"]["content"]["application/json"]["schema"]
        names = {ref["$ref"].rsplit("/", 1)[1] for ref in body.get("anyOf", [body])}
        assert row.model.__name__ in names, (row.update, names)


def test_every_command_route_belongs_to_the_table():
    paths = _openapi()["paths"]
    routes = {p.rsplit("/", 1)[1] for p in paths if p.startswith("/v1/trials/{order_id}/")}
    assert routes == {row.path for row in COMMANDS}


def test_every_command_is_a_named_update_with_a_validator_and_the_table_s_description():
    updates = _updates()
    assert set(updates) == set(BY_UPDATE), "an update the table does not declare, or one missing"
    for row in COMMANDS:
        update = updates[row.update]
        assert update.validator is not None, row.update
        assert update.description == row.description
        assert update.arg_types == [row.model], row.update


def test_every_command_has_a_client_method_taking_its_body():
    for row in COMMANDS:
        method = getattr(StyleTrialApi, row.operation, None)
        assert method is not None, f"api_client has no {row.operation} (run `make api-client`)"
        annotation = str(inspect.signature(method).parameters["command"].annotation)
        assert row.model.__name__ in annotation, (row.operation, annotation)


def test_every_command_has_its_aggregate_pair_and_one_row_per_model():
    assert len(BY_MODEL) == len(COMMANDS) == len(BY_UPDATE)
    for row in COMMANDS:
        for method in (row.validate, row.apply):
            assert getattr(Trial, method.__name__) is method
            assert list(inspect.signature(method).parameters) == ["self", "c", "now"], method.__name__
        assert row.validate.__name__.startswith("validate_") and not row.apply.__name__.startswith("validate_")

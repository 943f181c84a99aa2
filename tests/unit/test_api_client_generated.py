"""The HTTP client's wire models and command methods are what api/client_codegen.py makes of the API's OpenAPI
document now: a change to a command, a body or a view fails here until `make api-client` is run."""

from pathlib import Path

from api.client_codegen import CLIENT, generate


def test_the_generated_client_matches_the_openapi_document(tmp_path: Path):
    for fresh in generate(tmp_path):
        committed = CLIENT / fresh.name
        assert fresh.read_text() == committed.read_text(), f"{committed} is stale: run `make api-client`"

"""Production decoding without a key in the UI: the Temporal UI passes a signed-in staff member's OpenID
Connect access token to the codec server, which checks it against the provider's published keys (served
here on loopback, as a provider serves its JWKS) and decodes only for the support role."""

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads
from temporalio.testing import WorkflowEnvironment

from bootstrap import build_api, codec
from config import Settings
from tests.integration.test_encryption import NAME, plain
from tests.oidc import jwks_provider

ISSUER, AUDIENCE = "https://sso.example-retailer.test", "temporal-ui"


@pytest.fixture(scope="module")
def provider() -> Iterator[tuple[str, rsa.RSAPrivateKey]]:
    with jwks_provider() as served:
        yield served


def _token(key: rsa.RSAPrivateKey, **claims: Any) -> str:
    base = {"iss": ISSUER, "aud": AUDIENCE, "sub": "staff-1", "exp": int(time.time()) + 600}
    return jwt.encode({**base, **claims}, key, algorithm="RS256", headers={"kid": "k1"})


async def test_the_codec_decodes_for_signed_in_support_staff_only(
    provider: tuple[str, rsa.RSAPrivateKey], dev_env: WorkflowEnvironment, store: Any, tmp_path: Path
):
    jwks_url, key = provider
    settings = Settings(
        data_dir=tmp_path, api_tokens={"tok-r": "read"}, codec_oidc_jwks_url=jwks_url, codec_oidc_issuer=ISSUER,
        codec_oidc_audience=AUDIENCE, temporal_ui_port=8080,
    )  # fmt: skip
    assert settings.codec_ui_key is None, "production needs no key in the UI's settings"
    [sealed] = await codec(settings).encode([plain(NAME)])
    body = json_format.MessageToJson(Payloads(payloads=[sealed]))
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=build_api(settings, dev_env.client, store)), base_url="http://api"
    ) as http:

        async def decode(token: str) -> httpx.Response:
            headers = {"content-type": "application/json", "Authorization": f"Bearer {token}"}
            return await http.post("/codec/decode", content=body, headers=headers)

        r = await decode(_token(key, groups=["staff", "styletrial-support"]))
        assert r.status_code == 200, r.text
        assert base64.b64decode(r.json()["payloads"][0]["data"]) == json.dumps(NAME).encode()
        assert (await decode(_token(key, groups="styletrial-support"))).status_code == 200
        r = await decode(_token(key, groups=["staff"]))
        assert r.status_code == 403 and NAME not in r.text
        for bad in (
            _token(key, groups=["styletrial-support"], exp=int(time.time()) - 60),  # expired
            _token(key, groups=["styletrial-support"], iss="https://elsewhere.test"),
            _token(key, groups=["styletrial-support"], aud="another-app"),
            _token(stranger, groups=["styletrial-support"]),  # signed by a key the provider never published
            "not-a-jwt",
        ):
            r = await decode(bad)
            assert r.status_code == 401 and NAME not in r.text, r.text
        assert (await decode("tok-r")).status_code == 403, "an API token of another role still gets 403"

"""An OpenID Connect provider's published keys, served on loopback as a provider serves its JWKS: for the
tests of the codec server and of people's tokens on the API. The key is generated per use, never stored."""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.machine import QuietHandler, http_server


def jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    data = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return {**data, "kid": kid, "use": "sig", "alg": "RS256"}


@contextmanager
def jwks_provider() -> Iterator[tuple[str, rsa.RSAPrivateKey]]:
    """The JWKS URL and the private key its one key (`k1`) belongs to."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    body = json.dumps({"keys": [jwk(key, "k1")]}).encode()

    class Jwks(QuietHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body)

    with http_server(Jwks) as url:
        yield f"{url}/jwks", key

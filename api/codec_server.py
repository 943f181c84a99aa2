"""The codec server the Temporal UI calls to show staff decoded payloads (Temporal's remote codec protocol:
POST {"payloads": [...]} as protobuf JSON to /decode and /encode).

Decoding shows clients' names, addresses and payment method ids, so only staff who act on trials get it:
- an API bearer token of the `support` role (`read` and `fulfilment` get 403);
- in production, the access token of a staff member signed in to the Temporal UI through the company's
  OpenID Connect provider, carrying the support role (security/oidc.py), which the UI passes along;
- on `styletrial dev` only, the UI key in the path: the dev server's UI can neither sign in nor send a
  token. The UI serves that key to anyone who can reach it, which is why production does not use one.
CORS admits only the configured UI origins.
"""

import asyncio
import hmac
from collections.abc import Callable, Sequence

from fastapi import APIRouter, Header, Request, Response
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from api.errors import error_response
from api.models import errors
from security.codec import EncryptionCodec
from security.oidc import OidcVerifier

# The role whose token may decode client data through the codec server.
DECODING_ROLE = "support"


def codec_router(
    codec: EncryptionCodec, role_of_token: Callable[[str], str | None], ui_key: str | None,
    oidc: OidcVerifier | None = None,
) -> APIRouter:  # fmt: skip
    router = APIRouter(tags=["codec"])

    async def refusal(authorization: str | None, key: str | None) -> Response | None:
        if key is not None:
            if ui_key is not None and hmac.compare_digest(key.encode(), ui_key.encode()):
                return None
            return error_response(401, "unauthenticated", "A codec request needs a valid token.")
        scheme, _, token = (authorization or "").partition(" ")
        role = role_of_token(token) if scheme.lower() == "bearer" else None
        if role is None and oidc is not None and scheme.lower() == "bearer" and token:
            role = await asyncio.to_thread(oidc.role_of, token)
        if role is None:
            return error_response(401, "unauthenticated", "A codec request needs a valid token.")
        if role != DECODING_ROLE:
            return error_response(403, "forbidden", f"Only the {DECODING_ROLE} role may read client data.")
        return None

    async def transform(request: Request, authorization: str | None, key: str | None, decode: bool) -> Response:
        refused = await refusal(authorization, key)
        if refused is not None:
            return refused
        try:
            payloads = json_format.Parse(await request.body(), Payloads())
            done = await (codec.decode if decode else codec.encode)(list(payloads.payloads))
        except Exception:
            return error_response(422, "invalid_request", "The payloads could not be read or decrypted.")
        return Response(json_format.MessageToJson(Payloads(payloads=done)), media_type="application/json")

    bearer = errors(401, 403, 413, 422)
    keyed = errors(401, 413, 422)

    @router.post("/codec/decode", summary="Decode payloads (bearer token)", responses=bearer)
    async def decode(request: Request, authorization: str | None = Header(default=None)) -> Response:
        return await transform(request, authorization, None, decode=True)

    @router.post("/codec/encode", summary="Encode payloads (bearer token)", responses=bearer)
    async def encode(request: Request, authorization: str | None = Header(default=None)) -> Response:
        return await transform(request, authorization, None, decode=False)

    @router.post("/codec/{key}/decode", summary="Decode payloads (UI key in the path)", responses=keyed)
    async def decode_ui(key: str, request: Request) -> Response:
        return await transform(request, None, key, decode=True)

    @router.post("/codec/{key}/encode", summary="Encode payloads (UI key in the path)", responses=keyed)
    async def encode_ui(key: str, request: Request) -> Response:
        return await transform(request, None, key, decode=False)

    return router


UI_CORS_HEADERS: Sequence[str] = ("content-type", "x-namespace", "authorization", "caller-type")

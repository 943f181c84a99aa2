"""The codec server the Temporal UI calls to show staff decoded payloads (Temporal's remote codec protocol:
POST {"payloads": [...]} as protobuf JSON to /decode and /encode).

Authenticated: an API bearer token of any role, or the UI key in the path for a UI that cannot send an
Authorization header (the dev server's UI). CORS admits only the configured UI origins.
"""

import hmac
from collections.abc import Callable, Sequence

from fastapi import APIRouter, Header, Request, Response
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from api.errors import error_response
from security.codec import EncryptionCodec


def codec_router(codec: EncryptionCodec, is_token: Callable[[str], bool], ui_key: str | None) -> APIRouter:
    router = APIRouter(tags=["codec"])

    def allowed(authorization: str | None, key: str | None) -> bool:
        if key is not None:
            return ui_key is not None and hmac.compare_digest(key.encode(), ui_key.encode())
        scheme, _, token = (authorization or "").partition(" ")
        return scheme.lower() == "bearer" and is_token(token)

    async def transform(request: Request, authorization: str | None, key: str | None, decode: bool) -> Response:
        if not allowed(authorization, key):
            return error_response(401, "unauthenticated", "A codec request needs a valid token.")
        try:
            payloads = json_format.Parse(await request.body(), Payloads())
            done = await (codec.decode if decode else codec.encode)(list(payloads.payloads))
        except Exception:
            return error_response(422, "invalid_request", "The payloads could not be read or decrypted.")
        return Response(json_format.MessageToJson(Payloads(payloads=done)), media_type="application/json")

    @router.post("/codec/decode", summary="Decode payloads (bearer token)")
    async def decode(request: Request, authorization: str | None = Header(default=None)) -> Response:
        return await transform(request, authorization, None, decode=True)

    @router.post("/codec/encode", summary="Encode payloads (bearer token)")
    async def encode(request: Request, authorization: str | None = Header(default=None)) -> Response:
        return await transform(request, authorization, None, decode=False)

    @router.post("/codec/{key}/decode", summary="Decode payloads (UI key in the path)")
    async def decode_ui(key: str, request: Request) -> Response:
        return await transform(request, None, key, decode=True)

    @router.post("/codec/{key}/encode", summary="Encode payloads (UI key in the path)")
    async def encode_ui(key: str, request: Request) -> Response:
        return await transform(request, None, key, decode=False)

    return router


UI_CORS_HEADERS: Sequence[str] = ("content-type", "x-namespace", "authorization", "caller-type")

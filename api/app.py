"""The HTTP API: fulfilment systems start and feed trials, staff act on them, anyone with a token reads them.

`create_app` assembles it: the routes (api/trials.py, api/commands.py, api/health.py, and the Temporal UI's
codec server in api/codec_server.py), the body limit, and the handlers that give every failure one shape:
`{"error": {"code", "message"}}`. Domain refusals keep their code; Temporal or the database being away is a
503 with Retry-After; a bug is a logged 500. Never a bare 500, never a dropped connection.
"""

import asyncio
import base64
import hashlib
import logging
import re
from collections.abc import Sequence
from functools import partial
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import attention, choices, commands, customers, health, labels, reports, webhooks
from api import trials as trial_routes
from api.auth import ApiError, role_of_token
from api.codec_server import UI_CORS_HEADERS, codec_router
from api.errors import error_response, http_status
from api.limits import BodyLimit
from api.observe import RequestContext
from application.door import UNAVAILABLE, Application
from domain.bounds import at_the_edge
from domain.errors import DomainError
from domain.policy import TrialPolicy
from security.codec import EncryptionCodec
from security.oidc import OidcVerifier, StaffTokens

_log = logging.getLogger("styletrial.api")
# A request body larger than this is refused before it is read (the largest real one, a 30-piece order,
# is about 10 KB); far below gRPC's 4 MB message and Temporal's 2 MB payload limits.
MAX_BODY_BYTES = 256 * 1024
# A request that has not finished by then answers 503 (a command waiting for a worker, say): the caller
# retries with the same Idempotency-Key and joins the same command.
REQUEST_TIMEOUT_SECONDS = 30.0
# What a 503 tells the caller to wait before retrying.
RETRY_AFTER_SECONDS = 2


def _operation_id(route: APIRoute) -> str:
    """OpenAPI operationIds are the route functions' names: `dispatch`, `record_delivery`, `get_trial`."""
    return route.name


def create_app(
    application: Application, *, tokens: dict[str, str],
    codec: EncryptionCodec | None = None, codec_ui_key: str | None = None, ui_origins: Sequence[str] = (),
    codec_oidc: OidcVerifier | None = None, whatsapp: APIRouter | None = None, staff: StaffTokens | None = None,
    carriers: APIRouter | None = None,
) -> FastAPI:  # fmt: skip
    app = FastAPI(
        title="Style Trial",
        version="1",
        description="Consignment trials for luxury fashion: fulfilment systems start and feed trials; staff act on "
        'them. Money is in integer minor units. Every error is `{"error": {"code", "message"}}`.',
        generate_unique_id_function=_operation_id,
        # /docs is served below from a PyPI package's assets, never a CDN: it works offline and behind
        # firewalls. No ReDoc: its page fetches its logo from Redocly's CDN whatever the options.
        docs_url=None,
        redoc_url=None,
        # No redirect from /v1/trials/ to /v1/trials: Starlette builds it from the Host header, so anyone
        # could make this API point a client at their own host. The path without the slash is the route.
        redirect_slashes=False,
    )
    _offline_docs(app)
    _complete_schema(app, application.policies.base)
    app.state.services = application
    app.state.tokens = tokens
    app.state.staff = staff  # people's OpenID Connect tokens (api/auth.py), when configured
    app.state.charts = reports.ChartsPage()  # the /reports page, rendered off the event loop
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)
    for router in (
        health.router,
        trial_routes.router,
        commands.router,
        webhooks.router,
        reports.router,
        labels.router,
        choices.router,
        attention.router,
        customers.router,
    ):
        app.include_router(router)
    for optional in (whatsapp, carriers):  # the inbound webhooks, when configured
        if optional is not None:
            app.include_router(optional)
    if codec is not None:
        app.include_router(codec_router(codec, partial(role_of_token, tokens), codec_ui_key, codec_oidc))
        # Only the Temporal UI's origin may call from a browser (the codec server is what it calls).
        app.add_middleware(
            CORSMiddleware, allow_origins=list(ui_origins), allow_methods=["POST", "OPTIONS"],
            allow_headers=list(UI_CORS_HEADERS), allow_credentials=True,
        )  # fmt: skip
    app.add_middleware(NeverABare500)
    app.add_middleware(RequestContext)  # outermost of ours: X-Request-ID and latency of every answer
    app.add_exception_handler(ApiError, _api_error)  # type: ignore[arg-type]
    app.add_exception_handler(DomainError, _domain_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _invalid)  # type: ignore[arg-type]
    return app


# Swagger UI 5 as the fastapi-offline package ships it (only its files are used, not its code).
DOCS_ASSETS = "/docs/assets"


def _offline_docs(app: FastAPI) -> None:
    from importlib.resources import files

    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.responses import HTMLResponse
    from fastapi.staticfiles import StaticFiles

    app.mount(DOCS_ASSETS, StaticFiles(directory=str(files("fastapi_offline") / "static")), name="docs-assets")
    openapi = app.openapi_url or "/openapi.json"

    page = get_swagger_ui_html(
        openapi_url=openapi, title=f"{app.title} API", swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css", swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png",
    ).body  # fmt: skip
    # The page's one inline script (Swagger UI's start) is allowed by its hash, and nothing else: scripts
    # and styles from this origin only, no frames, no forms, nothing from another host.
    inline = [hashlib.sha256(m).digest() for m in re.findall(rb"<script>(.*?)</script>", page, re.DOTALL)]
    hashes = " ".join(f"'sha256-{base64.b64encode(h).decode()}'" for h in inline)
    policy = (
        f"default-src 'none'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(page, headers={"Content-Security-Policy": policy})


def _complete_schema(app: FastAPI, policy: TrialPolicy) -> None:
    """The OpenAPI document, completed: a description and an example on every field (api/schema_docs.py),
    and the tiers this deployment's policy accepts as the enum of `Customer.tier`. (The order model cannot
    say it: the policy is configuration, and the workflow's input must not depend on it. Another tier is
    refused with `ineligible_tier`.)"""
    from fastapi.openapi.utils import get_openapi

    from api.schema_docs import document

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes,
            )  # fmt: skip
            document(schema.get("components", {}).get("schemas", {}))
            for name in ("Customer", "Customer-Input", "Customer-Output"):
                tier = schema.get("components", {}).get("schemas", {}).get(name, {}).get("properties", {}).get("tier")
                if tier is not None:
                    tier["enum"] = list(policy.eligible_tiers)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


class NeverABare500:
    """Failures of what the API depends on answer in the error shape, and the connection stays usable.

    Temporal (or the database) being away is a 503 with Retry-After: the caller retries, with the same
    Idempotency-Key for a command. Anything else is a bug: a 500 in the same shape, logged with its trace.
    Handled here rather than in an exception handler, so the server never sees an exception (which would
    make it drop the keep-alive connection). Plain ASGI, not Starlette's `BaseHTTPMiddleware`, whose task
    group and streamed body per request were a good part of the API's CPU under load (docs/performance.md).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            with at_the_edge():  # every body and parameter from outside is held to domain.bounds
                await asyncio.wait_for(self.app(scope, receive, tracking), REQUEST_TIMEOUT_SECONDS)
            return
        except UNAVAILABLE as err:
            if started:
                raise
            _log.warning("dependency unavailable on %s %s: %s", scope["method"], scope["path"], type(err).__name__)
            response = error_response(
                503, "temporarily_unavailable", "The trial service is briefly unavailable; retry the same request shortly.",
                {"Retry-After": str(RETRY_AFTER_SECONDS)},
            )  # fmt: skip
        except Exception:
            if started:
                raise
            _log.exception("unexpected error on %s %s", scope["method"], scope["path"])
            response = error_response(500, "internal_error", "Something went wrong on our side; it has been logged.")
        await response(scope, receive, send)


async def _api_error(_: Request, err: ApiError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if err.status == 401 else None
    return error_response(err.status, err.code, err.message, headers)


async def _domain_error(_: Request, err: DomainError) -> JSONResponse:
    return error_response(http_status(err.code), err.code.value, err.message)


async def _http_error(request: Request, err: StarletteHTTPException) -> JSONResponse:
    # Unknown routes and methods answer in the same shape as everything else.
    if err.status_code == 400:
        # FastAPI's answer to a body it could not parse at all: nesting too deep for the parser, bytes that
        # are not UTF-8, a number too long to read (10^4300). The same code as any other invalid body.
        return error_response(422, "invalid_request", "The body could not be read as JSON (its encoding, depth "
                              "or a number too long); send UTF-8 JSON as documented.")  # fmt: skip
    codes = {
        404: ("not_found", "There is no such route."),
        405: ("method_not_allowed", "That method is not allowed here."),
    }
    code, message = codes.get(err.status_code, ("http_error", str(err.detail)))
    if err.status_code == 404 and request.url.path.endswith("/") and request.url.path != "/":
        message = "There is no such route; paths here have no trailing slash."
    return error_response(err.status_code, code, message, dict(err.headers or {}) or None)


async def _invalid(_: Request, err: RequestValidationError) -> JSONResponse:
    first = err.errors()[0] if err.errors() else {"loc": (), "msg": "invalid request"}
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "request"
    return error_response(422, "invalid_request", f"{where}: {first.get('msg', 'invalid')}.")

"""FastAPI app for DESIGN §7. Commands are Temporal updates: each answers with the trial as it stands once
the workflow has acted, or with the domain's code and sentence. Reads (one trial, the lists) come from the
read model, never from a workflow query: a read must not wait on a worker, nor make a worker that does not
hold the trial replay it."""

import asyncio
import base64
import hmac
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi import Path as FastApiPath
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.client import Client, RPCTimeoutOrCancelledError
from temporalio.service import RPCError

from api.codec_server import UI_CORS_HEADERS, codec_router
from api.errors import error_response, http_status
from api.limits import BodyLimit
from client.trials import TrialClient
from domain import commands as cmd
from domain.bounds import ID_MAX, ORDER_ID_PATTERN, Label, at_the_edge
from domain.errors import DomainError, ErrorCode
from domain.order import TrialOrder
from domain.policy import TrialPolicy
from domain.view import TrialView
from domain.workflow_io import StartTrial
from persistence.store import Cursor, SqlStore
from security.codec import EncryptionCodec
from security.oidc import OidcVerifier
from workflows.style_trial import StyleTrialWorkflow as W

_log = logging.getLogger("styletrial.api")
# An order id in a path: the same alphabet and length as in a body (see domain.bounds).
OrderId = Annotated[str, FastApiPath(max_length=ID_MAX, pattern=ORDER_ID_PATTERN)]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", max_length=100, pattern=r"^[A-Za-z0-9._:-]+$",
           description="Makes a command safe to retry: the same key for the same command gets the first answer."),
]  # fmt: skip
Filter = Annotated[str | None, Query(max_length=ID_MAX)]
# A request body larger than this is refused before it is read (the largest real one, a 30-piece order,
# is about 10 KB); far below gRPC's 4 MB message and Temporal's 2 MB payload limits.
MAX_BODY_BYTES = 256 * 1024
# A request that has not finished by then answers 503 (a command waiting for a worker, say): the caller
# retries with the same Idempotency-Key and joins the same command.
REQUEST_TIMEOUT_SECONDS = 30.0
# What a 503 tells the caller to wait before retrying.
RETRY_AFTER_SECONDS = 2


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorBody


class FinishRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    actor: Label = "client"
    channel: cmd.Channel = "site"


class TrialSummary(BaseModel):
    order_id: str
    status: str
    needs_attention: bool
    attention: dict[str, str]
    customer_id: str
    tier: str
    region: str
    currency: str
    value: int
    authorized: int
    charged: int
    released: int
    opened_at: datetime
    trial_ends_at: datetime | None
    return_deadline: datetime | None


class TrialList(BaseModel):
    items: list[TrialSummary]
    next_cursor: str | None


class Health(BaseModel):
    status: str
    checks: dict[str, str] = {}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        self.status, self.code, self.message = status, code, message


ERRORS: dict[int | str, dict[str, Any]] = {
    s: {"model": ErrorResponse} for s in (401, 403, 404, 409, 422, 503)
}  # the same error shape for every failure, documented in the OpenAPI


def create_app(
    *, temporal: Client, trials: TrialClient, store: SqlStore, tokens: dict[str, str], policy: TrialPolicy,
    codec: EncryptionCodec | None = None, codec_ui_key: str | None = None, ui_origins: Sequence[str] = (),
    codec_oidc: OidcVerifier | None = None,
) -> FastAPI:  # fmt: skip
    app = FastAPI(
        title="Style Trial",
        version="1",
        description="Consignment trials for luxury fashion: fulfilment systems start and feed trials; staff act on "
        'them. Money is in integer minor units. Every error is `{"error": {"code", "message"}}`.',
    )
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)
    bearer = HTTPBearer(auto_error=False)

    def role_of_token(candidate: str) -> str | None:
        # Compare against every token in constant time, so timing reveals nothing about which one is close.
        role = None
        for token, token_role in tokens.items():
            if hmac.compare_digest(token.encode(), candidate.encode()):
                role = token_role
        return role

    def role_of(credentials: HTTPAuthorizationCredentials | None) -> str:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise ApiError(401, "unauthenticated", "Send an Authorization: Bearer <token> header.")
        role = role_of_token(credentials.credentials)
        if role is None:
            raise ApiError(401, "unauthenticated", "The bearer token is not recognised.")
        return role

    def allow(*roles: str) -> Callable[..., str]:
        def dependency(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> str:
            role = role_of(credentials)
            if role not in roles:
                raise ApiError(
                    403, "forbidden", f"The {role} role cannot do this; it needs one of: {', '.join(roles)}."
                )
            return role

        return dependency

    everyone = Depends(allow("fulfilment", "support", "read"))

    if codec is not None:
        app.include_router(codec_router(codec, role_of_token, codec_ui_key, codec_oidc))
        # Only the Temporal UI's origin may call from a browser (the codec server is what it calls).
        app.add_middleware(
            CORSMiddleware, allow_origins=list(ui_origins), allow_methods=["POST", "OPTIONS"],
            allow_headers=list(UI_CORS_HEADERS), allow_credentials=True,
        )  # fmt: skip

    @app.middleware("http")
    async def _never_a_bare_500(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        """Failures of what the API depends on answer in the error shape, and the connection stays usable.

        Temporal (or the database) being away is a 503 with Retry-After: the caller retries, with the same
        Idempotency-Key for a command. Anything else is a bug: a 500 in the same shape, logged with its trace.
        Handled here rather than in an exception handler, so the server never sees an exception (which
        would make it drop the keep-alive connection).
        """
        try:
            with at_the_edge():  # every body and parameter from outside is held to domain.bounds
                return await asyncio.wait_for(call_next(request), REQUEST_TIMEOUT_SECONDS)
        except (RPCError, RPCTimeoutOrCancelledError, TimeoutError, OperationalError) as err:
            _log.warning("dependency unavailable on %s %s: %s", request.method, request.url.path, type(err).__name__)
            return error_response(
                503, "temporarily_unavailable",
                "The trial service is briefly unavailable; retry the same request shortly.",
                {"Retry-After": str(RETRY_AFTER_SECONDS)},
            )  # fmt: skip
        except Exception:
            _log.exception("unexpected error on %s %s", request.method, request.url.path)
            return error_response(500, "internal_error", "Something went wrong on our side; it has been logged.")

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, err: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if err.status == 401 else None
        return error_response(err.status, err.code, err.message, headers)

    @app.exception_handler(DomainError)
    async def _domain_error(_: Request, err: DomainError) -> JSONResponse:
        return error_response(http_status(err.code), err.code.value, err.message)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, err: StarletteHTTPException) -> JSONResponse:
        # Unknown routes and methods answer in the same shape as everything else.
        codes = {
            404: ("not_found", "There is no such route."),
            405: ("method_not_allowed", "That method is not allowed here."),
        }
        code, message = codes.get(err.status_code, ("http_error", str(err.detail)))
        return error_response(err.status_code, code, message, dict(err.headers or {}) or None)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, err: RequestValidationError) -> JSONResponse:
        first = err.errors()[0] if err.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "request"
        return error_response(422, "invalid_request", f"{where}: {first.get('msg', 'invalid')}.")

    # ------------------------------------------------------------------ health

    @app.get("/healthz", response_model=Health, tags=["health"])
    async def healthz() -> Health:
        return Health(status="ok")

    @app.get("/readyz", response_model=Health, tags=["health"], responses={503: {"model": Health}})
    async def readyz() -> JSONResponse:
        checks: dict[str, str] = {}
        try:
            await asyncio.wait_for(temporal.service_client.check_health(), 3)
            checks["temporal"] = "ok"
        except Exception as err:
            checks["temporal"] = f"unreachable: {type(err).__name__}"
        try:
            await asyncio.to_thread(_ping, store)
            checks["database"] = "ok"
        except Exception as err:
            checks["database"] = f"unreachable: {type(err).__name__}"
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(
            Health(status="ok" if ready else "unavailable", checks=checks).model_dump(),
            status_code=200 if ready else 503,
        )

    # ------------------------------------------------------------------ trials

    @app.post(
        "/v1/trials",
        response_model=TrialView,
        status_code=201,
        tags=["trials"],
        responses={200: {"model": TrialView}, **ERRORS},
    )
    async def start_trial(order: TrialOrder, role: Annotated[str, Depends(allow("fulfilment"))]) -> JSONResponse:
        """Start the trial for an order. The same order again with the same body answers 200 with the existing
        trial; the same order id with a different body is 409 `order_conflict`."""
        _, created = await trials.start(StartTrial(order=order, policy=policy))
        view = await _read_view(trials, store, order.order_id)
        return JSONResponse(view.model_dump(mode="json"), status_code=201 if created else 200)

    @app.get("/v1/trials/{order_id}", response_model=TrialView, tags=["trials"], responses=ERRORS)
    async def get_trial(order_id: OrderId, _: str = everyone) -> TrialView:
        """The trial as its workflow last reported it to the read model (after every change, before any
        command answers)."""
        return await _read_view(trials, store, order_id)

    @app.get("/v1/trials", response_model=TrialList, tags=["trials"], responses=ERRORS)
    async def list_trials(
        _: Annotated[str, everyone],
        status: Filter = None,
        customer_id: Filter = None,
        needs_attention: bool | None = None,
        ending_before: datetime | None = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        cursor: Annotated[str | None, Query(max_length=400)] = None,
    ) -> TrialList:
        """Trials from the read model, newest first; pass `next_cursor` back as `cursor` for the next page."""
        if ending_before is not None:
            ending_before = _utc_filter(ending_before)
        page = await asyncio.to_thread(
            store.list_trials, status=status, customer_id=customer_id, needs_attention=needs_attention,
            ending_before=ending_before, limit=limit, after=_decode_cursor(cursor),
        )  # fmt: skip
        return TrialList(
            items=[TrialSummary.model_validate(r, from_attributes=True) for r in page.items],
            next_cursor=_encode_cursor(page.next_cursor),
        )

    # ------------------------------------------------------------------ commands

    def command(path: str, update: Any, body_type: type[BaseModel], roles: tuple[str, ...], summary: str,
                check: Callable[[str, Any], None] | None = None, to_command: Callable[[Any], Any] | None = None) -> None:  # fmt: skip
        async def endpoint(
            order_id: OrderId, body: body_type, role: Annotated[str, Depends(allow(*roles))],  # type: ignore[valid-type]
            idempotency_key: IdempotencyKey = None,
        ) -> TrialView:  # fmt: skip
            if check:
                check(role, body)
            # The key names this command: a retry with it (after a timeout, a dropped connection, a 503)
            # is the same Temporal update, so it gets the first answer instead of applying twice or a 409.
            update_id = f"{path}:{idempotency_key}" if idempotency_key else None
            return await trials.send(order_id, update, to_command(body) if to_command else body, update_id)

        app.post(f"/v1/trials/{{order_id}}/{path}", response_model=TrialView, tags=["commands"], summary=summary,
                 description=f"Roles: {', '.join(roles)}.", responses=ERRORS)(endpoint)  # fmt: skip

    def staff_delivery_needs_actor_and_reason(role: str, body: cmd.Delivery) -> None:
        if role == "support" and not (body.actor and body.actor.strip()):
            raise DomainError(ErrorCode.ACTOR_REQUIRED, "Staff recording a delivery must give their name (actor).")
        if role == "support" and not (body.reason and body.reason.strip()):
            raise DomainError(ErrorCode.REASON_REQUIRED, "Staff recording a delivery must give a reason.")

    F, S = "fulfilment", "support"
    command(
        "dispatch", W.dispatch, cmd.Dispatch, (F,), "Dispatched in one or more parcels (pieces in none are unavailable)"
    )
    command(
        "delivery", W.deliver, cmd.Delivery, (F, S), "One parcel delivered", check=staff_delivery_needs_actor_and_reason
    )
    command("decisions", W.decide, cmd.Decisions, (F, S), "Keep/return decisions for delivered pieces")
    command("finish", W.finish_early, FinishRequest, (F, S), "The client is done early (every piece decided)",
            to_command=lambda b: cmd.FinishEarly(actor=b.actor, channel=b.channel))  # fmt: skip
    command("returns", W.ship_return, cmd.ReturnShipped, (F,), "A return was shipped (carrier scan)")
    command("inspections", W.inspect, cmd.Inspection, (F,), "A returned piece was received and inspected")
    command("extension", W.extend, cmd.Extension, (S,), "Extend the trial (1–7 days, 14 in total)")
    command("waivers", W.waive, cmd.Waiver, (S,), "Waive a piece that has not been charged")
    command(
        "payment-method", W.change_payment_method, cmd.NewPaymentMethod, (S,), "A new payment method (retries at once)"
    )
    command("cancel", W.cancel, cmd.Cancel, (F, S), "Cancel before dispatch")
    return app


async def _read_view(trials: TrialClient, store: SqlStore, order_id: str) -> TrialView:
    view = await asyncio.to_thread(store.view, order_id)
    if view is not None:
        return view
    # Not projected yet (just started, or no worker has run it): the trial as it opened, or unknown_order.
    return await trials.opening_view(order_id)


# Trials end between these years; a filter outside them is a mistake, and the far ends overflow datetime.
MIN_FILTER_YEAR, MAX_FILTER_YEAR = 2000, 9000


def _utc_filter(when: datetime) -> datetime:
    if when.tzinfo is None:
        raise ApiError(422, "invalid_request", "ending_before must include a time zone.")
    try:
        utc = when.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+14:00 has no UTC time
        raise ApiError(422, "invalid_request", "ending_before is outside the dates a trial can have.") from None
    if not MIN_FILTER_YEAR <= utc.year <= MAX_FILTER_YEAR:
        raise ApiError(422, "invalid_request", "ending_before is outside the dates a trial can have.")
    return utc


def _ping(store: SqlStore) -> None:
    with store.engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def _encode_cursor(cursor: Cursor | None) -> str | None:
    if cursor is None:
        return None
    return base64.urlsafe_b64encode(f"{cursor.opened_at.isoformat()}|{cursor.trial_id}".encode()).decode()


def _decode_cursor(raw: str | None) -> Cursor | None:
    if raw is None:
        return None
    try:
        opened, trial_id = base64.urlsafe_b64decode(raw.encode()).decode().split("|", 1)
        when = datetime.fromisoformat(opened)
        if when.tzinfo is None:
            raise ValueError("naive")
        return Cursor(when, trial_id)
    except Exception:
        raise ApiError(422, "invalid_request", "cursor is not one this API handed out.") from None

"""A typed HTTP client for fulfilment systems and tools: the Style Trial API through httpx, with its wire
models and command methods generated from the API's OpenAPI document (`make api-client`), and retries that
are safe.

    async with StyleTrialApi("https://styletrial-api.example.com", token) as api:
        started = await api.start_trial(order)                       # TrialOrder -> Started(view, created)
        await api.dispatch(order.order_id, models.Dispatch(parcels=[...]))  # -> TrialView
        view = await api.get_trial(order.order_id)

What is safe to retry, and how (docs/integrations.md, "The HTTP client"):
- Every command carries an `Idempotency-Key`: the one given, or a new one per call. Each retry of that
  call sends the same key, so the API answers with the first outcome and the command applies once, even
  when the first answer was lost on the way back.
- Starting a trial is idempotent by order: the same order again answers 200 with the existing trial.
- Retried (with `stamina`): connection failures, timeouts, 502, 503 and 504 (after `Retry-After` when the
  API gives one, otherwise after an exponential backoff with jitter). Never a 4xx: the request itself is
  wrong, and sending it again changes nothing.
- An error answer raises `ApiError` with the API's code and sentence, and the request id to quote.

It needs only httpx, stamina and pydantic: nothing of the server (no Temporal, no database, no FastAPI, none
of the engine's own packages), so a fulfilment developer can install it alone.
"""

import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Any, NamedTuple
from urllib.parse import quote

import httpx
import stamina
from pydantic import BaseModel

from api_client import models
from api_client.commands import Commands
from api_client.models import TrialList, TrialOrder, TrialSummary, TrialView

__all__ = ["ApiError", "Started", "StyleTrialApi", "models"]

RETRIED_STATUSES = frozenset({502, 503, 504})


class ApiError(Exception):
    """The API refused or failed a request: `status`, the error's `code` and `message`, and `request_id`."""

    def __init__(self, status: int, code: str, message: str, request_id: str | None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id


class Started(NamedTuple):
    view: TrialView
    created: bool  # False: the order had already opened this trial (a retry, or a second system)


class StyleTrialApi(Commands):
    """Trials (start, read, list) here; one method per command from `Commands` (api_client/commands.py)."""

    def __init__(
        self, base_url: str, token: str, *, timeout: float = 35.0, attempts: int = 5, backoff: float = 0.5,
        max_backoff: float = 10.0, transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:  # fmt: skip
        """`timeout` a little over the API's own 30 s (a command that waited that long answers 503 and is
        retried); `attempts` tries per call in all, waiting `backoff` seconds doubling to `max_backoff`."""
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), headers={"Authorization": f"Bearer {token}"}, timeout=timeout,
            transport=transport,
        )  # fmt: skip
        self._attempts = attempts
        self._backoff = backoff
        self._max_backoff = max_backoff

    async def __aenter__(self) -> "StyleTrialApi":
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # ------------------------------------------------------------------ trials

    async def start_trial(self, order: TrialOrder) -> Started:
        response = await self._request("POST", "/v1/trials", json=_body(order))
        return Started(TrialView.model_validate_json(response.content), response.status_code == 201)

    async def get_trial(self, order_id: str) -> TrialView:
        response = await self._request("GET", f"/v1/trials/{_path(order_id)}")
        return TrialView.model_validate_json(response.content)

    async def list_trials(
        self, *, status: str | None = None, customer_id: str | None = None,
        needs_attention: bool | None = None, ending_before: datetime | None = None, limit: int = 50,
        cursor: str | None = None,
    ) -> TrialList:  # fmt: skip
        params: dict[str, Any] = {"limit": limit}
        for name, value in (("status", status), ("customer_id", customer_id), ("cursor", cursor)):
            if value is not None:
                params[name] = str(value)
        if needs_attention is not None:
            params["needs_attention"] = "true" if needs_attention else "false"
        if ending_before is not None:
            params["ending_before"] = ending_before.isoformat()
        response = await self._request("GET", "/v1/trials", params=params)
        return TrialList.model_validate_json(response.content)

    async def all_trials(self, **filters: Any) -> AsyncIterator[TrialSummary]:
        """Every trial the filters (those of `list_trials`) match, newest first, page after page."""
        cursor = None
        while True:
            page = await self.list_trials(**filters, cursor=cursor)
            for item in page.items:
                yield item
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    # ------------------------------------------------------------------ internals

    async def _command(self, order_id: str, path: str, command: BaseModel, key: str | None) -> TrialView:
        # One key for every attempt of this call: what makes a retry the same command.
        headers = {"Idempotency-Key": key or uuid.uuid4().hex}
        response = await self._request(
            "POST", f"/v1/trials/{_path(order_id)}/{path}", json=_body(command), headers=headers
        )
        return TrialView.model_validate_json(response.content)

    async def _request(
        self, method: str, url: str, *, json: Any = None, params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:  # fmt: skip
        request_id = uuid.uuid4().hex  # the same for every attempt: the API's logs show them together
        sent = {**(headers or {}), "X-Request-ID": request_id}
        retrying = stamina.retry_context(
            on=self._retry, attempts=self._attempts, timeout=None, wait_initial=self._backoff,
            wait_max=self._max_backoff, wait_jitter=self._backoff,
        )  # fmt: skip
        try:
            async for attempt in retrying:
                with attempt:
                    response = await self._http.request(method, url, json=json, params=params, headers=sent)
                    if response.status_code in RETRIED_STATUSES:
                        raise _Retry(response)
        except _Retry as spent:  # the last attempt was a 502/503/504 too: its answer is the error
            raise _error(spent.response) from None
        if response.is_success:
            return response
        raise _error(response)

    def _retry(self, err: Exception) -> bool | float:
        """What stamina retries: a dropped connection or a timeout, and a 502/503/504 (after its
        `Retry-After`, within `max_backoff`, when the API gives one). Never a 4xx."""
        if isinstance(err, _Retry):
            after = err.response.headers.get("Retry-After", "")
            return min(float(after), self._max_backoff) if after.isdigit() else True
        return isinstance(err, httpx.TransportError)


class _Retry(Exception):
    """An answer worth asking again for (502, 503, 504)."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response


def _body(model: BaseModel) -> Any:
    return model.model_dump(mode="json", exclude_none=True)


def _path(order_id: str) -> str:
    # Order ids are letters of any script, digits and `. _ : -` (domain.bounds); quoted, so that a wrong id
    # (with a slash, say) is the API's clean 4xx, never another route.
    return quote(order_id, safe="")


def _error(response: httpx.Response) -> ApiError:
    try:
        error = response.json()["error"]
        code, message = str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        code, message = "http_error", response.text[:200] or response.reason_phrase
    return ApiError(response.status_code, code, message, response.headers.get("X-Request-ID"))

"""Stock at the warehouse or order management system, over HTTP: the contract in docs/integrations.md.

    POST {base}/v1/reservations   {"key", "trial_id", "piece_ids"}  ->  200 {"piece_ids": [the ones held]}
    POST {base}/v1/releases       {"key", "trial_id", "piece_ids"}  ->  200 {"piece_ids": [the ones freed]}
    POST {base}/v1/write-offs     {"key", "trial_id", "piece_ids"}  ->  200 {"piece_ids": [the ones written off]}

All three are idempotent by `key` (also sent as `Idempotency-Key`): the same key again answers as the first call
did and changes nothing. A piece missing from a reservation's answer is unavailable. The activity retries
what may pass (a timeout, 408, 429, 5xx); a 4xx otherwise means the request itself is wrong, and retrying
it would not help, so the activity fails for good and the trial's workflow task shows it.
"""

from typing import Any

import httpx
from temporalio.exceptions import ApplicationError

from activities.headers import ascii_header

TIMEOUT_SECONDS = 10.0
RETRYABLE = {408, 425, 429}


class WarehouseStock:
    def __init__(self, base_url: str, token: str | None, http: httpx.AsyncClient | None = None) -> None:
        self._base = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = http or httpx.AsyncClient()

    async def reserve(
        self, key: str, trial_id: str, piece_ids: list[str], skus: dict[str, str] | None = None
    ) -> list[str]:
        return await self._call("reservations", key, trial_id, piece_ids, skus)

    async def release(self, key: str, trial_id: str, piece_ids: list[str]) -> list[str]:
        return await self._call("releases", key, trial_id, piece_ids)

    async def write_off(self, key: str, trial_id: str, piece_ids: list[str]) -> list[str]:
        return await self._call("write-offs", key, trial_id, piece_ids)

    async def _call(
        self, what: str, key: str, trial_id: str, piece_ids: list[str], skus: dict[str, str] | None = None
    ) -> list[str]:
        body: dict[str, object] = {"key": key, "trial_id": trial_id, "piece_ids": piece_ids}
        if skus:
            body["skus"] = skus  # pieces added after the order: an exchange's replacements
        answer = await self._http.post(
            f"{self._base}/v1/{what}", json=body, headers={**self._headers, "Idempotency-Key": ascii_header(key)},
            timeout=TIMEOUT_SECONDS,
        )  # fmt: skip
        if answer.status_code >= 500 or answer.status_code in RETRYABLE:
            raise RuntimeError(f"the warehouse answered {answer.status_code} to {what}; trying again")
        if not answer.is_success:
            raise ApplicationError(
                f"the warehouse refused {what} for {trial_id} ({answer.status_code})", type="stock_refused",
                non_retryable=True,
            )  # fmt: skip
        data: Any = answer.json()
        done = data.get("piece_ids") if isinstance(data, dict) else None
        if not isinstance(done, list) or not set(done) <= set(piece_ids):
            raise ApplicationError(
                f"the warehouse's answer to {what} for {trial_id} is not the documented one", type="stock_refused",
                non_retryable=True,
            )  # fmt: skip
        return [str(p) for p in done]

"""Stock reservation: the pieces of a trial are held for the client from acceptance until they ship."""

import logging

from temporalio import activity

from activities.ports import StockPort
from domain.steps import StockRequest, StockResult

log = logging.getLogger(__name__)


class InMemoryStock:
    """Stock in this process's memory, for tests and tools. Idempotent by key: a retried reservation
    reserves nothing twice. The engine itself uses the database (persistence.stock) or the warehouse
    (activities.warehouse_stock): a reservation in memory dies with its worker."""

    def __init__(self) -> None:
        self.reserved: dict[str, set[str]] = {}
        self.written_off: dict[str, set[str]] = {}
        self._done: dict[str, list[str]] = {}
        self.skus: dict[str, str] = {}  # of pieces added after the order

    async def reserve(
        self, key: str, trial_id: str, piece_ids: list[str], skus: dict[str, str] | None = None
    ) -> list[str]:
        if key not in self._done:
            self.skus.update(skus or {})
            self.reserved.setdefault(trial_id, set()).update(piece_ids)
            self._done[key] = list(piece_ids)
        return self._done[key]

    async def release(self, key: str, trial_id: str, piece_ids: list[str]) -> list[str]:
        if key not in self._done:
            held = self.reserved.setdefault(trial_id, set())
            released = [p for p in piece_ids if p in held]
            held.difference_update(released)
            self._done[key] = released
        return self._done[key]

    async def write_off(self, key: str, trial_id: str, piece_ids: list[str]) -> list[str]:
        if key not in self._done:
            self.reserved.setdefault(trial_id, set()).difference_update(piece_ids)
            self.written_off.setdefault(trial_id, set()).update(piece_ids)
            self._done[key] = list(piece_ids)
        return self._done[key]


async def move_stock(stock: StockPort, req: StockRequest) -> list[str]:
    """The port's operation for the request's action; the pieces it answers for."""
    if req.action == "reserve":
        return await stock.reserve(req.key, req.trial_id, req.piece_ids, req.skus or None)
    move = {"release": stock.release, "write_off": stock.write_off}[req.action]
    return await move(req.key, req.trial_id, req.piece_ids)


class FulfilmentActivities:
    def __init__(self, stock: StockPort) -> None:
        self._stock = stock

    @activity.defn(name="fulfilment.stock")
    async def stock(self, req: StockRequest) -> StockResult:
        done = await move_stock(self._stock, req)
        log.info("stock %s for %s: %d piece(s)", req.action, req.trial_id, len(done))
        return StockResult(piece_ids=done)

"""The trial's claim on the retailer's stock: reserved once the value is authorized, released piece by piece
when a piece turns out unavailable or the trial ends before dispatch, written off when a parcel is lost in
transit (the units are gone), and reserved again for the replacements of a reship or an exchange (whose
SKUs travel with the request: the warehouse knows the order's pieces, not those added since). Each request has its own
key, so a retried activity never reserves, releases or writes off twice."""

from collections.abc import Sequence
from dataclasses import dataclass, field

from domain.steps import StockAction, StockRequest


@dataclass
class _Queue:
    """Pieces waiting for one kind of request, and how many such requests were made (numbering the keys)."""

    action: StockAction
    name: str  # in the key: `<trial>-stock-<name>-<n>`
    pieces: list[str] = field(default_factory=list)
    made: int = 0

    def add(self, piece_ids: list[str]) -> None:
        self.pieces.extend(p for p in piece_ids if p not in self.pieces)

    def request(self, trial_id: str, skus: dict[str, str] | None = None) -> StockRequest | None:
        if not self.pieces:
            return None
        key = f"{trial_id}-stock-{self.name}-{self.made + 1}"
        known = {p: s for p, s in (skus or {}).items() if p in self.pieces}
        return StockRequest(key=key, trial_id=trial_id, action=self.action, piece_ids=list(self.pieces), skus=known)

    def done(self, piece_ids: list[str]) -> None:
        self.made += 1
        self.pieces = [p for p in self.pieces if p not in piece_ids]


@dataclass
class Stock:
    trial_id: str
    reserved: bool = False
    to_release: _Queue = field(default_factory=lambda: _Queue("release", "release"))
    to_write_off: _Queue = field(default_factory=lambda: _Queue("write_off", "write-off"))
    to_reserve_again: _Queue = field(default_factory=lambda: _Queue("reserve", "reserve-again"))
    # The SKUs of pieces added after the order (an exchange's replacements), for their reservation.
    skus: dict[str, str] = field(default_factory=dict)

    def release(self, piece_ids: list[str]) -> None:
        self.to_release.add(piece_ids)

    def write_off(self, piece_ids: list[str]) -> None:
        self.to_write_off.add(piece_ids)

    def reserve_again(self, piece_ids: list[str], skus: dict[str, str] | None = None) -> None:
        self.skus.update(skus or {})
        self.to_reserve_again.add(piece_ids)

    def release_request(self) -> StockRequest | None:
        """Stock to give back or write off: asked for even once the trial has ended."""
        return self.to_release.request(self.trial_id) or self.to_write_off.request(self.trial_id)

    def reserve_request(self, piece_ids: list[str]) -> StockRequest | None:
        if not self.reserved:
            key = f"{self.trial_id}-stock-reserve"
            return StockRequest(key=key, trial_id=self.trial_id, action="reserve", piece_ids=piece_ids)
        return self.to_reserve_again.request(self.trial_id, self.skus)

    def record(self, step: StockRequest, *, ended: bool = False, pieces: Sequence[str] = ()) -> None:
        """The warehouse did it. A first reservation that lands once the trial has `ended` (cancelled while it
        was being made) gives the stock of `pieces` straight back."""
        if step.action == "reserve" and not self.reserved:
            self.reserved = True
            if ended:
                self.release(list(pieces))
            return
        queue = {"reserve": self.to_reserve_again, "write_off": self.to_write_off, "release": self.to_release}
        queue[step.action].done(step.piece_ids)

"""The trial's claim on the retailer's stock: reserved once the value is authorized, released piece by piece
when a piece turns out unavailable or the trial ends before dispatch, written off when a parcel is lost in
transit (the units are gone), and reserved again for the replacements of a reship. Each request has its own
key, so a retried activity never reserves, releases or writes off twice."""

from dataclasses import dataclass, field

from domain.steps import StockRequest


@dataclass
class Stock:
    trial_id: str
    reserved: bool = False
    to_release: list[str] = field(default_factory=list)
    releases: int = 0
    to_write_off: list[str] = field(default_factory=list)
    write_offs: int = 0
    to_reserve_again: list[str] = field(default_factory=list)
    reserves_again: int = 0

    def release(self, piece_ids: list[str]) -> None:
        self.to_release.extend(p for p in piece_ids if p not in self.to_release)

    def write_off(self, piece_ids: list[str]) -> None:
        self.to_write_off.extend(p for p in piece_ids if p not in self.to_write_off)

    def reserve_again(self, piece_ids: list[str]) -> None:
        self.to_reserve_again.extend(p for p in piece_ids if p not in self.to_reserve_again)

    def release_request(self) -> StockRequest | None:
        """Stock to give back or write off: asked for even once the trial has ended."""
        if self.to_release:
            key = f"{self.trial_id}-stock-release-{self.releases + 1}"
            return StockRequest(key=key, trial_id=self.trial_id, action="release", piece_ids=list(self.to_release))
        if self.to_write_off:
            key = f"{self.trial_id}-stock-write-off-{self.write_offs + 1}"
            return StockRequest(key=key, trial_id=self.trial_id, action="write_off", piece_ids=list(self.to_write_off))
        return None

    def reserve_request(self, piece_ids: list[str]) -> StockRequest | None:
        if not self.reserved:
            key = f"{self.trial_id}-stock-reserve"
            return StockRequest(key=key, trial_id=self.trial_id, action="reserve", piece_ids=piece_ids)
        if self.to_reserve_again:
            key = f"{self.trial_id}-stock-reserve-again-{self.reserves_again + 1}"
            return StockRequest(
                key=key, trial_id=self.trial_id, action="reserve", piece_ids=list(self.to_reserve_again)
            )
        return None

    def record(self, step: StockRequest) -> None:
        if step.action == "reserve" and not self.reserved:
            self.reserved = True
        elif step.action == "reserve":
            self.reserves_again += 1
            self.to_reserve_again = [p for p in self.to_reserve_again if p not in step.piece_ids]
        elif step.action == "write_off":
            self.write_offs += 1
            self.to_write_off = [p for p in self.to_write_off if p not in step.piece_ids]
        else:
            self.releases += 1
            self.to_release = [p for p in self.to_release if p not in step.piece_ids]

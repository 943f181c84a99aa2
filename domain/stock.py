"""The trial's claim on the retailer's stock: reserved once the value is authorized, released piece by piece
when a piece turns out unavailable or the trial ends before dispatch. Each request has its own key, so a
retried activity never reserves or releases twice."""

from dataclasses import dataclass, field

from domain.steps import StockRequest


@dataclass
class Stock:
    trial_id: str
    reserved: bool = False
    to_release: list[str] = field(default_factory=list)
    releases: int = 0

    def release(self, piece_ids: list[str]) -> None:
        self.to_release.extend(p for p in piece_ids if p not in self.to_release)

    def release_request(self) -> StockRequest | None:
        if not self.to_release:
            return None
        key = f"{self.trial_id}-stock-release-{self.releases + 1}"
        return StockRequest(key=key, trial_id=self.trial_id, action="release", piece_ids=list(self.to_release))

    def reserve_request(self, piece_ids: list[str]) -> StockRequest | None:
        if self.reserved:
            return None
        key = f"{self.trial_id}-stock-reserve"
        return StockRequest(key=key, trial_id=self.trial_id, action="reserve", piece_ids=piece_ids)

    def record(self, step: StockRequest) -> None:
        if step.action == "reserve":
            self.reserved = True
            return
        self.releases += 1
        self.to_release = [p for p in self.to_release if p not in step.piece_ids]

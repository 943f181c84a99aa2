"""Carriers' tracking events become the trial's own commands (`record_carrier_scan`), found by tracking number.

The read model knows which trial each tracking number belongs to (`tracking_numbers`: every parcel
dispatched, every return booked or posted). A scan for a number no trial has is counted and dropped: a
tracking provider sends events for every parcel on the account, not only ours. One for a trial is sent to it
as `record_carrier_scan`; the trial refuses a scan that changes nothing (`scan_changes_nothing`) in the
update's validator, so duplicates and late scans never reach its history. A trial that is briefly unavailable raises, so that the provider retries the delivery.

No update id is derived from the scan: the same scan again is refused by the trial itself, and counted as
unchanged, whether it is a provider's retry or a second provider reporting the same parcel.
"""

import asyncio
import logging
from datetime import UTC, datetime

from application.trials import TrialService
from domain import commands as cmd
from domain.errors import DomainError, ErrorCode
from persistence.store import SqlStore

log = logging.getLogger("styletrial.tracking")


class CarrierTracking:
    def __init__(self, trials: TrialService, store: SqlStore) -> None:
        self.trials, self.store = trials, store

    async def handle(self, scan: cmd.CarrierScan) -> str:
        """One scan; what became of it: moved, unchanged, unknown, or refused (<code>)."""
        orders = await asyncio.to_thread(self.store.orders_tracking, scan.tracking_number)
        if not orders:
            return "unknown"
        # A carrier's clock a little ahead of ours is still a scan that happened: never in the future here.
        now = datetime.now(UTC)
        if scan.occurred_at > now:
            scan = scan.model_copy(update={"occurred_at": now})
        outcomes = []
        for order_id in orders:
            try:
                await self.trials.execute(order_id, scan)
                outcomes.append("moved")
            except DomainError as err:
                unchanged = err.code in (ErrorCode.SCAN_CHANGES_NOTHING, ErrorCode.TRIAL_FINISHED)
                outcomes.append("unchanged" if unchanged else f"refused ({err.code.value})")
                if not unchanged:
                    log.warning("carrier scan for %s refused: %s", order_id, err.code.value)
        return "moved" if "moved" in outcomes else outcomes[0]

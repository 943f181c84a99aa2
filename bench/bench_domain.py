"""How long the pure domain takes to run a 30-piece trial from opening to completion (no Temporal).

.venv/bin/python -m bench.bench_domain
"""

import time
from datetime import timedelta

from bench.stats import ms
from domain import commands as cmd
from domain.examples import decisions, order, parcels
from tests.domain_support import Driver


def one_trial() -> None:
    d = Driver(order(30, price=lambda i: 100_000 + i))
    ids = list(d.trial.pieces)
    d.trial.dispatch(parcels([ids[:10], ids[10:20], ids[20:]]), d.now)
    for n in (1, 2, 3):
        d.trial.deliver(cmd.Delivery(tracking_number=f"TRK{n}"), d.now)
    d.settle()
    d.trial.decide(decisions(keep=ids[:12], ret=ids[12:]), d.now)
    d.advance(timedelta(days=7, minutes=1))
    d.trial.ship_return(cmd.ReturnShipped(piece_ids=ids[12:28], carrier="DHL", tracking_number="R"), d.now)
    for pid in ids[12:28]:
        d.trial.inspect(cmd.Inspection(piece_id=pid, condition="damaged" if pid == ids[12] else "ok"), d.now)
    d.advance(timedelta(days=4))
    assert d.trial.status.value == "COMPLETED"


def main(rounds: int = 200) -> None:
    one_trial()  # warm up imports
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        one_trial()
        samples.append(time.perf_counter() - start)
    print(f"domain: 30-piece trial, open to completed, {rounds} rounds")
    print(f"  p50 {ms(samples, 0.5):.2f} ms  p99 {ms(samples, 0.99):.2f} ms")


if __name__ == "__main__":
    main()

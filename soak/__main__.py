"""`python -m soak [--trials N] ...`: run the fault campaign, print its figures, exit 1 on any defect."""

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

from soak.campaign import Campaign, run


def main() -> None:
    d = Campaign()
    p = argparse.ArgumentParser(prog="soak", description=__doc__)
    p.add_argument("--trials", type=int, default=d.trials)
    p.add_argument("--in-flight", type=int, default=d.in_flight)
    p.add_argument("--day-seconds", type=float, default=d.day_seconds, help="one policy day, in seconds")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument(
        "--payments",
        choices=["simulated", "stripe"],
        default=d.payments,
        help="stripe: the Stripe adapter on localstripe, behind a proxy that delays and drops calls",
    )
    p.add_argument("--worker-stalls", type=int, default=d.worker_stalls, help="workers frozen for 11-15 s (SIGSTOP)")
    p.add_argument("--dir", type=Path, help="where the processes keep their data and logs (default: a temp dir)")
    a = p.parse_args()
    root = a.dir or Path(tempfile.mkdtemp(prefix="styletrial-soak-"))
    campaign = Campaign(
        trials=a.trials,
        in_flight=a.in_flight,
        day_seconds=a.day_seconds,
        seed=a.seed,
        payments=a.payments,
        worker_stalls=a.worker_stalls,
    )
    print(f"soak: {campaign.trials} trials on the {campaign.payments} gateway, data and logs in {root}", flush=True)
    outcome = asyncio.run(run(campaign, root))
    print(outcome.table())
    print(f"histories of failed workflow tasks: {outcome.histories}")
    print(outcome.summary())
    sys.exit(0 if outcome.ok else 1)


if __name__ == "__main__":
    main()

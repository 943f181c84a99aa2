"""The worker process: `python worker.py` (or `styletrial worker`) polls the trial task queue, runs the
activities and keeps the failing-task flag current, until SIGINT or SIGTERM. What it is built from is
decided in `bootstrap.py`."""

import asyncio
import logging

from bootstrap import serve
from config import Settings


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(serve(Settings(), api=False, worker=True))


if __name__ == "__main__":
    main()

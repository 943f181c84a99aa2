"""The worker process: `python worker.py` (or `styletrial worker`) polls the trial task queue, runs the
activities and keeps the failing-task flag current, until SIGINT or SIGTERM. What it is built from is
decided in `bootstrap.py`."""

import asyncio
import logging

from bootstrap import serve
from config import Settings
from observability.logs import configure_logging


def main() -> None:
    settings = Settings()
    configure_logging(settings.log_format, getattr(logging, settings.log_level))
    asyncio.run(serve(settings, api=False, worker=True))


if __name__ == "__main__":
    main()

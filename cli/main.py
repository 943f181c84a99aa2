"""`styletrial dev` runs the engine locally; `styletrial worker` runs only a worker."""

import argparse
import asyncio
import logging
import signal
import sys

from cli.devserver import port_open, start_dev_server
from config import Settings
from persistence.migrate import upgrade


def _redacted(url: str) -> str:
    """A database URL without its password, fit for a terminal or a log."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="styletrial", description="Style Trial consignment engine")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("dev", help="Temporal dev server (with its Web UI) and a worker, on the embedded defaults")
    sub.add_parser("worker", help="a worker for an existing Temporal server")
    db = sub.add_parser("db", help="the read-model and ledger database")
    db.add_argument("action", choices=["upgrade"], help="upgrade: apply every Alembic migration (idempotent)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings()
    try:
        if args.command == "dev":
            dev(settings)
        elif args.command == "db":
            upgrade(settings.resolved_database_url)
            print(f"Database at head: {_redacted(settings.resolved_database_url)}")
        else:
            asyncio.run(_worker(settings))
    except KeyboardInterrupt:
        pass


async def _worker(settings: Settings) -> None:
    from worker import run_worker

    await run_worker(settings)


def dev(settings: Settings) -> None:
    host, _, port = settings.temporal_address.rpartition(":")
    if port_open(host or "127.0.0.1", int(port)):
        sys.exit(f"Something already listens on {settings.temporal_address}: is another `styletrial dev` running?")
    upgrade(settings.resolved_database_url)
    server = start_dev_server(settings.data_dir, int(port), settings.temporal_ui_port)
    print(
        f"Temporal UI:     http://127.0.0.1:{settings.temporal_ui_port}/namespaces/{settings.temporal_namespace}/workflows"
    )
    print(f"Temporal server: {settings.temporal_address} (history in {settings.data_dir}/temporal.sqlite)")
    print(f"Read model:      {_redacted(settings.resolved_database_url)}")
    print("Worker:          polling task queue", settings.task_queue, "- Ctrl-C stops everything")
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        asyncio.run(_worker(settings))
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except Exception:
            server.kill()

"""Engines and sessions. SQLite is the embedded default; PostgreSQL (postgresql+psycopg://) in production."""

import json
import threading
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from pydantic import BaseModel
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'styletrial.sqlite'}"


def make_engine(url: str, *, durable: bool = True) -> Engine:
    """`durable=False` is for read-model projections only: a commit returns before it reaches the disk
    (SQLite `synchronous=NORMAL` under WAL, PostgreSQL `synchronous_commit=off`). A power cut may then lose
    the last projections, never corrupt the database; the workflow finds the read model behind and sends
    the whole trial again. The ledger and the gateway's book always use a durable engine."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, json_serializer=_json)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(conn, _record):  # type: ignore[no-untyped-def]
            # WAL lets readers (the API, the CLI) read while the worker writes; foreign keys are off by
            # default in SQLite.
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            if not durable:
                cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    connect_args = {} if durable else {"options": "-c synchronous_commit=off"}
    return create_engine(
        url, pool_pre_ping=True, pool_size=10, max_overflow=10, connect_args=connect_args, json_serializer=_json
    )


def _json(value: object) -> str:
    """JSON columns' text. A pydantic model (a trial's view) is written by pydantic itself: three times
    faster than turning it into a dict and that into text, on every projection."""
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    return json.dumps(value)


_SQLITE_WRITERS: dict[str, threading.Lock] = {}
_GUARD = threading.Lock()


def one_writer(engine: Engine) -> AbstractContextManager[object]:
    """Hold around a write transaction. SQLite lets one writer in at a time, and a writer that finds the file
    locked sleeps and polls (up to 100 ms a time): with tens of activities writing at once that polling, not
    the writes, set the pace (a worker opened one trial a second at 50 concurrent starts). Threads of this
    process queue on a lock instead and hand over at once; other processes still meet the busy timeout.
    PostgreSQL locks rows, not the database: nothing to hold."""
    if engine.dialect.name != "sqlite":
        return nullcontext()
    with _GUARD:
        return _SQLITE_WRITERS.setdefault(str(engine.url.database), threading.Lock())


def make_sessions(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)

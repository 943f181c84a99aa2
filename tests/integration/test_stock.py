"""Stock in a real place: the embedded adapter keeps reservations in the database (one worker process
releases what another reserved), and the HTTP adapter speaks the documented warehouse contract to a
warehouse stand-in on loopback."""

import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI, Header, Response
from pydantic import BaseModel
from temporalio.exceptions import ApplicationError

from activities.warehouse_stock import WarehouseStock
from persistence.db import make_engine
from persistence.stock import SqlStock
from tests.webhook_receiver import free_port


@pytest.fixture
def stock(db_url: str) -> Iterator[SqlStock]:
    engine = make_engine(db_url)
    yield SqlStock(engine)
    engine.dispose()


async def test_a_reservation_is_idempotent_by_key_and_releases_only_what_is_held(stock: SqlStock):
    assert await stock.reserve("t1-reserve", "t1", ["p1", "p2", "p3"]) == ["p1", "p2", "p3"]
    assert await stock.reserve("t1-reserve", "t1", ["p1", "p2", "p3"]) == ["p1", "p2", "p3"]
    assert stock.held("t1") == ["p1", "p2", "p3"]
    assert await stock.release("t1-ship", "t1", ["p1", "p9"]) == ["p1"]
    assert await stock.release("t1-ship", "t1", ["p1", "p9"]) == ["p1"], "a retry gets the first answer"
    assert await stock.release("t1-cancel", "t1", ["p1", "p2"]) == ["p2"], "p1 went already"
    assert stock.held("t1") == ["p3"]


async def test_what_one_worker_process_reserved_another_releases(db_url: str):
    reserve = textwrap.dedent(f"""
        import asyncio
        from persistence.db import make_engine
        from persistence.stock import SqlStock
        print(asyncio.run(SqlStock(make_engine({db_url!r})).reserve("t2-reserve", "t2", ["p1", "p2"])))
    """)
    done = subprocess.run([sys.executable, "-c", reserve], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['p1', 'p2']"
    engine = make_engine(db_url)  # this process: another engine, nothing shared but the database
    try:
        assert await SqlStock(engine).release("t2-ship", "t2", ["p1", "p2"]) == ["p1", "p2"]
        assert SqlStock(engine).held("t2") == []
    finally:
        engine.dispose()


class Call(BaseModel):
    key: str
    trial_id: str
    piece_ids: list[str]


class Warehouse:
    """A warehouse that speaks the contract: idempotent by key, some pieces out of stock, and failures on
    demand."""

    def __init__(self) -> None:
        self.held: set[str] = set()
        self.answers: dict[str, list[str]] = {}
        self.out_of_stock = {"p-gone"}
        self.fail_next: list[int] = []
        self.seen_keys: list[str | None] = []
        app = FastAPI()

        @app.post("/v1/{what}")
        async def call(what: str, body: Call, idempotency_key: str | None = Header(default=None)) -> Response:
            self.seen_keys.append(idempotency_key)
            if self.fail_next:
                return Response(status_code=self.fail_next.pop(0))
            if body.key not in self.answers:
                if what == "reservations":
                    done = [p for p in body.piece_ids if p not in self.out_of_stock]
                    self.held |= set(done)
                else:
                    done = [p for p in body.piece_ids if p in self.held]
                    self.held -= set(done)
                self.answers[body.key] = done
            return Response(content=f'{{"piece_ids": {list(self.answers[body.key])!r}}}'.replace("'", '"'))

        self.app = app


@pytest.fixture
async def warehouse() -> AsyncIterator[tuple[Warehouse, str]]:
    import asyncio

    import uvicorn

    w = Warehouse()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(w.app, host="127.0.0.1", port=port, log_level="error", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    yield w, f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


async def test_the_warehouse_adapter_speaks_the_contract(warehouse):
    w, url = warehouse
    async with httpx.AsyncClient() as http:
        stock = WarehouseStock(url, "wh-token", http)
        assert await stock.reserve("t3-reserve", "t3", ["p1", "p-gone"]) == ["p1"], "out of stock: unavailable"
        assert await stock.reserve("t3-reserve", "t3", ["p1", "p-gone"]) == ["p1"]
        assert w.seen_keys == ["t3-reserve", "t3-reserve"]
        w.fail_next = [503]
        with pytest.raises(RuntimeError, match="503"):
            await stock.release("t3-ship", "t3", ["p1"])
        assert await stock.release("t3-ship", "t3", ["p1"]) == ["p1"], "the activity's retry goes through"
        w.fail_next = [400]
        with pytest.raises(ApplicationError) as refused:
            await stock.release("t3-again", "t3", ["p1"])
        assert refused.value.non_retryable and refused.value.type == "stock_refused"
        # A trial of an order id in another script: the key in the body as it is, the header in ASCII.
        assert await stock.reserve("style-trial-注文-1-reserve", "style-trial-注文-1", ["p2"]) == ["p2"]
        assert w.seen_keys[-1] == "style-trial-%E6%B3%A8%E6%96%87-1-reserve"


def test_the_engine_reserves_in_the_database_unless_told_the_warehouse(tmp_path):
    from bootstrap import default_adapters
    from config import Settings

    assert isinstance(default_adapters(Settings(data_dir=tmp_path)).stock, SqlStock)
    warehouse = default_adapters(Settings(data_dir=tmp_path, stock="http", stock_url="http://127.0.0.1:9/wh")).stock
    assert isinstance(warehouse, WarehouseStock)
    with pytest.raises(ValueError, match="STYLETRIAL_STOCK_URL"):
        default_adapters(Settings(data_dir=tmp_path, stock="http"))

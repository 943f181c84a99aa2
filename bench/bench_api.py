"""The HTTP API under concurrent clients, against the local stack (dev server, one worker, uvicorn).

    .venv/bin/python -m bench.bench_api [trials] [clients]

Each client starts a 30-piece trial over HTTP, waits for it to be accepted, then dispatches, delivers,
decides and finishes early. Reports start-trial and decision latency (p50/p99) and throughput.
"""

import asyncio
import socket
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import uvicorn
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from bench.stats import ms
from bootstrap import build_api, build_worker, default_adapters
from config import Settings
from domain.examples import order
from persistence.migrate import upgrade
from workflows import search_attributes

AUTH = {"Authorization": "Bearer bench-token"}


async def one(http: httpx.AsyncClient, starts: list[float], decisions: list[float], commands: list[float]) -> None:
    o = order(30)
    oid = o.order_id
    t0 = time.perf_counter()
    r = await http.post("/v1/trials", json=o.model_dump(mode="json"), headers=AUTH)
    starts.append(time.perf_counter() - t0)
    assert r.status_code == 201, r.text
    while (await http.get(f"/v1/trials/{oid}", headers=AUTH)).json()["status"] != "AWAITING_DISPATCH":
        await asyncio.sleep(0.02)
    ids = [p.piece_id for p in o.pieces]
    steps = [
        (
            "dispatch",
            {
                "parcels": [
                    {"carrier": "DHL", "tracking_number": "T1", "piece_ids": ids[:15]},
                    {"carrier": "DHL", "tracking_number": "T2", "piece_ids": ids[15:]},
                ]
            },
        ),
        ("delivery", {"tracking_number": "T1"}),
        ("delivery", {"tracking_number": "T2"}),
        (
            "decisions",
            {
                "decisions": [{"piece_id": p, "decision": "keep" if i < 10 else "return"} for i, p in enumerate(ids)],
                "actor": "ps-1",
                "channel": "whatsapp",
            },
        ),
        ("finish", {}),
    ]
    for path, body in steps:
        t0 = time.perf_counter()
        r = await http.post(f"/v1/trials/{oid}/{path}", json=body, headers=AUTH)
        elapsed = time.perf_counter() - t0
        assert r.status_code == 200, r.text
        commands.append(elapsed)
        if path == "decisions":
            decisions.append(elapsed)


async def main(total: int = 60, clients: int = 10) -> None:
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=str(Path(sys.executable).parent / "temporal"),
        dev_server_log_level="error",
        search_attributes=search_attributes.ALL,  # the workflow upserts them; an unknown one fails its task
    )
    folder = Path(tempfile.mkdtemp())
    # A bench role that may do everything the flow needs: fulfilment and support are the same token here.
    settings = Settings(data_dir=folder, task_queue=f"bench-{uuid.uuid4()}", api_tokens={"bench-token": "fulfilment"})
    upgrade(settings.resolved_database_url)
    adapters = default_adapters(settings)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(build_api(settings, env.client, adapters.store), host="127.0.0.1", port=port, log_level="error")
    )
    starts: list[float] = []
    decisions: list[float] = []
    commands: list[float] = []
    try:
        async with build_worker(env.client, settings.task_queue, adapters):
            serving = asyncio.create_task(server.serve())
            while not server.started:
                await asyncio.sleep(0.05)
            gate = asyncio.Semaphore(clients)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:

                async def guarded() -> None:
                    async with gate:
                        await one(http, starts, decisions, commands)

                began = time.perf_counter()
                await asyncio.gather(*(guarded() for _ in range(total)))
                elapsed = time.perf_counter() - began
            server.should_exit = True
            await serving
    finally:
        await env.shutdown()
    print(f"API over loopback: {total} trials of 30 pieces, {clients} concurrent clients, {elapsed:.1f} s")
    print(f"  POST /v1/trials: p50 {ms(starts, 0.5):.0f} ms  p99 {ms(starts, 0.99):.0f} ms")
    print(f"  POST .../decisions (30 decisions): p50 {ms(decisions, 0.5):.0f} ms  p99 {ms(decisions, 0.99):.0f} ms")
    print(f"  every command: p50 {ms(commands, 0.5):.0f} ms  p99 {ms(commands, 0.99):.0f} ms")
    print(f"  throughput: {total / elapsed:.1f} trials/s, {(len(commands) + len(starts)) / elapsed:.0f} writes/s")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    asyncio.run(main(*args))

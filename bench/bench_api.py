"""The HTTP API under 50 concurrent clients, each process on its own: the dev server, one worker
(`styletrial worker`), the API (`styletrial api`, uvicorn) and this load generator (httpx, asyncio).

    .venv/bin/python -m bench.bench_api [trials] [clients]

Each client plays fulfilment and support at once: it starts a 30-piece trial, waits until it is accepted,
then runs dispatch, two deliveries, 30 decisions and finish early; after every command it reads a trial
(its own, or one of the trials opened before the run) and the first page of the list. Reads come from the
read model, commands go through the workflow.

The load generator is itself Python (httpx), and at 50 clients it takes a whole core of the two: it slows
what it measures. So the reads are then measured again with `wrk` (Debian's, in C; skipped when it is not
installed) at the same 50 connections, on the trials the run made, while the worker and the server idle.
Ends with `read_p99_ms=` and `list_p99_ms=` (wrk, or the mixed run without it), `read_mixed_p99_ms=`,
`list_mixed_p99_ms=` and `command_p99_ms=` (the mixed run).
"""

import asyncio
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from bench.dev import dev_server
from bench.stats import ms, wrk
from bootstrap import data_converter
from config import Settings
from domain.examples import order
from persistence.migrate import upgrade

AUTH = {"Authorization": "Bearer bench-token"}
AUTH_HEADER = "Authorization: Bearer bench-token"
ROOT = Path(__file__).parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Load:
    def __init__(self, http: httpx.AsyncClient, known: list[str] | None = None) -> None:
        self.http = http
        self.reads: list[float] = []
        self.lists: list[float] = []
        self.commands: list[float] = []
        self.starts: list[float] = []
        self.known: list[str] = known or []

    async def timed(self, into: list[float], method: str, url: str, body: object = None) -> httpx.Response:
        t0 = time.perf_counter()
        r = await self.http.request(method, url, json=body, headers=AUTH)
        into.append(time.perf_counter() - t0)
        assert r.status_code < 300, (url, r.status_code, r.text)
        return r

    async def look_around(self, own: str) -> None:
        other = random.choice(self.known) if self.known and random.random() < 0.5 else own
        await self.timed(self.reads, "GET", f"/v1/trials/{other}")
        await self.timed(self.lists, "GET", "/v1/trials?limit=50")

    async def trial(self) -> None:
        o = order(30)
        oid = o.order_id
        await self.timed(self.starts, "POST", "/v1/trials", o.model_dump(mode="json"))
        while (await self.timed(self.reads, "GET", f"/v1/trials/{oid}")).json()["status"] != "AWAITING_DISPATCH":
            await asyncio.sleep(0.05)
        ids = [p.piece_id for p in o.pieces]
        parcels = [
            {"carrier": "DHL", "tracking_number": "T1", "piece_ids": ids[:15]},
            {"carrier": "DHL", "tracking_number": "T2", "piece_ids": ids[15:]},
        ]
        decided = [{"piece_id": p, "decision": "keep" if i < 10 else "return"} for i, p in enumerate(ids)]
        for path, body in (
            ("dispatch", {"parcels": parcels}),
            ("delivery", {"tracking_number": "T1"}),
            ("delivery", {"tracking_number": "T2"}),
            ("decisions", {"decisions": decided, "actor": "ps-1", "channel": "whatsapp"}),
            ("finish", {}),
        ):
            await self.timed(self.commands, "POST", f"/v1/trials/{oid}/{path}", body)
            await self.look_around(oid)
        self.known.append(oid)


def spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "styletrial"), *args], cwd=ROOT, env={**os.environ, **env},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


async def main(total: int = 100, clients: int = 50) -> None:
    folder = Path(tempfile.mkdtemp())
    env = await dev_server(data_converter(Settings(data_dir=folder)))
    port = free_port()
    settings = {
        "STYLETRIAL_TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
        "STYLETRIAL_DATA_DIR": str(folder),
        "STYLETRIAL_TASK_QUEUE": f"bench-{uuid.uuid4()}",
        "STYLETRIAL_API_PORT": str(port),
        # One token that may do everything the flow needs (fulfilment commands here stand for both roles).
        "STYLETRIAL_API_TOKENS": json.dumps({"bench-token": "fulfilment"}),
    }
    upgrade(Settings(data_dir=folder).resolved_database_url)
    processes = [spawn(["worker"], settings), spawn(["api"], settings)]
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120) as http:
            while True:
                try:
                    if (await http.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
            load = Load(http)
            await load.trial()  # warm-up: the first sandbox, connections, the first projection
            load = Load(http, known=load.known)
            gate = asyncio.Semaphore(clients)

            async def client() -> None:
                async with gate:
                    await load.trial()

            began = time.perf_counter()
            await asyncio.gather(*(client() for _ in range(total)))
            elapsed = time.perf_counter() - began
        alone = reads_alone(port, load.known, clients, folder)
    finally:
        for p in processes:
            p.terminate()
            p.wait(30)
        await env.shutdown()
    print(f"API over loopback: {total} trials of 30 pieces, {clients} concurrent clients, {elapsed:.1f} s")
    print("  worker, API, dev server and this load generator each in its own process")
    for name, times in (
        ("GET /v1/trials/{id}", load.reads),
        ("GET /v1/trials?limit=50", load.lists),
        ("POST .../{command}", load.commands),
        ("POST /v1/trials", load.starts),
    ):
        print(f"  {name:<26} {len(times):>5} requests  p50 {ms(times, 0.5):>5.0f} ms  p99 {ms(times, 0.99):>5.0f} ms")
    requests = len(load.reads) + len(load.lists) + len(load.commands) + len(load.starts)
    print(f"  throughput: {total / elapsed:.1f} trials/s, {requests / elapsed:.0f} requests/s")
    for name, figures in alone.items():
        print(f"  {name:<26} alone, wrk {clients} connections: {figures['rps']:.0f} requests/s", end="")
        print(f"  p50 {figures['50%']:.0f} ms  p99 {figures['99%']:.0f} ms")
    read_p99 = alone["read"]["99%"] if alone else ms(load.reads, 0.99)
    list_p99 = alone["list"]["99%"] if alone else ms(load.lists, 0.99)
    print(f"read_p99_ms={read_p99:.0f}")
    print(f"list_p99_ms={list_p99:.0f}")
    print(f"read_mixed_p99_ms={ms(load.reads, 0.99):.0f}")
    print(f"list_mixed_p99_ms={ms(load.lists, 0.99):.0f}")
    print(f"command_p99_ms={ms(load.commands, 0.99):.0f}")


def reads_alone(
    port: int, orders: list[str], clients: int, folder: Path, seconds: int = 10
) -> dict[str, dict[str, float]]:
    """GET one trial (a random one of `orders`) and GET the list, each for `seconds` under wrk: requests/s and
    the p50/p99 in ms. Empty when wrk is not installed."""
    if shutil.which("wrk") is None:
        print("  (wrk is not installed: `apt-get install -y wrk` to measure the reads alone)")
        return {}
    paths = ", ".join(f'"/v1/trials/{o}"' for o in orders)
    script = folder / "reads.lua"
    script.write_text(
        f'local paths = {{{paths}}}\nrequest = function() return wrk.format("GET", paths[math.random(#paths)]) end\n'
    )
    figures: dict[str, dict[str, float]] = {}
    for name, target in (("read", ["-s", str(script), "/"]), ("list", ["/v1/trials?limit=50"])):
        *options, path = target
        figures[name] = wrk(
            f"http://127.0.0.1:{port}{path}",
            connections=clients,
            seconds=seconds,
            options=[*options, "-H", AUTH_HEADER],
        )
    return figures


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    asyncio.run(main(*args))
    # Everything is reported and shut down. The SDK's bridge threads have aborted interpreter finalization
    # here (PyGILState_Release, exit 134), which would count a finished benchmark as failed.
    sys.stdout.flush()
    os._exit(0)

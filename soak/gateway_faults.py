"""A loopback proxy between the workers and localstripe that delays or drops a share of payment calls.

Three faults, each the kind a real network gives a payment integration:
- delayed: the call is held 1-4 s before it reaches the gateway;
- dropped before: the call never reaches the gateway (the worker sees a connection error);
- dropped after: the gateway acts, but its answer never reaches the worker. The ambiguous case: money may
  have moved, and only the engine's idempotency keys and ledger keep a retry from moving it twice.
"""

import asyncio
import logging
import random
import time
from collections import Counter
from pathlib import Path

from aiohttp import ClientSession, web

from tests.machine import free_port


class GatewayFaults:
    def __init__(self, upstream: str, rng: random.Random, delay: float = 0.08, before: float = 0.05,
                 after: float = 0.05, journal: Path | None = None) -> None:  # fmt: skip
        self.upstream = upstream
        # One line per call (time, method, path, Idempotency-Key, what the proxy did, the gateway's status): a
        # call that keeps failing for one trial can then be told from the proxy's dice (docs/durability.md).
        self._journal = journal.open("a", encoding="utf-8") if journal else None
        self.rng = rng
        self.shares = (delay, before, after)
        self.faults: Counter[str] = Counter()
        self.port = free_port()
        self._runner: web.AppRunner | None = None
        self._session: ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        # A dropped call is the point, not an error worth a traceback in the campaign's output.
        logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
        self._session = ClientSession()
        app = web.Application(client_max_size=1024**2)
        app.router.add_route("*", "/{path:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()
        if self._session:
            await self._session.close()
        if self._journal:
            self._journal.close()

    def _note(self, request: web.Request, what: str) -> None:
        if self._journal:
            key = request.headers.get("Idempotency-Key", "-")
            self._journal.write(f"{time.time():.3f} {request.method} {request.path} {key} {what}\n")
            self._journal.flush()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        delay, before, after = self.shares
        fate = self.rng.random()
        if fate < before:
            self.faults["gateway call dropped before the gateway"] += 1
            self._note(request, "dropped-before")
            return _drop(request)
        if fate < before + delay:
            self.faults["gateway call delayed"] += 1
            await asyncio.sleep(self.rng.uniform(1, 4))
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        try:
            async with self._session.request(
                request.method, f"{self.upstream}{request.path_qs}", headers=headers, data=await request.read()
            ) as answer:
                body = await answer.read()
        except Exception as err:
            self._note(request, f"upstream-failed:{type(err).__name__}")
            raise
        if before + delay <= fate < before + delay + after:
            self.faults["gateway answer dropped after the gateway acted"] += 1
            self._note(request, f"dropped-after:{answer.status}")
            return _drop(request)
        self._note(request, f"{'delayed:' if fate < before + delay else ''}{answer.status}")
        kept = {k: v for k, v in answer.headers.items() if k.lower() in ("content-type", "request-id")}
        return web.Response(status=answer.status, body=body, headers=kept)


def _drop(request: web.Request) -> web.StreamResponse:
    """Close the connection without an answer, as a network failure would."""
    if request.transport is not None:
        request.transport.close()
    raise ConnectionResetError("dropped by the fault proxy")

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
from collections import Counter

from aiohttp import ClientSession, web

from tests.machine import free_port


class GatewayFaults:
    def __init__(self, upstream: str, rng: random.Random, delay: float = 0.08, before: float = 0.05,
                 after: float = 0.05) -> None:  # fmt: skip
        self.upstream = upstream
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

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        delay, before, after = self.shares
        fate = self.rng.random()
        if fate < before:
            self.faults["gateway call dropped before the gateway"] += 1
            return _drop(request)
        if fate < before + delay:
            self.faults["gateway call delayed"] += 1
            await asyncio.sleep(self.rng.uniform(1, 4))
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        async with self._session.request(
            request.method, f"{self.upstream}{request.path_qs}", headers=headers, data=await request.read()
        ) as answer:
            body = await answer.read()
            if before + delay <= fate < before + delay + after:
                self.faults["gateway answer dropped after the gateway acted"] += 1
                return _drop(request)
            kept = {k: v for k, v in answer.headers.items() if k.lower() in ("content-type", "request-id")}
            return web.Response(status=answer.status, body=body, headers=kept)


def _drop(request: web.Request) -> web.StreamResponse:
    """Close the connection without an answer, as a network failure would."""
    if request.transport is not None:
        request.transport.close()
    raise ConnectionResetError("dropped by the fault proxy")

"""A webhook subscriber for tests: a real HTTP server on loopback that verifies every message with the
`standardwebhooks` package (the specification's reference implementation, not our code) and keeps what it
received, deduplicating by `webhook-id` as the specification asks receivers to."""

import asyncio
import json
import socket
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response
from standardwebhooks import Webhook


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Receiver:
    def __init__(self, secret: str, port: int | None = None) -> None:
        self.verifier = Webhook(secret)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        self.events: list[dict[str, Any]] = []  # first arrival of each id, in arrival order
        self.arrivals: list[str] = []  # every arrival's webhook-id, duplicates included
        self.refused = 0  # messages whose signature did not verify
        self.answer = 204
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        app = FastAPI()

        @app.post("/hooks")
        async def hooks(request: Request) -> Response:
            body = await request.body()
            try:
                self.verifier.verify(body, dict(request.headers))
            except Exception:
                self.refused += 1
                return Response(status_code=400)
            message_id = request.headers["webhook-id"]
            self.arrivals.append(message_id)
            if self.answer >= 300:
                return Response(status_code=self.answer)
            if message_id not in {e["id"] for e in self.events}:
                self.events.append(json.loads(body))
            return Response(status_code=self.answer)

        self.app = app

    async def start(self) -> None:
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="error", lifespan="off")
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        if self._server and self._task:
            self._server.should_exit = True
            await self._task
            self._server = self._task = None

    @property
    def started(self) -> bool:
        return self._server is not None

    def ids(self) -> list[str]:
        return [e["id"] for e in self.events]

"""What every request leaves behind for an operator: its X-Request-ID and its latency by route and status.

Plain ASGI (see `app.NeverABare500` for why not Starlette's BaseHTTPMiddleware), outermost, so it sees
the final status, the error shape's 4xx and 5xx included.
"""

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from observability.logs import accepted_request_id, request_id
from observability.metrics import API_REQUEST_SECONDS

REQUEST_ID_HEADER = b"x-request-id"
# On every answer: a browser must take JSON as JSON and the pages as the HTML they say they are, never guess.
# (The HTML pages add their own Content-Security-Policy.)
NOSNIFF = (b"x-content-type-options", b"nosniff")


class RequestContext:
    """Accepts the caller's X-Request-ID (a plausible id) or makes one, puts it on every log line logged
    while the request is served, echoes it in the response with `nosniff`, and times the request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = next((v for k, v in scope["headers"] if k == REQUEST_ID_HEADER), None)
        rid = accepted_request_id(sent.decode("latin-1") if sent is not None else None)
        token = request_id.set(rid)
        status = 500
        started = time.perf_counter()

        async def tagged(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != REQUEST_ID_HEADER]
                message["headers"] = [*headers, (REQUEST_ID_HEADER, rid.encode("latin-1")), NOSNIFF]
            await send(message)

        try:
            await self.app(scope, receive, tagged)
        finally:
            request_id.reset(token)
            # The route's template (/v1/trials/{order_id}), never the raw path: one series per route, not per
            # order id, and no ids in the metrics. Unmatched paths are counted together.
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            API_REQUEST_SECONDS.labels(template, scope["method"], str(status)).observe(time.perf_counter() - started)

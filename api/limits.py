"""A ceiling on request bodies, enforced while they arrive (a declared Content-Length or a chunked stream)."""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response


class BodyLimit:
    """Refuses a body over `max_bytes` with 413 `body_too_large` before the app parses any of it.

    The body is read here, counting, and handed on whole: requests are small (a 30-piece order is about
    10 KB), and the app's own parser would turn an interruption into a vague 400.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def whole_body() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, whole_body, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.max_bytes // 1024
        response = error_response(
            413, "body_too_large", f"The request body is larger than {limit} KiB; no request needs that much."
        )
        await response(scope, receive, send)

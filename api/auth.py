"""Who may call what: a bearer token names a role (fulfilment, support, read), and each route declares the
roles it accepts with one of the typed dependencies below."""

import hmac
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

_bearer = HTTPBearer(auto_error=False)


class ApiError(Exception):
    """A refusal the API itself makes (authentication, a malformed filter), in the common error shape."""

    def __init__(self, status: int, code: str, message: str) -> None:
        self.status, self.code, self.message = status, code, message


def role_of_token(tokens: dict[str, str], candidate: str) -> str | None:
    # Compare against every token in constant time, so timing reveals nothing about which one is close.
    role = None
    for token, token_role in tokens.items():
        if hmac.compare_digest(token.encode(), candidate.encode()):
            role = token_role
    return role


def _allow(*roles: str) -> Callable[..., Awaitable[str]]:
    # `async` though it awaits nothing: FastAPI runs a plain `def` dependency in its thread pool, a hand-off
    # per request that cost more than the check (the API served 30% more reads per second without it).
    async def dependency(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
    ) -> str:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise ApiError(401, "unauthenticated", "Send an Authorization: Bearer <token> header.")
        role = role_of_token(request.app.state.tokens, credentials.credentials)
        if role is None:
            raise ApiError(401, "unauthenticated", "The bearer token is not recognised.")
        if role not in roles:
            raise ApiError(403, "forbidden", f"The {role} role cannot do this; it needs one of: {', '.join(roles)}.")
        return role

    return dependency


AnyRole = Annotated[str, Depends(_allow("fulfilment", "support", "read"))]
Fulfilment = Annotated[str, Depends(_allow("fulfilment"))]
Support = Annotated[str, Depends(_allow("support"))]
FulfilmentOrSupport = Annotated[str, Depends(_allow("fulfilment", "support"))]

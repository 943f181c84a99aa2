"""Who may call what: a bearer token names a role (fulfilment, support, read), and each route declares the
roles it accepts with one of the typed dependencies below.

Two kinds of token:
- **Static tokens** (STYLETRIAL_API_TOKENS) for machines: fulfilment systems, the order system.
- **People's tokens**: OpenID Connect access tokens from the company's provider (STYLETRIAL_API_OIDC_*),
  verified against its published keys. The role comes from the token's groups and the actor from its
  subject, so the audit trail names the person, and a command's `actor` must be them (`named`).
"""

import asyncio
import hmac
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar, cast

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, create_model

from domain.bounds import Label
from domain.errors import DomainError, ErrorCode
from security.oidc import Person, StaffTokens

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


def allow(*roles: str) -> Callable[..., Awaitable[str]]:
    # `async` though it awaits nothing: FastAPI runs a plain `def` dependency in its thread pool, a hand-off
    # per request that cost more than the check (the API served 30% more reads per second without it).
    async def dependency(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
    ) -> str:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise ApiError(401, "unauthenticated", "Send an Authorization: Bearer <token> header.")
        role = role_of_token(request.app.state.tokens, credentials.credentials)
        staff: StaffTokens | None = request.app.state.staff
        if role is None and staff is not None and credentials.credentials.count(".") == 2:  # a JWT
            # In a thread: the first token, and one after the provider rotated its keys, fetch the JWKS.
            person = await asyncio.to_thread(staff.person, credentials.credentials)
            if person is not None:
                request.state.person = person
                role = person.role
        if role is None:
            raise ApiError(401, "unauthenticated", "The bearer token is not recognised.")
        if role not in roles:
            raise ApiError(403, "forbidden", f"The {role} role cannot do this; it needs one of: {', '.join(roles)}.")
        return role

    return dependency


AnyRole = Annotated[str, Depends(allow("fulfilment", "support", "read"))]
Fulfilment = Annotated[str, Depends(allow("fulfilment"))]
Support = Annotated[str, Depends(allow("support"))]
FulfilmentOrSupport = Annotated[str, Depends(allow("fulfilment", "support"))]


B = TypeVar("B", bound=BaseModel)


def named(request: Request, body: B) -> B:
    """The body as the person calling says it: a command sent with a person's token is recorded under their
    name. An `actor` left out becomes them; one that names someone else is refused (403 actor_mismatch).
    Machines' tokens send the actor they mean (a shopper's id, `client`); one that leaves out an actor the
    command needs is refused (422 actor_required)."""
    if "actor" not in type(body).model_fields:
        return body
    person: Person | None = getattr(request.state, "person", None)
    given = getattr(body, "actor", None)
    if person is None:
        if given is None and needs_actor(type(body)):
            raise DomainError(ErrorCode.ACTOR_REQUIRED, "Say who does this: `actor` (a staff or system id, "
                              "or `client`); a person signed in with their own token may leave it out.")  # fmt: skip
        return body
    if "actor" in body.model_fields_set and given and given != person.actor:
        raise ApiError(
            403, "actor_mismatch", f"You are signed in as {person.actor!r}; a command cannot name {given!r}."
        )
    return body.model_copy(update={"actor": person.actor})


# The commands whose `actor` a caller may leave out of the body (`as_sent`), by the class the routes
# declare, with the domain's command it stands for.
_SENT: dict[type[BaseModel], type[BaseModel]] = {}


def as_sent(command: type[B]) -> type[B]:
    """The body a route declares for `command`: the same fields, with `actor` optional, because a person's
    token names the actor (`named`). The schema keeps the command's name; `to_command` turns what arrived
    into the domain's command once the actor is known."""
    sent = create_model(
        command.__name__, __base__=command, __module__=command.__module__,
        actor=(Label | None, Field(default=None, description="Who does it: a staff or system id, or `client`. "
                                   "Left out with a person's token: that person.")),
    )  # fmt: skip
    _SENT[sent] = command
    return sent


def to_command(body: B) -> B:
    """The domain's command for a body declared with `as_sent` (itself for any other)."""
    command = _SENT.get(type(body))
    return body if command is None else cast(B, command.model_validate(dict(body)))


def needs_actor(model: type[BaseModel]) -> bool:
    field = _SENT.get(model, model).model_fields.get("actor")
    return field is not None and field.is_required()

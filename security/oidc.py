"""Staff who sign in to the Temporal UI with the company's OpenID Connect provider, recognised by the codec
server from the access token the UI passes along (TEMPORAL_CODEC_PASS_ACCESS_TOKEN).

This is how production decodes for staff without any key in the UI's settings: the Temporal UI serves its
settings, codec endpoint included, to anyone who can reach it, signed in or not. A token is accepted when
its signature verifies against the provider's published keys (JWKS), it is unexpired, its issuer and
audience are ours, and its role claim names the support role.
"""

from dataclasses import dataclass
from typing import Any

import jwt


@dataclass(frozen=True)
class OidcConfig:
    jwks_url: str
    issuer: str
    audience: str
    role_claim: str = "groups"  # a string or a list of strings in the token
    support_role: str = "styletrial-support"


class OidcVerifier:
    def __init__(self, config: OidcConfig) -> None:
        self.config = config
        # Caches the provider's keys, and fetches again when a token names a key it has not seen (rotation).
        self._keys = jwt.PyJWKClient(config.jwks_url, cache_keys=True, timeout=5)

    def claims_of(self, token: str) -> dict[str, Any] | None:
        """The claims of a valid token: its signature verifies against the provider's keys, it is unexpired,
        and its issuer and audience are ours. None for anything else (not a JWT included). Blocking: the
        first call, and a call after key rotation, fetch the provider's keys."""
        c = self.config
        try:
            key = self._keys.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token, key.key, algorithms=["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"],
                audience=c.audience, issuer=c.issuer, options={"require": ["exp", "iss", "aud", "sub"]},
            )  # fmt: skip
        except (jwt.PyJWTError, jwt.PyJWKClientError):
            return None
        return claims

    def groups_of(self, claims: dict[str, Any]) -> set[str]:
        roles = claims.get(self.config.role_claim)
        return (
            {roles}
            if isinstance(roles, str)
            else {r for r in roles if isinstance(r, str)}
            if isinstance(roles, list)
            else set()
        )

    def role_of(self, token: str) -> str | None:
        """ "support" for a valid token that carries the support role, "staff" for a valid token without it,
        None for anything else."""
        claims = self.claims_of(token)
        if claims is None:
            return None
        return "support" if self.config.support_role in self.groups_of(claims) else "staff"


@dataclass(frozen=True)
class Person:
    """A member of staff calling the API with their own signed-in token: their role, and who they are."""

    role: str
    actor: str  # the token's subject (or the configured claim): what the audit trail records


class StaffTokens:
    """The API's people: OpenID Connect access tokens beside the static tokens machines use. The token's
    groups (`role_claim`) map to an API role through `roles` ({"styletrial-support": "support", ...}); the
    first group that maps wins, in the order `roles` lists them. The actor is the `actor_claim` (`sub`)."""

    def __init__(self, verifier: OidcVerifier, roles: dict[str, str], actor_claim: str = "sub") -> None:
        self._verifier = verifier
        self._roles = roles
        self._actor_claim = actor_claim

    def person(self, token: str) -> Person | None:
        """The person a valid token names, or None (invalid, or no group that maps to a role). Blocking."""
        claims = self._verifier.claims_of(token)
        if claims is None:
            return None
        groups = self._verifier.groups_of(claims)
        role = next((role for group, role in self._roles.items() if group in groups), None)
        actor = claims.get(self._actor_claim)
        if role is None or not isinstance(actor, str) or not actor.strip():
            return None
        return Person(role=role, actor=actor)

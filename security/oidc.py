"""Staff who sign in to the Temporal UI with the company's OpenID Connect provider, recognised by the codec
server from the access token the UI passes along (TEMPORAL_CODEC_PASS_ACCESS_TOKEN).

This is how production decodes for staff without any key in the UI's settings: the Temporal UI serves its
settings, codec endpoint included, to anyone who can reach it, signed in or not. A token is accepted when
its signature verifies against the provider's published keys (JWKS), it is unexpired, its issuer and
audience are ours, and its role claim names the support role.
"""

from dataclasses import dataclass

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

    def role_of(self, token: str) -> str | None:
        """ "support" for a valid token that carries the support role, "staff" for a valid token without it,
        None for anything else (bad signature, expired, another issuer or audience, not a JWT). Blocking:
        the first call, and a call after key rotation, fetch the provider's keys."""
        c = self.config
        try:
            key = self._keys.get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token, key.key, algorithms=["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"],
                audience=c.audience, issuer=c.issuer, options={"require": ["exp", "iss", "aud"]},
            )  # fmt: skip
        except (jwt.PyJWTError, jwt.PyJWKClientError):
            return None
        roles = claims.get(c.role_claim)
        held = {roles} if isinstance(roles, str) else set(roles) if isinstance(roles, list) else set()
        return "support" if c.support_role in held else "staff"

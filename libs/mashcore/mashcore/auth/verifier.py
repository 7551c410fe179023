"""Issuing and verifying MASH access tokens (JWT).

Development uses an HS256 shared secret; deployed environments verify RS256 or
ES256 tokens against the identity provider's JWKS endpoint.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from jwt import PyJWKClient

from mashcore.auth.principal import Principal, Role

__all__ = [
    "DEFAULT_DEV_KEY",
    "DEV_ALGORITHM",
    "DEV_KEY_ENV",
    "JWKS_ALGORITHMS",
    "AuthConfig",
    "AuthError",
    "KeySetUnavailableError",
    "TokenVerifier",
    "issue_dev_token",
    "resolve_dev_key",
]

DEV_KEY_ENV = "MASH_JWT_DEV_KEY"
"""The environment variable holding the HS256 development signing key."""

DEFAULT_DEV_KEY = "dev-only-insecure-signing-key-change-me"
"""The documented development key, used when ``MASH_JWT_DEV_KEY`` is unset. Never deploy it."""

DEV_ALGORITHM = "HS256"
JWKS_ALGORITHMS = ("RS256", "ES256")

_REQUIRED_REGISTERED_CLAIMS = ["exp", "iat", "iss", "aud", "sub"]


class AuthError(Exception):
    """A token was rejected; ``detail`` says why and is safe to show the caller."""

    def __init__(self, detail: str) -> None:
        """Record the reason the token was rejected."""
        super().__init__(detail)
        self.detail = detail


class KeySetUnavailableError(AuthError):
    """The JWKS endpoint could not be reached, so no token can be verified."""


@dataclass
class AuthConfig:
    """How tokens are verified: exactly one of ``dev_key`` or ``jwks_url``."""

    dev_key: str | None = None
    jwks_url: str | None = None
    issuer: str = "mash-dev"
    audience: str = "mash"
    leeway: timedelta = timedelta(seconds=30)
    """Tolerated clock skew between the token issuer and this service."""

    def __post_init__(self) -> None:
        """Reject configurations with neither or both key sources."""
        if bool(self.dev_key) == bool(self.jwks_url):
            raise ValueError("AuthConfig needs exactly one of dev_key or jwks_url")
        if self.jwks_url and not self.jwks_url.startswith(("https://", "http://")):
            raise ValueError("AuthConfig.jwks_url must be an http(s) URL")


def resolve_dev_key(environ: Mapping[str, str] | None = None) -> tuple[str, bool]:
    """Return the dev key from ``MASH_JWT_DEV_KEY`` and whether it fell back to the default."""
    env = os.environ if environ is None else environ
    key = env.get(DEV_KEY_ENV, "")
    if key:
        return key, False
    return DEFAULT_DEV_KEY, True


class TokenVerifier:
    """Verifies bearer tokens and turns their claims into a `Principal`."""

    def __init__(self, config: AuthConfig, *, jwks_timeout: float = 5.0) -> None:
        """Prepare verification; a JWKS client fetches keys lazily and caches them."""
        self.config = config
        self._jwks: PyJWKClient | None = None
        if config.jwks_url:
            self._jwks = PyJWKClient(config.jwks_url, timeout=jwks_timeout)

    def verify(self, token: str) -> Principal:
        """Return the principal for a valid token or raise `AuthError`. May fetch the
        identity provider's keys: call it from a worker thread, never on the event loop."""
        known = self.verify_offline(token)
        if known is not None:
            return known
        assert self._jwks is not None  # offline verification only declines for JWKS
        return self._decode(token, self._signing_key(self._jwks, token), JWKS_ALGORITHMS)

    def verify_offline(self, token: str) -> Principal | None:
        """As `verify`, when that needs no network: with the development key, or with a
        JWKS key set still fresh in the client's cache that holds the token's key id. None
        when the keys must be fetched first (`verify`, in a worker thread).

        Issue 17: every request ran `verify` in a worker thread, in case of a fetch; that
        hop was some 5 % of intake's CPU. The cache is read without the client's lock, so
        the event loop never waits for a fetch running in another thread."""
        if self._jwks is None:
            return self._decode(token, self.config.dev_key, (DEV_ALGORITHM,))
        cache = self._jwks.jwk_set_cache
        key_set = cache.get() if cache is not None else None
        if key_set is None:
            return None
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            return None  # `verify` refuses it with the usual reason
        if not kid:
            return None
        for key in key_set.keys:
            if key.key_id == kid and key.public_key_use in ("sig", None):
                return self._decode(token, key, JWKS_ALGORITHMS)
        return None

    def _decode(self, token: str, key: Any, algorithms: tuple[str, ...]) -> Principal:
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=list(algorithms),
                audience=self.config.audience,
                issuer=self.config.issuer,
                leeway=self.config.leeway,
                options={"require": _REQUIRED_REGISTERED_CLAIMS},
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthError("The token has expired.") from exc
        except jwt.InvalidAudienceError as exc:
            raise AuthError("The token is not intended for this audience.") from exc
        except jwt.InvalidIssuerError as exc:
            raise AuthError("The token was issued by an untrusted issuer.") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise AuthError(f"The token is missing the '{exc.claim}' claim.") from exc
        except jwt.InvalidSignatureError as exc:
            raise AuthError("The token signature is invalid.") from exc
        except jwt.InvalidAlgorithmError as exc:
            raise AuthError("The token is signed with an algorithm that is not allowed.") from exc
        except jwt.ImmatureSignatureError as exc:
            raise AuthError("The token is not valid yet.") from exc
        except jwt.PyJWTError as exc:
            raise AuthError("The token is malformed or invalid.") from exc
        return _principal_from_claims(claims)

    @staticmethod
    def _signing_key(client: PyJWKClient, token: str) -> jwt.PyJWK:
        try:
            return client.get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError as exc:
            raise KeySetUnavailableError("The token signing keys are unavailable.") from exc
        except jwt.PyJWKClientError as exc:
            raise AuthError("The token signing key is not recognised.") from exc
        except jwt.PyJWTError as exc:
            raise AuthError("The token is malformed or invalid.") from exc


def _principal_from_claims(claims: Mapping[str, Any]) -> Principal:
    subject = _required_str(claims, "sub")
    role_claim = _required_str(claims, "role")
    agency = _required_str(claims, "agency")
    try:
        role = Role(role_claim)
    except ValueError:
        raise AuthError("The token carries an unknown role.") from None
    return Principal(
        subject=subject,
        role=role,
        agency=agency,
        partnership=_optional_str(claims, "partnership"),
        name=_optional_str(claims, "name"),
    )


def _required_str(claims: Mapping[str, Any], claim: str) -> str:
    value = claims.get(claim)
    if value is None:
        raise AuthError(f"The token is missing the '{claim}' claim.")
    if not isinstance(value, str) or not value.strip():
        raise AuthError(f"The token's '{claim}' claim must be a non-empty string.")
    return value


def _optional_str(claims: Mapping[str, Any], claim: str) -> str | None:
    value = claims.get(claim)
    if value is None:
        return None
    if not isinstance(value, str):
        raise AuthError(f"The token's '{claim}' claim must be a string.")
    return value or None


def issue_dev_token(
    config_or_key: AuthConfig | str,
    *,
    subject: str,
    role: Role | str,
    agency: str,
    partnership: str | None = None,
    name: str | None = None,
    ttl: timedelta = timedelta(hours=8),
    now: datetime | None = None,
) -> str:
    """Return an HS256 token signed with the development key, for local use and tests."""
    if isinstance(config_or_key, AuthConfig):
        if not config_or_key.dev_key:
            raise ValueError("issue_dev_token needs an AuthConfig with a dev_key")
        key, issuer, audience = (
            config_or_key.dev_key,
            config_or_key.issuer,
            config_or_key.audience,
        )
    else:
        key, issuer, audience = config_or_key, AuthConfig.issuer, AuthConfig.audience
    issued_at = now or datetime.now(UTC)
    if issued_at.tzinfo is None:
        raise ValueError("issue_dev_token needs a timezone-aware 'now'")
    claims: dict[str, Any] = {
        "sub": subject,
        "role": Role(role).value,
        "agency": agency,
        "iss": issuer,
        "aud": audience,
        "iat": int(issued_at.timestamp()),
        "exp": int((issued_at + ttl).timestamp()),
    }
    if partnership is not None:
        claims["partnership"] = partnership
    if name is not None:
        claims["name"] = name
    return jwt.encode(claims, key, algorithm=DEV_ALGORITHM)

"""Authentication and authorisation for MASH services."""

from mashcore.auth.fastapi import (
    CurrentPrincipal,
    current_principal,
    recordable_user_id,
    require_roles,
)
from mashcore.auth.principal import Principal, Role
from mashcore.auth.verifier import (
    DEFAULT_DEV_KEY,
    DEV_ALGORITHM,
    DEV_KEY_ENV,
    JWKS_ALGORITHMS,
    AuthConfig,
    AuthError,
    KeySetUnavailableError,
    TokenVerifier,
    issue_dev_token,
    resolve_dev_key,
)

__all__ = [
    "DEFAULT_DEV_KEY",
    "DEV_ALGORITHM",
    "DEV_KEY_ENV",
    "JWKS_ALGORITHMS",
    "AuthConfig",
    "AuthError",
    "CurrentPrincipal",
    "KeySetUnavailableError",
    "Principal",
    "Role",
    "TokenVerifier",
    "current_principal",
    "issue_dev_token",
    "recordable_user_id",
    "require_roles",
    "resolve_dev_key",
]

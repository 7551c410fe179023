"""The workbench's signed session cookie and CSRF tokens (pure functions, no framework).

The session cookie holds the user's bearer token, signed with the workbench's secret (HMAC
SHA-256) so a tampered cookie is refused before the token is even read. CSRF protection is
the double-submit pattern: a random token in its own SameSite=Strict cookie and in a hidden
field of every form; a POST whose two copies differ is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SESSION_COOKIE = "wb_session"
CSRF_COOKIE = "wb_csrf"
CSRF_FIELD = "csrf_token"


def _mac(secret: str, payload: bytes) -> str:
    digest = hmac.new(secret.encode(), payload, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sign(secret: str, value: str) -> str:
    """``value`` and its signature, cookie-safe."""
    payload = base64.urlsafe_b64encode(value.encode())
    return f"{payload.decode()}.{_mac(secret, payload)}"


def unsign(secret: str, signed: str | None) -> str | None:
    """The value, if ``signed`` carries a valid signature by ``secret``; otherwise None."""
    if not signed or "." not in signed:
        return None
    payload, mac = signed.rsplit(".", 1)
    if not hmac.compare_digest(mac, _mac(secret, payload.encode())):
        return None
    try:
        return base64.urlsafe_b64decode(payload.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        return None


def new_csrf_token() -> str:
    """A fresh random CSRF token."""
    return secrets.token_urlsafe(32)


def csrf_ok(cookie: str | None, submitted: str | None) -> bool:
    """Whether a form's CSRF field matches the CSRF cookie (both present, equal)."""
    if not cookie or not submitted:
        return False
    return hmac.compare_digest(cookie.encode(), submitted.encode())

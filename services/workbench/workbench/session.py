"""The workbench's signed session cookie and CSRF tokens (pure functions, no framework).

The session cookie holds the user's bearer token, signed with the workbench's secret (HMAC
SHA-256) so a tampered cookie is refused before the token is even read. CSRF protection is
the double-submit pattern: a random token in its own SameSite=Strict cookie and in a hidden
field of every form; a POST whose two copies differ is refused.

A session ends when it has been idle too long or has lasted too long (``Lifetime``); the
cookie carries its start and its last use, signed with the token, so neither can be moved.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

SESSION_COOKIE = "wb_session"
CSRF_COOKIE = "wb_csrf"
CSRF_FIELD = "csrf_token"


def _mac(secret: str, payload: bytes) -> str:
    digest = hmac.new(secret.encode(), payload, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sign(secret: str, value: str) -> str:
    """``value`` and its signature, cookie-safe."""
    # Unpadded: an "=" in a cookie value makes it quoted, which not every client undoes.
    payload = base64.urlsafe_b64encode(value.encode()).rstrip(b"=")
    return f"{payload.decode()}.{_mac(secret, payload)}"


def unsign(secret: str, signed: str | None) -> str | None:
    """The value, if ``signed`` carries a valid signature by ``secret``; otherwise None."""
    if not signed or "." not in signed:
        return None
    payload, mac = signed.rsplit(".", 1)
    if not hmac.compare_digest(mac, _mac(secret, payload.encode())):
        return None
    try:
        return base64.urlsafe_b64decode(payload.encode() + b"=" * (-len(payload) % 4)).decode()
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


@dataclass(frozen=True)
class Session:
    """What the session cookie holds: the access token, the ID token (OIDC only: the hint
    for signing out at the issuer), when the session began and when it was last used."""

    token: str
    id_token: str | None
    started: datetime
    last_active: datetime

    def seal(self, secret: str) -> str:
        return sign(secret, json.dumps({
            "t": self.token, "i": self.id_token, "s": int(self.started.timestamp()),
            "a": int(self.last_active.timestamp())}))

    @classmethod
    def open(cls, secret: str, sealed: str | None) -> Session | None:
        """The session in a cookie signed by ``secret``; None if absent, forged or garbled."""
        raw = unsign(secret, sealed)
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            return cls(token=str(data["t"]),
                       id_token=str(data["i"]) if data.get("i") else None,
                       started=datetime.fromtimestamp(int(data["s"]), UTC),
                       last_active=datetime.fromtimestamp(int(data["a"]), UTC))
        except (ValueError, KeyError, TypeError):
            return None


@dataclass(frozen=True)
class Lifetime:
    """The session policy: idle timeout and absolute lifetime (see the README)."""

    idle: timedelta
    absolute: timedelta

    def expired(self, session: Session, now: datetime) -> bool:
        """Whether ``session`` is over at ``now``: idle too long, or begun too long ago."""
        return now - session.last_active >= self.idle or now - session.started >= self.absolute

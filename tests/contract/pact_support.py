"""What every provider verification in this tier shares."""

from __future__ import annotations

from pact import Verifier

# A provider's message handler runs the service's real commands on a migrated database, in
# well under a second. Pact waits 5 s for it by default, and on a loaded 2-core CI machine one
# handler once took just over that: a stall of the machine, not the code. A verification
# checks what a provider produces, not how fast (speed is measured by make bench).
REQUEST_TIMEOUT_MS = 60_000


def provider_verifier(name: str) -> Verifier:
    """A Pact verifier for the provider ``name`` that waits up to a minute for its handlers."""
    return Verifier(name).set_request_timeout(REQUEST_TIMEOUT_MS)

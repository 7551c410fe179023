import base64
import json
import os
import socket
import subprocess
import sys
import threading
import warnings
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import Depends, FastAPI
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from jwt.warnings import InsecureKeyLengthWarning

from mashcore.auth import (
    DEFAULT_DEV_KEY,
    DEV_KEY_ENV,
    AuthConfig,
    AuthError,
    CurrentPrincipal,
    KeySetUnavailableError,
    Principal,
    Role,
    TokenVerifier,
    issue_dev_token,
    resolve_dev_key,
)
from mashcore.auth.cli import main as mash_token
from mashcore.auth.fastapi import require_roles
from mashcore.problems import PROBLEM_JSON, install_problem_handlers

pytestmark = pytest.mark.unit

KEY = "unit-test-signing-key-that-is-at-least-32-bytes"
CONFIG = AuthConfig(dev_key=KEY)


def dev_token(**overrides: Any) -> str:
    arguments: dict[str, Any] = {"subject": "u-1", "role": Role.REFERRER, "agency": "police"}
    arguments.update(overrides)
    return issue_dev_token(CONFIG, **arguments)


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(datetime.now(UTC).timestamp())
    base: dict[str, Any] = {
        "sub": "u-1",
        "role": "referrer",
        "agency": "police",
        "iss": CONFIG.issuer,
        "aud": CONFIG.audience,
        "iat": now,
        "exp": now + 600,
    }
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not None}


def rejection(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(AuthError) as caught:
        verifier.verify(token)
    return caught.value.detail


# --- configuration -----------------------------------------------------------------


def test_a_config_needs_a_dev_key_or_a_jwks_url() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        AuthConfig()


def test_a_config_cannot_have_both_a_dev_key_and_a_jwks_url() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        AuthConfig(dev_key=KEY, jwks_url="https://idp.example/jwks.json")


def test_the_dev_key_comes_from_the_environment_before_the_documented_default() -> None:
    assert resolve_dev_key({DEV_KEY_ENV: "from-env"}) == ("from-env", False)
    assert resolve_dev_key({}) == (DEFAULT_DEV_KEY, True)
    assert DEFAULT_DEV_KEY == "dev-only-insecure-signing-key-change-me"


# --- dev key (HS256) ---------------------------------------------------------------


def test_a_dev_token_round_trips_into_the_same_principal() -> None:
    token = dev_token(
        subject="officer-17",
        role=Role.NAVIGATOR,
        agency="local-authority",
        partnership="coventry",
        name="Sam Example",
    )

    principal = TokenVerifier(CONFIG).verify(token)

    assert principal == Principal(
        subject="officer-17",
        role=Role.NAVIGATOR,
        agency="local-authority",
        partnership="coventry",
        name="Sam Example",
    )


def test_a_principal_keeps_its_name_out_of_its_repr() -> None:
    principal = Principal("s", Role.IRO, "health", name="Sam Example")

    assert "Sam Example" not in repr(principal)


def test_optional_claims_are_none_when_absent() -> None:
    principal = TokenVerifier(CONFIG).verify(dev_token())

    assert principal.partnership is None
    assert principal.name is None


def test_an_expired_token_is_rejected() -> None:
    token = dev_token(ttl=timedelta(hours=8), now=datetime.now(UTC) - timedelta(hours=9))

    assert "expired" in rejection(TokenVerifier(CONFIG), token)


def test_a_token_expired_within_the_clock_skew_leeway_is_still_accepted() -> None:
    token = dev_token(ttl=timedelta(minutes=10), now=datetime.now(UTC) - timedelta(seconds=610))

    assert TokenVerifier(CONFIG).verify(token).subject == "u-1"


def test_a_token_for_another_audience_is_rejected() -> None:
    token = issue_dev_token(
        AuthConfig(dev_key=KEY, audience="payroll"), subject="u", role="ops", agency="police"
    )

    assert "audience" in rejection(TokenVerifier(CONFIG), token)


def test_a_token_from_another_issuer_is_rejected() -> None:
    token = issue_dev_token(
        AuthConfig(dev_key=KEY, issuer="someone-else"), subject="u", role="ops", agency="police"
    )

    assert "issuer" in rejection(TokenVerifier(CONFIG), token)


def test_a_token_with_a_tampered_payload_is_rejected() -> None:
    header, _payload, signature = dev_token(role=Role.REFERRER).split(".")
    forged = base64.urlsafe_b64encode(json.dumps(claims(role="ops")).encode()).rstrip(b"=")

    token = f"{header}.{forged.decode()}.{signature}"

    assert "signature" in rejection(TokenVerifier(CONFIG), token)


def test_a_token_signed_with_another_key_is_rejected() -> None:
    token = issue_dev_token(
        "another-signing-key-that-is-also-32-bytes-long", subject="u", role="ops", agency="police"
    )

    assert "signature" in rejection(TokenVerifier(CONFIG), token)


def test_an_unsigned_token_is_rejected() -> None:
    token = jwt.encode(claims(), key="", algorithm="none")

    assert "algorithm" in rejection(TokenVerifier(CONFIG), token)


def test_a_token_with_an_unknown_role_is_rejected() -> None:
    token = jwt.encode(claims(role="admin"), KEY, algorithm="HS256")

    assert "unknown role" in rejection(TokenVerifier(CONFIG), token)


@pytest.mark.parametrize("claim", ["sub", "role", "agency", "exp", "iat", "iss", "aud"])
def test_a_token_missing_a_required_claim_is_rejected(claim: str) -> None:
    token = jwt.encode(claims(**{claim: None}), KEY, algorithm="HS256")

    assert f"'{claim}'" in rejection(TokenVerifier(CONFIG), token)


def test_a_token_with_a_non_string_agency_is_rejected() -> None:
    token = jwt.encode(claims(agency=["police", "health"]), KEY, algorithm="HS256")

    assert "agency" in rejection(TokenVerifier(CONFIG), token)


def test_garbage_is_rejected_as_malformed() -> None:
    assert "malformed" in rejection(TokenVerifier(CONFIG), "not-a-jwt")


def test_issuing_a_token_for_an_unknown_role_fails() -> None:
    with pytest.raises(ValueError):
        dev_token(role="admin")


# --- JWKS (RS256 / ES256) through a real local HTTP server ---------------------------


@dataclass
class Jwks:
    url: str
    rsa_key: rsa.RSAPrivateKey
    ec_key: ec.EllipticCurvePrivateKey
    requests: list[str]


def _jwk(key: Any, algorithm: Any, kid: str, alg: str) -> dict[str, Any]:
    jwk: dict[str, Any] = algorithm.to_jwk(key.public_key(), as_dict=True)
    jwk.update({"kid": kid, "alg": alg, "use": "sig"})
    return jwk


@pytest.fixture(scope="module")
def jwks() -> Iterator[Jwks]:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    document = json.dumps(
        {
            "keys": [
                _jwk(rsa_key, RSAAlgorithm, "rsa-1", "RS256"),
                _jwk(ec_key, ECAlgorithm, "ec-1", "ES256"),
            ]
        }
    ).encode()
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            if self.path != "/.well-known/jwks.json":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(document)))
            self.end_headers()
            self.wfile.write(document)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield Jwks(f"http://{host!s}:{port}/.well-known/jwks.json", rsa_key, ec_key, requests)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def jwks_config(url: str) -> AuthConfig:
    return AuthConfig(jwks_url=url, issuer="https://idp.example", audience="mash")


def signed(key: Any, alg: str, kid: str, **overrides: Any) -> str:
    payload = claims(iss="https://idp.example", **overrides)
    return jwt.encode(payload, key, algorithm=alg, headers={"kid": kid})


def test_an_rs256_token_verifies_against_the_jwks_endpoint(jwks: Jwks) -> None:
    verifier = TokenVerifier(jwks_config(jwks.url))

    principal = verifier.verify(signed(jwks.rsa_key, "RS256", "rsa-1", role="team_manager"))

    assert principal.role is Role.TEAM_MANAGER
    assert "/.well-known/jwks.json" in jwks.requests


def test_an_es256_token_verifies_against_the_jwks_endpoint(jwks: Jwks) -> None:
    verifier = TokenVerifier(jwks_config(jwks.url))

    principal = verifier.verify(signed(jwks.ec_key, "ES256", "ec-1", agency="health"))

    assert principal.agency == "health"


def test_the_jwks_is_fetched_once_and_then_cached(jwks: Jwks) -> None:
    verifier = TokenVerifier(jwks_config(jwks.url))
    before = len(jwks.requests)

    for _ in range(3):
        verifier.verify(signed(jwks.rsa_key, "RS256", "rsa-1"))

    assert len(jwks.requests) == before + 1


def test_a_jwks_token_signed_by_an_unknown_key_is_rejected(jwks: Jwks) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    verifier = TokenVerifier(jwks_config(jwks.url))

    assert "signature" in rejection(verifier, signed(stranger, "RS256", "rsa-1"))
    assert "not recognised" in rejection(verifier, signed(stranger, "RS256", "rsa-9"))


def test_a_jwks_verifier_refuses_a_token_signed_with_a_shared_secret(jwks: Jwks) -> None:
    verifier = TokenVerifier(jwks_config(jwks.url))

    assert "algorithm" in rejection(verifier, signed(KEY, "HS256", "rsa-1"))


def test_a_jwks_token_for_another_audience_is_rejected(jwks: Jwks) -> None:
    verifier = TokenVerifier(jwks_config(jwks.url))

    assert "audience" in rejection(verifier, signed(jwks.rsa_key, "RS256", "rsa-1", aud="x"))


def _closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/.well-known/jwks.json"


def test_an_unreachable_jwks_endpoint_is_reported_as_unavailable(jwks: Jwks) -> None:
    verifier = TokenVerifier(jwks_config(_closed_port_url()), jwks_timeout=2)

    with pytest.raises(KeySetUnavailableError):
        verifier.verify(signed(jwks.rsa_key, "RS256", "rsa-1"))


# Offline verification runs on the event loop: it must never fetch, and never let through
# what `verify` refuses.


def test_offline_verification_declines_until_the_keys_are_fetched(jwks: Jwks) -> None:
    verifier = TokenVerifier(jwks_config(jwks.url))
    token = signed(jwks.rsa_key, "RS256", "rsa-1", role="team_manager")
    before = len(jwks.requests)

    assert verifier.verify_offline(token) is None
    assert len(jwks.requests) == before  # nothing fetched on the caller's thread

    verifier.verify(token)  # fetches, in a worker thread in the app
    principal = verifier.verify_offline(token)

    assert principal is not None and principal.role is Role.TEAM_MANAGER
    assert len(jwks.requests) == before + 1


def test_offline_verification_declines_a_key_id_it_has_not_cached(jwks: Jwks) -> None:
    verifier = TokenVerifier(jwks_config(jwks.url))
    verifier.verify(signed(jwks.rsa_key, "RS256", "rsa-1"))
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    assert verifier.verify_offline(signed(stranger, "RS256", "rsa-9")) is None
    assert verifier.verify_offline("not-a-jwt") is None


def test_offline_verification_refuses_what_verify_refuses(jwks: Jwks) -> None:
    verifier = TokenVerifier(jwks_config(jwks.url))
    verifier.verify(signed(jwks.rsa_key, "RS256", "rsa-1"))
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    for token, reason in [(signed(stranger, "RS256", "rsa-1"), "signature"),
                          (signed(KEY, "HS256", "rsa-1"), "algorithm"),
                          (signed(jwks.rsa_key, "RS256", "rsa-1", aud="x"), "audience")]:
        with pytest.raises(AuthError, match=reason):
            verifier.verify_offline(token)


def test_offline_verification_with_the_development_key_needs_no_keys() -> None:
    verifier = TokenVerifier(CONFIG)

    principal = verifier.verify_offline(dev_token(role="team_manager"))

    assert principal is not None and principal.role is Role.TEAM_MANAGER
    with pytest.raises(AuthError, match="signature"):
        verifier.verify_offline(dev_token(role="team_manager") + "x")


# --- FastAPI dependencies ----------------------------------------------------------


def make_app(verifier: TokenVerifier) -> FastAPI:
    app = FastAPI()
    app.state.token_verifier = verifier
    install_problem_handlers(app)

    @app.get("/me")
    def me(principal: CurrentPrincipal) -> dict[str, str]:
        return {"subject": principal.subject, "role": principal.role.value}

    @app.get("/decisions")
    def decisions(
        principal: Principal = Depends(require_roles(Role.TEAM_MANAGER, Role.NAVIGATOR)),
    ) -> dict[str, str]:
        return {"subject": principal.subject}

    return app


def http_client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://mash.test")


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(make_app(TokenVerifier(CONFIG))) as test_client:
        yield test_client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == status
    return body


async def test_a_request_without_a_token_gets_a_401_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/me")

    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


async def test_a_request_with_another_auth_scheme_gets_a_401_problem(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/me", headers={"Authorization": "Basic dXNlcjpwYXNz"})

    assert_problem(response, 401)


async def test_a_request_with_an_expired_token_gets_a_401_problem_saying_why(
    client: httpx.AsyncClient,
) -> None:
    token = dev_token(now=datetime.now(UTC) - timedelta(days=1))

    response = await client.get("/me", headers=bearer(token))

    body = assert_problem(response, 401)
    assert "expired" in body["detail"]
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_a_valid_token_reaches_the_endpoint_as_a_principal(client: httpx.AsyncClient) -> None:
    response = await client.get("/me", headers=bearer(dev_token(subject="ref-9")))

    assert response.status_code == 200
    assert response.json() == {"subject": "ref-9", "role": "referrer"}


async def test_a_caller_without_a_required_role_gets_a_403_problem(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/decisions", headers=bearer(dev_token(role=Role.REFERRER)))

    body = assert_problem(response, 403)
    assert "team_manager" in body["detail"]


async def test_a_caller_with_one_of_the_required_roles_is_let_through(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/decisions", headers=bearer(dev_token(role=Role.NAVIGATOR)))

    assert response.status_code == 200


async def test_a_role_check_still_demands_authentication_first(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/decisions"), 401)


def test_require_roles_needs_at_least_one_role() -> None:
    with pytest.raises(ValueError):
        require_roles()


async def test_an_unreachable_jwks_endpoint_gives_a_503_problem(jwks: Jwks) -> None:
    app = make_app(TokenVerifier(jwks_config(_closed_port_url()), jwks_timeout=2))
    token = signed(jwks.rsa_key, "RS256", "rsa-1")

    async with http_client(app) as test_client:
        response = await test_client.get("/me", headers=bearer(token))

    assert_problem(response, 503)


async def test_a_jwks_token_is_accepted_by_the_fastapi_dependency(jwks: Jwks) -> None:
    app = make_app(TokenVerifier(jwks_config(jwks.url)))
    token = signed(jwks.rsa_key, "RS256", "rsa-1", role="navigator")

    async with http_client(app) as test_client:
        response = await test_client.get("/decisions", headers=bearer(token))

    assert response.status_code == 200


# --- mash-token CLI ------------------------------------------------------------------


def test_mash_token_prints_a_token_signed_with_the_key_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(DEV_KEY_ENV, KEY)

    status = mash_token(
        [
            "--role",
            "referrer",
            "--agency",
            "police",
            "--partnership",
            "coventry",
            "--ttl-hours",
            "1",
        ]
    )

    out, err = capsys.readouterr()
    assert status == 0
    assert err == ""
    principal = TokenVerifier(CONFIG).verify(out.strip())
    assert principal == Principal("dev-referrer-police", Role.REFERRER, "police", "coventry")


def test_mash_token_falls_back_to_the_default_dev_key_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(DEV_KEY_ENV, raising=False)

    status = mash_token(["--role", "ops", "--agency", "local-authority", "--subject", "me"])

    out, err = capsys.readouterr()
    assert status == 0
    assert "warning" in err
    assert DEV_KEY_ENV in err
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        principal = TokenVerifier(AuthConfig(dev_key=DEFAULT_DEV_KEY)).verify(out.strip())
    assert principal.subject == "me"
    assert principal.role is Role.OPS


def test_the_installed_mash_token_script_prints_a_verifiable_token() -> None:
    script = Path(sys.executable).parent / "mash-token"
    if not script.exists():
        pytest.skip("mash-token is not installed in this environment")
    env = {**os.environ, DEV_KEY_ENV: KEY}

    result = subprocess.run(
        [str(script), "--role", "social_worker", "--agency", "local-authority"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=60,
    )

    assert TokenVerifier(CONFIG).verify(result.stdout.strip()).role is Role.SOCIAL_WORKER


def test_mash_token_rejects_an_unknown_role(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        mash_token(["--role", "admin", "--agency", "police"])

    assert exited.value.code == 2


def test_a_deployed_kafka_service_refuses_to_fall_back_to_the_development_key() -> None:
    from mashcore.service import verifier_from
    from mashcore.settings import Settings

    with pytest.raises(RuntimeError, match="MASH_JWKS_URL"):
        verifier_from(Settings(bus="kafka", jwt_dev_key=None, jwks_url=None))
    assert verifier_from(Settings(bus="kafka", jwt_dev_key="explicit-development-key-32-bytes!"))

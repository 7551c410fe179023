"""Kafka connection security settings become aiokafka's client options."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mashcore.kafka_security import client_options
from mashcore.settings import Settings


def self_signed(tmp_path: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime(2026, 1, 1, tzinfo=UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(1)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .not_valid_before(now).not_valid_after(now + timedelta(days=3650))
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_development_connects_in_plain_text() -> None:
    assert client_options(Settings()) == {"security_protocol": "PLAINTEXT"}


def test_mutual_tls_checks_the_brokers_against_the_cluster_ca_and_presents_its_certificate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca, _ = self_signed(tmp_path, "cluster-ca")
    cert, key = self_signed(tmp_path, "triage")
    monkeypatch.setenv("MASH_KAFKA_SECURITY_PROTOCOL", "SSL")
    monkeypatch.setenv("MASH_KAFKA_SSL_CAFILE", str(ca))
    monkeypatch.setenv("MASH_KAFKA_SSL_CERTFILE", str(cert))
    monkeypatch.setenv("MASH_KAFKA_SSL_KEYFILE", str(key))
    options = client_options(Settings())
    assert options["security_protocol"] == "SSL"
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "cluster-ca"),),)]


def test_scram_over_tls_needs_its_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASH_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    with pytest.raises(ValueError, match="MASH_KAFKA_SASL_USERNAME"):
        client_options(Settings())
    monkeypatch.setenv("MASH_KAFKA_SASL_USERNAME", "triage")
    monkeypatch.setenv("MASH_KAFKA_SASL_PASSWORD", "from-a-secret")
    options = client_options(Settings())
    assert (options["sasl_mechanism"], options["sasl_plain_username"],
            options["sasl_plain_password"]) == ("SCRAM-SHA-512", "triage", "from-a-secret")
    assert "from-a-secret" not in repr(Settings())

"""Mutual TLS to a real broker: the settings Kubernetes uses (MASH_KAFKA_SECURITY_PROTOCOL=SSL
with a CA, a client certificate and its key) carry the services' traffic, and a client
without a certificate is refused (issue 12 §5)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from devinfra.kafka import KafkaBroker, create_topics_async, free_port
from mashcore.kafka_bus import KafkaBus
from mashcore.kafka_security import client_options
from mashcore.messages import Message
from mashcore.settings import Settings
from tests.support import eventually

NOW = datetime.now(UTC)  # certificates must be valid for the broker's real clock


def _issue(name: str, issuer: tuple[x509.Certificate, rsa.RSAPrivateKey] | None,
           *, ca: bool = False, ip: str | None = None
           ) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    builder = (x509.CertificateBuilder().subject_name(subject)
               .issuer_name(issuer[0].subject if issuer else subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(NOW - timedelta(days=1))
               .not_valid_after(NOW + timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ip:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]),
            critical=False)
    return builder.sign(issuer[1] if issuer else key, hashes.SHA256()), key


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class TlsKafkaBroker(KafkaBroker):
    """The development broker with a second listener: TLS, client certificates required."""

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        self.tls_port = free_port()
        self.pki = self.workdir / "pki"

    def _server_properties(self) -> str:
        plain = f"PLAINTEXT://{self.host}:{self.port}"
        tls = f"SSL://{self.host}:{self.tls_port}"
        properties = (super()._server_properties()
                      .replace(f"listeners={plain},", f"listeners={plain},{tls},")
                      .replace(f"advertised.listeners={plain}",
                               f"advertised.listeners={plain},{tls}")
                      .replace("listener.security.protocol.map=PLAINTEXT:PLAINTEXT,",
                               "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SSL:SSL,"))
        return properties + f"""
ssl.keystore.type=PEM
ssl.keystore.location={self.pki / "broker.pem"}
ssl.truststore.type=PEM
ssl.truststore.location={self.pki / "ca.crt"}
ssl.client.auth=required
"""

    @property
    def tls_bootstrap(self) -> str:
        return f"{self.host}:{self.tls_port}"


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsKafkaBroker]:
    broker = TlsKafkaBroker(tmp_path_factory.mktemp("kafka-tls"))
    broker.pki.mkdir(parents=True)
    ca = _issue("mash-cluster-ca", None, ca=True)
    server = _issue("broker", ca, ip=broker.host)
    client = _issue("triage", ca)
    (broker.pki / "ca.crt").write_bytes(_pem(ca[0]))
    (broker.pki / "broker.pem").write_bytes(_key_pem(server[1]) + _pem(server[0]))
    (broker.pki / "user.crt").write_bytes(_pem(client[0]))
    (broker.pki / "user.key").write_bytes(_key_pem(client[1]))
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def tls_settings(broker: TlsKafkaBroker, *, with_certificate: bool) -> Settings:
    return Settings(
        kafka_security_protocol="SSL", kafka_ssl_cafile=broker.pki / "ca.crt",
        kafka_ssl_certfile=broker.pki / "user.crt" if with_certificate else None,
        kafka_ssl_keyfile=broker.pki / "user.key" if with_certificate else None)


async def test_a_service_publishes_and_consumes_over_mutual_tls(
    tls_broker: TlsKafkaBroker,
) -> None:
    topic = "mash.tls.v1"
    await create_topics_async(tls_broker.bootstrap_servers, [topic])
    bus = KafkaBus(tls_broker.tls_bootstrap, client_id="tls-test", health_interval=1.0,
                   client_options=client_options(tls_settings(tls_broker,
                                                               with_certificate=True)))
    await bus.start()
    seen: list[bytes] = []

    async def record(message: Message) -> None:
        seen.append(message.value)

    subscription = bus.subscribe("tls-group", [topic], record)
    await subscription.start()
    try:
        await bus.publish([Message(topic, b"MASH-2026-TLS", b"over tls", ())])

        async def delivered() -> bool:
            return seen == [b"over tls"]

        await eventually(delivered, timeout=60, what="the message over TLS")
        assert bus.problems([topic]) == []
    finally:
        await subscription.stop()
        await bus.stop()


async def test_a_client_without_a_certificate_is_refused(tls_broker: TlsKafkaBroker) -> None:
    bus = KafkaBus(tls_broker.tls_bootstrap, client_id="no-cert",
                   client_options=client_options(tls_settings(tls_broker,
                                                              with_certificate=False)))
    with pytest.raises(Exception):  # noqa: B017 - aiokafka's error differs by where TLS fails
        await bus.start()
    await bus.stop()

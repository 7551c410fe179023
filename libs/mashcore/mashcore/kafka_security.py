"""How the services authenticate to Kafka and protect the connection: settings to aiokafka.

Development (compose, tests) uses PLAINTEXT on a private network or loopback. Kubernetes
uses the Strimzi cluster's TLS listener with mutual TLS: each service presents the
certificate of its own ``KafkaUser`` (whose ACLs allow exactly its topics and groups) and
checks the brokers against the cluster CA. SCRAM over TLS (``SASL_SSL``) is supported too.
"""

from __future__ import annotations

from typing import Any

from aiokafka.helpers import create_ssl_context

from mashcore.settings import Settings


def client_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for every aiokafka client (producer, consumers, admin)."""
    protocol = settings.kafka_security_protocol
    options: dict[str, Any] = {"security_protocol": protocol}
    if protocol in ("SSL", "SASL_SSL"):
        if (settings.kafka_ssl_certfile is None) != (settings.kafka_ssl_keyfile is None):
            raise ValueError("MASH_KAFKA_SSL_CERTFILE and MASH_KAFKA_SSL_KEYFILE go together")
        options["ssl_context"] = create_ssl_context(
            cafile=settings.kafka_ssl_cafile,  # None: the system's trusted CAs
            certfile=settings.kafka_ssl_certfile,  # mutual TLS: this service's identity
            keyfile=settings.kafka_ssl_keyfile,
        )
    if protocol in ("SASL_SSL", "SASL_PLAINTEXT"):
        if not settings.kafka_sasl_username or settings.kafka_sasl_password is None:
            raise ValueError(f"MASH_KAFKA_SECURITY_PROTOCOL={protocol} needs "
                             "MASH_KAFKA_SASL_USERNAME and MASH_KAFKA_SASL_PASSWORD")
        options.update(sasl_mechanism=settings.kafka_sasl_mechanism,
                       sasl_plain_username=settings.kafka_sasl_username,
                       sasl_plain_password=settings.kafka_sasl_password.get_secret_value())
    return options

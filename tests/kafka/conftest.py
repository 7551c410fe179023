import uuid
from typing import Any

import pytest


@pytest.fixture
def pg_url(postgres_server: Any) -> str:
    """A fresh database on the real PostgreSQL server, for this test only."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    postgres_server.create_database(name)
    return str(postgres_server.url(name))


@pytest.fixture
def namespace() -> str:
    """A topic prefix that isolates this test's topics on the shared broker."""
    return f"t{uuid.uuid4().hex[:8]}."

"""Strategy: Strategy discussions, section 47 enquiries, conferences and core groups.

No behaviour yet: the service runs, migrates its database and answers /healthz.
"""

from pathlib import Path

from mashcore.service import ServiceDefinition

SERVICE = ServiceDefinition(
    name="strategy",
    title="MASH Strategy",
    description="Strategy discussions, section 47 enquiries, conferences and core groups.",
    migrations=Path(__file__).parent / "migrations",
)

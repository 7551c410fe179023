"""MASH enquiries: Partner agency navigators answer information requests.

No behaviour yet: the service runs, migrates its database and answers /healthz.
"""

from pathlib import Path

from mashcore.service import ServiceDefinition

SERVICE = ServiceDefinition(
    name="mash-enquiries",
    title="MASH MASH enquiries",
    description="Partner agency navigators answer information requests.",
    migrations=Path(__file__).parent / "migrations",
)

"""``mash``: mashcore's command line over this deployable's services."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from mash_app.services import SERVICE_MODULES
from mashcore import cli


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mash`` command."""
    return cli.main(argv, services=SERVICE_MODULES)


if __name__ == "__main__":
    sys.exit(main())

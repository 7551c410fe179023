"""``python -m mash_app``: the ``mash`` command."""

from __future__ import annotations

import sys

from mash_app.cli import main

sys.exit(main())

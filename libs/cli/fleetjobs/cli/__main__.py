"""Entry point of the `fleetjobs` console script and of `python -m fleetjobs.cli`."""

from __future__ import annotations

import sys

from fleetjobs.cli._app import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())

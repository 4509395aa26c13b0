from __future__ import annotations

from fleetjobs.catalog.app import build_catalog
from fleetjobs.core.runtime import run_service


def main() -> None:
    run_service("catalog", build_catalog)


if __name__ == "__main__":
    main()

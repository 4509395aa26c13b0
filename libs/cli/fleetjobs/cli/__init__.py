"""The `fleetjobs` command: a client of the public gRPC API (fleetjobs.v1).

``main(argv)`` runs one command in-process and returns its exit code; ``ExitCode`` names the
codes (``fleetjobs --help`` lists them too).
"""

from fleetjobs.cli._app import main
from fleetjobs.cli._errors import ExitCode

__all__ = ["ExitCode", "main"]

"""How every service process starts and stops (docs/design.md, "Starting and stopping")."""

from fleetjobs.core.runtime._service import Runtime, Service, run_service, serve_forever

__all__ = ["Runtime", "Service", "run_service", "serve_forever"]

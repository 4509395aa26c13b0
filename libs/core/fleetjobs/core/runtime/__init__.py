"""How every service process starts and stops (conventions.md, "Graceful shutdown")."""

from fleetjobs.core.runtime._service import Runtime, Service, run_service, serve_forever

__all__ = ["Runtime", "Service", "run_service", "serve_forever"]

"""Settings every service shares, read from the FLEETJOBS_* environment variables
(docs/design.md, "Configuration")."""

from fleetjobs.core.config._settings import CommonSettings, SettingsError, replica_address

__all__ = ["CommonSettings", "SettingsError", "replica_address"]

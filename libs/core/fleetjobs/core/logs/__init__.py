"""Structured logging: JSON lines when not a TTY, ids bound as context, never a secret."""

from fleetjobs.core.logs._setup import bind_context, configure_logging
from fleetjobs.core.logs._unexpected import log_unexpected, type_name

__all__ = ["bind_context", "configure_logging", "log_unexpected", "type_name"]

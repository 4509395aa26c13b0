from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from fleetjobs.core.crypto import live_secrets

_context: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar(
    "fleetjobs_log_context",
    default={},  # noqa: B039  (never mutated: bind_context sets a new dict)
)
# Attributes every LogRecord has; anything else on a record came from `extra=` and is logged.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


@contextmanager
def bind_context(**ids: str) -> Iterator[None]:
    """Adds ids (execution, task, trace) to every log line written inside the block."""
    token = _context.set({**_context.get(), **ids})
    try:
        yield
    finally:
        _context.reset(token)


def _masked(line: str) -> str:
    """The whole formatted line, traceback included, without any password this process
    decrypted, in any spelling, nor any password=… setting or URL password."""
    return live_secrets.scrub(line)


class _JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "event": record.getMessage(),
            **_context.get(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return _masked(json.dumps(entry, default=str))


class _ConsoleFormatter(_JsonFormatter):
    def format(self, record: logging.LogRecord) -> str:
        extras = {
            k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")
        }
        fields = " ".join(f"{k}={v}" for k, v in {**_context.get(), **extras}.items())
        line = f"{record.levelname[0]} {self.service} {record.getMessage()} {fields}".rstrip()
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return _masked(line)


def configure_logging(service: str, *, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    formatter = _ConsoleFormatter(service) if sys.stderr.isatty() else _JsonFormatter(service)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Driver chatter would log connection strings; keep third parties at warnings.
    for noisy in ("nats", "sqlalchemy", "alembic", "asyncio", "aiosqlite", "psycopg"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

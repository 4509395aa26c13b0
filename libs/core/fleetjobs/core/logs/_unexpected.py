"""An exception nobody expected, logged without its contents.

What an unexpected exception says may carry secrets: PyMySQL's UnicodeEncodeError holds the
whole password it failed to encode, and says where in it the offending character is. Its repr,
its str and a formatted traceback (which prints both, for it and every exception chained to
it) can leak past any scrubbing. So such an exception is logged, and recorded where users see
it, by its type and where it was raised, never by what it says.
"""

from __future__ import annotations

import logging
import traceback

# Frames logged from the innermost: enough to find the bug, bounded for the log line.
_FRAMES = 12


def type_name(error: BaseException) -> str:
    """`error`'s class, qualified by its module unless it is a builtin."""
    kind = type(error)
    return (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )


def log_unexpected(log: logging.Logger, event: str, error: BaseException) -> None:
    """Logs `event` with `error`'s type, the types of the exceptions chained to it and where
    each was raised, without any of their messages or arguments."""
    chain: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(type_name(current))
        current = current.__cause__ or current.__context__
    frames = traceback.extract_tb(error.__traceback__)[-_FRAMES:]
    log.error(
        event,
        extra={
            "error_type": chain[0],
            "chained_error_types": chain[1:],
            "raised_at": [f"{frame.filename}:{frame.lineno} in {frame.name}" for frame in frames],
        },
    )

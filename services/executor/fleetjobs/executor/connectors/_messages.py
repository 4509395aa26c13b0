"""A task's informational messages, bounded while they arrive; its error text, bounded.

A script can raise a NOTICE per row (120,000 of them is one loop) and a driver hands them over
one by one, or all at once after a batch. Every connector collects them into one
``MessageCollector``, which keeps the first MAX_MESSAGES messages within MAX_MESSAGE_BYTES and
only counts the rest, so memory stays bounded during the script and what is stored on the
task fits an API response; the last line says how many were dropped. Each kept message is
scrubbed of the login's secrets before it is cut, so no cut can split a secret.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from fleetjobs.core.crypto import scrub

__all__ = [
    "MAX_ERROR_BYTES",
    "MAX_MESSAGES",
    "MAX_MESSAGE_BYTES",
    "MAX_ONE_MESSAGE_BYTES",
    "MessageCollector",
    "bounded_text",
]

# Per task, whatever the engine.
MAX_MESSAGES = 1_000
MAX_MESSAGE_BYTES = 256 * 1024
# One message is cut to this, so that a single huge NOTICE does not take the whole budget.
MAX_ONE_MESSAGE_BYTES = 16 * 1024
# A task's error text (the database's message, with its context lines).
MAX_ERROR_BYTES = 16 * 1024


def bounded_text(text: str, max_bytes: int) -> str:
    """``text`` cut to at most ``max_bytes`` UTF-8 bytes (plus a note saying how much was cut).

    Cut on a character boundary, never inside a multi-byte character.
    """
    encoded = text.encode("utf-8", errors="replace")
    if len(encoded) <= max_bytes:
        return text
    kept = encoded[:max_bytes].decode("utf-8", errors="ignore")
    return f"{kept}… ({len(encoded) - len(kept.encode('utf-8'))} more bytes cut)"


class MessageCollector:
    """Keeps a task's first messages within a count and a byte budget, counts the rest.

    Once one message is dropped every later one is too: what is kept is always the start of
    the output, in order. Used from the one thread that runs the script.
    """

    def __init__(
        self,
        *,
        secrets: Sequence[str] = (),
        max_messages: int = MAX_MESSAGES,
        max_bytes: int = MAX_MESSAGE_BYTES,
    ) -> None:
        # Scrubbed before a message is cut: a secret straddling the cut would keep its start.
        self._secrets = tuple(secrets)
        self._max_messages = max_messages
        self._max_bytes = max_bytes
        self._kept: list[str] = []
        self._bytes = 0
        self._dropped = 0

    @property
    def dropped(self) -> int:
        return self._dropped

    def add(self, message: str) -> None:
        if self._dropped or len(self._kept) >= self._max_messages:
            self._dropped += 1
            return
        message = bounded_text(scrub(message, self._secrets), MAX_ONE_MESSAGE_BYTES)
        size = len(message.encode("utf-8", errors="replace"))
        if self._bytes + size > self._max_bytes:
            self._dropped += 1
            return
        self._kept.append(message)
        self._bytes += size

    def extend(self, messages: Iterable[str]) -> None:
        for message in messages:
            self.add(message)

    def messages(self) -> list[str]:
        """The kept messages, and a last line saying how many more were dropped."""
        if not self._dropped:
            return list(self._kept)
        noun = "message" if self._dropped == 1 else "messages"
        return [*self._kept, f"{self._dropped} more {noun} dropped"]

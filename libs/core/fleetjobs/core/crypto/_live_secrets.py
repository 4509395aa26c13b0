"""The secrets this process holds in the clear, so that no log line can carry one.

A decrypted password is meant to reach its driver and nothing else, and messages that are
stored or returned are scrubbed with the secrets the caller knows (``scrub``). A log line is
different: ``log.exception`` prints the message and the arguments of an exception nobody
expected (a driver bug, an encoding error), and the code that logs it rarely knows which
password was in play. So every password the process decrypts is remembered here, most recent
first and bounded, and the log formatter (``fleetjobs.core.logs``) scrubs every line against
them before it is written. They stay in this process's memory only, as the decrypted
credentials themselves do.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict

from fleetjobs.core.crypto._scrub import scrub_with, secrets_pattern

# As many as the resolver keeps decrypted (clients/_credentials.py, DECRYPTED_ENTRIES).
MAX_REMEMBERED = 256


class LiveSecrets:
    def __init__(self, limit: int = MAX_REMEMBERED) -> None:
        self._limit = limit
        self._lock = threading.Lock()
        self._secrets: OrderedDict[str, None] = OrderedDict()
        self._snapshot: tuple[str, ...] = ()
        # Built on the first scrub after the set changed, and kept: every log line is
        # scrubbed, and a pattern over hundreds of secrets takes tens of milliseconds to build.
        self._pattern: re.Pattern[str] | None = None
        self._pattern_of: tuple[str, ...] = ()

    def remember(self, secret: str) -> None:
        """Adds `secret` (or marks it recent); the oldest is forgotten past the limit."""
        if not secret:
            return
        with self._lock:
            if secret in self._secrets:
                self._secrets.move_to_end(secret)
                return
            self._secrets[secret] = None
            if len(self._secrets) > self._limit:
                self._secrets.popitem(last=False)
            # Sorted: scrub's compiled-pattern cache is keyed on the tuple.
            self._snapshot = tuple(sorted(self._secrets))

    def snapshot(self) -> tuple[str, ...]:
        """Every remembered secret, the same tuple until one is added."""
        return self._snapshot

    def scrub(self, text: str) -> str:
        """`text` without any remembered secret, in any spelling (`scrub`)."""
        with self._lock:
            if self._snapshot is not self._pattern_of:
                self._pattern = secrets_pattern(self._snapshot)
                self._pattern_of = self._snapshot
            pattern = self._pattern
        return scrub_with(text, pattern)


live_secrets = LiveSecrets()

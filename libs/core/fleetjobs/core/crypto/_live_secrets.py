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

import threading
from collections import OrderedDict

# As many as the resolver keeps decrypted (clients/_credentials.py, DECRYPTED_ENTRIES).
MAX_REMEMBERED = 256


class LiveSecrets:
    def __init__(self, limit: int = MAX_REMEMBERED) -> None:
        self._limit = limit
        self._lock = threading.Lock()
        self._secrets: OrderedDict[str, None] = OrderedDict()
        self._snapshot: tuple[str, ...] = ()

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


live_secrets = LiveSecrets()

"""Wakes WatchJobExecution streams when the fold changed their execution. Watchers also
poll, so a change folded by another scheduler replica still reaches them."""

from __future__ import annotations

import asyncio
from collections import defaultdict


class ChangeNotifier:
    def __init__(self) -> None:
        self._events: defaultdict[str, set[asyncio.Event]] = defaultdict(set)

    def subscribe(self, parent_id: str) -> asyncio.Event:
        event = asyncio.Event()
        self._events[parent_id].add(event)
        return event

    def unsubscribe(self, parent_id: str, event: asyncio.Event) -> None:
        waiting = self._events.get(parent_id)
        if waiting is not None:
            waiting.discard(event)
            if not waiting:
                del self._events[parent_id]

    def notify(self, parent_id: str) -> None:
        for event in self._events.get(parent_id, ()):
            event.set()

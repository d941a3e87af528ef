"""Fan-out of events from the probes to their consumers (recorder, UI, headless printer).

``emit`` is called from the training thread, the fd reader threads and the
sampler thread. It only appends to one deque per subscriber: ``deque.append``
is atomic under the GIL, so no lock is taken on the hot path. Consumers drain
their own deque at their own pace.
"""

from __future__ import annotations

import collections
from typing import Any

from tfmon.events import Event, make


class Subscription:
    def __init__(self) -> None:
        self._queue: collections.deque[Event] = collections.deque()

    def drain(self) -> list[Event]:
        """Everything emitted since the last drain, in order."""
        out = []
        pop = self._queue.popleft
        try:
            while True:
                out.append(pop())
        except IndexError:
            return out

    def __len__(self) -> int:
        return len(self._queue)


class EventBus:
    def __init__(self) -> None:
        self._subscriptions: tuple[Subscription, ...] = ()

    def subscribe(self) -> Subscription:
        sub = Subscription()
        self._subscriptions = self._subscriptions + (sub,)
        return sub

    def publish(self, event: Event) -> None:
        for sub in self._subscriptions:
            sub._queue.append(event)

    def emit(self, type_: str, **fields: Any) -> None:
        self.publish(make(type_, **fields))

"""Temporary event handlers for tests: registered under `tests.…` names, removed afterwards."""

from __future__ import annotations

from collections.abc import Callable

from common.events import IN_TRANSACTION, OUTBOX, Event, subscribe, unsubscribe


class TemporaryHandlers:
    """Subscribes test handlers to topics and unsubscribes all of them in `remove_all()`."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def add(
        self,
        topic: str,
        func: Callable[[Event], None],
        *,
        kind: str,
        name: str,
        ordering_key: Callable[[Event], str] | None = None,
    ) -> str:
        subscribe(topic, kind=kind, name=name, ordering_key=ordering_key)(func)
        self.names.append(name)
        return name

    def in_transaction(self, topic: str, func: Callable[[Event], None], *, name: str) -> str:
        return self.add(topic, func, kind=IN_TRANSACTION, name=name)

    def outbox(
        self,
        topic: str,
        func: Callable[[Event], None],
        *,
        name: str,
        ordering_key: Callable[[Event], str] | None = None,
    ) -> str:
        return self.add(topic, func, kind=OUTBOX, name=name, ordering_key=ordering_key)

    def remove_all(self) -> None:
        for name in self.names:
            unsubscribe(name)
        self.names.clear()

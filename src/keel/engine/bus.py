"""The message bus: typed topics, handlers called synchronously in subscription order.

Taps (:meth:`MessageBus.tap`) see every message on every topic, after its subscribers, in
publish order: run subscribers (a store, a service) read the pipeline through them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from keel.domain.pipeline import Topic
from keel.errors import ValidationError

__all__ = ["MessageBus", "Topic"]

T = TypeVar("T")


def _type_name(kind: object) -> str:
    return getattr(kind, "__name__", None) or str(kind)


class MessageBus:
    """Publish/subscribe.  Delivery is immediate and in subscription order: deterministic."""

    __slots__ = ("_handlers", "_taps", "_topics")

    def __init__(self) -> None:
        self._handlers: dict[str, list[Callable[[Any], None]]] = {}
        self._topics: dict[str, Topic[Any]] = {}
        self._taps: list[Callable[[str, Any], None]] = []

    def _register(self, topic: Topic[Any]) -> None:
        known = self._topics.get(topic.name)
        if known is None:
            self._topics[topic.name] = topic
            self._handlers[topic.name] = []
        elif known.type != topic.type:
            problem = f"already carries {_type_name(known.type)}, not {_type_name(topic.type)}"
            raise ValidationError("topic", topic.name, problem)

    def subscribe(self, topic: Topic[T], handler: Callable[[T], None]) -> None:
        """Call ``handler(message)`` for every message published on ``topic``."""
        self._register(topic)
        self._handlers[topic.name].append(handler)

    def tap(self, handler: Callable[[str, Any], None]) -> None:
        """Call ``handler(topic_name, message)`` for every message on every topic (read only)."""
        self._taps.append(handler)

    def untap(self, handler: Callable[[str, Any], None]) -> None:
        if handler in self._taps:
            self._taps.remove(handler)

    def publish(self, topic: Topic[T], message: T) -> int:
        """Deliver ``message`` to the topic's subscribers (then to taps); returns how many subscribers received it."""
        if not isinstance(message, topic.type):
            raise ValidationError(
                "message", type(message).__name__, f"topic {topic.name!r} carries {_type_name(topic.type)}"
            )
        handlers = self._handlers.get(topic.name)
        if handlers is None or self._topics[topic.name] is not topic:
            self._register(topic)
            handlers = self._handlers[topic.name]
        for handler in handlers:
            handler(message)
        if self._taps:
            for tap in self._taps:
                tap(topic.name, message)
        return len(handlers)

    def subscribers(self, topic: Topic[Any]) -> int:
        return len(self._handlers.get(topic.name, ()))

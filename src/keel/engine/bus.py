"""The message bus: typed topics, handlers called synchronously in subscription order."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from keel.errors import ValidationError

__all__ = ["MessageBus", "Topic"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Topic(Generic[T]):
    """A named channel carrying messages of one type (checked on publish)."""

    name: str
    type: type[T]


class MessageBus:
    """Publish/subscribe.  Delivery is immediate and in subscription order: deterministic."""

    __slots__ = ("_handlers", "_topics")

    def __init__(self) -> None:
        self._handlers: dict[str, list[Callable[[Any], None]]] = {}
        self._topics: dict[str, Topic[Any]] = {}

    def _register(self, topic: Topic[Any]) -> None:
        known = self._topics.get(topic.name)
        if known is None:
            self._topics[topic.name] = topic
            self._handlers[topic.name] = []
        elif known.type is not topic.type:
            problem = f"already carries {known.type.__name__}, not {topic.type.__name__}"
            raise ValidationError("topic", topic.name, problem)

    def subscribe(self, topic: Topic[T], handler: Callable[[T], None]) -> None:
        """Call ``handler(message)`` for every message published on ``topic``."""
        self._register(topic)
        self._handlers[topic.name].append(handler)

    def publish(self, topic: Topic[T], message: T) -> int:
        """Deliver ``message`` to the topic's subscribers; returns how many received it."""
        if not isinstance(message, topic.type):
            raise ValidationError(
                "message", type(message).__name__, f"topic {topic.name!r} carries {topic.type.__name__}"
            )
        self._register(topic)
        handlers = self._handlers[topic.name]
        for handler in handlers:
            handler(message)
        return len(handlers)

    def subscribers(self, topic: Topic[Any]) -> int:
        return len(self._handlers.get(topic.name, ()))

"""The interface every data source implements.

A source runs as an asyncio task and calls ``sink(event)`` for every event, in order, from
the event loop thread (the event types are in :mod:`imugait.events`). Sinks must be quick
(append to a buffer, put on a queue).
"""

from __future__ import annotations

import abc

from imugait.conventions import Side
from imugait.events import Sink


class Source(abc.ABC):
    """A running supply of sensor data for one or two sides."""

    sides: tuple[Side, ...]

    @abc.abstractmethod
    async def run(self, sink: Sink) -> None:
        """Connect, stream and call ``sink`` until :meth:`stop` is called or data ends."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Stop intentionally (an intentional stop is never counted as a loss)."""


__all__ = ["Source"]

"""Receptive-field-aware chunking: split a long sequence into windows whose kept centres tile it exactly.

Each window carries ``context`` extra units on both sides (cut off at the ends); when ``context`` covers
the network's reach, stitching the kept centres reproduces the whole-sequence result.
"""

from __future__ import annotations

from typing import Iterator, NamedTuple


class Window(NamedTuple):
    """Process units ``[start, stop)``; keep output units ``[keep_start, keep_stop)`` of the window."""

    start: int
    stop: int
    keep_start: int
    keep_stop: int


def windows(length: int, chunk: int, context: int) -> Iterator[Window]:
    """Windows over ``length`` units with ``chunk`` kept units each (the last may be shorter)."""
    if chunk < 1 or context < 0:
        raise ValueError(f"chunk must be >= 1 and context >= 0, got {chunk}, {context}")
    for begin in range(0, length, chunk):
        end = min(begin + chunk, length)
        start, stop = max(0, begin - context), min(length, end + context)
        yield Window(start, stop, begin - start, end - start)

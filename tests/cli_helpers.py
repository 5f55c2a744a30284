"""Shared checks of the CLI's behaviour on user mistakes."""

from __future__ import annotations


def one_error_line(err: str) -> str:
    """The single ``tokkit: error: ...`` line a refused command printed (no traceback, nothing else)."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("tokkit: error: ") and "Traceback" not in err, err
    return lines[0]

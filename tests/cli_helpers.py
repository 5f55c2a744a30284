"""Shared checks of the CLI's behaviour on user mistakes."""

from __future__ import annotations


def one_error_line(err: str, prefix: str = "tokkit: error: ") -> str:
    """The single line (starting ``prefix``) a refused or interrupted command printed: no traceback, nothing else."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(prefix) and "Traceback" not in err, err
    return lines[0]

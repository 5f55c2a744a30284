"""Shared fixtures. `--runslow` runs tests marked slow (they belong in benchmarks, not CI)."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", default=False, help="also run tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--runslow"):
        return
    skip_slow = pytest.mark.skip(reason="slow: run with --runslow (benchmarks)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)


@pytest.fixture
def run_cli(capfdbinary):
    """Run the tokkit CLI in-process: returns (exit code, stdout bytes, stderr text)."""
    from tokkit.cli.main import main

    def run(*args: str, stdin: bytes | None = None) -> tuple[int, bytes, str]:
        import io
        import sys

        capfdbinary.readouterr()
        saved = sys.stdin
        if stdin is not None:
            sys.stdin = io.TextIOWrapper(io.BytesIO(stdin))
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            sys.stdin = saved
        captured = capfdbinary.readouterr()
        return code, captured.out, captured.err.decode("utf-8", "replace")

    return run


@pytest.fixture(scope="module")
def one_thread():
    """torch on one thread for a module's tests (tiny models: one thread is faster on a shared machine);
    use with ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    import torch

    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)

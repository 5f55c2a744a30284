"""tokkit.core.device.reuse_freed_memory: nests, restores glibc's limits on the outermost exit (also after an
error), works as a decorator and in threads, and is a no-op unless TOKKIT_REUSE_MEMORY=1 opts in."""

from __future__ import annotations

import threading

import pytest

from tokkit.core import device


class FakeLibc:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def mallopt(self, param: int, value: int) -> int:
        self.calls.append(("mallopt", param, value))
        return 1

    def malloc_trim(self, pad: int) -> int:
        self.calls.append(("trim", pad))
        return 1


@pytest.fixture
def libc(monkeypatch):
    fake = FakeLibc()
    monkeypatch.setattr(device, "_glibc", lambda: fake)
    return fake


def test_nested_blocks_set_once_and_restore_the_defaults_on_the_outermost_exit(libc):
    with device.reuse_freed_memory():
        assert libc.calls == [("mallopt", device._M_MMAP_MAX, 0), ("mallopt", device._M_TRIM_THRESHOLD, 1 << 30)]
        with device.reuse_freed_memory():
            pass
        assert len(libc.calls) == 2
    assert libc.calls[2:] == [("mallopt", device._M_TRIM_THRESHOLD, 128 * 1024),
                              ("mallopt", device._M_MMAP_MAX, 65536), ("trim", 0)]
    assert device._heap_depth == 0


def test_an_error_inside_still_restores(libc):
    with pytest.raises(ValueError):
        with device.reuse_freed_memory():
            raise ValueError("boom")
    assert libc.calls[-1] == ("trim", 0) and device._heap_depth == 0


def test_decorator_and_threads(libc):
    @device.reuse_freed_memory()
    def work(out: list, i: int) -> None:
        out.append(i * i)

    out: list[int] = []
    threads = [threading.Thread(target=work, args=(out, i)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(out) == [0, 1, 4, 9] and device._heap_depth == 0
    assert libc.calls[-1] == ("trim", 0)


def test_off_by_default_and_when_the_environment_says_0(monkeypatch):
    for value in (None, "0"):
        if value is None:
            monkeypatch.delenv("TOKKIT_REUSE_MEMORY", raising=False)
        else:
            monkeypatch.setenv("TOKKIT_REUSE_MEMORY", value)
        assert device._glibc() is None
        with device.reuse_freed_memory():
            assert device._heap_depth == 0


def test_opt_in_finds_glibc_on_linux(monkeypatch):
    import sys

    monkeypatch.setenv("TOKKIT_REUSE_MEMORY", "1")
    if sys.platform.startswith("linux"):
        assert device._glibc() is not None


def test_real_glibc_round_trip_allocates_fine(monkeypatch):
    import torch

    monkeypatch.setenv("TOKKIT_REUSE_MEMORY", "1")

    with device.reuse_freed_memory():
        x = torch.ones(8_000_000)  # 32 MB: above glibc's largest mmap threshold
        del x
        y = torch.ones(8_000_000)
    assert float(y.sum()) == 8_000_000

"""Device choice shared by every torch model: ``auto`` means CUDA when present, else CPU."""

from __future__ import annotations

import ctypes
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from tokkit.errors import InputError

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str = "auto") -> str:
    """"auto" | "cpu" | "cuda" (or "cuda:N") -> a torch device string; refuse CUDA where there is none."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        return "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise InputError(f"--device {device}: no CUDA GPU is available here; use --device cpu or auto")
        return device
    raise InputError(f"unknown device {device!r}; use one of {', '.join(DEVICES)}")


#: glibc ``mallopt`` parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4
_GLIBC_DEFAULTS = {_M_TRIM_THRESHOLD: 128 * 1024, _M_MMAP_MAX: 65536}
_heap_lock = threading.Lock()
_heap_depth = 0


def _glibc():
    """The process's glibc (for ``mallopt``) when ``TOKKIT_REUSE_MEMORY=1``; None otherwise (the default) and
    outside glibc (macOS, musl)."""
    if os.environ.get("TOKKIT_REUSE_MEMORY", "0") != "1" or not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018  (raises AttributeError outside glibc)
        return libc
    except (OSError, AttributeError):
        return None


@contextmanager
def reuse_freed_memory() -> Iterator[None]:
    """Within the block, large CPU buffers are served from freed heap memory instead of fresh pages.

    glibc hands every buffer above 128 KiB-32 MiB out as new ``mmap`` pages and returns it to the kernel on
    free, so each layer's output of a long input pays a page fault per 4 KiB page (on a busy 2-core VM,
    70 ms per 34 MB: as long as the copy itself several times over). Inside the block ``mmap`` is off and the
    heap is not trimmed, so freed layer buffers are reused; on leaving the outermost block glibc's default
    limits come back and the free heap is returned to the kernel (``malloc_trim``). Peak memory is that of
    the work itself or more (freed blocks fragment the heap: a DAC decode peaked at 415-589 MB instead of 342).
    Opt-in with ``TOKKIT_REUSE_MEMORY=1`` (off by default: it changes allocator settings for the whole process,
    and once set through ``mallopt`` glibc's dynamic mmap threshold stays off after the block); a no-op
    outside glibc."""
    global _heap_depth
    libc = _glibc()
    if libc is None:
        yield
        return
    with _heap_lock:
        _heap_depth += 1
        if _heap_depth == 1:
            libc.mallopt(_M_MMAP_MAX, 0)
            libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30)
    try:
        yield
    finally:
        with _heap_lock:
            _heap_depth -= 1
            if _heap_depth == 0:
                for param, value in _GLIBC_DEFAULTS.items():
                    libc.mallopt(param, value)
                libc.malloc_trim(0)

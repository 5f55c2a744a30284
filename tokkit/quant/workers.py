"""The quantizers' thread policy: ``threads=`` workers that each run torch on one thread.

A search is cut into tasks of a few MiB of scores; ``threads`` persistent worker threads take tasks
from a shared counter until none are left. Each worker runs its GEMM and its scan single-threaded,
so no task ever waits at a thread barrier for a thread that another process has descheduled: on a
busy machine the worker on the free core simply takes more tasks, and two threads are never slower
than one. Workers are created once per process and keep torch at one intra-op thread for
themselves only; the caller's ``torch.get_num_threads()`` is left as it was.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable

from tokkit.errors import InputError

_pool_lock = threading.Lock()
_workers: list[threading.Thread] = []
_jobs: queue.SimpleQueue = queue.SimpleQueue()
_inside = threading.local()  # set in workers: a task that searches again runs inline


def _forget_workers_after_fork() -> None:
    """A forked child has none of the parent's threads: start afresh on first use."""
    global _pool_lock, _jobs
    _workers.clear()
    _pool_lock = threading.Lock()
    _jobs = queue.SimpleQueue()


os.register_at_fork(after_in_child=_forget_workers_after_fork)


def resolve_threads(threads: int | None) -> int:
    """``threads`` checked, or torch's intra-op thread count when None (the user's torch setting)."""
    if threads is None:
        import torch

        return max(1, torch.get_num_threads())
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise InputError(f"threads must be a positive integer (or None for torch's thread count), got {threads!r}")
    return threads


class _Job:
    """``count`` tasks run by ``fn(i)``; workers claim indices from a shared counter."""

    def __init__(self, fn: Callable[[int], None], count: int, tickets: int) -> None:
        self.fn, self.count = fn, count
        self.lock = threading.Lock()
        self.next = 0
        self.pending = tickets
        self.done = threading.Event()
        self.error: BaseException | None = None

    def claim(self) -> int | None:
        with self.lock:
            if self.next >= self.count or self.error is not None:
                return None
            self.next += 1
            return self.next - 1

    def work(self) -> None:
        try:
            while (i := self.claim()) is not None:
                self.fn(i)
        except BaseException as error:  # noqa: BLE001 - re-raised in the caller
            with self.lock:
                self.error = self.error or error
        finally:
            with self.lock:
                self.pending -= 1
                if self.pending == 0:
                    self.done.set()


def _numpy_openblas_local_threads() -> Callable[[int], int] | None:
    """``openblas_set_num_threads_local`` of the OpenBLAS bundled with numpy (Linux, OpenBLAS >= 0.3.27),
    or None (another BLAS, another OS): it caps OpenBLAS for the calling thread only."""
    import ctypes

    import numpy  # loads its BLAS

    home = os.path.dirname(os.path.dirname(numpy.__file__))
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower() and ".so" in line}
    except OSError:
        return None
    for path in sorted(p for p in paths if p.startswith(os.path.join(home, "numpy"))):
        try:
            function = ctypes.CDLL(path).openblas_set_num_threads_local
        except (OSError, AttributeError):
            continue
        function.argtypes, function.restype = [ctypes.c_int], ctypes.c_int
        return function
    return None


def _worker_loop(started: threading.Event) -> None:
    import torch

    torch.set_num_threads(1)  # this thread's OpenMP/MKL setting; the global default is restored below
    _inside.worker = True
    local_threads = _numpy_openblas_local_threads()
    if local_threads is not None:
        local_threads(1)
        _inside.numpy_blas = True  # numpy's OpenBLAS runs single-threaded here: its GEMM may be used
    jobs = _jobs
    started.set()
    while True:
        job = jobs.get()
        job.work()


def _ensure_workers(count: int) -> None:
    """Start workers until there are ``count``; torch's default for new threads is kept as it was."""
    with _pool_lock:
        if len(_workers) >= count:
            return
        default = _in_fresh_thread(lambda: __import__("torch").get_num_threads())
        for _ in range(count - len(_workers)):
            started = threading.Event()
            worker = threading.Thread(target=_worker_loop, args=(started,), name="tokkit-quant", daemon=True)
            worker.start()
            started.wait()
            _workers.append(worker)
        # torch.set_num_threads in a worker also set the default that threads started later pick up
        _in_fresh_thread(lambda: __import__("torch").set_num_threads(default))


def _in_fresh_thread(fn: Callable[[], object]) -> object:
    box: list[object] = []
    thread = threading.Thread(target=lambda: box.append(fn()))
    thread.start()
    thread.join()
    return box[0] if box else None


def numpy_blas_single_threaded() -> bool:
    """True in a worker whose numpy OpenBLAS is capped at one thread (its GEMM then serves searches)."""
    return getattr(_inside, "numpy_blas", False)


def run_tasks(fn: Callable[[int], None], count: int, threads: int) -> None:
    """Run ``fn(0) .. fn(count - 1)`` on ``min(threads, count)`` single-threaded workers; re-raise the
    first error. Tasks must write disjoint outputs."""
    tickets = min(threads, count)
    if tickets <= 0:
        return
    if getattr(_inside, "worker", False):  # nested (a task searching): this worker runs it all
        for i in range(count):
            fn(i)
        return
    _ensure_workers(tickets)
    job = _Job(_in_callers_mode(fn), count, tickets)
    for _ in range(tickets):
        _jobs.put(job)
    job.done.wait()
    if job.error is not None:
        raise job.error


def _in_callers_mode(fn: Callable[[int], None]) -> Callable[[int], None]:
    """``fn`` run under the caller's grad and inference modes (thread-local in torch): a task that fills
    an output made inside ``torch.inference_mode`` must run in inference mode too."""
    import torch

    inference, grad = torch.is_inference_mode_enabled(), torch.is_grad_enabled()

    def task(i: int) -> None:
        with torch.inference_mode(inference), torch.set_grad_enabled(grad):
            fn(i)

    return task

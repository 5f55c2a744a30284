"""Keep each worker process to its share of the cores, so N workers on N cores do not oversubscribe."""

from __future__ import annotations

import os
import sys

#: environment variables read by the thread pools a tokenizer may start (OpenMP, BLAS, HF tokenizers' rayon,
#: tokkit's own text engine)
THREAD_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                   "VECLIB_MAXIMUM_THREADS", "RAYON_NUM_THREADS", "TOKKIT_THREADS")


def thread_share(workers: int) -> int:
    """Threads each of ``workers`` processes may use so that together they fill the cores once (at least 1)."""
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def limit_threads(threads: int = 1) -> None:
    """Worker initializer: cap every thread pool of this process at ``threads``.

    Sets the environment before torch or tokenizers start their pools, turns off HF tokenizers'
    own parallelism, and updates torch and tokkit's text engine if they are already imported.
    """
    for name in THREAD_ENV_VARS:
        os.environ[name] = str(threads)
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(threads)
    text_engines = sys.modules.get("tokkit.text.engines")
    if text_engines is not None:
        text_engines.THREADS = threads

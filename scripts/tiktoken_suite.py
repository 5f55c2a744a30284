"""Fetch tiktoken's own test suite (the ``tests/`` folder of its sdist on PyPI) for
tests/test_text_tiktoken_suite.py, which runs it against tokkit. Nothing is vendored: the sdist of the
installed tiktoken version is downloaded once with pip and its tests/ kept under the cache.

    python scripts/tiktoken_suite.py      # prints the folder holding the suite
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

CACHE = Path.home() / ".cache" / "tokkit" / "tiktoken-suite"


def suite_folder(version: str | None = None) -> Path:
    """The ``tests/`` folder of tiktoken's sdist (the installed version by default), fetched once."""
    if version is None:
        from importlib.metadata import version as installed

        version = installed("tiktoken")
    target = CACHE / version / "tests"
    if (target / "test_encoding.py").is_file():
        return target
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-binary", ":all:", "--no-deps",
                        "-d", tmp, f"tiktoken=={version}"], check=True)
        sdist = next(Path(tmp).glob("tiktoken-*.tar.gz"))
        with tarfile.open(sdist) as archive:
            members = [m for m in archive.getmembers()
                       if m.isfile() and m.name.split("/")[1:2] == ["tests"] and m.name.endswith(".py")]
            staging = Path(tmp) / "out"
            archive.extractall(staging, members=members, filter="data")
        target.parent.mkdir(parents=True, exist_ok=True)
        (staging / f"tiktoken-{version}" / "tests").rename(target)
    return target


if __name__ == "__main__":
    print(suite_folder())

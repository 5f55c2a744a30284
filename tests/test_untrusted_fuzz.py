"""A short fuzz run over every reader of untrusted bytes (the long one is benchmarks/fuzz.py), and the replay of
the inputs fuzzing found (tests/fuzz_corpus/<target>/): nothing but a TokkitError, memory within the stated bound."""

from __future__ import annotations

from pathlib import Path

import pytest
from fuzz_targets import TARGETS, mutate, run_one, seeds_warm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

CORPUS = Path(__file__).parent / "fuzz_corpus"
#: examples per target in CI: the slow readers (a codec runs per input) get fewer
EXAMPLES = {"container": 150, "tokenizer_json": 80, "tiktoken": 80, "audio": 25, "image": 40, "meta": 150,
            "checkpoint": 20}


@pytest.fixture(scope="module")
def seeds():
    return {name: seeds_warm(name) for name in TARGETS}


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_fuzz_briefly(name, seeds):
    @given(st.randoms(use_true_random=False))
    @settings(max_examples=EXAMPLES[name], deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    def check(rng):
        data = mutate(rng.choice(seeds[name]), rng)
        finding = run_one(name, data)
        assert finding is None, f"{name}: {finding} (input {data[:80]!r}...)"

    check()


def corpus_files() -> list[Path]:
    return sorted(CORPUS.glob("*/*.bin")) if CORPUS.is_dir() else []


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_regression_corpus(path, seeds):
    assert path.parent.name in TARGETS, f"{path}: unknown target folder"
    assert run_one(path.parent.name, path.read_bytes()) is None

"""nearest(): exact against a float64 brute force, chunk-independent, bounded memory, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tokkit.errors import InputError
from tokkit.quant.nearest import _Search, nearest


def brute_force(x: torch.Tensor, codebook: torch.Tensor, metric: str) -> torch.Tensor:
    """float64 reference on the difference form, 64 rows at a time: smallest index among exact minima."""
    x, codebook = x.double(), codebook.double()
    if metric == "cos":
        x = x / x.norm(dim=1, keepdim=True).clamp_min(1e-300)
        codebook = codebook / codebook.norm(dim=1, keepdim=True).clamp_min(1e-300)
    out = []
    for rows in x.split(64):
        if metric == "cos":
            distance = -(rows[:, None, :] * codebook[None]).sum(-1)
        else:
            distance = ((rows[:, None, :] - codebook[None]) ** 2).sum(-1)
        is_min = distance == distance.min(1, keepdim=True).values
        out.append(is_min.float().argmax(1))
    return torch.cat(out)


def near_tie_batch(codebook: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """Points a hair off the bisector of two codes: float32 scoring often flips these."""
    g = torch.Generator().manual_seed(seed)
    i = torch.randint(0, codebook.shape[0], (n,), generator=g)
    j = torch.randint(0, codebook.shape[0], (n,), generator=g)
    return (codebook[i] + codebook[j]) / 2 + 1e-6 * torch.randn(n, codebook.shape[1], generator=g)


def naive_float32(x: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    scores = (codebook * codebook).sum(1) - 2 * x @ codebook.T
    return scores.argmin(1)


@pytest.mark.parametrize("metric", ["l2", "cos"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_equals_float64_brute_force_on_near_ties(metric: str, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    codebook = torch.randn(200, 48, generator=g) * 3 + 10  # offset from the origin: big norms, small gaps
    x = near_tie_batch(codebook, 600, seed)
    expected = brute_force(x, codebook, metric)
    assert torch.equal(nearest(x, codebook, metric=metric, chunk=257), expected)


def test_near_tie_batch_really_defeats_naive_float32() -> None:
    """Guard for the test above: without the re-check, float32 scoring gets some of these wrong."""
    g = torch.Generator().manual_seed(0)
    codebook = torch.randn(200, 48, generator=g) * 3 + 10
    x = near_tie_batch(codebook, 600, 0)
    assert (naive_float32(x, codebook) != brute_force(x, codebook, "l2")).sum() > 0


@pytest.mark.parametrize("metric", ["l2", "cos"])
def test_random_data_and_chunk_independence(metric: str) -> None:
    g = torch.Generator().manual_seed(3)
    codebook = torch.randn(300, 32, generator=g)
    x = torch.randn(2, 100, 32, generator=g)
    expected = brute_force(x.reshape(-1, 32), codebook, metric).reshape(2, 100)
    for chunk in (3, 64, 5000):
        assert torch.equal(nearest(x, codebook, metric=metric, chunk=chunk), expected)


def test_exact_ties_go_to_the_smallest_index() -> None:
    codebook = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [-1.0, 0.0]])
    x = torch.tensor([[1.0, 0.0], [0.5, 0.5], [2.0, 0.0]])
    assert nearest(x, codebook).tolist() == [0, 0, 0]
    assert nearest(x, codebook, metric="cos").tolist() == [0, 0, 0]


def test_float64_input_and_numpy_round_trip() -> None:
    rng = np.random.default_rng(0)
    codebook = rng.normal(size=(64, 8))
    x = rng.normal(size=(100, 8))
    out = nearest(x, codebook)
    assert isinstance(out, np.ndarray) and out.dtype == np.int64
    expected = brute_force(torch.from_numpy(x), torch.from_numpy(codebook), "l2").numpy()
    np.testing.assert_array_equal(out, expected)


def test_codes_map_to_themselves() -> None:
    codebook = torch.randn(512, 16, generator=torch.Generator().manual_seed(5))
    assert torch.equal(nearest(codebook, codebook), torch.arange(512))


def test_single_code_codebook() -> None:
    assert nearest(torch.randn(5, 3), torch.randn(1, 3)).tolist() == [0] * 5


def test_huge_values_still_exact() -> None:
    """Scores overflow float32 here; the float64 re-check still decides."""
    codebook = torch.tensor([[3e19, 0.0], [-3e19, 0.0]])
    x = torch.tensor([[2.9e19, 1.0], [-1e19, 0.0]])
    assert nearest(x, codebook).tolist() == [0, 1]


@pytest.mark.parametrize(
    "x, codebook, message",
    [
        (torch.randn(3, 4), torch.randn(5, 3), "shape"),
        (torch.randn(0, 4), torch.randn(5, 4), "empty"),
        (torch.tensor([[float("nan"), 0.0]]), torch.randn(5, 2), "NaN"),
        (torch.tensor([[float("inf"), 0.0]]), torch.randn(5, 2), "infinite"),
        (torch.randn(3, 2), torch.randn(5, 2, 1), "codebook"),
        (torch.randn(3, 2), torch.tensor([[0.0, float("nan")]]), "codebook"),
        (torch.ones(3, 2, dtype=torch.long), torch.randn(5, 2), "floating"),
    ],
)
def test_bad_input_raises_clear_errors(x: torch.Tensor, codebook: torch.Tensor, message: str) -> None:
    with pytest.raises(InputError, match=message):
        nearest(x, codebook)


def test_bad_options() -> None:
    with pytest.raises(ValueError, match="metric"):
        nearest(torch.randn(2, 2), torch.randn(2, 2), metric="dot")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="chunk"):
        nearest(torch.randn(2, 2), torch.randn(2, 2), chunk=0)


@pytest.mark.parametrize("metric", ["l2", "cos"])
def test_duplicate_codes_in_different_blocks_tie_to_the_smallest_index(metric: str) -> None:
    codebook = torch.randn(100, 8, generator=torch.Generator().manual_seed(6))  # 100: padded blocks
    codebook[70] = codebook[5]
    codebook[99] = codebook[40]
    x = torch.stack([codebook[70], codebook[99], codebook[5] + 1e-7])
    assert nearest(x, codebook, metric=metric).tolist() == [5, 40, 5]


@pytest.mark.parametrize("metric", ["l2", "cos"])
def test_bfloat16_coarse_pass_is_exact_on_random_data(metric: str) -> None:
    """d >= 64 takes the bfloat16 GEMM where the CPU has it; the re-check keeps it exact."""
    g = torch.Generator().manual_seed(7)
    codebook = torch.randn(256, 128, generator=g)
    x = torch.randn(600, 128, generator=g)
    expected = brute_force(x, codebook, metric)
    assert torch.equal(nearest(x, codebook, metric=metric), expected)
    search = _Search(codebook, metric, torch.float32, 600)
    if search.bf16:  # guard: bfloat16 scores alone would get some rows wrong
        naive = search._scores(x if metric == "l2" else x / x.norm(dim=1, keepdim=True))[:, :256].argmin(1)
        assert (naive != expected).sum() > 0


def test_dense_near_ties_fall_back_to_float32_and_stay_exact() -> None:
    g = torch.Generator().manual_seed(8)
    codebook = torch.randn(128, 96, generator=g) * 0.01 + 3  # codes packed far tighter than bfloat16 resolves
    x = near_tie_batch(codebook, 300, 8)
    search = _Search(codebook, "l2", torch.float32, 300)
    result = search(x)
    assert not search.bf16
    assert torch.equal(result, brute_force(x, codebook, "l2"))


@pytest.mark.parametrize("x_dtype, codebook_dtype", [(torch.float32, torch.float64), (torch.bfloat16, torch.float32),
                                                     (torch.float64, torch.float16)])
def test_mixed_dtypes(x_dtype: torch.dtype, codebook_dtype: torch.dtype) -> None:
    g = torch.Generator().manual_seed(9)
    codebook = (torch.randn(96, 80, generator=g) + 2).to(codebook_dtype)
    x = near_tie_batch(codebook.float(), 200, 9).to(x_dtype)
    assert torch.equal(nearest(x, codebook), brute_force(x, codebook, "l2"))


def test_nearest_on_worker_threads_under_inference_mode():
    """Worker threads do not inherit torch.inference_mode; the search must still write its result (found by
    the WavTokenizer port, whose encode runs under inference_mode)."""
    import torch

    from tokkit.quant.nearest import nearest

    generator = torch.Generator().manual_seed(0)
    x, codebook = torch.randn(3000, 64, generator=generator), torch.randn(1024, 64, generator=generator)
    with torch.inference_mode():
        inside = nearest(x, codebook, threads=2)
    assert torch.equal(inside, nearest(x, codebook, threads=2))

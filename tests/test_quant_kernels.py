"""The compiled scan, its torch fallback, the forced bfloat16 GEMM and the threads= workers: every
combination returns the float64 brute-force index; threads never leak into the caller's torch."""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading

import pytest
import torch

from tests.test_quant_nearest import brute_force, near_tie_batch
from tokkit.errors import InputError
from tokkit.quant import FSQ, LFQ, RVQ, VQ, FSQConfig, LFQConfig, RVQConfig, VQConfig, nearest
from tokkit.quant.nearest import _Search, native_available
from tokkit.quant.workers import run_tasks

nearest_module = sys.modules["tokkit.quant.nearest"]
base_module = sys.modules["tokkit.quant.base"]
SCANS = ["native", "torch"]


@pytest.fixture(params=SCANS)
def scan(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test with the compiled scan, then with the torch fallback (the module hidden)."""
    if request.param == "native":
        if not native_available():
            if os.environ.get("TOKKIT_REQUIRE_KERNELS"):
                pytest.fail("tokkit.quant._kernels is not built; CI builds it with pip install .")
            pytest.skip("compiled scan not built in this checkout: python setup.py build_ext --inplace")
    else:
        monkeypatch.setattr(nearest_module, "_kernels", None)
        monkeypatch.setattr(base_module, "_kernels", None)
    return request.param


@pytest.fixture
def force_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    """Take the bfloat16 GEMM branch even where the CPU has no fast bfloat16 (it still computes)."""
    monkeypatch.setattr(nearest_module, "_fast_bf16", lambda: True)


def test_compiled_scan_is_built_when_ci_requires_it() -> None:
    if os.environ.get("TOKKIT_REQUIRE_KERNELS"):
        assert native_available()


@pytest.mark.parametrize("metric", ["l2", "cos"])
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_every_scan_and_thread_count_is_exact_on_near_ties(scan: str, metric: str, threads: int) -> None:
    g = torch.Generator().manual_seed(threads)
    codebook = torch.randn(200, 48, generator=g) * 3 + 10
    x = near_tie_batch(codebook, 900, threads)
    expected = brute_force(x, codebook, metric)
    assert torch.equal(nearest(x, codebook, metric=metric, chunk=61, threads=threads), expected)
    assert _Search(codebook, metric, torch.float32, 61).native == (scan == "native")


@pytest.mark.parametrize("metric", ["l2", "cos"])
def test_forced_bfloat16_branch_is_taken_and_exact(scan: str, force_bf16: None, metric: str) -> None:
    g = torch.Generator().manual_seed(7)
    codebook = torch.randn(256, 128, generator=g)
    x = torch.randn(700, 128, generator=g)
    expected = brute_force(x, codebook, metric)
    search = _Search(codebook, metric, torch.float32, 700)
    assert search.bf16
    # guard: the bfloat16 scores alone get some rows wrong, so the re-check is what makes it exact
    unit = x if metric == "l2" else x / x.norm(dim=1, keepdim=True)
    assert (search._scores(unit)[:, :256].argmin(1) != expected).sum() > 0
    assert torch.equal(search(x), expected)
    assert torch.equal(nearest(x, codebook, metric=metric, chunk=100, threads=2), expected)


def test_forced_bfloat16_falls_back_to_float32_on_dense_codes(scan: str, force_bf16: None) -> None:
    g = torch.Generator().manual_seed(8)
    codebook = torch.randn(128, 96, generator=g) * 0.01 + 3  # far tighter than bfloat16 resolves
    x = near_tie_batch(codebook, 300, 8)
    search = _Search(codebook, "l2", torch.float32, 300)
    assert search.bf16
    result = search(x)
    assert not search.bf16
    assert torch.equal(result, brute_force(x, codebook, "l2"))


def test_overflowing_and_float64_scores_in_both_scans(scan: str) -> None:
    codebook = torch.tensor([[3e19, 0.0], [-3e19, 0.0], [0.0, 1.0]])
    x = torch.tensor([[2.9e19, 1.0], [-2.5e19, 0.0], [0.0, 0.9]])
    assert nearest(x, codebook).tolist() == [0, 1, 2]
    g = torch.Generator().manual_seed(4)
    codebook64 = torch.randn(300, 40, generator=g, dtype=torch.float64)
    x64 = near_tie_batch(codebook64, 500, 4)
    assert torch.equal(nearest(x64, codebook64, chunk=77, threads=2), brute_force(x64, codebook64, "l2"))


def test_both_gemms_in_workers_are_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers take the GEMM from numpy's OpenBLAS where it can be held to one thread, else torch."""
    g = torch.Generator().manual_seed(12)
    codebook = torch.randn(300, 64, generator=g) * 3 + 10
    x = near_tie_batch(codebook, 800, 12)
    expected = brute_force(x, codebook, "l2")
    assert torch.equal(nearest(x, codebook, chunk=50, threads=2), expected)
    original = nearest_module._Search
    monkeypatch.setattr(nearest_module, "_Search", lambda *a, **k: original(*a, numpy_gemm=False, **k))
    assert torch.equal(nearest(x, codebook, chunk=50, threads=2), expected)


def test_inputs_that_require_grad_are_searched() -> None:
    codebook = torch.randn(64, 8, requires_grad=True)
    x = torch.randn(3000, 8, requires_grad=True)
    assert torch.equal(nearest(x, codebook, threads=2), brute_force(x.detach(), codebook.detach(), "l2"))


def test_threads_option_is_checked() -> None:
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(InputError, match="threads"):
            nearest(torch.randn(4, 3), torch.randn(5, 3), threads=bad)  # type: ignore[arg-type]


def test_workers_leave_torch_thread_settings_alone() -> None:
    before = torch.get_num_threads()
    fresh_before: list[int] = []
    probe = threading.Thread(target=lambda: fresh_before.append(torch.get_num_threads()))
    probe.start()
    probe.join()
    x, codebook = torch.randn(3000, 64), torch.randn(512, 64)
    nearest(x, codebook, threads=3, chunk=100)
    assert torch.get_num_threads() == before
    fresh_after: list[int] = []
    probe = threading.Thread(target=lambda: fresh_after.append(torch.get_num_threads()))
    probe.start()
    probe.join()
    assert fresh_after == fresh_before


def test_worker_errors_reach_the_caller_and_nested_searches_run() -> None:
    def failing(i: int) -> None:
        if i == 5:
            raise RuntimeError("task 5 failed")

    with pytest.raises(RuntimeError, match="task 5"):
        run_tasks(failing, 20, 2)
    seen: list[int] = []
    codebook = torch.randn(64, 8)

    def nested(i: int) -> None:  # a task that searches again must not wait for busy workers
        seen.append(int(nearest(codebook[i : i + 1], codebook, threads=2)[0]))

    run_tasks(nested, 64, 2)
    assert sorted(seen) == list(range(64))


def _search_in_child(queue: multiprocessing.Queue) -> None:
    codebook = torch.randn(256, 64, generator=torch.Generator().manual_seed(1))
    queue.put(nearest(codebook, codebook, threads=2, chunk=16).tolist())


def test_forked_child_starts_its_own_workers() -> None:
    nearest(torch.randn(2000, 64), torch.randn(256, 64), threads=2, chunk=64)  # parent's workers exist
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_search_in_child, args=(queue,))
    child.start()
    child.join(60)
    assert child.exitcode == 0, "the forked child hung or failed"
    assert queue.get(timeout=5) == list(range(256))


def test_quantizers_give_the_same_indices_for_any_thread_count(scan: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("tokkit.quant.fsq", "tokkit.quant.lfq"):  # spread these short jobs over threads anyway
        monkeypatch.setattr(sys.modules[name], "ROWS_PER_THREAD", 1 << 12)
    g = torch.Generator().manual_seed(11)
    vq = VQ(VQConfig(codebook_size=256, dim=32, codebook_dim=16, kmeans_init=False)).eval()
    rvq = RVQ(RVQConfig(depth=3, codebook_size=128, dim=32, kmeans_init=False)).eval()
    x = torch.randn(4, 1500, 32, generator=g)
    for model in (vq, rvq):
        one = model.encode(x, threads=1)
        assert torch.equal(model.encode(x, threads=2), one)
    fsq = FSQ(FSQConfig(levels=[8, 5, 5, 5], dim=6)).eval()
    lfq = LFQ(LFQConfig(codebook_size=1 << 10, dim=6)).eval()
    z = 2 * torch.randn(3, 40000, 6, generator=g)  # several encode blocks
    for model in (fsq, lfq):
        one = model.encode(z, threads=1)
        assert one.shape == (3, 40000)
        assert torch.equal(model.encode(z, threads=2), one)
        assert torch.equal(model.encode(z[:, :10]), one[:, :10])  # one block, in the caller
        assert torch.equal(model(z[:, :100])[1], one[:, :100])  # training forward agrees


@pytest.mark.parametrize("make", [
    lambda: VQ(VQConfig(codebook_size=8, dim=6, codebook_dim=4, kmeans_init=False)),
    lambda: RVQ(RVQConfig(depth=2, codebook_size=8, dim=6, codebook_dim=4, kmeans_init=False)),
    lambda: FSQ(FSQConfig(levels=[5, 5, 5, 5], dim=6)),
    lambda: LFQ(LFQConfig(codebook_size=16, dim=6)),
])
def test_shared_input_checks_and_projections(make) -> None:
    model = make().eval()
    assert model.dim == 6 and model.codebook_dim == 4
    assert isinstance(model.project_in, torch.nn.Linear) and isinstance(model.project_out, torch.nn.Linear)
    assert {"project_in.weight", "project_out.weight"} <= set(model.state_dict())
    for bad, message in [(torch.randn(3, 5), "shape"), (torch.ones(3, 6, dtype=torch.long), "floating"),
                         (torch.full((2, 6), float("nan")), "NaN"), ([[0.0] * 6], "numpy")]:
        with pytest.raises(InputError, match=message):
            model.encode(bad)
    with pytest.raises(InputError, match="integers"):
        model.decode(torch.zeros(3, 1))
    with pytest.raises(InputError, match=r"\[0, "):
        model.decode(torch.full((3, 1), 10**6))


def _sequential_rvq(rvq: RVQ, x: torch.Tensor) -> torch.Tensor:
    """RVQ encoding written level by level with nearest() on the whole batch: the definition."""
    residual = rvq.project_in(x)
    out = []
    for vq in rvq.levels:
        index = nearest(vq.project_in(residual), vq.codebook, metric=vq.config.metric, threads=1)
        out.append(index)
        residual = residual - vq.project_out(vq.codebook[index])
    return torch.stack(out, -1)


@pytest.mark.parametrize("factorized", [False, True])
def test_rvq_runs_all_levels_per_block_and_matches_level_by_level(scan: str, factorized: bool) -> None:
    g = torch.Generator().manual_seed(21)
    config = RVQConfig(depth=4, codebook_size=96, dim=24, kmeans_init=False,
                       **({"level_codebook_dim": 8, "metric": "cos"} if factorized else {}))
    rvq = RVQ(config).eval()
    with torch.no_grad():
        for vq in rvq.levels:  # codes offset from the origin, and half the inputs on first-level near-ties
            vq.codebook.copy_(torch.randn(vq.codebook.shape, generator=g) * 2 + 3)
        first = rvq.levels[0]
        ties = near_tie_batch(first.codebook, 3000, 21) if not factorized else torch.randn(3000, 24, generator=g)
        x = torch.cat([ties, torch.randn(3000, 24, generator=g) * 4]).reshape(2, 3000, 24)
        expected = _sequential_rvq(rvq, x)
        for threads in (1, 2, 3):
            assert torch.equal(rvq.encode(x, threads=threads), expected)
        assert torch.equal(rvq.encode(x[:, :5]), expected[:, :5])  # small: one block in the caller
        assert torch.equal(rvq.encode(x, depth=2, threads=2), expected[..., :2])


def _boundary_latents(fsq: FSQ, per_cut: int, seed: int) -> torch.Tensor:
    """Random latents with one channel swept through a hair-wide band around each bin boundary."""
    g = torch.Generator().manual_seed(seed)
    levels = fsq.config.levels
    rows = []
    for ch, count in enumerate(levels):
        for j in range(count - 1):
            centre = float(fsq._thresholds[ch, j].mean())
            block = 2 * torch.randn(per_cut, len(levels), generator=g)
            block[:, ch] = centre + torch.linspace(-3e-4, 3e-4, per_cut)
            rows.append(block)
    return torch.cat(rows + [3 * torch.randn(20000, len(levels), generator=g)])


@pytest.mark.parametrize("levels", [[8, 5, 5, 5], [2, 3, 4], [40, 3]])
def test_fsq_compiled_pass_equals_torch_at_bin_boundaries(scan: str, levels: list[int]) -> None:
    fsq = FSQ(FSQConfig(levels=levels)).eval()
    z = _boundary_latents(fsq, 301, len(levels))
    definition = fsq._encode_torch(z)
    assert torch.equal(fsq.encode(z, threads=1), definition)
    assert torch.equal(fsq(z).indices, definition)
    if scan == "native":  # guard: the sweep really lands latents inside the windows torch decides
        flags = torch.empty(z.shape[0], dtype=torch.uint8)
        out = torch.empty(z.shape[0], dtype=torch.long)
        thresholds = fsq._thresholds
        flagged = base_module._kernels.fsq_bins(
            z.data_ptr(), z.shape[0], len(levels), z.stride(0), fsq.levels.reshape(-1).contiguous().data_ptr(),
            fsq.basis.reshape(-1).contiguous().data_ptr(), thresholds.data_ptr(), thresholds.shape[1],
            out.data_ptr(), flags.data_ptr())
        assert 0 < flagged < z.shape[0] // 2


def test_lfq_compiled_pass_equals_torch_on_signed_zeros_and_tiny_doubles(scan: str) -> None:
    lfq = LFQ(LFQConfig(codebook_size=1 << 12)).eval()
    z = torch.randn(5000, 12, generator=torch.Generator().manual_seed(5))
    z[::3, 4], z[::5, 7] = 0.0, -0.0
    for latents in (z, z.double() * 1e-300):
        assert torch.equal(lfq.encode(latents), lfq.codes_to_indices(latents))


def test_an_older_build_without_the_fsq_and_lfq_passes_falls_back_to_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base_module, "_kernels", type(sys)("old_kernels"))  # a module with no fsq_bins / lfq_bits
    monkeypatch.delenv("TOKKIT_REQUIRE_KERNELS", raising=False)
    fsq, lfq = FSQ(FSQConfig(levels=[8, 5, 5, 5])).eval(), LFQ(LFQConfig(codebook_size=1 << 8)).eval()
    z4, z8 = torch.randn(3000, 4), torch.randn(3000, 8)
    assert torch.equal(fsq.encode(z4), fsq._encode_torch(z4))
    assert torch.equal(lfq.encode(z8), lfq.codes_to_indices(z8))
    monkeypatch.setenv("TOKKIT_REQUIRE_KERNELS", "1")  # CI: a stale build is an error, not a silent fallback
    for model, z in ((fsq, z4), (lfq, z8)):
        with pytest.raises(RuntimeError, match="build_ext"):
            model.encode(z)


@pytest.mark.parametrize("bf16", [False, True])
def test_compiled_candidates_are_the_torch_candidates(bf16: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """The compiled pass over flagged rows gives the same (row, code) pairs as the torch expression, NaN windows
    included; an older build without it falls back to torch, or fails where CI requires the kernels."""
    if not native_available():
        pytest.skip("compiled scan not built in this checkout: python setup.py build_ext --inplace")
    g = torch.Generator().manual_seed(3)
    codebook = torch.randn(300, 64, generator=g) * 3 + 10
    x = near_tie_batch(codebook, 500, 3)
    search = _Search(codebook, "l2", torch.float32, 500, bf16=bf16, native=True)
    norms = torch.linalg.vector_norm(x, dim=1)
    best, ambiguous, row_of, code_of = search._scan_native(x, norms, search.precision)
    assert ambiguous is not None and row_of.numel() > ambiguous.numel()
    monkeypatch.setattr(nearest_module, "_kernels", type(sys)("old_kernels"))
    nearest_module._kernels.scan = native_kernels().scan
    monkeypatch.delenv("TOKKIT_REQUIRE_KERNELS", raising=False)
    old = search._scan_native(x, norms, search.precision)
    assert torch.equal(old[1], ambiguous) and torch.equal(old[2], row_of) and torch.equal(old[3], code_of)
    assert torch.equal(search(x), brute_force(x, codebook, "l2"))
    monkeypatch.setenv("TOKKIT_REQUIRE_KERNELS", "1")
    with pytest.raises(RuntimeError, match="build_ext"):
        search._scan_native(x, norms, search.precision)


def test_compiled_candidates_of_an_overflowed_row_are_every_code() -> None:
    if not native_available():
        pytest.skip("compiled scan not built in this checkout: python setup.py build_ext --inplace")
    kernels = native_kernels()
    products = torch.tensor([[1.0, 2.0, 3.0], [0.5, 0.25, 4.0], [1.0, 1.0, 1.0]])
    bias = torch.tensor([2.0, 3.0, 1.0])
    flags = torch.tensor([1, 0, 1], dtype=torch.uint8)
    window = torch.tensor([-2.5, 0.0, float("nan")], dtype=torch.float64)
    pairs = torch.full((2, 8), -1, dtype=torch.long)
    # row 0 scores 2 - 2, 3 - 4, 1 - 6 = 0, -1, -5: only code 2 is <= -2.5; row 2 (NaN window): every code
    count = kernels.candidates(products.data_ptr(), 0, 3, 3, 3, bias.data_ptr(), -2.0, flags.data_ptr(),
                               window.data_ptr(), pairs[0].data_ptr(), pairs[1].data_ptr(), 8)
    assert count == 4
    assert pairs[:, :4].tolist() == [[0, 1, 1, 1], [2, 0, 1, 2]]
    # too small a buffer: the count tells the caller how much to allocate, nothing is written past capacity
    small = torch.full((2, 2), -1, dtype=torch.long)
    assert kernels.candidates(products.data_ptr(), 0, 3, 3, 3, bias.data_ptr(), -2.0, flags.data_ptr(),
                              window.data_ptr(), small[0].data_ptr(), small[1].data_ptr(), 1) == 4


def native_kernels():
    from tokkit.quant import _kernels

    return _kernels


@pytest.mark.parametrize("row_dtype,code_dtype", [(torch.float32, torch.float32), (torch.float32, torch.float64),
                                                  (torch.float64, torch.float32), (torch.float64, torch.float64)])
def test_compiled_recheck_decides_pairs_as_the_torch_recheck(row_dtype: torch.dtype, code_dtype: torch.dtype) -> None:
    """The compiled float64 re-check picks, per row, the same code among its pairs as the torch one, including
    exact ties (duplicate codes: the smallest index) and a row whose pairs come in no particular order."""
    if not native_available():
        pytest.skip("compiled scan not built in this checkout")
    generator = torch.Generator().manual_seed(7)
    codebook = torch.randn(300, 37, generator=generator, dtype=torch.float64).to(code_dtype)
    codebook[200] = codebook[11]  # an exact tie between codes 11 and 200
    rows = torch.randn(40, 37, generator=generator, dtype=torch.float64).to(row_dtype)
    rows[3] = codebook[200].to(row_dtype)
    row_of = torch.randint(0, 40, (900,), generator=generator)
    code_of = torch.randint(0, 300, (900,), generator=generator)
    row_of = torch.cat([row_of, torch.tensor([3, 3])])
    code_of = torch.cat([code_of, torch.tensor([200, 11])])
    native = _Search(codebook, "l2", torch.float64, 64, native=True)._recheck(rows, row_of, code_of)
    plain = _Search(codebook, "l2", torch.float64, 64, native=False)._recheck(rows, row_of, code_of)
    assert torch.equal(native, plain)
    assert int(native[3]) == 11

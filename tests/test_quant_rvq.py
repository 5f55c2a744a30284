"""RVQ: parity with vector-quantize-pytorch's ResidualVQ, prefix decoding, quantizer dropout, errors."""

from __future__ import annotations

import pytest
import torch

from tokkit.errors import InputError
from tokkit.quant.rvq import RVQ, RVQConfig


def copy_reference(reference: torch.nn.Module, config: RVQConfig) -> RVQ:
    ours = RVQ(config).eval()
    state = {f"levels.{i}.codebook": layer._codebook.embed[0].clone() for i, layer in enumerate(reference.layers)}
    if config.codebook_dim and config.codebook_dim != config.dim:
        for name in ("project_in", "project_out"):
            for key, value in getattr(reference, name).state_dict().items():
                state[f"{name}.{key}"] = value.clone()
    ours.load_state_dict(state)
    return ours


@pytest.mark.parametrize("codebook_dim", [None, 16])
def test_indices_match_vector_quantize_pytorch(codebook_dim: int | None) -> None:
    from vector_quantize_pytorch import ResidualVQ

    torch.manual_seed(0)
    reference = ResidualVQ(dim=32, num_quantizers=6, codebook_size=128, codebook_dim=codebook_dim).eval()
    ours = copy_reference(reference, RVQConfig(depth=6, codebook_size=128, dim=32, codebook_dim=codebook_dim))
    x = torch.randn(4, 400, 32)
    ref_quantized, ref_indices, _ = reference(x)
    assert torch.equal(ours.encode(x), ref_indices)
    assert torch.equal(ours(x).indices, ref_indices)
    torch.testing.assert_close(ours.decode(ref_indices), ref_quantized, rtol=1e-5, atol=1e-5)


def test_prefix_decoding_and_partial_encoding() -> None:
    torch.manual_seed(1)
    rvq = RVQ(RVQConfig(depth=4, codebook_size=64, dim=8, kmeans_init=False)).eval()
    x = torch.randn(200, 8)
    full = rvq.encode(x)
    assert full.shape == (200, 4)
    assert torch.equal(rvq.encode(x, depth=2), full[:, :2])
    first_level = rvq.levels[0].codebook[full[:, 0]]
    second_level = rvq.levels[1].codebook[full[:, 1]]
    torch.testing.assert_close(rvq.decode(full[:, :2]), first_level + second_level)


def test_trained_rvq_error_falls_with_depth_and_round_trips() -> None:
    torch.manual_seed(2)
    rvq = RVQ(RVQConfig(depth=3, codebook_size=32, dim=4, decay=0.8)).train()
    data = torch.randn(2048, 4)
    for _ in range(10):
        rvq(data[torch.randperm(2048)[:512]])
    rvq.eval()
    idx = rvq.encode(data)
    errors = [float((rvq.decode(idx[:, :k]) - data).pow(2).mean()) for k in range(1, 4)]
    assert errors == sorted(errors, reverse=True)  # each level refines
    assert errors[-1] < 0.5 * float(data.pow(2).mean())
    # index -> vector -> index is exact at the first level (the one a vector pins down alone)
    first = torch.arange(32)
    assert torch.equal(rvq.encode(rvq.decode(first[:, None]), depth=1)[:, 0], first)


def test_quantizer_dropout_keeps_a_prefix_per_sample() -> None:
    torch.manual_seed(3)
    rvq = RVQ(RVQConfig(depth=8, codebook_size=16, dim=4, kmeans_init=False, decay=0.0, quantizer_dropout=1.0)).train()
    x = torch.randn(64, 10, 4, requires_grad=True)
    out = rvq(x)
    kept = (out.indices >= 0).all(1)  # (batch, depth): a level is kept for a whole sample or not
    dropped_somewhere = (out.indices < 0).any(1)
    assert torch.equal(kept, ~dropped_somewhere)
    lengths = kept.sum(1)
    assert torch.equal(kept, torch.arange(8)[None] < lengths[:, None])  # a prefix
    assert int(lengths.min()) >= 1 and lengths.unique().numel() > 1
    out.quantized.sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0
    # the output of a sample equals the sum of its kept levels' codes
    with torch.no_grad():
        sample = 0
        k = int(lengths[sample])
        expected = sum(rvq.levels[i].codebook[out.indices[sample, :, i]] for i in range(k))
    torch.testing.assert_close(out.quantized[sample], expected, rtol=1e-5, atol=1e-5)


def test_pow2_dropout_lengths() -> None:
    torch.manual_seed(4)
    config = RVQConfig(depth=6, codebook_size=8, dim=2, kmeans_init=False, quantizer_dropout=1.0,
                       dropout_distribution="pow2")
    out = RVQ(config).train()(torch.randn(256, 3, 2))
    lengths = (out.indices[:, 0, :] >= 0).sum(1)
    assert set(lengths.tolist()) <= {1, 2, 4, 6}


def test_state_dict_and_config() -> None:
    rvq = RVQ(RVQConfig(depth=2, codebook_size=8, dim=4))
    assert sorted(rvq.state_dict()) == ["levels.0.codebook", "levels.1.codebook"]
    config = RVQConfig(depth=2, codebook_size=8, dim=4, quantizer_dropout=0.5)
    assert RVQConfig.from_json(config.to_json()) == config


def test_bad_input() -> None:
    rvq = RVQ(RVQConfig(depth=3, codebook_size=8, dim=4, kmeans_init=False)).eval()
    with pytest.raises(InputError, match="shape"):
        rvq.encode(torch.randn(2, 3))
    with pytest.raises(InputError, match="NaN"):
        rvq.encode(torch.full((2, 4), float("nan")))
    with pytest.raises(InputError, match="empty"):
        rvq.encode(torch.randn(0, 4))
    with pytest.raises(InputError, match="depth"):
        rvq.encode(torch.randn(2, 4), depth=4)
    with pytest.raises(InputError, match="1 <= k <= 3"):
        rvq.decode(torch.zeros(2, 4, dtype=torch.long))
    with pytest.raises(InputError, match=r"\[0, 8\)"):
        rvq.decode(torch.full((2, 3), 8))
    with pytest.raises(InputError, match="quantizer_dropout"):
        RVQConfig(quantizer_dropout=1.5)


def test_missing_levels_decode_as_shallower_vectors() -> None:
    torch.manual_seed(2)
    rvq = RVQ(RVQConfig(depth=3, codebook_size=16, dim=4, kmeans_init=False)).eval()
    codes = rvq.encode(torch.randn(5, 4))
    ragged = codes.clone()
    ragged[:2, 2] = -1  # the first two vectors sent only two levels
    ragged[4, 1:] = -1
    out = rvq.decode(ragged, missing_ok=True)
    torch.testing.assert_close(out[:2], rvq.decode(codes[:2, :2]))
    torch.testing.assert_close(out[2:4], rvq.decode(codes[2:4]))
    torch.testing.assert_close(out[4:], rvq.decode(codes[4:, :1]))
    with pytest.raises(InputError, match="must lie in"):
        rvq.decode(ragged)


def test_factorized_levels_search_in_their_own_projection():
    """``level_codebook_dim`` (DAC, SNAC): each level projects the residual, picks the code of highest cosine
    similarity there and subtracts its projection back; decode sums the projected-back codes."""
    torch.manual_seed(0)
    rvq = RVQ(RVQConfig(depth=3, codebook_size=32, dim=16, level_codebook_dim=4, metric="cos", kmeans_init=False,
                        decay=0.0, dead_code_threshold=0.0)).eval()
    x = torch.randn(50, 16)
    indices = rvq.encode(x)
    residual, total = x.clone(), torch.zeros_like(x)
    for level, vq in enumerate(rvq.levels):
        assert isinstance(vq.project_in, torch.nn.Linear) and vq.project_in.out_features == 4
        scores = torch.nn.functional.normalize(vq.project_in(residual), dim=-1) @ \
            torch.nn.functional.normalize(vq.codebook, dim=-1).t()
        expected = scores.argmax(-1)
        assert torch.equal(indices[:, level], expected)
        code = vq.project_out(vq.codebook[expected])
        residual, total = residual - code, total + code
    torch.testing.assert_close(rvq.decode(indices), total)
    assert len({tuple(level.tolist()) for level in indices.t()}) == 3  # levels pick different codes


def level_by_level(rvq: RVQ, x: torch.Tensor) -> torch.Tensor:
    """Each level's float64 brute-force nearest code of what the previous levels left (L2)."""
    out, residual = [], x.clone()
    for vq in rvq.levels:
        distance = ((residual.double()[:, None, :] - vq.codebook.double()[None]) ** 2).sum(-1)
        index = distance.argmin(1)
        out.append(index)
        residual = residual - vq.codebook[index]
    return torch.stack(out, 1)


@pytest.mark.parametrize("threads", [1, 2])
def test_prepared_searches_are_kept_across_calls_and_follow_codebook_changes(threads: int) -> None:
    """Each level's prepared search is reused while its codebook is unchanged (the same object), rebuilt when the
    codebook is modified in place or replaced, and never copied into a deepcopy; codes stay exact throughout,
    for inputs of any length (the levels' shared scratch grows)."""
    import copy

    torch.manual_seed(0)
    rvq = RVQ(RVQConfig(depth=4, codebook_size=128, dim=32, kmeans_init=False, decay=0.0,
                        dead_code_threshold=0.0)).eval()
    small, large = torch.randn(40, 32), torch.randn(3000, 32)
    assert torch.equal(rvq.encode(small, threads=threads), level_by_level(rvq, small))
    first = [vq.prepared_search(torch.float32, rvq._scratch) for vq in rvq.levels]
    assert torch.equal(rvq.encode(large, threads=threads), level_by_level(rvq, large))
    assert all(vq.prepared_search(torch.float32, rvq._scratch) is s for vq, s in zip(rvq.levels, first))
    with torch.no_grad():
        rvq.levels[1].codebook.mul_(0.5)  # in place: its version changes
    assert torch.equal(rvq.encode(large, threads=threads), level_by_level(rvq, large))
    assert rvq.levels[1].prepared_search(torch.float32, rvq._scratch) is not first[1]
    assert rvq.levels[0].prepared_search(torch.float32, rvq._scratch) is first[0]
    rvq.levels[2].codebook = torch.randn(128, 32)  # replaced
    assert torch.equal(rvq.encode(small, threads=threads), level_by_level(rvq, small))
    twin = copy.deepcopy(rvq)
    assert "_search" not in twin.levels[0].__dict__
    assert torch.equal(twin.encode(large, threads=threads), rvq.encode(large, threads=threads))

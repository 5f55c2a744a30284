"""VQ: parity with vector-quantize-pytorch, exact round trips, EMA training, gradients, errors."""

from __future__ import annotations

import pytest
import torch

from tokkit.errors import InputError
from tokkit.quant.gradients import rotation_trick, straight_through
from tokkit.quant.vq import VQ, VQConfig


def trained_like(codebook: torch.Tensor, metric: str = "l2") -> VQ:
    vq = VQ(VQConfig(codebook_size=codebook.shape[0], dim=codebook.shape[1], metric=metric)).eval()
    vq.load_state_dict({"codebook": codebook})
    return vq


@pytest.mark.parametrize("metric", ["l2", "cos"])
def test_indices_match_vector_quantize_pytorch(metric: str) -> None:
    from vector_quantize_pytorch import VectorQuantize

    torch.manual_seed(0)
    reference = VectorQuantize(dim=64, codebook_size=512, use_cosine_sim=metric == "cos").eval()
    ours = trained_like(reference._codebook.embed[0].clone(), metric)
    x = torch.randn(4, 600, 64)
    ref_quantized, ref_indices, _ = reference(x)
    assert torch.equal(ours.encode(x), ref_indices)
    assert torch.equal(ours(x).indices, ref_indices)
    torch.testing.assert_close(ours.decode(ref_indices), ref_quantized, rtol=0, atol=0)


def test_index_code_index_round_trip_is_exact() -> None:
    codebook = torch.randn(1024, 32, generator=torch.Generator().manual_seed(1))
    vq = trained_like(codebook)
    every = torch.arange(1024)
    assert torch.equal(vq.encode(vq.decode(every)), every)


def test_round_trip_with_projection() -> None:
    vq = VQ(VQConfig(codebook_size=64, dim=16, codebook_dim=8, kmeans_init=False)).eval()
    idx = vq.encode(torch.randn(3, 10, 16))
    assert idx.shape == (3, 10)
    assert vq.decode(idx).shape == (3, 10, 16)
    every = torch.arange(64)
    # the codebook lives after project_in: its own round trip is exact
    from tokkit.quant.nearest import nearest
    assert torch.equal(nearest(vq.codebook[every], vq.codebook), every)


def test_training_initialises_by_kmeans_and_ema_moves_codes_to_the_data() -> None:
    torch.manual_seed(0)
    centres = torch.randn(8, 4) * 5
    data = centres[torch.randint(0, 8, (4096,))] + 0.05 * torch.randn(4096, 4)
    vq = VQ(VQConfig(codebook_size=8, dim=4, decay=0.8, dead_code_threshold=0.5)).train()
    for _ in range(20):
        vq(data[torch.randperm(4096)[:1024]])
    vq.eval()
    # every true centre has a code within noise distance
    distance = torch.cdist(centres, vq.codebook).min(1).values
    assert float(distance.max()) < 0.5
    assert float((vq.decode(vq.encode(data)) - data).pow(2).mean()) < 0.01


def test_dead_codes_are_reset_onto_batch_vectors() -> None:
    torch.manual_seed(0)
    vq = VQ(VQConfig(codebook_size=4, dim=2, kmeans_init=False, decay=0.5, dead_code_threshold=1.0)).train()
    with torch.no_grad():
        vq.codebook.copy_(torch.tensor([[0.0, 0.0], [100.0, 100.0], [-100.0, 100.0], [100.0, -100.0]]))
    vq._seed_ema()
    data = torch.randn(256, 2) * 0.1
    for _ in range(6):
        vq(data)
    # the far-away codes were never used; they must now sit on the data
    assert float(vq.codebook.abs().max()) < 1.0


@pytest.mark.parametrize("gradient", ["ste", "rotation"])
def test_gradients_flow_to_the_input_and_the_commitment_loss(gradient: str) -> None:
    vq = VQ(VQConfig(codebook_size=16, dim=8, codebook_dim=4, gradient=gradient)).train()
    x = torch.randn(32, 8, requires_grad=True)
    out = vq(x)
    assert set(out.losses) == {"commitment"}
    (out.quantized.square().sum() + out.losses["commitment"]).backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0
    assert vq.project_in.weight.grad is not None and float(vq.project_in.weight.grad.abs().sum()) > 0


def test_rotation_trick_value_is_the_code_and_gradient_is_rotated() -> None:
    x = torch.tensor([[3.0, 0.0]], requires_grad=True)
    code = torch.tensor([[0.0, 2.0]])
    out = rotation_trick(x, code)
    torch.testing.assert_close(out, code)
    out[0, 1].backward()  # d out_y / d x: R maps e_x -> e_y, scaled by |code|/|x| = 2/3
    torch.testing.assert_close(x.grad, torch.tensor([[2 / 3, 0.0]]))
    x2 = torch.tensor([[3.0, 0.0]], requires_grad=True)
    straight_through(x2, code)[0, 1].backward()
    torch.testing.assert_close(x2.grad, torch.tensor([[0.0, 1.0]]))


def test_state_dict_holds_only_the_codebook_and_loading_marks_initialised() -> None:
    vq = VQ(VQConfig(codebook_size=32, dim=8))
    assert list(vq.state_dict()) == ["codebook"]
    with pytest.raises(InputError, match="not initialised"):
        vq.encode(torch.randn(2, 8))
    vq.load_state_dict({"codebook": torch.randn(32, 8)})
    assert vq.encode(torch.randn(2, 8)).shape == (2,)
    config = VQConfig(codebook_size=32, dim=8, gradient="rotation")
    assert VQConfig.from_json(config.to_json()) == config


def test_bad_input() -> None:
    vq = trained_like(torch.randn(16, 4))
    with pytest.raises(InputError, match="shape"):
        vq.encode(torch.randn(3, 5))
    with pytest.raises(InputError, match="empty"):
        vq.encode(torch.randn(0, 4))
    with pytest.raises(InputError, match="NaN"):
        vq.encode(torch.tensor([[float("nan"), 0, 0, 0]]))
    with pytest.raises(InputError, match=r"\[0, 16\)"):
        vq.decode(torch.tensor([16]))
    with pytest.raises(InputError, match="metric"):
        VQConfig(metric="dot")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="codebook_size"):
        VQConfig(codebook_size=0)

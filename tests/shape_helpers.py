"""Small shapes and a tiny random-weight shape tokenizer for fast tests."""

from __future__ import annotations

import numpy as np


def tiny_tokenizer(seed: int = 0):
    """A shape tokenizer with a tiny untrained model (8 latents x 3 levels, 16 codes)."""
    import torch

    from tokkit.codecs.shape.config import ShapeCodecConfig
    from tokkit.codecs.shape.model import ShapeCodecModel
    from tokkit.codecs.shape.tokenizer import ShapeTokenizer

    torch.manual_seed(seed)
    config = ShapeCodecConfig(input_points=128, num_latents=8, depth=3, codebook_size=16, codebook_dim=4, width=32,
                              heads=2, encoder_depth=1, decoder_depth=1, fourier_bands=4, query_hidden=32)
    model = ShapeCodecModel(config)
    for level in model.quantizer.levels:  # codebooks as after training (kmeans init runs on the first batch)
        level.codebook.copy_(torch.randn_like(level.codebook))
        level.initialized.fill_(True)
    return ShapeTokenizer(model, device="cpu", resolution=16)


def box_mesh(extents=(2.0, 1.0, 0.5), center=(3.0, -1.0, 0.0)):
    """A closed box as (vertices, faces)."""
    import trimesh

    mesh = trimesh.creation.box(extents=extents)
    mesh.apply_translation(center)
    return np.asarray(mesh.vertices), np.asarray(mesh.faces)


def write_obj(path, vertices, faces) -> None:
    """A minimal Wavefront OBJ file."""
    lines = [f"v {x} {y} {z}" for x, y, z in vertices] + [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in faces]
    path.write_text("\n".join(lines) + "\n")

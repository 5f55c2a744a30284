"""NVIDIA Cosmos discrete tokenizers as their authors publish them: recognised and loaded without running code.

The authors publish TorchScript files (``encoder.jit``, ``decoder.jit``, ``autoencoder.jit``) in HF folders
``nvidia/Cosmos-0.1-Tokenizer-DI8x8``, ``-DI16x16``, ``-DV4x8x8``, ``-DV8x8x8``, ``-DV8x16x16`` (and
``Cosmos-1.0-Tokenizer-DV8x16x16``). tokkit reads their tensors as data (:mod:`tokkit.nn.torchscript`: the
archive's code is never compiled or run): the folder (``autoencoder.jit``, or ``encoder.jit`` plus
``decoder.jit``), ``autoencoder.jit`` alone, or a state dict the user exported (``.safetensors`` or a
weights-only pickle of ``model.state_dict()``). Everything about the network is read from tensor shapes and
names (2D or 3D, patch size, widths, blocks, attention levels, FSQ levels, and the image tokenizers'
spatial compression), except what the authors' traced files do not record: a video tokenizer's spatial and
temporal compression (all three releases have the same tensors). Those come from a ``config.json`` beside
the files (``spatial_compression``, ``temporal_compression``) or from the release name in the path
(``DV4x8x8``: 4 frames, 8x8 pixels per token), and a loaded checkpoint is refused when neither says.

This module is the family :mod:`tokkit.codecs.published` dispatches to; it also holds
:class:`CosmosImageTokenizer` (DI). The video tokenizer is :mod:`tokkit.codecs.video.cosmos`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np
from PIL import Image

from tokkit.codecs.image.tokenizer import ImageTokenizer
from tokkit.codecs.published import PublishedWeights
from tokkit.core.meta import IntList, bad_field
from tokkit.core.tokenizer import Option
from tokkit.core.tokens import Tokens
from tokkit.errors import InputError, UnsupportedFormatError

KIND = "image.published_cosmos"
LABEL = "NVIDIA Cosmos DI / DV"
#: the authors' TorchScript files in a release folder
JIT_FILES = ("autoencoder.jit", "encoder.jit", "decoder.jit")
#: release names: DI<s>x<s> or DV<t>x<s>x<s>
_RELEASE = re.compile(r"D([IV])(\d+)x(\d+)(?:x(\d+))?", re.IGNORECASE)
#: the longest side a picture (or video frame) is coded at by default; larger ones are downscaled first
DEFAULT_SIZE = 1024
MAX_SIDE = 8192
_DROPPED = ("quantizer.", "inv_quant.")  # FSQ constants: recomputed from the levels
_CONSTANTS = ("wavelets", "_arange", "patch_size_buffer")  # the Haar (un)patchers' fixed buffers


# -- recognition -------------------------------------------------------------------------------------
def looks_like(keys: set[str], hf_config: dict[str, Any] | None = None) -> bool:
    """True for the tensors of a Cosmos discrete tokenizer (or of its encoder / decoder half): the causal
    3D layout, the Haar patcher's buffers (TorchScript files), or a DI state dict (FSQ: no codebook)."""
    if "encoder.conv_in.0.conv3d.weight" in keys or "decoder.conv_in.0.conv3d.weight" in keys:
        return True
    if any(k.endswith(("patcher.wavelets", "patcher3d.wavelets")) for k in keys):
        return True
    return ({"encoder.conv_in.weight", "quant_conv.weight", "post_quant_conv.weight", "decoder.conv_out.weight"} <= keys
            and not any(k.startswith("quantize.") for k in keys))


def _levels(state: dict[str, Any], hf_config: dict[str, Any] | None) -> tuple[int, ...] | None:
    """FSQ levels from the TorchScript files' quantizer buffers, else a config.json's ``levels`` (None: neither)."""
    for key in ("quantizer._levels", "inv_quant.quantizer._levels"):
        if key in state:
            return tuple(int(v) for v in state[key].tolist())
    levels = (hf_config or {}).get("levels")
    if isinstance(levels, list) and levels and all(isinstance(v, int) for v in levels):
        return tuple(levels)
    return None


def canonical_keys(state: dict[str, Any]) -> dict[str, Any]:
    """The authors' tensors -> this port's names: decoder.jit's ``inv_quant`` and the FSQ / Haar constants
    dropped (recomputed), float weights as float32."""
    out = {}
    for key, value in state.items():
        if key.startswith(_DROPPED) or key.rsplit(".", 1)[-1] in _CONSTANTS:
            continue
        out[key] = value.float() if value.is_floating_point() else value
    return out


def _release(path: str, hf_config: dict[str, Any] | None) -> dict[str, int]:
    """Compression factors a config.json or the release name in ``path`` gives (empty when neither)."""
    facts: dict[str, int] = {}
    for field in ("spatial_compression", "temporal_compression"):
        value = (hf_config or {}).get(field)
        if isinstance(value, int) and value > 0:
            facts[field] = value
    if facts:
        return facts
    match = None
    for match in _RELEASE.finditer(str(path)):
        pass
    if match is None:
        return {}
    video, a, b, c = match.group(1).upper() == "V", int(match.group(2)), int(match.group(3)), match.group(4)
    if video and c is not None:
        return {"temporal_compression": a, "spatial_compression": b}
    if not video and c is None:
        return {"spatial_compression": a}
    return {}


def _count(keys: set[str], pattern: str) -> int:
    found = {int(m.group(1)) for k in keys for m in [re.match(pattern, k)] if m}
    return max(found) + 1 if found else 0


def infer_config(state: dict[str, Any], source: str, hf_config: dict[str, Any] | None = None,
                 levels: tuple[int, ...] | None = None):
    """The :class:`tokkit.nn.cosmos.CosmosConfig` a canonical state dict (and its path / config) describe;
    ``levels``: the FSQ levels (default: those of every release, [8, 8, 8, 5, 5, 5])."""
    from tokkit.nn.cosmos import CosmosConfig

    keys = set(state)
    video = "encoder.conv_in.0.conv3d.weight" in keys
    if not video and "encoder.conv_in.weight" not in keys:
        raise InputError(f"{source}: the Cosmos tokenizer's encoder is missing (a decoder.jit alone?); give the "
                         f"release folder or its autoencoder.jit")
    if ("decoder.conv_out.1.conv3d.weight" if video else "decoder.conv_out.weight") not in keys:
        raise InputError(f"{source}: the Cosmos tokenizer's decoder is missing (an encoder.jit alone?); give the "
                         f"release folder or its autoencoder.jit")
    conv_in = state["encoder.conv_in.0.conv3d.weight" if video else "encoder.conv_in.weight"]
    patch = round((conv_in.shape[1] / 3) ** (1 / (3 if video else 2)))
    if patch < 2 or 3 * patch ** (3 if video else 2) != conv_in.shape[1]:
        raise UnsupportedFormatError(f"{source}: the encoder takes {conv_in.shape[1]} channels, not a Haar patch of 3 colours: not a Cosmos tokenizer")
    channels = conv_in.shape[0]
    depth = _count(keys, r"encoder\.down\.(\d+)\.")
    blocks = _count(keys, r"encoder\.down\.0\.block\.(\d+)\.")
    conv = "conv1.0.conv3d.weight" if video else "conv1.weight"
    widths = [state[f"encoder.down.{i}.block.0.{conv}"].shape[0] for i in range(depth)]
    if depth == 0 or blocks == 0 or any(w % channels for w in widths):
        raise InputError(f"{source}: the encoder's levels do not have the Cosmos layout")
    z = state["quant_conv.conv3d.weight" if video else "quant_conv.weight"].shape[1]
    attn_down = tuple(i for i in range(depth) if any(k.startswith(f"encoder.down.{i}.attn.") for k in keys))
    attn_up = tuple(i for i in range(depth) if any(k.startswith(f"decoder.up.{i}.attn.") for k in keys))
    release = _release(source, hf_config)
    levels = levels or (8, 8, 8, 5, 5, 5)  # every release's; an exported state dict drops the FSQ's buffers
    if len(levels) != state["quant_conv.conv3d.weight" if video else "quant_conv.weight"].shape[0]:
        raise InputError(f"{source}: the bottleneck has {state['quant_conv.conv3d.weight' if video else 'quant_conv.weight'].shape[0]} "
                         f"channels but the FSQ levels {list(levels)} have {len(levels)}; put the checkpoint's "
                         f"\"levels\" in a config.json beside it")
    if video:
        if "spatial_compression" not in release or "temporal_compression" not in release:
            raise InputError(f"{source}: a Cosmos video tokenizer's compression is not in its tensors; keep the "
                             f"release name in the path (e.g. Cosmos-0.1-Tokenizer-DV4x8x8/) or put "
                             f"spatial_compression and temporal_compression in a config.json beside it")
        spatial, temporal = release["spatial_compression"], release["temporal_compression"]
        name = f"cosmos_dv{temporal}x{spatial}x{spatial}"
    else:
        downs = sum(f"encoder.down.{i}.downsample.conv.weight" in keys for i in range(depth))
        spatial, temporal = patch * 2**downs, 1
        if release.get("spatial_compression", spatial) != spatial:
            raise InputError(f"{source}: the name says {release['spatial_compression']}x compression but the "
                             f"tensors describe {spatial}x")
        name = f"cosmos_di{spatial}x{spatial}"
    return CosmosConfig(name=name, video=video, patch_size=patch, channels=channels,
                        channels_mult=tuple(w // channels for w in widths), num_res_blocks=blocks, z_channels=z,
                        levels=levels, spatial_compression=spatial, temporal_compression=temporal,
                        attn_down=attn_down, attn_up=attn_up)


def from_reference(state: dict[str, Any], source: str, *, hf_config: dict[str, Any] | None = None):
    """The authors' tensors -> a :class:`tokkit.nn.cosmos.CosmosModel` (shapes checked, one line otherwise)."""
    from tokkit.nn.cosmos import CosmosModel
    from tokkit.nn.weights import load_checked

    canonical = canonical_keys(state)
    model = CosmosModel(infer_config(canonical, source, hf_config, _levels(state, hf_config)))
    load_checked(model, canonical, source)
    return model


def read_release(folder: str | os.PathLike) -> tuple[dict[str, Any], Path]:
    """A release folder's tensors (``autoencoder.jit``, else ``encoder.jit`` + ``decoder.jit``), read as data."""
    from tokkit.nn.weights import read_state_dict

    folder = Path(folder)
    if (folder / "autoencoder.jit").is_file():
        return read_state_dict(folder / "autoencoder.jit"), folder / "autoencoder.jit"
    halves = [folder / "encoder.jit", folder / "decoder.jit"]
    missing = [p.name for p in halves if not p.is_file()]
    if missing:
        raise InputError(f"{folder} lacks {' and '.join(missing)}: a Cosmos release folder holds autoencoder.jit "
                         f"or encoder.jit and decoder.jit")
    state = read_state_dict(halves[0])
    state.update(read_state_dict(halves[1]))
    return state, folder


def is_release(folder: str | os.PathLike) -> bool:
    """Whether ``folder`` holds the authors' TorchScript files (and no tokkit config)."""
    folder = Path(folder)
    return folder.is_dir() and any((folder / name).is_file() for name in JIT_FILES)


def load_release(folder: str | os.PathLike, device: str):
    """A Cosmos release folder as its authors publish it -> its tokenizer on ``device``."""
    from tokkit.codecs.published import read_json

    folder = Path(folder)
    config = folder / "config.json"
    hf_config = read_json(config) if config.is_file() else None
    state, source = read_release(folder)
    if not looks_like(set(state)):
        raise UnsupportedFormatError(f"{source} holds TorchScript tensors, but not a Cosmos discrete tokenizer's")
    return _tokenizer(from_reference(state, str(source.resolve()), hf_config=hf_config), device)


def load(checkpoint: Any, device: str) -> Any:
    """A :class:`tokkit.codecs.published.Checkpoint` of a Cosmos tokenizer -> its tokenizer on ``device``."""
    return _tokenizer(from_reference(checkpoint.state, str(Path(checkpoint.weights).resolve()),
                                     hf_config=checkpoint.hf_config), device)


def _tokenizer(model: Any, device: str) -> Any:
    if model.config.video:
        from tokkit.codecs.video.cosmos import CosmosVideoTokenizer

        return CosmosVideoTokenizer(model, device=device)
    return CosmosImageTokenizer(model, device=device)


def load_saved(directory: str | os.PathLike, config: dict, *, device: str = "auto"):
    """Registry loader for converted folders (config.json "kind": "image.published_cosmos" / "video.published_cosmos")."""
    from tokkit.core.device import resolve_device

    device = resolve_device(device)  # a bad device fails before any weights are read
    from tokkit.codecs.published import load_saved_model
    from tokkit.nn.cosmos import CosmosConfig, CosmosModel

    return _tokenizer(load_saved_model(CosmosModel(CosmosConfig.from_dict(config)), directory), device)


# -- sizes: the policy shared by pictures and video frames ----------------------------------------------
def coded_size(width: int, height: int, size: int | None) -> tuple[int, int]:
    """The size a width x height picture is coded at: downscaled (aspect kept) so its longer side is at most
    ``size`` (default :data:`DEFAULT_SIZE`), never upscaled."""
    limit = DEFAULT_SIZE if size is None else size
    scale = min(1.0, limit / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def grid_for(width: int, height: int, factor: int) -> tuple[int, int]:
    """Tokens per row and per column for a coded picture: its sides rounded up to multiples of ``factor``."""
    return -(-width // factor), -(-height // factor)


def to_canvas(image: Image.Image, coded: tuple[int, int], factor: int) -> np.ndarray:
    """RGB picture -> (H, W, 3) uint8 canvas: resized to ``coded`` (Lanczos) if needed, then extended right
    and down by repeating its edge pixels to multiples of ``factor``."""
    if image.size != coded:
        image = image.resize(coded, Image.Resampling.LANCZOS, reducing_gap=3.0)
    array = np.asarray(image, dtype=np.uint8)
    columns, rows = grid_for(*coded, factor)
    return np.pad(array, ((0, rows * factor - coded[1]), (0, columns * factor - coded[0]), (0, 0)), mode="edge")


def from_canvas(array: np.ndarray, coded: tuple[int, int], size: tuple[int, int]) -> Image.Image:
    """Decoded canvas (H, W, 3) uint8 -> the picture at its original ``size``: the coded region cropped,
    resized back (bicubic) when the picture was downscaled."""
    picture = Image.fromarray(np.ascontiguousarray(array[:coded[1], :coded[0]]), "RGB")
    return picture if picture.size == tuple(size) else picture.resize(tuple(size), Image.Resampling.BICUBIC)


SIZE_OPTION = Option("size", int, None, f"code the picture (every frame) with its longer side at most this many "
                     f"pixels: larger inputs are downscaled first (aspect kept) and restored on decode; default "
                     f"{DEFAULT_SIZE}", low=16, high=MAX_SIDE, metavar="PIXELS")


class CosmosImageTokenizer(PublishedWeights, ImageTokenizer):
    """Cosmos DI: ``encode`` a picture -> an (h, w) grid of FSQ codes (one per s x s pixels); ``decode`` ->
    the picture at its original size. ``device`` is "auto", "cpu" or "cuda".

    Sizes: see :func:`coded_size` and :func:`to_canvas`; the tokens record the original and the coded size.
    """

    kind: ClassVar[str] = KIND
    meta_schema: ClassVar[dict] = {
        "image_size": IntList(2, 1, 1 << 20, required=True), "coded_size": IntList(2, 1, MAX_SIDE, required=True),
    }
    options: ClassVar[tuple[Option, ...]] = (SIZE_OPTION,)

    @property
    def max_tokens(self) -> int:
        """Tokens of the largest picture (MAX_SIDE x MAX_SIDE)."""
        return grid_for(MAX_SIDE, MAX_SIDE, self.config.spatial_compression)[0] ** 2

    def encode(self, item: Any, *, size: int | None = None) -> Tokens:
        """Encode a Pillow image, a numpy array ((H, W) or (H, W, 3|4)) or image file bytes -> (h, w) codes."""
        return self.encode_batch([item], size=size)[0]

    def encode_file(self, path: str | os.PathLike, *, size: int | None = None) -> Tokens:
        """Read an image file (PNG, JPEG, WebP, ...; any mode) and encode it."""
        from tokkit.codecs.image.io import read_rgb

        return self.encode(read_rgb(path), size=size)

    def encode_batch(self, items: Sequence[Any], *, size: int | None = None) -> list[Tokens]:
        """Encode pictures one at a time (the network is convolutional: a batch saves no work per pixel, and
        a picture's codes must not depend on the batch it came in)."""
        import torch

        factor = self.config.spatial_compression
        out = []
        for item in items:
            image = self._as_rgb(item)
            coded = coded_size(*image.size, size)
            canvas = to_canvas(image, coded, factor)
            pixels = torch.from_numpy(canvas).to(self.device).permute(2, 0, 1)[None].float().div(127.5).sub(1.0)
            codes = self.model.encode(pixels)[0].cpu().numpy().astype(np.int64)
            meta = self.base_meta()
            meta.update(image_size=list(image.size), coded_size=list(coded))
            out.append(Tokens(codes, meta))
        return out

    def decode_batch(self, batch: Sequence[Tokens | np.ndarray]) -> list[Image.Image]:
        """Decode grids one at a time (as encode_batch) -> pictures at their original sizes."""
        import torch

        results = []
        for tokens in batch:
            codes, coded, original = self._check_grid(tokens)
            pixels = self.model.decode(torch.from_numpy(codes)[None].to(self.device))
            array = pixels[0].add(1.0).mul(127.5).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).cpu().numpy()
            results.append(from_canvas(array, coded, original))
        return results

    def decode(self, tokens: Tokens | np.ndarray | Sequence[int]) -> Image.Image:
        """Tokens -> the picture at its original size; a bare (h, w) code grid -> an (h*s, w*s) picture."""
        return self.decode_batch([tokens])[0]

    def validate_meta(self, tokens: Tokens) -> None:
        """The coded size is the original's (or smaller, aspect kept) and the grid covers it exactly."""
        width, height = tokens.meta["image_size"]
        coded = tokens.meta["coded_size"]
        if coded[0] > width or coded[1] > height:
            raise bad_field("coded_size", coded, f"at most the image_size {[width, height]}")
        expected = grid_for(coded[0], coded[1], self.config.spatial_compression)
        if tokens.codes.shape != (expected[1], expected[0]):
            raise bad_field("coded_size", coded, f"a size whose token grid is {tokens.codes.shape[::-1]}")

    def _check_grid(self, tokens: Tokens | np.ndarray | Sequence[int]) -> tuple[np.ndarray, tuple[int, int], tuple[int, int]]:
        codes, meta = self.codes_and_meta(tokens)
        factor = self.config.spatial_compression
        limit = MAX_SIDE // factor
        if codes.ndim != 2 or not (1 <= codes.shape[0] <= limit and 1 <= codes.shape[1] <= limit):
            raise InputError(f"Cosmos image tokens must be an (h, w) grid with sides 1..{limit}, got shape {codes.shape}")
        if codes.min() < 0 or codes.max() >= self.codebook_size:
            raise InputError(f"image codes must lie in [0, {self.codebook_size}); these tokens are corrupted")
        if isinstance(tokens, Tokens):
            return codes, tuple(meta["coded_size"]), tuple(meta["image_size"])
        full = (codes.shape[1] * factor, codes.shape[0] * factor)
        return codes, full, full

    def describe(self) -> dict[str, Any]:
        facts = super(ImageTokenizer, self).describe()
        c = self.config
        facts.update(model=c.name, spatial_compression=c.spatial_compression, fsq_levels=list(c.levels),
                     codebook_size=c.codebook_size, default_size=DEFAULT_SIZE,
                     parameters=sum(p.numel() for p in self.model.parameters()))
        return facts

    @classmethod
    def example_tokenizer(cls) -> "CosmosImageTokenizer":
        """A tiny random-weight DI (for the contract tests)."""
        from tokkit.nn.cosmos import CosmosConfig

        return cls(example_model(CosmosConfig(name="cosmos_di_tiny", channels=32, channels_mult=(1, 1),
                                              num_res_blocks=1, z_channels=8, spatial_compression=8)), device="cpu")


def example_model(config: Any) -> Any:
    """A random-weight Cosmos network whose codes vary with the input (norms near unit scale)."""
    import torch

    from tokkit.nn.cosmos import CosmosModel

    torch.manual_seed(0)
    model = CosmosModel(config)
    with torch.no_grad():
        for name, value in model.named_parameters():
            if value.ndim == 1:
                value.copy_(torch.randn_like(value) * 0.1 + (1.0 if ".norm" in name and name.endswith("weight") else 0.0))
        # wider pre-quantization latents: a random 1x1 conv leaves them near zero (one code everywhere)
        weight = model.quant_conv.conv3d.weight if config.video else model.quant_conv.weight
        weight.mul_(8.0)
    return model

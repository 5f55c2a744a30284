"""``PublishedImageTokenizer``: a ported TiTok / One-D-Piece checkpoint behind the image tokenizer's interface.

Reading, resizing and restoring pictures, batching and token files are those of
:class:`tokkit.codecs.image.tokenizer.ImageTokenizer`; this class changes what the port differs in:
the identity (numeric config + float32 weights, equal for the authors' file and the converted folder),
an exact ``save``, and the token count: One-D-Piece decodes any prefix (``tokens`` K keeps the first K),
TiTok only all of its N tokens.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from tokkit.codecs.image.published.titok import KIND
from tokkit.codecs.image.tokenizer import ImageTokenizer
from tokkit.codecs.published import PublishedWeights
from tokkit.core.tokenizer import Option
from tokkit.errors import InputError


class PublishedImageTokenizer(PublishedWeights, ImageTokenizer):
    """A published 1D image tokenizer: ``encode`` a picture -> (K,) codes; ``decode`` -> a picture.

    ``device`` is "auto", "cpu" or "cuda".
    """

    kind: ClassVar[str] = KIND
    options: ClassVar[tuple[Option, ...]] = (
        Option("tokens", int, None, "keep the first K tokens of each picture (One-D-Piece: any K, fewer tokens, "
               "coarser picture; TiTok: only all N); default: all N", low=1, high="max_tokens", metavar="K"),
    )

    def _check_count(self, tokens: int | None) -> int:
        count = super()._check_count(tokens)
        self._check_prefix(count)
        return count

    def _check_codes(self, tokens: Any) -> tuple[np.ndarray, Any]:
        codes, placement = super()._check_codes(tokens)
        self._check_prefix(codes.size)
        return codes, placement

    def _check_prefix(self, count: int) -> None:
        if count != self.max_tokens and not self.config.prefix_decodes:
            raise InputError(f"{self.config.name} decodes only all {self.max_tokens} of its tokens, not {count} "
                             f"(TiTok was not trained on prefixes; One-D-Piece checkpoints decode any prefix)")

    def describe(self) -> dict[str, Any]:
        facts = super(ImageTokenizer, self).describe()
        c = self.config
        facts.update(model=c.name, family=c.family, image_size=c.image_size, patch_size=c.patch_size,
                     max_tokens=c.num_tokens, prefix_decodes=c.prefix_decodes, bits_per_token=c.bits_per_token,
                     codebook_size=c.codebook_size,
                     parameters=sum(p.numel() for p in self.model.parameters()))
        return facts

    @classmethod
    def example_tokenizer(cls) -> "PublishedImageTokenizer":
        """A tiny random-weight One-D-Piece-style model (for the contract tests)."""
        import torch

        from tokkit.codecs.image.published.titok import TiTokConfig, TiTokModel
        from tokkit.nn.vqgan import VQGANDecoderConfig

        torch.manual_seed(0)
        config = TiTokConfig(name="one-d-piece_tiny", family="one-d-piece", image_size=32, patch_size=8, num_tokens=8,
                             codebook_size=64, token_size=8, encoder_width=64, encoder_depth=1, encoder_heads=2,
                             decoder_width=64, decoder_depth=1, decoder_heads=2, pixel_codes=32,
                             pixel_decoder=VQGANDecoderConfig(z_channels=16, hidden_channels=32, channel_mult=(1, 1, 1, 1),
                                                              num_res_blocks=1))
        model = TiTokModel(config)
        with torch.no_grad():
            for name, value in model.named_parameters():
                if value.ndim == 1 and name.endswith("weight"):
                    continue  # norms keep their unit scale
                value.normal_(0, 0.2)
            model.quantizer.codebook.copy_(torch.nn.functional.normalize(torch.randn(64, 8), dim=-1))
        tokenizer = cls(model, device="cpu")
        # codes that tell the example pictures apart: half the codebook from their own latents
        from tokkit.codecs.image.io import to_model_input

        arrays = [to_model_input(picture, config.image_size)[0] for picture in tokenizer.example_inputs(3, seed=1)]
        pixels = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float() / 127.5 - 1
        with torch.no_grad():
            latents = model.latents(pixels).reshape(-1, config.token_size)
            model.quantizer.codebook[:latents.shape[0]] = torch.nn.functional.normalize(latents, dim=-1)[:64]
        return tokenizer

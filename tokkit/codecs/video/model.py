"""The causal video tokenizer network: the 1D image tokenizer (tokkit.codecs.image.model) per frame,
plus a cheap temporal path from the previously *decoded* frame.

Frame 0 goes through the image model unchanged. For frame t > 0 the decoded frame t-1 (a function of
earlier tokens only, so encoder and decoder agree on it) is patchified and

- added to the encoder's patch tokens, together with the difference frame t - (decoded t-1), so the
  encoder can spend its tokens on what changed;
- added to the decoder's pixel queries, and blended in at the output by a learned per-pixel gate
  (output = fresh + gate * (previous - fresh)), so a static region costs almost nothing.

With ``prediction = "residual"`` (version 2) the P-frame path is an explicit refinement instead: the
encoder codes the residual RESIDUAL_GAIN * (frame t - decoded t-1) (with the decoded frame and the
difference as context, as above) and the decoder outputs decoded t-1 + a decoded correction, so a static
region keeps what earlier frames sent and every frame's tokens add detail on top (no gate).

Every temporal layer starts at zero (the gate at sigmoid(-4) = 2 %): at step 0 the model is the image
tokenizer up to that 2 % blend, so training
warm-starts from the shipped image weights. A learned "predicted frame" embedding on the latent tokens
lets P-frames use their tokens differently from I-frames. No attention across frames: the sequence
length stays that of one picture and the cost per frame that of the image model (x2 when encoding, since
the encoder decodes each frame to get the next frame's context).
"""

from __future__ import annotations

import torch
from torch import nn

from tokkit.codecs.image.model import ImageCodecModel
from tokkit.codecs.video.config import VideoCodecConfig


#: the copy gate is sigmoid(linear - offset): it starts almost closed
COPY_GATE_OFFSET = 4.0
#: residual prediction: the encoder sees RESIDUAL_GAIN x the residual (residuals are small; the frame
#: model was trained on pictures in [-1, 1]) and the correction head starts as patch_out / RESIDUAL_GAIN
RESIDUAL_GAIN = 2.0


def _zero_linear(fan_in: int, fan_out: int) -> nn.Linear:
    layer = nn.Linear(fan_in, fan_out)
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


class VideoCodecModel(nn.Module):
    """frames (B, 3, S, S) in [-1, 1] + previous decoded frames (B, 3, S, S) or None <-> (B, N) indices."""

    def __init__(self, config: VideoCodecConfig) -> None:
        super().__init__()
        self.config = config
        self.frame = ImageCodecModel(config.image_config())
        width, patch_dim = config.width, 3 * config.patch_size**2
        self.encoder_context = _zero_linear(2 * patch_dim, width)
        self.decoder_context = _zero_linear(patch_dim, width)
        if config.prediction == "residual":
            self.correction = nn.Linear(width, patch_dim)
            with torch.no_grad():
                self.correction.weight.copy_(self.frame.patch_out.weight / RESIDUAL_GAIN)
                self.correction.bias.copy_(self.frame.patch_out.bias / RESIDUAL_GAIN)
        else:
            self.copy_gate = _zero_linear(width, patch_dim)
        self.predicted_frame = nn.Parameter(torch.zeros(width))

    # -- one frame ------------------------------------------------------------------------------
    def encode_latents(self, frames: torch.Tensor, previous: torch.Tensor | None) -> torch.Tensor:
        """frames (B, 3, S, S), previous decoded frames (B, 3, S, S) or None -> latents (B, N, width)."""
        if previous is None:
            return self.frame.encode_latents(frames)
        before, now = self.frame.patchify(previous), self.frame.patchify(frames)
        context = self.encoder_context(torch.cat([before, now - before], dim=-1))
        source = RESIDUAL_GAIN * (frames - previous) if self.config.prediction == "residual" else frames
        return self.frame.encode_latents(source, patch_extra=context, latent_extra=self.predicted_frame)

    def decode_quantized(self, quantized: torch.Tensor, keep: torch.Tensor, previous: torch.Tensor | None) -> torch.Tensor:
        """Quantized latents (B, N, width), kept prefix lengths (B,), previous frames or None -> frames (B, 3, S, S)."""
        if previous is None:
            return self.frame.decode_quantized(quantized, keep)
        before = self.frame.patchify(previous)
        hidden = self.frame.decode_hidden(quantized, keep, query_extra=self.decoder_context(before),
                                          latent_extra=self.predicted_frame)
        if self.config.prediction == "residual":
            return self.frame.unpatchify(before + self.correction(hidden))
        fresh = self.frame.patch_out(hidden)
        gate = torch.sigmoid(self.copy_gate(hidden) - COPY_GATE_OFFSET)
        return self.frame.unpatchify(fresh + gate * (before - fresh))

    def forward(self, frames: torch.Tensor, keep: torch.Tensor, previous: torch.Tensor | None) -> torch.Tensor:
        """Training pass for one frame of B clips: (B, 3, S, S), keep (B,) in 1..N -> reconstruction (B, 3, S, S)."""
        quantized, _, _ = self.frame.quantizer(self.encode_latents(frames, previous))
        return self.decode_quantized(quantized, keep, previous)

    def unroll(self, clips: torch.Tensor, keep: torch.Tensor, previous: torch.Tensor | None = None) -> torch.Tensor:
        """Training pass over clips (B, T, 3, S, S) with per-frame kept lengths keep (B, T) -> (B, T, 3, S, S).

        Each frame's context is the previous reconstruction, detached (closed loop, as at inference);
        ``previous`` (B, 3, S, S), if given, is frame 0's context (a clip that started earlier)."""
        outputs = []
        for t in range(clips.shape[1]):
            out = self(clips[:, t], keep[:, t], previous)
            outputs.append(out)
            previous = out.detach().clamp(-1, 1)
        return torch.stack(outputs, dim=1)

    # -- inference --------------------------------------------------------------------------------
    def _full(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        batch, length = indices.shape
        full = torch.zeros(batch, self.config.num_tokens, dtype=torch.long, device=indices.device)
        full[:, :length] = indices
        return self.frame.quantizer.decode(full), torch.full((batch,), length, dtype=torch.long, device=indices.device)

    @torch.inference_mode()
    def encode_step(self, frames: torch.Tensor, previous: torch.Tensor | None, count: int) -> tuple[torch.Tensor, torch.Tensor]:
        """One causal step: frames (B, 3, S, S), previous decoded frames or None, K -> (indices (B, K),
        decoded frames (B, 3, S, S) in [-1, 1], the next step's context)."""
        indices = self.frame.quantizer.encode(self.encode_latents(frames, previous))[:, :count]
        return indices, self.decode_step(indices, previous)

    @torch.inference_mode()
    def decode_step(self, indices: torch.Tensor, previous: torch.Tensor | None) -> torch.Tensor:
        """indices (B, K), 1 <= K <= N, previous decoded frames or None -> frames (B, 3, S, S) in [-1, 1]."""
        quantized, keep = self._full(indices)
        return self.decode_quantized(quantized, keep, previous).clamp(-1, 1)

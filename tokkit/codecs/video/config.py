"""The video tokenizer's configuration: the per-frame 1D image tokenizer's sizes plus the frame rate."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from tokkit.codecs.image.config import ImageCodecConfig
from tokkit.errors import InputError

KIND = "video.causal"

#: how a frame t > 0 is predicted: "gate" (version 1, blend a fresh frame with the previous decoded one)
#: or "residual" (version 2, previous decoded frame + a decoded correction, so detail accumulates)
PREDICTIONS = ("gate", "residual")


@dataclasses.dataclass
class VideoCodecConfig(ImageCodecConfig):
    """An :class:`ImageCodecConfig` (frame size, patches, N tokens per frame, FSQ, ViT sizes) plus ``fps``.

    Frame 0 of a clip is coded exactly as the image tokenizer codes a picture; frame t > 0 is coded with
    the decoded frame t-1 as context (closed loop: the encoder decodes what the decoder will see).
    """

    kind: ClassVar[str] = KIND

    num_tokens: int = 40  # 60 bytes per frame at most: room above WebP's smallest files (about 52 bytes)
    fps: float = 16.0
    prediction: str = "gate"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 1.0 <= self.fps <= 120.0:
            raise InputError(f"fps must lie in [1, 120], got {self.fps}")
        if self.prediction not in PREDICTIONS:
            raise InputError(f"prediction must be one of {list(PREDICTIONS)}, got {self.prediction!r}")

    def to_dict(self) -> dict[str, Any]:
        """As the base class; ``prediction`` is left out when it is "gate", so a version-1 model keeps
        its config (and its identity hash, which token files carry) unchanged."""
        data = super().to_dict()
        if data.get("prediction") == "gate":
            del data["prediction"]
        return data

    def image_config(self) -> ImageCodecConfig:
        """The per-frame image tokenizer's config (every field but ``fps``)."""
        fields = {f.name for f in dataclasses.fields(ImageCodecConfig)}  # not fps, not prediction
        return ImageCodecConfig(**{k: v for k, v in dataclasses.asdict(self).items() if k in fields})

    @classmethod
    def from_image(cls, image: ImageCodecConfig, **extra: Any) -> "VideoCodecConfig":
        """A video config whose frame model is ``image`` (to warm-start from image weights)."""
        return cls(**dataclasses.asdict(image), **extra)

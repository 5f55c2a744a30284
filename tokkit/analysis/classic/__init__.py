"""Classic codecs as anchors for tokenizers: each codec coded at a ladder of settings (quality, scale, mode),
so that a tokenizer's payload can be compared with the best classic setting that fits the same bytes.

One module per modality (:mod:`.audio`: Codec2 and Opus; :mod:`.image`: JPEG, WebP, AVIF; :mod:`.video`:
x264, x265, VP9, SVT-AV1; :mod:`.shape`: decimation, clustering and Draco). Each offers ``available()``
(codec name -> None, or why it cannot run on this machine) and ``ladder(name, reference)``: the
:class:`Coded` results of every setting. A codec whose tool or library is missing is skipped with that
note by callers, never a crash.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Coded:
    """One classic setting applied to one input: its size in bytes (whole file or stream, headers
    included), the decoded result (same form as the reference), a label and the seconds it took
    (NaN where a coder does not measure them)."""

    bytes: float
    decoded: Any
    setting: str
    encode_s: float = math.nan  # NaN where not measured
    decode_s: float = math.nan
    #: the setting's parameters (e.g. {"quality": 30, "scale": 48})
    params: dict = field(default_factory=dict)

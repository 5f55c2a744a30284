"""Cut a long text where the pre-tokenizer is known to cut anyway, so pieces can be encoded in parallel.

For the patterns below (GPT-2, cl100k, o200k, Llama 3) no pre-token can span a line break that
follows a printable ASCII character and precedes an ASCII letter, and nothing after such a cut
depends on what came before it; encoding the pieces separately therefore gives the same ids.
"""

from __future__ import annotations

import re

from tokkit.text.hf_json import HF_BYTE_LEVEL_PATTERN
from tokkit.text.ranks_to_hf import oniguruma_pattern
from tokkit.text.tiktoken_files import CL100K_PATTERN, GPT2_PATTERN, O200K_PATTERN

LLAMA3_PATTERN = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
                  r"""|\s*[\r\n]+|\s+(?!\S)|\s+""")

#: pre-tokenizer patterns for which :data:`SAFE_CUT` is a pre-token boundary
CUTTABLE_PATTERNS = frozenset({
    GPT2_PATTERN, HF_BYTE_LEVEL_PATTERN, CL100K_PATTERN, oniguruma_pattern(CL100K_PATTERN),
    O200K_PATTERN, LLAMA3_PATTERN,
})

#: a line break after a printable ASCII character and before an ASCII letter; the cut goes after the break
SAFE_CUT = re.compile(r"[!-~]\n[A-Za-z]")


def cut_points(text: str, pieces: int) -> list[int]:
    """Offsets (increasing, excluding 0 and len) that split ``text`` into about ``pieces`` similar parts."""
    if pieces <= 1:
        return []
    step = len(text) // pieces
    points = []
    for part in range(1, pieces):
        match = SAFE_CUT.search(text, max(part * step, points[-1] if points else 0))
        if match is None:
            break
        cut = match.start() + 2
        if not points or cut > points[-1]:
            points.append(cut)
    return points


def split_text(text: str, pieces: int) -> list[str]:
    """``text`` cut at :func:`cut_points`; the parts concatenate to ``text``."""
    bounds = [0, *cut_points(text, pieces), len(text)]
    return [text[start:end] for start, end in zip(bounds, bounds[1:])]

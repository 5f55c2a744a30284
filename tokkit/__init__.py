"""tokkit: tokenizers and codecs for multimodal language models.

``tokkit.load(path_or_name)`` returns a :class:`Tokenizer`; ``tokkit.save_tokens`` and
``tokkit.load_tokens`` read and write the one token-file format. Heavy modules load on first use.
"""

from __future__ import annotations

from tokkit.core.container import load_tokens, save_tokens
from tokkit.core.registry import load
from tokkit.core.tokenizer import Tokenizer
from tokkit.core.tokens import Tokens
from tokkit.errors import TokkitError

__all__ = ["Tokenizer", "Tokens", "TokkitError", "load", "load_tokens", "save_tokens"]
__version__ = "0.1.0"

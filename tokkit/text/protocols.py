"""The slice of a text tokenizer that byte-level analyses need (ByteLM, dynamic merging).

``tokkit.text.bpe.BPETokenizer`` satisfies it; so does any object with these members.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol, Sequence, runtime_checkable

import numpy as np

#: a language model over token ids: a batch of contexts (lists of ids) -> next-token
#: log-probabilities, a float array of shape [batch, vocab]
LanguageModel = Callable[[list[list[int]]], np.ndarray]


@runtime_checkable
class ByteTokenizer(Protocol):
    """A tokenizer whose tokens are exact byte strings and whose encoding is a function of the bytes."""

    @property
    def vocab_size(self) -> int: ...

    def encode_ids(self, text: str | bytes) -> list[int]: ...

    def decode(self, ids: Sequence[int]) -> bytes: ...

    def token_bytes(self, token_id: int) -> bytes: ...

    def pretokenize(self, text: bytes) -> list[bytes]: ...

    @property
    def special_tokens(self) -> Any: ...


def special_token_ids(tokenizer: ByteTokenizer) -> set[int]:
    """Ids of the tokenizer's special tokens, whether it lists them as a name->id map or as ids."""
    specials = getattr(tokenizer, "special_tokens", None) or ()
    if isinstance(specials, dict):
        values = specials.values()
    else:
        values = specials
    ids: set[int] = set()
    for value in values:
        if isinstance(value, (int, np.integer)):
            ids.add(int(value))
        elif isinstance(value, (list, tuple)):
            ids.update(int(v) for v in value)
    return ids

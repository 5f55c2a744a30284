"""The one BPE merge core of tokkit: the merge loop, and merge lists recovered from tiktoken ranks.

- :func:`merge_loop` repeatedly merges the lowest-ranked adjacent pair; tiktoken's rank-table BPE
  (:func:`byte_pair_split`) and merge-list BPE (:func:`encode_with_merges`, :func:`apply_merges`) are
  that loop with two rank functions.
- A rank table lists tokens, not merges. :func:`merges_from_ranks` recovers the merge list: by default
  the one split BPE makes of each token (what training created); with ``every_split`` each split into
  two ranked tokens (what an HF file needs to encode as tiktoken does, as Llama 3's is written).
  :func:`dedupe_merges` goes back from such an every-split list to the splits BPE makes.
"""

from __future__ import annotations

from typing import Callable, Sequence, TypeVar

Symbol = TypeVar("Symbol", str, bytes)


def merge_loop(parts: list[Symbol], rank: Callable[[Symbol, Symbol], int | None]) -> list[Symbol]:
    """Merge the lowest-ranked adjacent pair (leftmost on ties) until no pair has a rank; in place.

    ``rank(left, right)`` is the pair's rank, or None if the pair never merges.
    """
    while len(parts) > 1:
        best_index, best_rank = -1, None
        for index in range(len(parts) - 1):
            found = rank(parts[index], parts[index + 1])
            if found is not None and (best_rank is None or found < best_rank):
                best_index, best_rank = index, found
        if best_index < 0:
            break
        parts[best_index:best_index + 2] = [parts[best_index] + parts[best_index + 1]]
    return parts


def byte_pair_split(ranks: dict[bytes, int], token: bytes, max_rank: int = 1 << 62) -> list[bytes]:
    """Byte-pair-merge ``token`` using only ranks below ``max_rank`` (tiktoken's algorithm: a pair merges
    at the rank of the token it makes)."""

    def rank(left: bytes, right: bytes) -> int | None:
        found = ranks.get(left + right)
        return found if found is not None and found < max_rank else None

    return merge_loop([token[i:i + 1] for i in range(len(token))], rank)


def encode_with_merges(parts: list[Symbol], merge_ranks: dict[tuple[Symbol, Symbol], int]) -> list[Symbol]:
    """BPE of a symbol list by a merge list (pair -> its index in the list, as HF's BPE model); in place."""
    return merge_loop(parts, lambda left, right: merge_ranks.get((left, right)))


def merges_from_ranks(ranks: dict[bytes, int], *, every_split: bool = False) -> list[tuple[bytes, bytes]]:
    """The merge list, in rank order, that rebuilds the multi-byte tokens of a rank table.

    Default: each token's merge is the last step of tiktoken's algorithm run on the token's own bytes
    with the lower-ranked tokens only. A token that this cannot build (Llama 3 has a few) is never
    produced by merging, only by whole-piece lookup, so it has no merge and is left out.

    ``every_split``: each (left, right) with left, right and left+right all ranked, ordered by the rank
    of left+right, then of left, then of right (the conversion Llama 3's published tokenizer.json uses).
    """
    if every_split:
        found = []
        for token, rank in ranks.items():
            for cut in range(1, len(token)):
                left, right = token[:cut], token[cut:]
                left_rank, right_rank = ranks.get(left), ranks.get(right)
                if left_rank is not None and right_rank is not None:
                    found.append((rank, left_rank, right_rank, left, right))
        found.sort()
        return [(left, right) for *_, left, right in found]
    merges = []
    for token, rank in sorted(ranks.items(), key=lambda item: item[1]):
        if len(token) < 2:
            continue
        parts = byte_pair_split(ranks, token, rank)
        if len(parts) == 2:
            merges.append((parts[0], parts[1]))
    return merges


def dedupe_merges(merges: Sequence[tuple[str, str]]) -> tuple[list[tuple[str, str]], int]:
    """Keep one merge per resulting token.

    Files converted from SentencePiece or tiktoken list every split (a, b) of a token whose parts are
    both in the vocabulary; training created the token once. The kept split is the one BPE itself
    produces: encoding the token with the merges kept before it must leave exactly these two parts.
    Returns the merges in order of first appearance of each product, and how many were dropped.
    """
    products: dict[str, list[tuple[str, str]]] = {}
    for left, right in merges:
        products.setdefault(left + right, []).append((left, right))
    if len(products) == len(merges):
        return list(merges), 0
    merge_ranks: dict[tuple[str, str], int] = {}
    kept: list[tuple[str, str]] = []
    for product, splits in products.items():
        choice = splits[0]
        if len(splits) > 1:
            parts = encode_with_merges(list(product), merge_ranks)
            if len(parts) == 2 and (parts[0], parts[1]) in splits:
                choice = (parts[0], parts[1])
        merge_ranks[choice] = len(kept)
        kept.append(choice)
    return kept, len(merges) - len(kept)


def apply_merges(words: Sequence[str], merges: Sequence[tuple[str, str]], suffix: str = "") -> list[list[str]]:
    """Each word's symbols after BPE by ``merges`` (its characters, the last carrying the end-of-word
    ``suffix``, merged lowest index first): :func:`encode_with_merges` for many words at once, run by
    HF tokenizers' BPE model (the same loop in Rust, fast on long words)."""
    if not merges:
        return [list(w[:-1]) + [w[-1] + suffix] if suffix else list(w) for w in words]
    from tokenizers.models import BPE

    vocab: dict[str, int] = {}
    for left, right in merges:
        for token in (left, right, left + right):
            vocab.setdefault(token, len(vocab))
    for word in words:
        for i, char in enumerate(word):
            vocab.setdefault(char + suffix if suffix and i == len(word) - 1 else char, len(vocab))
    model = BPE(vocab, list(merges), end_of_word_suffix=suffix) if suffix else BPE(vocab, list(merges))
    return [[token.value for token in model.tokenize(word)] for word in words]

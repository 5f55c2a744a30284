"""Dynamic, batch-level token merging (Feher, Vulić, Minixhofer, 2024).

BPE run on the token ids of one batch: repeatedly merge the most frequent adjacent pair into a new
token, never across a pre-token (or word) boundary, so sequences get shorter without changing their
bytes. New ids start at the tokenizer's vocabulary size; ``fvt_embeddings`` gives them embeddings
as the mean of their base tokens' rows (fast vocabulary transfer).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from tokkit.errors import InputError
from tokkit.text.protocols import ByteTokenizer, special_token_ids

BOUNDARIES = ("pretoken", "word")
_WHITESPACE = frozenset(b" \t\n\r\x0b\x0c")


@dataclass(frozen=True)
class NewToken:
    """A token made by merging ``pair`` (base or earlier new ids); ``pieces`` are its base-token ids."""

    id: int
    bytes: bytes
    pair: tuple[int, int]
    pieces: tuple[int, ...]


@dataclass
class MergeResult:
    """Merged sequences, the new tokens in merge order (ids base_vocab_size, +1, ...), and lengths."""

    sequences: list[np.ndarray]
    new_tokens: list[NewToken]
    base_vocab_size: int
    lengths_before: np.ndarray
    lengths_after: np.ndarray

    def expand(self, ids: Sequence[int]) -> np.ndarray:
        """The base-vocabulary ids a merged sequence stands for."""
        out: list[int] = []
        for token in np.asarray(ids, dtype=np.int64).tolist():
            if token >= self.base_vocab_size:
                out.extend(self.new_tokens[token - self.base_vocab_size].pieces)
            else:
                out.append(token)
        return np.array(out, dtype=np.int64)

    def decode(self, ids: Sequence[int], tokenizer: ByteTokenizer) -> bytes:
        """The exact bytes of a merged sequence (the same bytes as the sequence before merging)."""
        return bytes(tokenizer.decode(self.expand(ids).tolist()))

    @property
    def reduction(self) -> float:
        """Fraction of tokens removed over the whole batch (0.147 = 14.7% shorter)."""
        before = int(self.lengths_before.sum())
        return 1.0 - int(self.lengths_after.sum()) / before if before else 0.0

    def statistics(self) -> dict[str, Any]:
        """Per-item and total sequence lengths before and after merging (JSON-ready)."""
        return {
            "merges": len(self.new_tokens),
            "total_before": int(self.lengths_before.sum()),
            "total_after": int(self.lengths_after.sum()),
            "reduction": round(self.reduction, 6),
            "items": [{"before": int(b), "after": int(a)} for b, a in zip(self.lengths_before, self.lengths_after)],
        }


def _check_batch(batch_ids: Sequence[Sequence[int]], vocab_size: int) -> list[np.ndarray]:
    if batch_ids is None or len(batch_ids) == 0:
        raise InputError("dynamic_merge got an empty batch; pass at least one sequence of token ids")
    sequences = []
    for index, ids in enumerate(batch_ids):
        array = np.asarray(ids)
        if array.ndim != 1 or (array.size and array.dtype.kind not in "iu"):
            raise InputError(f"sequence {index} is not a flat list of integer token ids")
        array = array.astype(np.int64)
        bad = (array < 0) | (array >= vocab_size)
        if bad.any():
            raise InputError(f"sequence {index} holds id {int(array[bad][0])}, outside the tokenizer's vocabulary "
                             f"[0, {vocab_size}); were these ids made by another tokenizer?")
        sequences.append(array)
    return sequences


def _joinable(ids: list[int], data: list[bytes], tokenizer: ByteTokenizer, boundary: str,
              specials: set[int]) -> list[bool]:
    """For each junction (after token j), whether tokens j and j+1 may merge."""
    if boundary == "word":
        out = [bool(data[j]) and bool(data[j + 1]) and data[j][-1] not in _WHITESPACE
               and data[j + 1][0] not in _WHITESPACE for j in range(len(ids) - 1)]
    else:
        stream = b"".join(data)
        pieces = tokenizer.pretokenize(tokenizer.decode(ids))
        # pieces are in token-byte space; a tokenizer that prepends a space to the text (SentencePiece)
        # puts it back, so align both ends of the pieces with the token bytes
        shift = sum(len(piece) for piece in pieces) - len(stream)
        cuts, offset = set(), -shift
        for piece in pieces:
            offset += len(piece)
            cuts.add(offset)
        offsets = np.cumsum([len(d) for d in data]).tolist()
        out = [offsets[j] not in cuts for j in range(len(ids) - 1)]
    return [ok and ids[j] not in specials and ids[j + 1] not in specials for j, ok in enumerate(out)] + [False]


def dynamic_merge(batch_ids: Sequence[Sequence[int]], tokenizer: ByteTokenizer, max_merges: int | None = None,
                  boundary: str = "pretoken", min_count: int = 1) -> MergeResult:
    """Merge the batch's most frequent adjacent pairs, BPE-style, until ``max_merges`` merges are made
    or no pair occurs ``min_count`` times (saturation; with 1, every pre-token becomes one token).

    Pairs never straddle a ``boundary``: "pretoken" (the tokenizer's pre-tokenizer pieces) or "word"
    (whitespace). Ties go to the pair with the smaller (left id, right id), so results are deterministic.
    """
    if boundary not in BOUNDARIES:
        raise InputError(f"boundary must be one of {', '.join(BOUNDARIES)}, not {boundary!r}")
    if max_merges is not None and max_merges < 0:
        raise InputError(f"max_merges must be >= 0, got {max_merges}")
    if min_count < 1:
        raise InputError(f"min_count must be >= 1, got {min_count}")
    base = int(tokenizer.vocab_size)
    sequences = _check_batch(batch_ids, base)
    specials = special_token_ids(tokenizer)
    token_data: dict[int, bytes] = {}

    def data_of(token: int) -> bytes:
        if token not in token_data:
            token_data[token] = bytes(tokenizer.token_bytes(token))
        return token_data[token]

    # one flat doubly linked list over the whole batch; junctions never join two sequences
    tok: list[int] = []
    joinable: list[bool] = []
    starts: list[int] = []
    for array in sequences:
        ids = array.tolist()
        starts.append(len(tok))
        tok.extend(ids)
        if ids:
            joinable.extend(_joinable(ids, [data_of(t) for t in ids], tokenizer, boundary, specials))
    total = len(tok)
    nxt = list(range(1, total + 1))
    prv = list(range(-1, total - 1))
    for start, array in zip(starts, sequences):
        if len(array):
            prv[start] = -1
            nxt[start + len(array) - 1] = -1
    alive = [True] * total

    where: dict[tuple[int, int], set[int]] = {}
    for pos in range(total):
        if joinable[pos]:
            where.setdefault((tok[pos], tok[pos + 1]), set()).add(pos)
    heap = [(-len(spots), a, b) for (a, b), spots in where.items()]
    heapq.heapify(heap)

    new_tokens: list[NewToken] = []
    pieces: dict[int, tuple[int, ...]] = {}
    limit = float("inf") if max_merges is None else max_merges
    while heap and len(new_tokens) < limit:
        neg, a, b = heapq.heappop(heap)
        spots = where.get((a, b))
        count = len(spots) if spots else 0
        if count != -neg:
            if count >= min_count:
                heapq.heappush(heap, (-count, a, b))
            continue
        if count < min_count:
            break
        del where[(a, b)]
        merged = base + len(new_tokens)
        grown: set[tuple[int, int]] = set()
        done = 0
        for p in sorted(spots):
            q = nxt[p]
            if not alive[p] or tok[p] != a or q == -1 or tok[q] != b or not joinable[p]:
                continue
            left, right = prv[p], nxt[q]
            if left != -1 and joinable[left]:
                where.get((tok[left], a), set()).discard(left)
                where.setdefault((tok[left], merged), set()).add(left)
                grown.add((tok[left], merged))
            if right != -1 and joinable[q]:
                where.get((b, tok[right]), set()).discard(q)
                where.setdefault((merged, tok[right]), set()).add(p)
                grown.add((merged, tok[right]))
            tok[p] = merged
            joinable[p] = joinable[q]
            nxt[p] = right
            if right != -1:
                prv[right] = p
            alive[q] = False
            done += 1
        if not done:
            continue
        pieces[merged] = pieces.get(a, (a,)) + pieces.get(b, (b,))
        token_data[merged] = data_of(a) + data_of(b)
        new_tokens.append(NewToken(merged, token_data[merged], (a, b), pieces[merged]))
        for pair in grown:
            spots = where.get(pair)
            if spots:
                heapq.heappush(heap, (-len(spots), pair[0], pair[1]))

    merged_sequences = []
    for start, array in zip(starts, sequences):
        out, pos = [], start if len(array) else -1
        while pos != -1:
            out.append(tok[pos])
            pos = nxt[pos]
        merged_sequences.append(np.array(out, dtype=np.int64))
    return MergeResult(
        sequences=merged_sequences,
        new_tokens=new_tokens,
        base_vocab_size=base,
        lengths_before=np.array([len(s) for s in sequences], dtype=np.int64),
        lengths_after=np.array([len(s) for s in merged_sequences], dtype=np.int64),
    )


def fvt_embeddings(new_tokens: Sequence[NewToken | Sequence[int]], embedding_matrix: Any) -> Any:
    """Embeddings for new tokens: the mean of their base tokens' rows, shape [len(new_tokens), dim].

    ``embedding_matrix`` is a numpy array or a torch tensor of shape [base_vocab, dim] (the result has
    its type); an entry of ``new_tokens`` is a NewToken or a list of base ids, and a one-piece token
    keeps its row exactly.
    """
    vocab = int(embedding_matrix.shape[0])
    rows = []
    for index, token in enumerate(new_tokens):
        ids = list(token.pieces if isinstance(token, NewToken) else token)
        if not ids:
            raise InputError(f"new token {index} has no base pieces")
        if min(ids) < 0 or max(ids) >= vocab:
            raise InputError(f"new token {index} uses base id {max(ids) if max(ids) >= vocab else min(ids)}, outside "
                             f"the embedding matrix's {vocab} rows")
        rows.append(embedding_matrix[ids].mean(0))
    if not rows:
        return embedding_matrix[:0]
    if isinstance(embedding_matrix, np.ndarray):
        return np.stack(rows)
    import torch

    return torch.stack(rows)


def merge_token_items(items: Sequence[Any], tokenizer: ByteTokenizer, max_merges: int | None = None,
                      boundary: str = "pretoken") -> tuple[list[Any], MergeResult]:
    """Dynamic merging over a batch of text ``Tokens``; each merged item records the merge table in
    ``meta["dynamic_merges"]`` so :func:`unmerge_tokens` (and ``tokkit decode``) can undo it."""
    from tokkit.core.tokens import Tokens

    for name in ("token_bytes", "pretokenize", "vocab_size"):
        if not hasattr(tokenizer, name):
            raise InputError(f"dynamic merging needs a text BPE tokenizer; {getattr(tokenizer, 'name', '') or type(tokenizer).__name__} "
                             "has no token bytes or pre-tokenizer")
    result = dynamic_merge([np.asarray(t.codes).reshape(-1) for t in items], tokenizer, max_merges, boundary)
    table = {"base_vocab_size": result.base_vocab_size, "boundary": boundary,
             "pairs": [list(t.pair) for t in result.new_tokens]}
    merged = []
    for tokens, codes in zip(items, result.sequences):
        meta = {**tokens.meta, "dynamic_merges": table,
                "codebook_size": result.base_vocab_size + len(result.new_tokens)}
        merged.append(Tokens(codes, meta))
    return merged, result


#: the most tokens one item may expand to when its merges are undone (int64: 512 MB); more is refused
MAX_UNMERGED_TOKENS = 1 << 26
_MEMO_LENGTH = 32  # expansions up to this long are kept while undoing merges


@dataclass(frozen=True)
class MergeTable:
    """A merge table read from token metadata, checked: new id ``base + i`` stands for ``pairs[i]``, which
    expands to ``lengths[i]`` base tokens (capped at MAX_UNMERGED_TOKENS + 1: sized as integers, never built)."""

    base: int
    pairs: list[tuple[int, int]]
    lengths: list[int]

    @classmethod
    def from_meta(cls, table: Any, what: str = "these tokens") -> "MergeTable":
        """Check a ``meta["dynamic_merges"]`` table: every pair names base ids or earlier new ids."""
        from tokkit.core.meta import Int, IntList, bad_field, check_field

        if not isinstance(table, dict) or not isinstance(table.get("pairs"), list):
            raise bad_field("dynamic_merges", table, "an object with base_vocab_size and a list of pairs", what)
        check_field("dynamic_merges.base_vocab_size", table.get("base_vocab_size"), Int(1, 1 << 40, required=True), what)
        base, cap = table["base_vocab_size"], MAX_UNMERGED_TOKENS + 1
        pairs: list[tuple[int, int]] = []
        lengths: list[int] = []
        for index, pair in enumerate(table["pairs"]):
            check_field(f"dynamic_merges.pairs[{index}]", pair, IntList(2, 0, base + index - 1), what)
            a, b = pair
            pairs.append((a, b))
            lengths.append(min(cap, (lengths[a - base] if a >= base else 1) + (lengths[b - base] if b >= base else 1)))
        return cls(base, pairs, lengths)

    def expanded_length(self, codes: np.ndarray, what: str = "these tokens") -> int:
        """How many base tokens ``codes`` stand for (checked: every code is a base or a new id)."""
        flat = np.asarray(codes).reshape(-1)
        if flat.size and (int(flat.min()) < 0 or int(flat.max()) >= self.base + len(self.pairs)):
            raise InputError(f"{what} hold a token outside their merged vocabulary of {self.base + len(self.pairs)}; "
                             f"the token file is damaged")
        merged = flat[flat >= self.base] - self.base
        if not merged.size:
            return int(flat.size)
        return int(flat.size - merged.size + np.asarray(self.lengths, dtype=np.int64)[merged].sum())

    def expand(self, codes: np.ndarray) -> np.ndarray:
        """The base-vocabulary ids ``codes`` stand for; call :meth:`expanded_length` first to bound them."""
        base, pairs, lengths = self.base, self.pairs, self.lengths
        memo: dict[int, tuple[int, ...]] = {}

        def short(token: int) -> tuple[int, ...]:
            if token < base:
                return (token,)
            found = memo.get(token)
            if found is None:
                a, b = pairs[token - base]
                found = memo[token] = short(a) + short(b)
            return found

        out: list[int] = []
        for code in np.asarray(codes).reshape(-1).tolist():
            stack = [code]
            while stack:
                token = stack.pop()
                if token < base or lengths[token - base] <= _MEMO_LENGTH:
                    out.extend(short(token))
                else:
                    a, b = pairs[token - base]
                    stack.append(b)
                    stack.append(a)
        return np.array(out, dtype=np.int64)


def merged_table(tokens: Any, max_tokens: int = MAX_UNMERGED_TOKENS) -> MergeTable | None:
    """The checked merge table of merged ``tokens`` (None if never merged), refusing, before anything is
    expanded, a table that would make the item longer than ``max_tokens`` base tokens."""
    table = tokens.meta.get("dynamic_merges")
    if table is None:
        return None
    merges = MergeTable.from_meta(table)
    total = merges.expanded_length(tokens.codes)
    if total > max_tokens:
        shown = f"more than {max_tokens}" if total > MAX_UNMERGED_TOKENS else str(total)
        raise InputError(f"the dynamic-merge table of these tokens expands {np.size(tokens.codes)} tokens to {shown} "
                         f"base tokens, above the limit of {max_tokens}: the token file is damaged or hostile")
    return merges


def unmerge_tokens(tokens: Any, max_tokens: int = MAX_UNMERGED_TOKENS) -> Any:
    """Undo :func:`merge_token_items`: the base-vocabulary Tokens (unchanged if never merged).

    The table is checked and the result sized as integers first (:func:`merged_table`); memory and time are
    then proportional to the result, at most ``max_tokens``.
    """
    from tokkit.core.tokens import Tokens

    merges = merged_table(tokens, max_tokens)
    if merges is None:
        return tokens
    meta = {key: value for key, value in tokens.meta.items() if key != "dynamic_merges"}
    meta["codebook_size"] = merges.base
    return Tokens(merges.expand(tokens.codes), meta)

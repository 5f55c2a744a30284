"""dynamic_merge: exact bytes, boundaries respected, same merges as a slow reference BPE, errors."""

from __future__ import annotations

import numpy as np
import pytest

from bytelm_support import CORPUS, make_tokenizer
from tokkit.errors import InputError
from tokkit.text.dynamic_merge import NewToken, dynamic_merge, fvt_embeddings

TEXTS = CORPUS + ["the theme of the thesis is the theory", "cats, hats and bats: that's that!", ""]


def _batch(tokenizer):
    return [tokenizer.encode_ids(t.encode()) for t in TEXTS]


def reference_merge(batch, tokenizer, max_merges, boundary):
    """Textbook batch BPE: recount every pair after every merge; ties to the smallest (left, right)."""
    seqs = [list(s) for s in batch]
    data = {i: tokenizer.token_bytes(i) for s in seqs for i in s}
    # a junction may merge iff it is not a boundary of the original bytes
    def cuts_of(seq):
        if boundary == "word":
            return None
        pieces = tokenizer.pretokenize(tokenizer.decode(seq))
        offsets, offset = set(), len(b"".join(data[t] for t in seq)) - sum(map(len, pieces))
        for piece in pieces:
            offset += len(piece)
            offsets.add(offset)
        return offsets
    cuts = [cuts_of(s) for s in seqs]
    new = []
    while len(new) < max_merges:
        counts = {}
        for seq, cut in zip(seqs, cuts):
            offset = 0
            for j in range(len(seq) - 1):
                offset += len(data[seq[j]])
                left, right = data[seq[j]], data[seq[j + 1]]
                if boundary == "word":
                    ok = left[-1:] not in (b" ", b"\n") and right[:1] not in (b" ", b"\n")
                else:
                    ok = offset not in cut
                if ok:
                    counts[(seq[j], seq[j + 1])] = counts.get((seq[j], seq[j + 1]), 0) + 1
        if not counts:
            break
        pair = min(counts, key=lambda p: (-counts[p], p))
        merged = tokenizer.vocab_size + len(new)
        data[merged] = data[pair[0]] + data[pair[1]]
        new.append((merged, data[merged]))
        for k, seq in enumerate(seqs):
            out, j = [], 0
            while j < len(seq):
                if j + 1 < len(seq) and (seq[j], seq[j + 1]) == pair:
                    out.append(merged)
                    j += 2
                else:
                    out.append(seq[j])
                    j += 1
            seqs[k] = out
    return seqs, new


@pytest.mark.parametrize("family", ["gpt2", "llama3", "metaspace", "metaspace-first"])
@pytest.mark.parametrize("boundary", ["pretoken", "word"])
def test_matches_reference_bpe_and_keeps_bytes(family, boundary):
    tokenizer = make_tokenizer(family)
    batch = _batch(tokenizer)
    for max_merges in [0, 1, 5, 40, 10_000]:
        result = dynamic_merge(batch, tokenizer, max_merges=max_merges, boundary=boundary)
        seqs, new = reference_merge(batch, tokenizer, max_merges, boundary)
        assert [s.tolist() for s in result.sequences] == seqs
        assert [(t.id, t.bytes) for t in result.new_tokens] == new
        for merged, original in zip(result.sequences, batch):
            assert result.decode(merged, tokenizer) == tokenizer.decode(original)
            assert result.expand(merged).tolist() == list(original)
        assert result.lengths_before.tolist() == [len(s) for s in batch]
        assert result.lengths_after.tolist() == [len(s) for s in seqs]


@pytest.mark.parametrize("family", ["gpt2", "llama3", "metaspace-first"])
def test_saturation_makes_every_pretoken_one_token(family):
    tokenizer = make_tokenizer(family)
    batch = _batch(tokenizer)
    result = dynamic_merge(batch, tokenizer)
    for merged, text in zip(result.sequences, TEXTS):
        pieces = tokenizer.pretokenize(text.encode())
        assert len(merged) == len(pieces)
        assert [b"".join(tokenizer.token_bytes(t) for t in result.expand([m])) for m in merged] == pieces
    assert [t.id for t in result.new_tokens] == list(range(tokenizer.vocab_size, tokenizer.vocab_size + len(result.new_tokens)))
    word = dynamic_merge(batch, tokenizer, boundary="word")
    if family != "metaspace-first":  # its pre-tokens run across newlines, which end words
        assert word.reduction > result.reduction
    def data(token_id):
        if token_id >= tokenizer.vocab_size:
            return word.new_tokens[token_id - tokenizer.vocab_size].bytes
        return tokenizer.token_bytes(token_id)

    for token in word.new_tokens:
        left, right = data(token.pair[0]), data(token.pair[1])
        assert left[-1:] not in (b" ", b"\n") and right[:1] not in (b" ", b"\n")
        assert left + right == token.bytes


def test_min_count_and_determinism():
    tokenizer = make_tokenizer("gpt2")
    batch = _batch(tokenizer)
    frequent = dynamic_merge(batch, tokenizer, min_count=2)
    assert frequent.statistics() == dynamic_merge(batch, tokenizer, min_count=2).statistics()
    full = dynamic_merge(batch, tokenizer)
    assert 0 < len(frequent.new_tokens) < len(full.new_tokens)
    assert frequent.reduction < full.reduction
    stats = full.statistics()
    assert stats["total_before"] == sum(len(s) for s in batch) and stats["merges"] == len(full.new_tokens)


def test_ties_go_to_the_smaller_pair():
    tokenizer = make_tokenizer("gpt2")
    a, b = tokenizer.encode_ids(b"x")[0], tokenizer.encode_ids(b"q")[0]
    result = dynamic_merge([[b, b, a, a]], tokenizer, max_merges=1)
    assert result.new_tokens[0].pair == (min(a, b), min(a, b))


def test_fvt_embeddings_mean_of_pieces():
    tokenizer = make_tokenizer("llama3")
    result = dynamic_merge(_batch(tokenizer), tokenizer, max_merges=30)
    rng = np.random.default_rng(0)
    matrix = rng.normal(size=(tokenizer.vocab_size, 8))
    rows = fvt_embeddings(result.new_tokens, matrix)
    assert rows.shape == (len(result.new_tokens), 8) and len(result.new_tokens) > 10
    for row, token in zip(rows, result.new_tokens):
        np.testing.assert_allclose(row, matrix[list(token.pieces)].mean(axis=0))
    single = fvt_embeddings([[7]], matrix)
    assert np.array_equal(single[0], matrix[7])
    import torch

    as_tensor = fvt_embeddings(result.new_tokens, torch.from_numpy(matrix))
    np.testing.assert_allclose(as_tensor.numpy(), rows)
    with pytest.raises(InputError, match="outside"):
        fvt_embeddings([NewToken(999, b"", (0, 0), (0, 10_000))], matrix)


def test_bad_input_raises_clear_errors():
    tokenizer = make_tokenizer("gpt2")
    with pytest.raises(InputError, match="empty batch"):
        dynamic_merge([], tokenizer)
    with pytest.raises(InputError, match="outside the tokenizer's vocabulary"):
        dynamic_merge([[1, 2], [3, tokenizer.vocab_size]], tokenizer)
    with pytest.raises(InputError, match="outside"):
        dynamic_merge([[-1]], tokenizer)
    with pytest.raises(InputError, match="boundary"):
        dynamic_merge([[1, 2]], tokenizer, boundary="sentence")
    with pytest.raises(InputError, match="integer"):
        dynamic_merge([[1.5, 2.0]], tokenizer)
    assert dynamic_merge([[]], tokenizer).sequences[0].tolist() == []

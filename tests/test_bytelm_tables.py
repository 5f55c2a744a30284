"""ByteLM's tables against the tokenizer itself: the pre-tokenizer automaton against the regex, the BPE
adjacent-pair test against re-encoding (cl100k, Llama 3 and the small test tokenizers), and the
valid-last-token sets read off the tables against re-encoding every candidate."""

from __future__ import annotations

import random
from functools import lru_cache

import numpy as np
import pytest
import regex

import tokkit
from bytelm_support import RandomLM, make_tokenizer
from text_support import cl100k_path, llama3_path
from tokkit.text.bpe_pairs import MergeTable
from tokkit.text.bytelm import ByteLM
from tokkit.text.chunking import LLAMA3_PATTERN
from tokkit.text.hf_json import HF_BYTE_LEVEL_PATTERN
from tokkit.text.pretoken_dfa import PretokenDFA
from tokkit.text.tiktoken_files import CL100K_PATTERN, GPT2_PATTERN, O200K_PATTERN

ALPHABET = list("aAbsStTrReEvVmMlLdDxX'’ \t\n\r\u00a0.,!?-_0123456789٣½éÉ日本ǅʰ\u0301$#@") + [
    "  ", "\n\n", "'s", "'RE", "'ll", " \n "]


@lru_cache(maxsize=None)
def real(name: str):
    return tokkit.load(cl100k_path() if name == "cl100k" else llama3_path())


def tokenizer(name: str):
    return real(name) if name in ("cl100k", "llama3-128k") else make_tokenizer(name)


def token_table(tok) -> list[bytes]:
    specials = set(tok.special_tokens.values())
    out = []
    for i in range(tok.vocab_size):
        try:
            out.append(b"" if i in specials else tok.token_bytes(i))
        except tokkit.errors.TokkitError:
            out.append(b"")
    return out


@lru_cache(maxsize=None)
def byte_lm(name: str) -> ByteLM:
    """A ByteLM over the tokenizer (its tables are built once per tokenizer and shared)."""
    tok = tokenizer(name)
    return ByteLM(RandomLM(tok.vocab_size + 1), tok, tok.vocab_size)


def merge_table(name: str) -> tuple[MergeTable, list[bytes]]:
    return byte_lm(name)._fast_index().merges, token_table(tokenizer(name))


@pytest.mark.parametrize("pattern", [HF_BYTE_LEVEL_PATTERN, GPT2_PATTERN, CL100K_PATTERN, LLAMA3_PATTERN, O200K_PATTERN])
def test_pretoken_automaton_splits_like_the_regex(pattern):
    dfa, compiled, rng = PretokenDFA(pattern), regex.compile(pattern), random.Random(0)
    for _ in range(3000):
        text = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 12)))
        assert dfa.pieces(text) == compiled.findall(text), repr(text)


def test_pretoken_automaton_refuses_what_it_cannot_model():
    for pattern in [r"(?<=a)b", r"\bword", r"(a)\1", r"(?=ab)a"]:
        with pytest.raises(ValueError):
            PretokenDFA(pattern)


@pytest.mark.parametrize("name", ["gpt2", "llama3", "cl100k", "llama3-128k"])
def test_adjacent_pairs_match_reencoding(name):
    """The pair test equals BPE on the two tokens' bytes, for random pairs inside one pre-token, for the
    last merge of random tokens (never adjacent), and for pairs that follow each other in encodings."""
    tok = tokenizer(name)
    table, data = merge_table(name)
    rng = random.Random(1)
    usable = [i for i, b in enumerate(data) if b]
    regular = [i for i in usable if table.regular[i]]
    assert len(regular) > 0.99 * len(usable)
    pairs = []
    while len(pairs) < 1000:
        a, b = rng.choice(regular), rng.choice(regular)
        if len(tok.pretokenize(data[a] + data[b])) == 1:
            pairs.append((a, b))
    splits = [(int(table.left[v]), int(table.right[v])) for v in rng.sample(regular, min(500, len(regular)))
              if table.left[v] != v]
    encoded = tok.encode_ids("the theme of these themes: 123 456; they're hello helloworld".encode() * 2)
    pairs += splits + [(a, b) for a, b in zip(encoded, encoded[1:])]
    checked = 0
    for a, b in pairs:
        if len(tok.pretokenize(data[a] + data[b])) != 1 or not (table.regular[a] and table.regular[b]):
            continue
        assert table.adjacent(a, b) == (tok.encode_ids(data[a] + data[b]) == [a, b]), (a, b, data[a], data[b])
        checked += 1
    assert checked > 700
    assert not any(table.adjacent(a, b) for a, b in splits)
    for a in rng.sample(regular, 5):
        candidates = np.array(rng.sample(regular, min(2000, len(regular))))
        expected = [table.adjacent(a, int(b)) for b in candidates]
        assert table.adjacent_to_many(a, candidates).tolist() == expected


@pytest.mark.parametrize("name", ["cl100k", "llama3-128k"])
def test_valid_last_tokens_match_reencoding_on_real_vocabularies(name):
    """The tables' valid last tokens after a text equal re-encoding text + token, for sampled tokens."""
    tok, model = tokenizer(name), byte_lm(name)
    rng = random.Random(2)
    usable = model._usable.tolist()
    for text in [b"the cat sat on the mat and hel", b"x = 12", b"    return sel", b"they'", b"a  ", b"hi.\n\n",
                 "caf\u00e9 \u65e5\u672c".encode(), b"end of line\n", b"caf\xc3", "\u65e5".encode() + b"\xe6\x97"]:
        groups = model._fast_end(b"", [], text)
        assert groups is not None, text
        valid = {int(v): context for context, (tokens, _) in groups.items() for v in tokens}
        sample = rng.sample(usable, 700) + [v for v in valid if rng.random() < 0.05]
        for v in sample:
            ids = tok.encode_ids(text + tok.token_bytes(v), invalid="runs")  # ByteLM's encoding of invalid bytes
            ok = ids[-1:] == [v] and tok.decode(ids[:-1]) == text
            assert (v in valid) == ok, (text, v, tok.token_bytes(v), ids)
            if ok:
                assert valid[v] == tuple(ids[:-1])


@pytest.mark.parametrize("family", ["gpt2", "llama3"])
@pytest.mark.parametrize("validate_end", [True, False])
def test_tables_change_no_probability(family, validate_end):
    """ByteLM with the tables equals ByteLM re-encoding every candidate, on random prefixes."""
    tok = make_tokenizer(family)
    eos = tok.vocab_size
    lm = RandomLM(eos + 1, seed=2)
    fast = ByteLM(lm, tok, eos, validate_end=validate_end)
    slow = ByteLM(lm, tok, eos, validate_end=validate_end)
    slow._index = None  # the re-encoding path
    rng = random.Random(3)
    pieces = [b"a", b"th", b"e", b" ", b"  ", b"\n", b"'", b"s", b"re", b".", b"!", b"1", b"23", b"\xc3\xa9",
              b"\xe4\xb8\xad", b"\t", b"cat", b" the", b"\xc3"]
    for _ in range(120):
        text = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 8)))
        a, b = fast.next_byte_logprobs(text), slow.next_byte_logprobs(text)
        assert np.array_equal(np.isfinite(a), np.isfinite(b)), text
        np.testing.assert_allclose(np.exp(a), np.exp(b), rtol=0, atol=1e-12)
    assert fast._fast_index() is not None


@pytest.mark.parametrize("name", ["cl100k", "llama3-128k"])
def test_tokens_the_tables_skip_or_decide_per_run_match_reencoding(name):
    """The tokens decided apart from the pair test, each against re-encoding: irregular tokens (ranked
    before a part; skipped unless the merge loop builds them) after pre-tokens they join, and every token
    that is not UTF-8 after a cut character (decided once per undecodable run, or re-encoded)."""
    tok, model = tokenizer(name), byte_lm(name)
    index = model._fast_index()
    irregular = [v for v in model._usable.tolist() if not index.merges.regular[v]]
    texts = [(b"the cat sat on the mat and hel", irregular), (b"    return sel", irregular),
             (b"x = 12", irregular), ("caf\u00e9 nghi".encode(), irregular)]
    texts += [(text, index.other_ids.tolist()) for text in
              [b"caf\xc3", "\u65e5".encode() + b"\xe6\x97", "\u043f\u0440\u0438".encode() + b"\xd0", b"ok \xe6"]]
    for text, candidates in texts:
        groups = model._fast_end(b"", [], text)
        assert groups is not None, text
        valid = {int(v): context for context, (tokens, _) in groups.items() for v in tokens}
        for v in candidates:
            ids = tok.encode_ids(text + tok.token_bytes(v), invalid="runs")
            ok = ids[-1:] == [v] and tok.decode(ids[:-1]) == text
            assert (v in valid) == ok, (text, v, tok.token_bytes(v), ids)
            if ok:
                assert valid[v] == tuple(ids[:-1])


class _MemoLM:
    """RandomLM rows computed once per context (the two ByteLMs compared ask for the same ones)."""

    def __init__(self, lm) -> None:
        self.lm, self.rows = lm, {}

    def __call__(self, batch):
        for context in batch:
            if tuple(context) not in self.rows:
                self.rows[tuple(context)] = self.lm.row(context)
        return np.stack([self.rows[tuple(context)] for context in batch])


@pytest.mark.parametrize("name,validate_end", [("cl100k", True), ("llama3-128k", True), ("llama3-128k", False)])
def test_incremental_covers_equal_fresh_ones_on_real_vocabularies(name, validate_end):
    """Generating byte by byte (covers reused from the previous byte, carried across pre-token
    boundaries) gives the distributions a fresh ByteLM computes for each prefix."""
    tok = tokenizer(name)
    eos = tok.vocab_size
    lm = _MemoLM(RandomLM(eos + 1, seed=5))
    incremental = ByteLM(lm, tok, eos, validate_end=validate_end)
    text = "x.caf\u00e9 + 12 # \u043f\u0440\u0438 they're".encode()
    for k in range(len(text) + 1):
        a = incremental.next_byte_logprobs(text[:k])
        b = ByteLM(lm, tok, eos, validate_end=validate_end).next_byte_logprobs(text[:k])
        assert np.array_equal(np.isfinite(a), np.isfinite(b)), text[:k]
        np.testing.assert_allclose(np.exp(a), np.exp(b), rtol=0, atol=1e-12, err_msg=repr(text[:k]))

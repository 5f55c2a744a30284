"""``tokkit convert``: a published checkpoint (or any loadable tokenizer) -> a tokkit folder, once."""

from __future__ import annotations

from pathlib import Path

import click

from tokkit.core.registry import load
from tokkit.errors import InputError, OutputExistsError


@click.command()
@click.argument("source", metavar="SRC")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False), metavar="DIR",
              help="Folder to write (config.json + model.safetensors).")
@click.option("-f", "--force", is_flag=True, help="Overwrite DIR's config.json and weights if they exist.")
@click.option("--encodec", "encodec", default=None, metavar="ENCODEC",
              help="SRC is a Vocos folder for EnCodec tokens: pair it with this EnCodec 24 kHz checkpoint (any form "
                   "tokkit loads); DIR then encodes with EnCodec and decodes with Vocos.")
def convert(source: str, output: str, force: bool, encodec: str | None) -> None:
    """Convert SRC (an EnCodec, DAC, SNAC, Mimi, TiTok or One-D-Piece .th / .pth / .bin / .ckpt / .safetensors
    file or HF snapshot folder, a WavTokenizer .ckpt or folder with its yaml, a Vocos folder with
    --encodec, or an NVIDIA Cosmos DI / DV folder of .jit files, as its authors distribute it) into a
    tokkit folder DIR, so later loads read safetensors
    and need no pickle.

    The folder keeps float32 weights and has the same identity hash as SRC: tokens made with either
    decode with the other (an EnCodec + Vocos folder has the EnCodec checkpoint's hash).

    \b
    Example:  tokkit convert encodec_24khz-d7cc33bc.th -o encodec24/
              tokkit encode speech.wav -t encodec24/ --bandwidth 6
              tokkit convert WavTokenizer_small_600_24k_4096.ckpt -o wavtok40/
              tokkit convert vocos-encodec-24khz/ --encodec encodec24/ -o encodec-vocos/
              tokkit convert One-D-Piece-S-256/ -o odp-s256/
              tokkit encode photo.png -t odp-s256/ --tokens 32
              tokkit convert tokenizer-e351c8d8-checkpoint125.safetensors -o mimi/
              tokkit convert Cosmos-0.1-Tokenizer-DV4x8x8/ -o cosmos-dv4/
    """
    target = Path(output)
    if target.exists() and not target.is_dir():
        raise InputError(f"{output} is a file; pass a folder")
    if not force and any((target / name).exists() for name in ("config.json", "model.safetensors")):
        raise OutputExistsError(f"{output} already holds a tokenizer; pass --force to overwrite it")
    tokenizer = load(source, device="cpu", **({"encodec": encodec} if encodec is not None else {}))
    from tokkit.codecs.published import PublishedWeights

    if not isinstance(tokenizer, PublishedWeights):
        raise InputError(f"{source} is already a tokkit tokenizer; there is nothing to convert")
    tokenizer.save(target)
    click.echo(f"{source} -> {target} ({tokenizer.config.name}, hash {tokenizer.identity['hash']})")

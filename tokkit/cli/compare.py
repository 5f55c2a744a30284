"""``tokkit compare``: tokenizers (and classic codecs) on your own files, as a report folder."""

from __future__ import annotations

import sys

import click

from tokkit.errors import InputError


def _budgets(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise InputError(f"--tokens takes comma-separated whole numbers such as 8,16,32, not {text!r}") from None
    if not values or min(values) < 1:
        raise InputError(f"--tokens takes positive whole numbers such as 8,16,32, not {text!r}")
    return values


@click.command("compare")
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option("-t", "--tokenizer", "tokenizers", multiple=True, metavar="TOK",
              help="A tokenizer to compare: a built-in name (audio, image, video, shape), a published checkpoint "
                   "or a trained folder. Repeat for several.")
@click.option("--classic", is_flag=True,
              help="Also run the classic codecs at matching bytes (audio: Codec2, Opus; images: JPEG, WebP, AVIF; "
                   "video: x264, SVT-AV1; 3D: decimation/clustering + Draco); one missing here is skipped with a note.")
@click.option("--tokens", "budgets", metavar="K1,K2,...",
              help="Budgets to run: K tokens (image, video, 3D) or codebooks (RVQ audio codecs such as EnCodec). "
                   "Default: a ladder up to each tokenizer's maximum (image 4..N, video 8,16,32,N, 3D 32..N, "
                   "codebooks 1,2,4,..N). Values above a tokenizer's maximum are left out with a note.")
@click.option("-o", "--out", required=True, metavar="DIR",
              help="Report folder: index.html, results.json, rd.png, rd.svg (and .cells/, the finished cells a "
                   "rerun reuses).")
@click.option("--force", is_flag=True, help="Write into a folder that holds other files (they are left alone).")
@click.option("--seconds", type=click.FloatRange(min=0.1, max=600), default=10.0, show_default=True,
              help="Audio: compare the first S seconds of each input.")
@click.option("--frames", type=click.IntRange(min=1, max=10000), default=32, show_default=True,
              help="Video: compare the first N frames (read at 16 fps) of each input.")
@click.option("--max-side", type=click.IntRange(min=8, max=8192), default=256, show_default=True,
              help="Images and video: reduce (Lanczos) inputs whose longer side exceeds this many pixels first.")
@click.option("--workers", type=click.IntRange(min=1, max=64), default=1, show_default=True,
              help="Run the classic codecs' cells in this many processes (tokenizers run in this one, on torch's "
                   "threads).")
def compare(inputs: tuple[str, ...], tokenizers: tuple[str, ...], classic: bool, budgets: str | None, out: str,
            force: bool, seconds: float, frames: int, max_side: int, workers: int) -> None:
    """Compare tokenizers on your own INPUT files (audio, images, video or 3D; one modality per run):
    quality against payload bytes and speed, at every budget each tokenizer offers, beside the classic
    codecs with --classic.

    Writes OUT/index.html (one self-contained page: the rate-distortion plot, a sortable table, every
    decoded result to look at or listen to), OUT/results.json (every figure, versions, tokenizer hashes)
    and OUT/rd.png + rd.svg. Metrics: audio STOI (pystoi), mel distance, SI-SDR at 16 kHz (and PESQ if you installed pesq);
    images and video PSNR, SSIM (video also flicker); 3D Chamfer-L1 and F-score. Finished cells are kept
    in OUT/.cells: rerunning (after an interruption, or with more tokenizers) reuses them.

    \b
    Examples:
      tokkit compare samples/speech.wav -t audio -t encodec_24khz.th --classic -o report/
      tokkit compare samples/shapes.png photo.jpg -t image --tokens 4,8,16,32 --classic -o images/
      tokkit compare samples/clip.mp4 -t video --frames 16 --classic -o video/
      tokkit compare samples/house.obj -t shape -t my-trained-shape/ --classic -o shapes/
    """
    from tokkit.analysis.compare.inputs import Limits
    from tokkit.analysis.compare.run import run_comparison

    limits = Limits(seconds=seconds, frames=frames, side=max_side)
    try:
        result = run_comparison(list(inputs), list(tokenizers), out, classic=classic, budgets=_budgets(budgets),
                                limits=limits, force=force, workers=workers)
    except KeyboardInterrupt:
        click.echo(f"tokkit: interrupted; finished cells are kept in {out}: rerun the same command to resume",
                   err=True)
        sys.exit(130)
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    click.echo(f"{out}/index.html: {len(result.cells)} results ({result.computed} cells computed, "
               f"{result.reused} reused)")

"""``tokkit train``: train tokkit's own codecs from a folder of data."""

from __future__ import annotations


from typing import Callable

import click


def run_options(*, data: str, config: str, max_minutes: float, batch_size: int, seed: str) -> Callable:
    """The options every trainer takes (data, config, run folder, resume, budget, batch, lr, device,
    threads, seed), with the per-codec help texts and defaults."""
    options = [
        click.option("--data", required=True, type=click.Path(exists=True, file_okay=False), help=data),
        click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False), help=config),
        click.option("-o", "--out", required=True, type=click.Path(file_okay=False),
                     help="Run folder: checkpoint.pt, latest/ (exported every few minutes) and final/ "
                          "(config.json + model.safetensors)."),
        click.option("--resume", is_flag=True,
                     help="Continue from OUT/checkpoint.pt (model, optimiser, step, elapsed time)."),
        click.option("--max-minutes", default=max_minutes, show_default=True,
                     help="Wall-clock training budget, counted across resumes; the learning rate decays to its "
                          "floor at the end."),
        click.option("--batch-size", default=batch_size, show_default=True, help="Crops per step."),
        click.option("--lr", default=1e-3, show_default=True, help="Peak AdamW learning rate."),
        click.option("--device", default="auto", show_default=True, type=click.Choice(["auto", "cpu", "cuda"]),
                     help="Where to train; auto uses CUDA when present."),
        click.option("--threads", default=1, show_default=True, help="CPU threads for torch."),
        click.option("--seed", default=0, show_default=True, help=seed),
    ]

    def apply(command: Callable) -> Callable:
        for option in reversed(options):
            command = option(command)
        return command

    return apply


@click.group()
def train() -> None:
    """Train a codec from your own data (progress on stderr, checkpoints in -o DIR)."""


@train.command("audio")
@run_options(data="Folder of training audio (wav, flac, ogg; searched recursively; any rate, resampled).",
             config="Codec config JSON (sample_rate, hop, quantizer, widths, depths); default: the shipped recipe.",
             max_minutes=90.0, batch_size=8, seed="Random seed for initialisation and crops.")
@click.option("--segment-seconds", default=1.0, show_default=True, help="Length of each training crop.")
@click.option("--discriminators/--no-discriminators", default=False, show_default=True,
              help="Add multi-period and multi-resolution GAN discriminators (sharper audio; several times slower, use on a GPU).")
@click.option("--init-from", type=click.Path(exists=True, file_okay=False),
              help="Warm start from a saved audio codec folder (e.g. tokkit/codecs/audio/default) wherever shapes "
                   "agree; an FSQ quantizer becomes level 0 of a residual one. Ignored with --resume.")
@click.option("--balance", default="clips", show_default=True, type=click.Choice(["clips", "folders"]),
              help="clips: every file equally often; folders: each folder (one voice, as scripts/speech_data.py "
                   "writes them) in proportion to the square root of its length.")
@click.option("--warmup-steps", default=300, show_default=True, help="Steps of linear learning-rate warm-up.")
@click.option("--fresh-lr-scale", default=1.0, show_default=True,
              help="With --init-from: the learning rate of the layers the saved model lacks (e.g. new residual "
                   "levels), as a multiple of --lr, so a low --lr only nudges the warm-started weights.")
@click.option("--stft-weight", default=1.0, show_default=True, help="Weight of the multi-resolution STFT loss "
              "(beside the mel loss, weight 1).")
@click.option("--stoi-weight", default=0.0, show_default=True, type=click.FloatRange(min=0.0),
              help="Weight of a differentiable STOI term (1 - short-time intelligibility against the input; "
                   "tokkit.nn.losses.IntelligibilityLoss); 0 leaves it out.")
def audio(data: str, config_file: str | None, out: str, resume: bool, max_minutes: float, batch_size: int,
          segment_seconds: float, lr: float, device: str, discriminators: bool, threads: int, seed: int,
          init_from: str | None, stft_weight: float, balance: str, fresh_lr_scale: float, warmup_steps: int,
          stoi_weight: float) -> None:
    """Train the speech codec (STFT encoder -> FSQ -> ConvNeXt -> iSTFT head).

    \b
    Example:
      scripts/audio_data.sh /data/speech          # build the training set (see the script)
      tokkit train audio --data /data/speech -o runs/audio --max-minutes 90
      tokkit train audio --data /data/speech -o runs/audio --resume --max-minutes 180
    """
    from tokkit.codecs.audio.config import CodecConfig
    from tokkit.codecs.audio.train import TrainOptions
    from tokkit.codecs.audio.train import train as run
    from tokkit.core.device import resolve_device

    config = CodecConfig.from_file(config_file) if config_file else CodecConfig()
    options = TrainOptions(data=data, out=out, max_minutes=max_minutes, batch_size=batch_size,
                           segment_seconds=segment_seconds, lr=lr, device=resolve_device(device),
                           threads=threads, seed=seed, discriminators=discriminators, init_from=init_from,
                           stft_weight=stft_weight, balance=balance, fresh_lr_scale=fresh_lr_scale,
                           warmup_steps=warmup_steps, stoi_weight=stoi_weight)
    final = run(config, options, resume=resume)
    click.echo(str(final))


@train.command("image")
@run_options(data="Folder of training photos (png, jpg, webp, ...; searched recursively; served as random multi-scale crops).",
             config="Tokenizer config JSON (image_size, patch_size, num_tokens, quantizer, width, depths); default: the shipped recipe.",
             max_minutes=80.0, batch_size=16, seed="Random seed for initialisation, crops and kept prefix lengths.")
def image(data: str, config_file: str | None, out: str, resume: bool, max_minutes: float, batch_size: int,
          lr: float, device: str, threads: int, seed: int) -> None:
    """Train the 1D image tokenizer (ViT encoder -> FSQ tokens -> ViT decoder from any token prefix).

    Every step keeps a random prefix of the tokens per crop (length uniform on 1..N: tail-token
    dropping), so the first tokens carry the coarse picture and later ones add detail.

    \b
    Example:
      scripts/image_data.sh /data/photos          # build train/ and heldout/ (see the script)
      tokkit train image --data /data/photos/train -o runs/image --max-minutes 80
      tokkit train image --data /data/photos/train -o runs/image --resume --max-minutes 160
    """
    from tokkit.codecs.image.config import ImageCodecConfig
    from tokkit.codecs.image.train import TrainOptions
    from tokkit.codecs.image.train import train as run
    from tokkit.core.device import resolve_device

    config = ImageCodecConfig.from_file(config_file) if config_file else ImageCodecConfig()
    options = TrainOptions(data=data, out=out, max_minutes=max_minutes, batch_size=batch_size, lr=lr,
                           device=resolve_device(device), threads=threads, seed=seed)
    final = run(config, options, resume=resume)
    click.echo(str(final))


@train.command("video")
@run_options(data="Folder made by scripts/video_data.py: videos/*.npy (16 fps clips) and images/train/ (photos).",
             config="Tokenizer config JSON (image_size, patch_size, num_tokens, quantizer, width, depths, fps); "
                    "default: the shipped recipe's.",
             max_minutes=60.0, batch_size=6, seed="Random seed for initialisation, clips and kept prefix lengths.")
@click.option("--init-from", type=click.Path(exists=True, file_okay=False),
              help="Warm start from a saved model folder: an image tokenizer (fills the per-frame model; the "
                   "temporal layers start at zero) or a video tokenizer (all weights, e.g. the shipped default). "
                   "Ignored with --resume.")
@click.option("--clip-frames", default=3, show_default=True, help="Frames per training clip (unrolled causally).")
@click.option("--photo-batch", default=4, show_default=True, help="Photos per step coded as frame 0 (the image case).")
@click.option("--prediction", type=click.Choice(["gate", "residual"]),
              help="P-frame prediction: gate (version 1) or residual (version 2: previous decoded frame + a decoded "
                   "correction); default: the config's (or --init-from's). Changing it keeps the shared weights.")
@click.option("--clip-keep", default=0.0, show_default=True,
              help="Fraction of training clips that keep one prefix length K on every frame (as at inference).")
@click.option("--burn-in", default=0, show_default=True,
              help="Run up to this many earlier frames (uniform 0..N) without gradients before each training clip, "
                   "so the model learns from contexts deep in a clip.")
@click.option("--still-fraction", default=0.0, show_default=True,
              help="Fraction of the synthetic clips shot by a still camera (half with a patch moving across).")
def video(data: str, config_file: str | None, out: str, resume: bool, max_minutes: float, batch_size: int,
          lr: float, device: str, threads: int, seed: int, init_from: str | None, clip_frames: int,
          photo_batch: int, prediction: str | None, clip_keep: float, burn_in: int, still_fraction: float) -> None:
    """Train the causal video tokenizer (frame 0 coded alone; frame t with the decoded frame t-1 as context).

    Every frame keeps a random prefix of its tokens (uniform on 1..N), so any K decodes.

    \b
    Example:
      scripts/video_data.sh /data/video            # build videos/ and images/ (see the script)
      tokkit train video --data /data/video -o runs/video --init-from tokkit/codecs/image/default --lr 4e-4
      tokkit train video --data /data/video -o runs/video --resume --max-minutes 120
      tokkit train video --data /data/video -o runs/video2 --init-from tokkit/codecs/video/default --device cuda
    """
    from tokkit.codecs.video.config import VideoCodecConfig
    from tokkit.codecs.video.train import TrainOptions
    from tokkit.codecs.video.train import train as run
    from tokkit.core.device import resolve_device

    config = VideoCodecConfig()
    if config_file:
        config = VideoCodecConfig.from_file(config_file)
    elif init_from:
        from pathlib import Path

        from tokkit.core.registry import read_config

        saved = read_config(Path(init_from))
        if saved["kind"] == VideoCodecConfig.kind:  # continue a video model: keep its layout
            config = VideoCodecConfig.from_dict(saved)
    if prediction is not None:
        import dataclasses

        config = dataclasses.replace(config, prediction=prediction)
    for hint, value in (("--clip-keep", clip_keep), ("--still-fraction", still_fraction)):
        if not 0.0 <= value <= 1.0:
            raise click.BadParameter(f"must lie in [0, 1], got {value}", param_hint=hint)
    options = TrainOptions(data=data, out=out, max_minutes=max_minutes, batch_size=batch_size, lr=lr,
                           device=resolve_device(device), threads=threads, seed=seed, init_from=init_from,
                           clip_frames=clip_frames, photo_batch=photo_batch, clip_keep=clip_keep,
                           burn_in=max(0, burn_in), still_fraction=still_fraction)
    final = run(config, options, resume=resume)
    click.echo(str(final))


@train.command("shape")
@run_options(data="Folder of cached shape targets (*.npz, searched recursively), made by scripts/shape_data.py.",
             config="Tokenizer config JSON (num_latents, depth, codebook_size, widths, depths); default: the shipped recipe.",
             max_minutes=60.0, batch_size=8, seed="Random seed for initialisation, batches and kept prefixes.")
@click.option("--queries", default=1024, show_default=True, help="Labelled occupancy query points per shape and step.")
@click.option("--init-from", type=click.Path(exists=True, file_okay=False),
              help="Warm start from a saved shape model folder (e.g. the shipped default; its config.json sets "
                   "the layout unless --config is given). Ignored with --resume.")
def shape(data: str, config_file: str | None, out: str, resume: bool, max_minutes: float, batch_size: int,
          queries: int, lr: float, device: str, threads: int, seed: int, init_from: str | None) -> None:
    """Train the 3D shape tokenizer (surface points -> latent set -> RVQ tokens -> occupancy field).

    Every step keeps a random prefix of the latents (all of them half of the time) and a random number
    of residual levels per shape, so any token prefix decodes.

    \b
    Example:
      python scripts/shape_data.py /data/shapes     # cache/ (training targets) and heldout/
      tokkit train shape --data /data/shapes/cache -o runs/shape --max-minutes 90
      tokkit train shape --data /data/shapes/cache -o runs/shape --resume --max-minutes 180
    """
    from tokkit.codecs.shape.config import ShapeCodecConfig
    from tokkit.codecs.shape.train import TrainOptions
    from tokkit.codecs.shape.train import train as run
    from tokkit.core.device import resolve_device

    config = ShapeCodecConfig.from_file(config_file) if config_file else ShapeCodecConfig()
    if init_from and not config_file:
        from pathlib import Path

        config = ShapeCodecConfig.from_file(Path(init_from) / "config.json")
    options = TrainOptions(data=data, out=out, max_minutes=max_minutes, batch_size=batch_size, queries=queries,
                           lr=lr, device=resolve_device(device), threads=threads, seed=seed, init_from=init_from)
    final = run(config, options, resume=resume)
    click.echo(str(final))

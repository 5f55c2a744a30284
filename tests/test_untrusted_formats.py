"""Default-tokenizer choice from one table of input formats: magic bytes first, then suffix, never binary as text."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tokkit.core import formats
from tokkit.core.registry import default_tokenizer_name
from tokkit.errors import InputError


def _image_bytes(fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.mark.parametrize("suffix,fmt", [(".tiff", "TIFF"), (".gif", "GIF"), (".avif", "AVIF"), (".ppm", "PPM"),
                                        (".bmp", "BMP"), (".webp", "WEBP"), (".png", "PNG"), (".jpg", "JPEG")])
def test_every_image_format_the_reader_takes_defaults_to_the_image_tokenizer(tmp_path, suffix, fmt):
    data = _image_bytes(fmt)
    named = tmp_path / f"picture{suffix}"
    named.write_bytes(data)
    hidden = tmp_path / "picture.dat"  # the content decides, whatever the suffix
    hidden.write_bytes(data)
    assert default_tokenizer_name(named) == "image"
    assert default_tokenizer_name(hidden) == "image"


def test_the_tokenizers_read_exactly_the_suffixes_of_the_table():
    from tokkit.codecs.audio.tokenizer import AudioTokenizer
    from tokkit.codecs.image.tokenizer import ImageTokenizer
    from tokkit.text.bpe import BPETokenizer

    for cls in (AudioTokenizer, ImageTokenizer, BPETokenizer):
        assert cls.input_suffixes == formats.suffixes(cls.modality) and cls.input_suffixes


def test_audio_by_magic_and_binary_refused(tmp_path):
    import soundfile as sf

    samples = 0.3 * np.sin(np.arange(8000) / 7.0).astype(np.float32)
    for fmt, suffix in (("WAV", ".wav"), ("FLAC", ".flac"), ("OGG", ".ogg"), ("MP3", ".mp3"), ("AIFF", ".aiff")):
        path = tmp_path / f"a{suffix}"
        sf.write(path, samples, 16000, format=fmt)
        renamed = tmp_path / f"a{suffix}.bin"
        renamed.write_bytes(path.read_bytes())
        assert default_tokenizer_name(path) == "audio" and default_tokenizer_name(renamed) == "audio", fmt
    blob = tmp_path / "blob.bin"
    blob.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(InputError, match=r"binary data .*-t text"):
        default_tokenizer_name(blob)
    text = tmp_path / "notes.log"
    text.write_bytes("caf\u00e9 ".encode() * 3000)  # multi-byte characters cut by the sniff window stay text
    assert default_tokenizer_name(text) == "text"


def test_cli_never_text_tokenizes_a_binary_file_by_default(tmp_path, run_cli):
    blob = tmp_path / "blob.bin"
    blob.write_bytes(b"\x00\x01\x02binary\xff" * 10)
    code, _, err = run_cli("encode", blob, "--json")
    assert code != 0 and err.count("\n") == 1 and "-t text" in err
    code, out, err = run_cli("encode", blob, "--json", "-t", "text")  # named: its raw bytes, on purpose
    assert code == 0, err
    code, _, err = run_cli("encode", "-", "--json", stdin=b"\x00\x01binary")
    assert code != 0 and err.count("\n") == 1 and "-t" in err
    code, _, err = run_cli("encode", "-", "--json", stdin=_image_bytes("PNG"))
    assert code != 0 and "image data" in err


def test_folder_of_binary_files_needs_a_named_text_tokenizer(tmp_path, run_cli):
    folder = tmp_path / "blobs"
    folder.mkdir()
    (folder / "a.bin").write_bytes(b"\x00\xff" * 40)
    code, _, err = run_cli("encode", folder, "--out-dir", tmp_path / "out")
    assert code != 0 and "-t text" in err and err.count("\n") == 1


def test_an_animated_gif_defaults_to_the_video_tokenizer(tmp_path):
    """A still GIF is a picture; a GIF with several frames is a clip (it would lose all but frame 0 as an image)."""
    frames = [Image.fromarray(np.full((16, 16, 3), 60 * i, np.uint8)) for i in range(3)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=100)
    (tmp_path / "anim.dat").write_bytes((tmp_path / "anim.gif").read_bytes())
    assert default_tokenizer_name(tmp_path / "anim.gif") == "video"
    assert default_tokenizer_name(tmp_path / "anim.dat") == "video"
    frames[0].save(tmp_path / "still.gif")
    assert default_tokenizer_name(tmp_path / "still.gif") == "image"

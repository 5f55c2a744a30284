"""Bad inputs to the audio codec fail with a clear TokkitError and write nothing."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from tokkit.codecs.audio.io import Audio, load_audio
from tokkit.core.tokens import Tokens
from tokkit.errors import InputError, TokenizerMismatchError, UnsupportedFormatError

from audio_helpers import speechlike, tiny_tokenizer


@pytest.fixture(scope="module")
def tok():
    return tiny_tokenizer()


def test_non_audio_file_is_unsupported(tok, tmp_path) -> None:
    path = tmp_path / "notes.wav"
    path.write_text("this is not audio at all\n" * 20)
    with pytest.raises(UnsupportedFormatError, match="not readable audio"):
        tok.encode_file(path)


def test_missing_file(tmp_path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_audio(tmp_path / "nope.wav")


@pytest.mark.parametrize("samples,message", [
    (np.zeros(0, np.float32), "no samples"),
    (np.array([0.3], np.float32), "single sample"),
    (np.zeros(4000, np.float32), "silence"),
    (np.array([0.1, np.nan, 0.2] * 100, np.float32), "NaN"),
])
def test_degenerate_audio_files_are_refused(tok, tmp_path, samples, message) -> None:
    path = tmp_path / "bad.wav"
    sf.write(path, samples, 8000, subtype="FLOAT")
    with pytest.raises(InputError, match=message):
        tok.encode_file(path)
    with pytest.raises(InputError, match=message):
        tok.encode(samples)


def test_multichannel_array_and_bytes(tok) -> None:
    with pytest.raises(InputError, match="mono"):
        tok.encode(np.zeros((2, 100), np.float32) + 0.1)
    with pytest.raises(UnsupportedFormatError):
        tok.encode(b"definitely not a wav file")


def test_tokens_from_another_codec_or_modality_are_refused(tok) -> None:
    other = tiny_tokenizer(seed=1)
    tokens = other.encode(speechlike(0.2, 8000))
    with pytest.raises(TokenizerMismatchError):
        tok.decode(tokens)
    text = Tokens(np.array([1, 2, 3]), {"modality": "text"})
    with pytest.raises(TokenizerMismatchError):
        tok.decode(text)


def test_corrupted_codes_are_refused(tok) -> None:
    tokens = tok.encode(speechlike(0.2, 8000))
    tokens.codes[3] = tok.codebook_size
    with pytest.raises(InputError, match="corrupted"):
        tok.decode(tokens)
    with pytest.raises(InputError, match="non-empty"):
        tok.decode(Tokens(np.zeros(0, np.int64), dict(tokens.meta)))


def test_write_refuses_to_overwrite_and_leaves_no_partial_file(tok, tmp_path) -> None:
    target = tmp_path / "out.wav"
    target.write_bytes(b"keep me")
    audio = Audio(speechlike(0.2, 8000), 8000)
    from tokkit.errors import OutputExistsError

    with pytest.raises(OutputExistsError):
        tok.write_decoded(audio, target)
    assert target.read_bytes() == b"keep me"
    tok.write_decoded(audio, target, force=True)
    assert sf.info(target).samplerate == 8000 and [p.name for p in tmp_path.iterdir()] == ["out.wav"]

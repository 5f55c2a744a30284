"""``tokkit.load``: find the right tokenizer class for a path or a built-in name, importing it lazily.

Loaders are named as "module:attribute" strings so that ``import tokkit`` stays cheap: torch-heavy
modules are imported only when a tokenizer that needs them is loaded.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
from pathlib import Path
from typing import Callable

from tokkit.core.retired import retired_note
from tokkit.core.tokenizer import Tokenizer
from tokkit.errors import InputError, UnsupportedFormatError

_PACKAGE_ROOT = Path(__file__).resolve().parent.parent

#: saved-tokenizer kind (``config.json`` field "kind") -> loader(directory, config) -> Tokenizer
KIND_LOADERS: dict[str, str] = {
    "text.bpe": "tokkit.text.loader:load_saved",
    "audio.codec": "tokkit.codecs.audio.tokenizer:load_saved",
    "image.titok": "tokkit.codecs.image.tokenizer:load_saved",
    "video.causal": "tokkit.codecs.video.tokenizer:load_saved",
    "shape.vecset": "tokkit.codecs.shape.tokenizer:load_saved",
    "audio.encodec": "tokkit.codecs.audio.published:load_saved",
    "audio.wavtokenizer": "tokkit.codecs.audio.published:load_saved",
    "audio.encodec_vocos": "tokkit.codecs.audio.published:load_saved",
    "audio.dac": "tokkit.codecs.audio.published.dac:load_saved",
    "audio.snac": "tokkit.codecs.audio.published.snac:load_saved",
    "image.published_titok": "tokkit.codecs.image.published:load_saved",
    "image.published_cosmos": "tokkit.codecs.image.published.cosmos:load_saved",
    "video.published_cosmos": "tokkit.codecs.image.published.cosmos:load_saved",
    "audio.mimi": "tokkit.codecs.audio.published.mimi:load_saved",
}

#: saved-tokenizer kind -> its Tokenizer class as "module:Class" (the CLI reads declared options from it;
#: the contract tests run it); the modules are imported only when asked for
KIND_CLASSES: dict[str, str] = {
    "text.bpe": "tokkit.text.bpe:BPETokenizer",
    "audio.codec": "tokkit.codecs.audio.tokenizer:AudioTokenizer",
    "image.titok": "tokkit.codecs.image.tokenizer:ImageTokenizer",
    "video.causal": "tokkit.codecs.video.tokenizer:VideoTokenizer",
    "shape.vecset": "tokkit.codecs.shape.tokenizer:ShapeTokenizer",
    "audio.encodec": "tokkit.codecs.audio.published.tokenizer:PublishedCodecTokenizer",
    "audio.wavtokenizer": "tokkit.codecs.audio.published.tokenizer:WavTokenizerTokenizer",
    "audio.encodec_vocos": "tokkit.codecs.audio.published.tokenizer:EncodecVocosTokenizer",
    "audio.dac": "tokkit.codecs.audio.published.windowed:DACTokenizer",
    "audio.snac": "tokkit.codecs.audio.published.windowed:SNACTokenizer",
    "image.published_titok": "tokkit.codecs.image.published.tokenizer:PublishedImageTokenizer",
    "image.published_cosmos": "tokkit.codecs.image.published.cosmos:CosmosImageTokenizer",
    "video.published_cosmos": "tokkit.codecs.video.cosmos:CosmosVideoTokenizer",
    "audio.mimi": "tokkit.codecs.audio.published.tokenizer:MimiTokenizer",
}

#: file suffix -> loader(path) -> Tokenizer, for tokenizer files that are not tokkit folders
FILE_LOADERS: dict[str, str] = {
    ".json": "tokkit.text.loader:load_file",
    ".tiktoken": "tokkit.text.loader:load_file",
    # published checkpoints, recognised by their tensors (no code is run)
    ".th": "tokkit.codecs.published:load_checkpoint",
    ".pth": "tokkit.codecs.published:load_checkpoint",
    ".ckpt": "tokkit.codecs.published:load_checkpoint",
    ".safetensors": "tokkit.codecs.published:load_checkpoint",
    ".bin": "tokkit.codecs.published:load_checkpoint",
    ".pt": "tokkit.codecs.published:load_checkpoint",
    ".jit": "tokkit.codecs.published:load_checkpoint",
}

#: loader(folder) for folders whose config.json has no "kind": the authors' own snapshots (HF layout)
SNAPSHOT_LOADER = "tokkit.codecs.published:load_checkpoint"

#: built-in name -> folder under the package holding a saved tokenizer (config.json + weights)
BUILTINS: dict[str, str] = {
    "text": "text/default",
    "audio": "codecs/audio/default",
    "image": "codecs/image/default",
    "video": "codecs/video/default",
    "shape": "codecs/shape/default",
}


def register_kind(kind: str, loader: str, tokenizer_class: str | None = None) -> None:
    """Make ``tokkit.load`` understand saved folders whose config says ``"kind": kind``.

    ``loader`` and ``tokenizer_class`` are "module:attribute" strings; give the class so that
    ``tokkit encode`` offers its declared options and the contract tests run it.
    """
    KIND_LOADERS[kind] = loader
    if tokenizer_class is not None:
        KIND_CLASSES[kind] = tokenizer_class


def tokenizer_class(kind: str) -> type[Tokenizer]:
    """The Tokenizer class registered for ``kind`` (imports its module)."""
    if kind not in KIND_CLASSES:
        raise UnsupportedFormatError(f"no tokenizer class is registered for kind {kind!r}")
    return _resolve(KIND_CLASSES[kind])


def tokenizer_classes() -> dict[str, type[Tokenizer]]:
    """Registered kind -> Tokenizer class (imports each class's module)."""
    return {kind: tokenizer_class(kind) for kind in KIND_CLASSES}


def _resolve(target: str) -> Callable:
    module_name, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def _call_loader(target: str, label: str, *args: object, **options: object) -> Tokenizer:
    """Call a loader, refusing by name the options it does not take (e.g. ``device`` for text)."""
    loader = _resolve(target)
    if options:
        parameters = inspect.signature(loader).parameters
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
            unknown = sorted(set(options) - set(parameters))
            if unknown:
                raise InputError(f"option(s) {', '.join(unknown)} do not apply to {label} tokenizers")
    return loader(*args, **options)


def builtin_path(name: str) -> Path | None:
    """Folder of a shipped built-in tokenizer, or None if ``name`` is not one that is installed."""
    relative = BUILTINS.get(name)
    if relative is None:
        return None
    folder = _PACKAGE_ROOT / relative
    return folder if (folder / "config.json").is_file() else None


def available_builtins() -> list[str]:
    return sorted(name for name in BUILTINS if builtin_path(name) is not None)


def read_config(directory: Path) -> dict:
    """The ``config.json`` of a saved tokenizer folder, with a clear error if it is unusable."""
    config_path = directory / "config.json"
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{directory} holds no config.json: it is not a saved tokkit tokenizer") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read {config_path}: {exc}") from None
    if not isinstance(config, dict) or "kind" not in config:
        raise UnsupportedFormatError(f"{config_path} has no \"kind\" field: not a tokkit tokenizer config")
    return config


def load_directory(directory: Path, name: str, **options: object) -> Tokenizer:
    config = read_config(directory)
    loader = KIND_LOADERS.get(config["kind"])
    if loader is None:
        known = ", ".join(sorted(KIND_LOADERS))
        raise UnsupportedFormatError(f"{directory}: unknown tokenizer kind {config['kind']!r} (known: {known})")
    tokenizer = _call_loader(loader, config["kind"], directory, config, **options)
    tokenizer.name = name
    return tokenizer


def _is_snapshot(directory: Path) -> bool:
    """A folder with model weights whose config.json has no "kind" (an authors' snapshot, not a tokkit folder)."""
    if not any((directory / name).is_file() for name in ("model.safetensors", "pytorch_model.bin")) \
            and not any(directory.glob("*.jit")):  # NVIDIA Cosmos releases: TorchScript files
        return False
    try:
        config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(config, dict) and "kind" not in config


def load(path_or_name: str | os.PathLike, **options) -> Tokenizer:
    """Load a tokenizer from a built-in name ("text", "audio", ...), a saved folder or a tokenizer file.

    Files: HF ``tokenizer.json`` (BPE), ``.tiktoken`` rank files, published codec checkpoints
    (``.th``/``.pth``/``.ckpt``/``.safetensors``, or a HF snapshot folder), recognised by content. ``options`` go to the loader
    (e.g. ``pattern=`` for an unknown ``.tiktoken`` file, ``device=`` for torch models, ``encodec=`` to pair a
    Vocos folder with the EnCodec checkpoint whose codes it decodes). A folder without config.json that holds a
    ``config.yaml`` or a ``.ckpt`` (Vocos, WavTokenizer as their authors publish them) goes to the codec loader.
    """
    text = os.fspath(path_or_name)
    folder = builtin_path(text)
    if folder is not None and not Path(text).exists():
        return load_directory(folder, text, **options)
    path = Path(text).expanduser()
    if not path.exists():
        builtins = ", ".join(available_builtins()) or "none installed"
        raise InputError(f"no tokenizer at {text}: not a file, a folder or a built-in name ({builtins})")
    name = str(path.resolve())
    if path.is_dir():
        if (path / "config.json").is_file():
            if _is_snapshot(path):
                tokenizer = _call_loader(SNAPSHOT_LOADER, "checkpoint", path, **options)
                tokenizer.name = name
                return tokenizer
            return load_directory(path, name, **options)
        if (path / "tokenizer.json").is_file():
            path = path / "tokenizer.json"
        elif ((path / "config.yaml").is_file() or any(path.glob("*.ckpt"))  # Vocos / WavTokenizer as published
              or any(path.glob("*.jit"))  # NVIDIA Cosmos releases (TorchScript files read as data)
              or any((path / weights).is_file() for weights in ("model.safetensors", "pytorch_model.bin"))):
            tokenizer = _call_loader(SNAPSHOT_LOADER, "checkpoint", path, **options)  # weights without config.json
            tokenizer.name = name
            return tokenizer
        else:
            raise InputError(f"{path} is a folder without config.json or tokenizer.json")
    loader = FILE_LOADERS.get(path.suffix.lower())
    if loader is None:
        known = ", ".join(sorted(FILE_LOADERS))
        raise UnsupportedFormatError(f"{path}: unknown tokenizer file type {path.suffix!r} (known: {known}, or a folder)")
    tokenizer = _call_loader(loader, path.suffix.lower(), path, **options)
    tokenizer.name = name
    return tokenizer


def load_for_tokens(made_by: dict, override: str | os.PathLike | None = None, *, trust: bool = False,
                    **options: object) -> Tokenizer:
    """The tokenizer that can decode tokens whose file names ``made_by``; refuse a mismatched one.

    A token file is untrusted input: the tokenizer it names is loaded only if it is a built-in name;
    any other (a path) must be confirmed by the user as ``override`` (``-t``), which also replaces a moved
    tokenizer's recorded name. The tokenizer's hash must equal the recorded one; ``trust`` (the user's
    ``--trust-tokenizer``) accepts tokens with no hash or another hash.
    """
    from tokkit.errors import TokenizerMismatchError

    if not isinstance(made_by, dict):
        made_by = {}
    recorded = made_by.get("name") if isinstance(made_by.get("name"), str) else None
    if override is not None:
        tokenizer = load(override, **options)
        target = os.fspath(override)
    elif not recorded:
        raise InputError("the token file does not name its tokenizer; pass one with -t")
    elif recorded in BUILTINS:
        folder = builtin_path(recorded)
        if folder is None:
            raise InputError(f"the tokens were made by the built-in tokenizer {recorded!r}, which is not installed "
                             f"here; pass its location with -t")
        tokenizer, target = load_directory(folder, recorded, **options), recorded
    else:
        raise InputError(f"the tokens name the tokenizer {recorded[:200]}; a token file can name any path, so "
                         f"tokkit loads it only when you confirm it: pass -t {recorded[:200]}")
    recorded_hash = made_by.get("hash")
    if trust:
        return tokenizer
    if not recorded_hash:
        raise TokenizerMismatchError(f"the token file carries no tokenizer hash, so nothing shows that {target} made "
                                     f"these tokens; if you know it did, pass --trust-tokenizer")
    if tokenizer.identity["hash"] != recorded_hash:
        raise TokenizerMismatchError(
            f"the tokens were made by a tokenizer with hash {str(recorded_hash)[:40]}, but {target} has hash "
            f"{tokenizer.identity['hash']}; decode with the tokenizer that made them (or pass --trust-tokenizer)"
            + retired_note(recorded_hash)
        )
    return tokenizer


def check_identity(items: list, tokenizer: Tokenizer, *, trust: bool = False) -> list:
    """Items from a token file, each required to carry ``tokenizer``'s hash; with ``trust`` (the user's
    ``--trust-tokenizer``) each is relabelled as made by ``tokenizer`` instead."""
    from tokkit.errors import TokenizerMismatchError

    checked = []
    for index, tokens in enumerate(items):
        made_by = tokens.meta.get("tokenizer")
        if trust:
            tokens = type(tokens)(tokens.codes, {**tokens.meta, "tokenizer": dict(tokenizer.identity)})
        elif not isinstance(made_by, dict) or made_by.get("hash") != tokenizer.identity["hash"]:
            raise TokenizerMismatchError(f"item {index} of the token file does not carry the hash of "
                                         f"{tokenizer.name or tokenizer.kind}; if it was made by it, pass --trust-tokenizer"
                                         + retired_note(made_by.get("hash") if isinstance(made_by, dict) else None))
        checked.append(tokens)
    return checked


def default_tokenizer_name(input_path: str | os.PathLike) -> str:
    """The built-in tokenizer for an input file, chosen by its content (magic bytes, else UTF-8 text) and,
    when it cannot be read, its suffix (:mod:`tokkit.core.formats`); a binary file no format recognizes is
    refused rather than read as text."""
    from tokkit.core.formats import default_modality

    modality = default_modality(input_path)
    if modality not in BUILTINS:
        raise InputError(f"{input_path} is {modality} input and tokkit has no built-in {modality} tokenizer; "
                         f"name one with -t")
    return modality

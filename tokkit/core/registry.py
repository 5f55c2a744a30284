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

from tokkit.core.tokenizer import Tokenizer
from tokkit.errors import InputError, UnsupportedFormatError

_PACKAGE_ROOT = Path(__file__).resolve().parent.parent

#: saved-tokenizer kind (``config.json`` field "kind") -> loader(directory, config) -> Tokenizer
KIND_LOADERS: dict[str, str] = {
    "text.bpe": "tokkit.text.loader:load_saved",
    "audio.codec": "tokkit.codecs.audio.tokenizer:load_saved",
    "image.titok": "tokkit.codecs.image.tokenizer:load_saved",
    "audio.encodec": "tokkit.codecs.audio.published:load_saved",
}

#: saved-tokenizer kind -> its Tokenizer class as "module:Class" (the CLI reads declared options from it;
#: the contract tests run it); the modules are imported only when asked for
KIND_CLASSES: dict[str, str] = {
    "text.bpe": "tokkit.text.bpe:BPETokenizer",
    "audio.codec": "tokkit.codecs.audio.tokenizer:AudioTokenizer",
    "image.titok": "tokkit.codecs.image.tokenizer:ImageTokenizer",
    "audio.encodec": "tokkit.codecs.audio.published.tokenizer:PublishedCodecTokenizer",
}

#: file suffix -> loader(path) -> Tokenizer, for tokenizer files that are not tokkit folders
FILE_LOADERS: dict[str, str] = {
    ".json": "tokkit.text.loader:load_file",
    ".tiktoken": "tokkit.text.loader:load_file",
    # published checkpoints, recognised by their tensors (no code is run)
    ".th": "tokkit.codecs.audio.published:load_checkpoint",
    ".pth": "tokkit.codecs.audio.published:load_checkpoint",
    ".ckpt": "tokkit.codecs.audio.published:load_checkpoint",
    ".safetensors": "tokkit.codecs.audio.published:load_checkpoint",
}

#: loader(folder) for folders whose config.json has no "kind": the authors' own snapshots (HF layout)
SNAPSHOT_LOADER = "tokkit.codecs.audio.published:load_checkpoint"

#: built-in name -> folder under the package holding a saved tokenizer (config.json + weights)
BUILTINS: dict[str, str] = {
    "text": "text/default",
    "audio": "codecs/audio/default",
    "image": "codecs/image/default",
}


def register_kind(kind: str, loader: str, tokenizer_class: str | None = None) -> None:
    """Make ``tokkit.load`` understand saved folders whose config says ``"kind": kind``.

    ``loader`` and ``tokenizer_class`` are "module:attribute" strings; give the class so that
    ``tokkit encode`` offers its declared options and the contract tests run it.
    """
    KIND_LOADERS[kind] = loader
    if tokenizer_class is not None:
        KIND_CLASSES[kind] = tokenizer_class


def tokenizer_classes() -> dict[str, type[Tokenizer]]:
    """Registered kind -> Tokenizer class (imports each class's module)."""
    return {kind: _resolve(target) for kind, target in KIND_CLASSES.items()}


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
    if not any((directory / name).is_file() for name in ("model.safetensors", "pytorch_model.bin")):
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
    (e.g. ``pattern=`` for an unknown ``.tiktoken`` file, ``device=`` for torch models).
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
        else:
            raise InputError(f"{path} is a folder without config.json or tokenizer.json")
    loader = FILE_LOADERS.get(path.suffix.lower())
    if loader is None:
        known = ", ".join(sorted(FILE_LOADERS))
        raise UnsupportedFormatError(f"{path}: unknown tokenizer file type {path.suffix!r} (known: {known}, or a folder)")
    tokenizer = _call_loader(loader, path.suffix.lower(), path, **options)
    tokenizer.name = name
    return tokenizer


def load_for_tokens(made_by: dict, override: str | os.PathLike | None = None, **options: object) -> Tokenizer:
    """The tokenizer that can decode tokens whose file names ``made_by``; refuse a mismatched one.

    ``override`` (a path or name) replaces the recorded name, e.g. when the tokenizer was moved.
    """
    from tokkit.errors import TokenizerMismatchError

    target = override if override is not None else made_by.get("name")
    if not target:
        raise InputError("the token file does not name its tokenizer; pass one with -t")
    try:
        tokenizer = load(target, **options)
    except InputError:
        if override is not None:
            raise
        raise InputError(f"the tokens were made by {target}, which is not found here; pass its new location with -t") from None
    if made_by.get("hash") and tokenizer.identity["hash"] != made_by["hash"]:
        raise TokenizerMismatchError(
            f"the tokens were made by a tokenizer with hash {made_by['hash']}, but {target} has hash "
            f"{tokenizer.identity['hash']}; decode with the tokenizer that made them"
        )
    return tokenizer


#: input file suffix -> built-in tokenizer used when the user names none (anything else is text)
DEFAULT_FOR_SUFFIX: dict[str, str] = {
    ".wav": "audio", ".flac": "audio", ".ogg": "audio", ".mp3": "audio",
    ".png": "image", ".jpg": "image", ".jpeg": "image", ".webp": "image", ".bmp": "image",
}


def default_tokenizer_name(input_path: str | os.PathLike) -> str:
    """The built-in tokenizer for an input file, chosen by its suffix."""
    return DEFAULT_FOR_SUFFIX.get(Path(os.fspath(input_path)).suffix.lower(), "text")

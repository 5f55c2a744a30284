"""Tensors of a TorchScript archive (``torch.jit.save``: Cosmos ``.jit`` files) read as data, no code run.

A TorchScript archive is a zip holding the module's TorchScript source (``code/``), its tensors
(``data/N``) and ``data.pkl``, a pickle of the module tree whose classes are named ``__torch__.*``.
``torch.jit.load`` compiles that source into a runnable module; this reader does not: it unpickles
``data.pkl`` with an unpickler that builds every ``__torch__.*`` object as a plain attribute holder,
rebuilds tensors from ``data/`` and refuses every other global, then collects the tensors by their
attribute paths (``encoder.conv_in.weight``, ...) - the names the module's ``state_dict`` would have.
"""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from pathlib import Path

import torch

from tokkit.errors import InputError

#: legacy storage classes named in TorchScript pickles -> their dtype
_STORAGE_DTYPES = {
    "FloatStorage": torch.float32, "DoubleStorage": torch.float64, "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16, "LongStorage": torch.int64, "IntStorage": torch.int32,
    "ShortStorage": torch.int16, "CharStorage": torch.int8, "ByteStorage": torch.uint8, "BoolStorage": torch.bool,
}
#: the list builders TorchScript pickles use for typed list attributes (plain lists here)
_LIST_BUILDERS = ("build_intlist", "build_doublelist", "build_boollist", "build_tensorlist", "build_genericlist")
_MAX_DEPTH = 200  # module nesting deeper than this is not a real network


class _ScriptObject:
    """A ``__torch__.*`` object: only its attributes (set by the pickle's BUILD), no methods, no code."""

    def __setstate__(self, state: object) -> None:
        if isinstance(state, dict):
            self.__dict__.update(state)


class _StorageType:
    def __init__(self, dtype: torch.dtype) -> None:
        self.dtype = dtype


def _build_list(items: object) -> list:
    return list(items) if isinstance(items, (list, tuple)) else []


def is_torchscript(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a zip archive written by ``torch.jit.save`` (it has ``code/`` and ``data.pkl``)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except Exception:  # noqa: BLE001 - a corrupt zip raises many types (bad UTF-8 names, unknown versions, ...)
        return False  # not readable as an archive: the caller's torch reader reports it
    return any(n.endswith("/data.pkl") for n in names) and any("/code/" in n for n in names)


def read_torchscript_tensors(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Every tensor attribute of a TorchScript archive, named by its attribute path; no TorchScript code
    is compiled or run. Any failure is one InputError naming the file."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            data_pkl = next(n for n in archive.namelist() if n.endswith("/data.pkl"))
            root = data_pkl[: -len("data.pkl")]
            sizes = {info.filename: info.file_size for info in archive.infolist()}
            storages: dict[str, torch.UntypedStorage] = {}

            def storage(key: str, dtype: torch.dtype, numel: int) -> torch.storage.TypedStorage:
                name = f"{root}data/{key}"
                if name not in sizes or sizes[name] < numel * torch.empty((), dtype=dtype).element_size():
                    raise InputError(f"{path}: tensor data {key} is missing or shorter than its header says")
                if key not in storages:
                    storages[key] = torch.UntypedStorage.from_buffer(archive.read(name), dtype=torch.uint8)
                return torch.storage.TypedStorage(wrap_storage=storages[key], dtype=dtype, _internal=True)

            tree = _Unpickler(io.BytesIO(archive.read(data_pkl)), storage).load()
    except StopIteration:
        raise InputError(f"{path} is not a TorchScript archive (no data.pkl)") from None
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - corrupt archives and pickles raise many types; all are bad input
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"cannot read the TorchScript archive {path}: {reason}") from None
    tensors: dict[str, torch.Tensor] = {}
    _collect(tree, "", tensors, 0)
    if not tensors:
        raise InputError(f"{path} holds no tensors: not a model")
    return tensors


class _Unpickler(pickle.Unpickler):
    """Builds ``__torch__`` objects as attribute holders and tensors from the archive; refuses the rest."""

    def __init__(self, handle: io.BytesIO, storage) -> None:
        super().__init__(handle)
        self._storage = storage

    def find_class(self, module: str, name: str) -> object:
        if module == "__torch__" or module.startswith("__torch__."):
            return type(name, (_ScriptObject,), {})
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_parameter"):
            return getattr(torch._utils, name)
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(_STORAGE_DTYPES[name])
        if module == "torch.jit._pickle" and name in _LIST_BUILDERS:
            return _build_list
        if module == "collections" and name == "OrderedDict":
            import collections

            return collections.OrderedDict
        raise pickle.UnpicklingError(f"it names {module}.{name}, which a data-only read refuses")

    def persistent_load(self, pid: object) -> object:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage" and isinstance(pid[1], _StorageType)):
            raise pickle.UnpicklingError(f"unexpected persistent id {str(pid)[:80]}")
        _, kind, key, _location, numel = pid
        return self._storage(str(key), kind.dtype, int(numel))


def _collect(value: object, prefix: str, out: dict[str, torch.Tensor], depth: int) -> None:
    if depth > _MAX_DEPTH:
        raise InputError("the TorchScript module tree is nested too deeply")
    if isinstance(value, torch.Tensor):
        out[prefix] = value
    elif isinstance(value, _ScriptObject):
        for name, item in vars(value).items():
            if isinstance(item, (torch.Tensor, _ScriptObject)):
                _collect(item, f"{prefix}.{name}" if prefix else name, out, depth + 1)

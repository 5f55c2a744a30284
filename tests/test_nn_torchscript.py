"""TorchScript archives (Cosmos ``.jit``) read as data: tensors by attribute path, no TorchScript code compiled."""

from __future__ import annotations

import zipfile

import pytest
import torch

import tokkit
from tokkit.errors import InputError
from tokkit.nn.torchscript import is_torchscript, read_torchscript_tensors
from tokkit.nn.weights import read_state_dict


class Small(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.seq = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.GroupNorm(1, 2))
        self.scale16 = torch.nn.Parameter(torch.randn(2, 3).half())
        self.register_buffer("steps", torch.arange(5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Patcher(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("wavelets", torch.tensor([0.7071, 0.7071]), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.wavelets[0]


class CosmosLike(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.patcher = Patcher()
        self.conv_in = torch.nn.Conv2d(12, 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_in(self.patcher(x))


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A TorchScript archive of ``Small`` (scripted once: compiling is the slow part) and its module."""
    model = Small()
    path = tmp_path_factory.mktemp("jit") / "small.jit"
    torch.jit.save(torch.jit.script(model), str(path))
    return path, model


def test_tensors_equal_the_state_dict(small):
    path, model = small
    assert is_torchscript(path)
    tensors = read_state_dict(path)
    expected = model.state_dict()
    assert set(tensors) == set(expected)
    for key, value in expected.items():
        assert tensors[key].dtype == value.dtype and torch.equal(tensors[key], value), key


def test_a_pickled_state_dict_is_not_torchscript(tmp_path):
    path = tmp_path / "plain.pt"
    torch.save({"w": torch.zeros(2)}, path)
    assert not is_torchscript(path) and set(read_state_dict(path)) == {"w"}


def rewritten(good, tmp_path, name: str, change) -> object:
    """A copy of the TorchScript archive ``good`` with each member's bytes passed through ``change(name, data)``."""
    bad = tmp_path / name
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(bad, "w") as target:
        for info in source.infolist():
            target.writestr(info, change(info.filename, source.read(info.filename)))
    return bad


def test_a_global_outside_the_tensor_set_is_refused(small, tmp_path):
    """An archive whose data.pkl names any other global (here os.system) fails as data, nothing runs."""
    payload = b"\x80\x02cos\nsystem\nX\x04\x00\x00\x00trueq\x00\x85R."
    bad = rewritten(small[0], tmp_path, "bad.jit", lambda name, data: payload if name.endswith("/data.pkl") else data)
    with pytest.raises(InputError, match="os.system"):
        read_torchscript_tensors(bad)


def test_truncated_tensor_data_is_one_line(small, tmp_path):
    bad = rewritten(small[0], tmp_path, "short.jit", lambda name, data: data[:3] if "/data/" in name and len(data) > 8 else data)
    with pytest.raises(InputError, match="shorter than its header"):
        read_torchscript_tensors(bad)


def test_a_cosmos_half_is_named_and_refused_in_one_line(tmp_path, run_cli):
    """A Cosmos-like archive without the rest of the tokenizer: recognised as Cosmos, refused in one line."""
    path = tmp_path / "encoder.jit"
    torch.jit.save(torch.jit.script(CosmosLike()), str(path))
    assert "patcher.wavelets" in read_state_dict(path)  # non-persistent buffers are attributes too
    with pytest.raises(InputError, match="Cosmos tokenizer's encoder is missing"):
        tokkit.load(path, device="cpu")
    code, out, err = run_cli("info", path)
    assert code != 0 and "Cosmos" in err and len(err.strip().splitlines()) == 1


def test_a_legacy_pickle_is_refused_unread(tmp_path):
    """The non-zip torch format's loader allocates the sizes its header claims: refused before reading."""
    path = tmp_path / "old.pt"
    torch.save({"w": torch.zeros(2)}, path, _use_new_zipfile_serialization=False)
    with pytest.raises(InputError, match="legacy"):
        read_state_dict(path)

"""tokkit.load: clear errors for everything that is not a tokenizer, and a cheap import."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import tokkit
from tokkit.errors import InputError, UnsupportedFormatError


def test_unknown_name_lists_builtins():
    with pytest.raises(InputError, match="not a file, a folder or a built-in name"):
        tokkit.load("no-such-tokenizer")


def test_folder_without_config(tmp_path):
    with pytest.raises(InputError, match="without config.json"):
        tokkit.load(tmp_path)


def test_config_without_kind_and_unknown_kind(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(UnsupportedFormatError, match="kind"):
        tokkit.load(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"kind": "martian"}))
    with pytest.raises(UnsupportedFormatError, match="unknown tokenizer kind 'martian'"):
        tokkit.load(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(InputError, match="cannot read"):
        tokkit.load(tmp_path)


def test_unknown_file_suffix(tmp_path):
    (tmp_path / "vocab.xyz").write_bytes(b"\0")
    with pytest.raises(UnsupportedFormatError, match="unknown tokenizer file type"):
        tokkit.load(tmp_path / "vocab.xyz")
    # .bin is a checkpoint suffix (TiTok, One-D-Piece): a file that is not one is named as such
    (tmp_path / "vocab.bin").write_bytes(b"\0")
    with pytest.raises(InputError, match="too short to be a checkpoint"):
        tokkit.load(tmp_path / "vocab.bin")


def test_import_is_cheap():
    code = "import sys, tokkit; heavy = [m for m in ('torch', 'tokenizers', 'tiktoken', 'scipy') if m in sys.modules]; print(heavy)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_config_base_round_trips_and_names_unknown_fields(tmp_path):
    import dataclasses
    from typing import ClassVar

    from tokkit.core.config import JsonConfig

    @dataclasses.dataclass
    class Demo(JsonConfig):
        kind: ClassVar[str] = "demo.kind"
        levels: tuple = (8, 5)
        width: int = 4

    config = Demo(levels=(3, 3), width=7)
    assert config.to_dict() == {"kind": "demo.kind", "levels": [3, 3], "width": 7}
    assert Demo.from_json(config.to_json()) == Demo(levels=[3, 3], width=7)
    with pytest.raises(InputError, match=r"no field\(s\) \['depth'\]"):
        Demo.from_dict({"depth": 2})
    (tmp_path / "bad.json").write_text("{oops")
    with pytest.raises(InputError, match="cannot read the config"):
        Demo.from_file(str(tmp_path / "bad.json"))

"""Lazy package exports: names load on first use, unknown names raise AttributeError, dir() lists both."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tokkit.core.lazy import lazy_exports


def test_lazy_exports_load_on_first_use_and_refuse_unknown_names() -> None:
    bound = {"eager_name": 1}
    getattr_, dir_ = lazy_exports("pkg", {"sqrt": "math"}, bound)
    import math

    assert getattr_("sqrt") is math.sqrt
    with pytest.raises(AttributeError, match="module 'pkg' has no attribute 'nope'"):
        getattr_("nope")
    bound["later"] = 2  # the package's globals are read when dir() is called
    assert dir_() == ["eager_name", "later", "sqrt"]


def test_importing_the_lazy_packages_imports_no_heavy_module() -> None:
    code = ("import json, sys, tokkit.pipelines, tokkit.text, tokkit.quant; "
            "print(json.dumps([m for m in ('torch', 'pyarrow', 'tokenizers') if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == []
    import tokkit.pipelines

    assert "encode_to_shards" in dir(tokkit.pipelines)
    assert tokkit.pipelines.collate.__module__ == "tokkit.pipelines.collation"

"""The layers point down only: core -> quant -> nn -> text / codecs -> analysis -> pipelines -> cli.

Each layer is imported alone in a fresh interpreter and ``sys.modules`` is read back: no module of a higher
layer (or of the sibling layer: text and codecs do not import each other) may have been loaded. The
imports inside functions (lazy ones) are checked from the source, and module-level imports may not form
a cycle.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import tokkit

PACKAGE = Path(tokkit.__file__).resolve().parent
ROOT = PACKAGE.parent

#: layer -> rank; a module may import modules of lower rank and of its own layer only
RANKS = {"core": 0, "quant": 1, "nn": 2, "text": 3, "codecs": 3, "analysis": 4, "pipelines": 5, "cli": 6}


def _layer(module: str) -> str:
    """"tokkit.codecs.audio.model" -> "codecs"; "tokkit" itself and "tokkit.errors" -> "core"."""
    parts = module.split(".")
    if len(parts) == 1 or parts[1] == "errors":
        return "core"
    return "cli" if parts[1] == "__main__" else parts[1]


def _modules(layer: str | None = None) -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(ROOT).with_suffix("")
        parts = list(relative.parts)
        if parts[-1] == "__init__":
            parts.pop()
        name = ".".join(parts)
        if layer is None or (name != "tokkit" and _layer(name) == layer):
            names.append(name)
    return names


def _allowed(importer: str, imported: str) -> bool:
    a, b = _layer(importer), _layer(imported)
    return a == b or RANKS[b] < RANKS[a]


_PROBE = """
import importlib, json, sys
for name in json.loads(sys.argv[1]):
    importlib.import_module(name)
print(json.dumps(sorted(m for m in sys.modules if m == "tokkit" or m.startswith("tokkit."))))
"""

LAYERS = ["core", "quant", "nn", "text", "codecs", "analysis", "pipelines", "cli"]
_LOADED: dict[str, list[str]] = {}


def _loaded_by_layer() -> dict[str, list[str]]:
    """Layer -> the tokkit modules loaded by importing all of that layer's modules in a fresh interpreter
    (the interpreters run side by side; each imports torch where its layer needs it)."""
    if not _LOADED:
        env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
        env["PYTHONPATH"] = str(ROOT)
        probe = {layer: [m for m in _modules(layer) if m != "tokkit.__main__"] for layer in LAYERS}  # __main__ runs the CLI
        runs = {layer: subprocess.Popen([sys.executable, "-c", _PROBE, json.dumps(probe[layer])], cwd=ROOT,
                                        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for layer in LAYERS}
        for layer, run in runs.items():
            out, err = run.communicate(timeout=600)
            assert run.returncode == 0, f"importing the {layer} layer failed: {err[-2000:]}"
            _LOADED[layer] = json.loads(out.strip().splitlines()[-1])
    return _LOADED


def test_import_tokkit_loads_only_core() -> None:
    """``import tokkit`` (run by every probe first) loads no tokkit.quant, nor anything above core."""
    loaded = _loaded_by_layer()["core"]
    assert "tokkit.core.container" in loaded and "tokkit.core.tokenizer" in loaded
    assert [m for m in loaded if _layer(m) != "core"] == []


@pytest.mark.parametrize("layer", LAYERS)
def test_each_layer_imported_alone_loads_nothing_above_it(layer: str) -> None:
    names = _modules(layer)
    assert names, f"no modules found for layer {layer}"
    loaded = _loaded_by_layer()[layer]
    assert set(names) - {"tokkit.__main__"} <= set(loaded)
    upward = [m for m in loaded if not _allowed(names[0], m)]
    assert upward == [], f"importing tokkit.{layer} loaded higher (or sibling) layers: {upward}"


def _imports(path: Path, module: str) -> list[tuple[str, bool]]:
    """(imported tokkit module, at module level?) for every import in a source file, TYPE_CHECKING skipped."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.Import):
                found.extend((alias.name, top) for alias in child.names if alias.name.startswith("tokkit"))
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - child.level + 1] + ([base] if base else []))
                if base.startswith("tokkit"):
                    found.extend((f"{base}.{alias.name}" if f"{base}.{alias.name}" in ALL else base, top)
                                 for alias in child.names)
            inner = top and not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            visit(child, inner)

    visit(tree, True)
    return found


ALL = set(_modules())


def _graph() -> dict[str, list[tuple[str, bool]]]:
    graph = {}
    for name in ALL:
        relative = Path(*name.split("."))
        path = ROOT / relative / "__init__.py" if (ROOT / relative).is_dir() else ROOT / relative.with_suffix(".py")
        graph[name] = _imports(path, name)
    return graph


def test_lazy_imports_point_down_too() -> None:
    """Imports inside functions run late, so the subprocess probe cannot see them: read them from the source."""
    upward = sorted({f"{a} -> {b}" for a, edges in _graph().items() for b, _ in edges
                     if b in ALL and not _allowed(a, b)})
    assert upward == []


def test_no_import_cycles() -> None:
    """Module-level imports between tokkit modules form no cycle (a package's __init__ aside: importing
    a submodule always runs its package first)."""
    edges = {a: sorted({b for b, top in found if top and b in ALL and not a.startswith(b + ".")})
             for a, found in _graph().items()}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def walk(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in edges.get(node, []):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                walk(nxt, stack + [nxt])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            walk(node, [node])
    assert cycles == []


def test_the_checks_can_fail() -> None:
    """The rules see an upward import, a sibling import and a lazy one for what they are."""
    assert not _allowed("tokkit.core.tokens", "tokkit.text.bpe") and not _allowed("tokkit.quant.vq", "tokkit.nn.mel")
    assert not _allowed("tokkit.text.bpe", "tokkit.codecs.audio.model") and _allowed("tokkit.cli.encode", "tokkit.core")
    assert _allowed("tokkit.codecs.image.model", "tokkit.quant.fsq") and _allowed("tokkit.errors", "tokkit.core.tokens")
    graph = _graph()
    assert ("tokkit.core.tokens", True) in graph["tokkit.text"]  # module level
    assert ("tokkit.text.dynamic_merge", False) in graph["tokkit.cli.encode"]  # inside a function

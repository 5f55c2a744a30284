"""The tokenizer contract (tokkit/core/tokenizer.py), checked the same way for every tokenizer.

Runs every built-in name that is installed and every registered kind whose class offers a classmethod
``example_tokenizer()``; a tokenizer registered later is picked up without editing this file. A registered
kind that has neither fails here, so that no tokenizer escapes the contract.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import tokkit
from tokkit.core import registry
from tokkit.core.tokenizer import Option, Tokenizer
from tokkit.core.tokens import Tokens
from tokkit.errors import InputError, TokenizerMismatchError, TokkitError

_BUILTIN_KINDS: dict[str, str] = {}


def _builtin_kind(name: str) -> str:
    if name not in _BUILTIN_KINDS:
        _BUILTIN_KINDS[name] = registry.read_config(registry.builtin_path(name))["kind"]
    return _BUILTIN_KINDS[name]


def _cases() -> list[str]:
    """One case per built-in name, plus one per registered kind no built-in covers."""
    builtins = registry.available_builtins()
    covered = {_builtin_kind(name) for name in builtins}
    return [f"builtin:{name}" for name in builtins] + [f"kind:{kind}" for kind in sorted(registry.KIND_CLASSES)
                                                      if kind not in covered]


_INSTANCES: dict[str, Tokenizer] = {}


def _tokenizer(case: str) -> Tokenizer:
    """The tokenizer a case names (built once per session: model loads are slow)."""
    if case not in _INSTANCES:
        how, _, name = case.partition(":")
        if how == "builtin":
            _INSTANCES[case] = tokkit.load(name, **({"device": "cpu"} if _uses_device(name) else {}))
        else:
            cls = registry.tokenizer_classes()[name]
            make = getattr(cls, "example_tokenizer", None)
            if make is None:
                pytest.fail(f"registered kind {name} has no built-in and {cls.__name__} has no example_tokenizer(): "
                            f"the contract suite cannot run it")
            _INSTANCES[case] = make()
    return _INSTANCES[case]


def _uses_device(name: str) -> bool:
    return registry.tokenizer_classes()[_builtin_kind(name)].uses_device


def _plain(value: object) -> object:
    """A decoded item as something ``==`` compares exactly (arrays as lists, pictures as pixel arrays)."""
    if dataclasses.is_dataclass(value):
        return {field.name: _plain(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if hasattr(value, "getdata") and hasattr(value, "size"):  # a Pillow image
        return (value.mode, value.size, np.asarray(value).tolist())
    if isinstance(value, np.ndarray):
        return (value.dtype.str, value.shape, value.tolist())
    return value


def _same_output(a: object, b: object) -> bool:
    """Decoded items equal: exactly, except float arrays (audio, ...), which may differ by float rounding
    (1e-5) when a batch pads items to one length."""
    a, b = _plain(a), _plain(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_output(a[k], b[k]) for k in a)
    if isinstance(a, tuple) and len(a) == 3 and isinstance(b, tuple) and a[0] == b[0] and str(a[0]).startswith("<f"):
        return a[1] == b[1] and np.allclose(np.asarray(a[2]), np.asarray(b[2]), rtol=0, atol=1e-5)
    return a == b


def _same_tokens(a: Tokens, b: Tokens) -> None:
    assert a.codes.shape == b.codes.shape and np.array_equal(a.codes, b.codes)
    assert a.meta == b.meta


@pytest.fixture(params=_cases())
def case(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def tok(case: str) -> Tokenizer:
    return _tokenizer(case)


@pytest.fixture
def items(tok: Tokenizer) -> list:
    return tok.example_inputs(3, seed=1)


_ENCODED: dict[str, list[Tokens]] = {}


@pytest.fixture
def singles(case: str, tok: Tokenizer, items: list) -> list[Tokens]:
    """Each example encoded alone (once per session: the models are slow on a shared CPU)."""
    if case not in _ENCODED:
        _ENCODED[case] = [tok.encode(item) for item in items]
    return _ENCODED[case]


def test_round_trip_shapes_and_meta(tok: Tokenizer, singles: list[Tokens]) -> None:
    for tokens in singles:
        assert isinstance(tokens, Tokens) and tokens.codes.dtype.kind in "iu" and tokens.codes.size > 0
        assert 0 <= tokens.codes.min() and tokens.codes.max() < tok.codebook_size
        assert tokens.meta["modality"] == tok.modality and tokens.meta["tokenizer"] == tok.identity
        assert tokens.meta["codebook_size"] == tok.codebook_size
    again = tok.encode(tok.decode(singles[0]))
    assert again.codes.shape == singles[0].codes.shape, "decoding and re-encoding must keep the token layout"
    codes = {(tokens.codes.shape, tokens.codes.tobytes()) for tokens in singles}
    assert len(singles) == 3 and len(codes) == 3, "example_inputs must give three distinct items"


def test_batch_equals_one_by_one(tok: Tokenizer, items: list, singles: list[Tokens]) -> None:
    batch = tok.encode_batch(items)
    assert len(batch) == len(items)
    for together, alone in zip(batch, singles):
        _same_tokens(together, alone)
    together = tok.decode_batch(batch)
    assert len(together) == len(singles)
    assert all(_same_output(x, tok.decode(t)) for x, t in zip(together, singles))


def test_decode_takes_tokens_and_arrays(tok: Tokenizer, singles: list[Tokens]) -> None:
    tokens = singles[0]
    from_array = _plain(tok.decode(tokens.codes))
    assert from_array == _plain(tok.decode(tokens.codes.tolist()))
    assert from_array == _plain(tok.decode(tokens.codes.astype(np.int32)))
    assert _same_output(tok.decode_batch([tokens.codes, singles[1]])[0], tok.decode(tokens.codes))
    assert type(tok.decode(tokens.codes)) is type(tok.decode(tokens))
    for garbage in (object(), np.array([0.5, 1.5]), ["a", "b"]):
        with pytest.raises(InputError):
            tok.decode(garbage)


def test_declared_options(tok: Tokenizer, items: list, singles: list[Tokens]) -> None:
    assert all(isinstance(option, Option) for option in tok.options)
    assert len({option.name for option in tok.options}) == len(tok.options)
    plain = singles[0]
    for option in tok.options:
        assert option.help and option.type in (bool, int, float, str)
        # the declared default gives what no option gives, through every entry point
        _same_tokens(tok.encode(items[0], **{option.name: option.default}), plain)
        _same_tokens(tok.encode_batch(items[:1], **{option.name: option.default})[0], plain)
        for bad in _bad_values(option, tok):
            with pytest.raises(InputError, match=option.name):
                tok.encode(items[0], **{option.name: bad})
            with pytest.raises(InputError, match=option.name):
                tok.encode_batch(items[:1], **{option.name: bad})
    for method in (tok.encode, tok.encode_batch):
        with pytest.raises(InputError, match="no encode option 'no_such_option'"):
            method(items[:1] if method == tok.encode_batch else items[0], no_such_option=1)


def _bad_values(option: Option, tok: Tokenizer) -> list:
    bad: list = [object()]
    if option.type in (int, float):
        bad.append("many")
        low, high = option.bounds(tok)
        if low is not None:
            bad.append(option.type(low - 1))
        if high is not None:
            bad.append(option.type(high + 1))
    if option.type is int:
        bad.append(2.5)
    if option.type is bool:
        bad.append("perhaps")
    if option.choices:
        bad.append("not-a-choice")
    return bad


def test_options_are_cli_flags(run_cli, tok: Tokenizer) -> None:
    code, out, _ = run_cli("encode", "--help")
    assert code == 0
    for option in tok.options:
        assert option.flag in out.decode()


def test_device(case: str, tok: Tokenizer) -> None:
    how, _, name = case.partition(":")
    if tok.uses_device:
        assert tok.device == "cpu"  # built-ins were loaded with device="cpu"
        if how == "builtin":
            with pytest.raises(InputError, match="device"):
                tokkit.load(name, device="tpu")
    elif how == "builtin":
        with pytest.raises(InputError, match="device"):
            tokkit.load(name, device="cpu")


def test_refuses_other_tokenizers_tokens(tok: Tokenizer, singles: list[Tokens]) -> None:
    tokens = singles[0]
    foreign = Tokens(tokens.codes, {**tokens.meta, "tokenizer": {"name": "other", "hash": "0" * 16}})
    with pytest.raises(TokenizerMismatchError):
        tok.decode(foreign)
    other_modality = Tokens(tokens.codes, {**tokens.meta, "modality": "not-" + tok.modality})
    with pytest.raises(TokenizerMismatchError):
        tok.decode(other_modality)


def test_wrong_item_is_an_input_error(tok: Tokenizer) -> None:
    for wrong in (object(), {"not": "an item"}):
        with pytest.raises(InputError):
            tok.encode(wrong)


def test_save_load_identity(tok: Tokenizer, items: list, singles: list[Tokens], tmp_path) -> None:
    folder = tok.save(tmp_path / "saved")
    again = tokkit.load(folder, **({"device": "cpu"} if tok.uses_device else {}))
    assert type(again) is type(tok) and again.identity["hash"] == tok.identity["hash"]
    assert np.array_equal(again.encode(items[1]).codes, singles[1].codes)


def test_every_registered_kind_has_a_class() -> None:
    """``register_kind`` without the class would hide a tokenizer from the CLI flags and from this suite."""
    assert set(registry.KIND_CLASSES) >= {"text.bpe", "audio.codec", "image.titok"}
    for kind, cls in registry.tokenizer_classes().items():
        assert issubclass(cls, Tokenizer) and cls.kind == kind
        assert isinstance(cls.options, tuple) and isinstance(cls.uses_device, bool)


def test_option_checks() -> None:
    """Option.check itself: parse strings from the command line, refuse out-of-range values by name."""
    count = Option("count", int, None, "how many", low=1, high="limit")
    owner = type("Owner", (), {"limit": 5, "kind": "test.kind"})()
    assert count.check("3", owner) == 3 and count.check(None, owner) is None and count.check(np.int64(5), owner) == 5
    for bad in ("x", 0, 6, 2.0, True):
        with pytest.raises(InputError, match="test.kind option count must be an integer from 1 to 5"):
            count.check(bad, owner)
    flag = Option("fast", bool, False, "go fast")
    assert flag.check("yes") is True and flag.check("0") is False and flag.check(True) is True
    with pytest.raises(InputError):
        flag.check(1)
    mode = Option("mode", str, "a", "which", choices=("a", "b"))
    assert mode.check("b") == "b" and mode.flag == "--mode"
    with pytest.raises(InputError, match="one of a, b"):
        mode.check("c")
    assert issubclass(InputError, TokkitError)

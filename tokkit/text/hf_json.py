"""Read an HF ``tokenizer.json`` BPE file: token bytes, special tokens, template, and whether it is
expressible as tiktoken ranks plus a regex (which makes the fast exact engine usable)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from tokkit.errors import InputError, UnsupportedFormatError
from tokkit.text.byte_alphabet import byte_to_char, byte_to_char_set, chars_to_bytes
from tokkit.text.tiktoken_files import byte_pair_split, check_id_range

#: the regex HF's ByteLevel pre-tokenizer applies when ``use_regex`` is true (GPT-2's)
HF_BYTE_LEVEL_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

_BYTE_FALLBACK_TOKEN = re.compile(r"<0x([0-9A-Fa-f]{2})>")


@dataclass
class RankPlan:
    """A BPE that tiktoken's core reproduces exactly: byte-token ranks (= ids) and a pre-tokenizer regex."""

    pattern: str
    ranks: dict[bytes, int]
    special_tokens: dict[str, int] = field(default_factory=dict)
    prefix: list[int] = field(default_factory=list)
    suffix: list[int] = field(default_factory=list)


@dataclass
class HFLayout:
    """What tokkit needs to know about one tokenizer.json beyond what HF's runtime does."""

    token_bytes: list[bytes | None]
    special_tokens: dict[str, int]
    byte_level: bool
    replacement: str | None
    strip_leading_space: bool
    template: tuple[list[int], list[int]] | None
    plan: RankPlan | None
    plan_refused: str


def parse_tokenizer_json(text: str, source: str) -> dict[str, Any]:
    """The tokenizer.json as a dict; refuse what is not JSON or not a BPE model, saying what it is."""
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{source} is not valid JSON ({exc.msg} at line {exc.lineno}); "
                         f"expected an HF tokenizers tokenizer.json") from None
    except (RecursionError, ValueError) as exc:  # nesting too deep, an integer too long
        raise InputError(f"{source} is not a usable tokenizer.json: {str(exc)[:80] or 'nested too deeply'}") from None
    if not isinstance(config, dict) or not isinstance(config.get("model"), dict):
        raise UnsupportedFormatError(f"{source} has no \"model\" section: not an HF tokenizers tokenizer.json")
    model = config["model"]
    kind = model.get("type") or ("BPE" if "merges" in model else "unknown")
    if kind != "BPE":
        raise UnsupportedFormatError(
            f"{source} holds a {kind} model; tokkit's text tokenizer needs BPE "
            f"(GPT-2/Llama 3 byte-level or SentencePiece-converted BPE)")
    if not isinstance(model.get("vocab"), dict) or not isinstance(model.get("merges"), list):
        raise UnsupportedFormatError(f"{source}: the BPE model lacks a vocab or a merges list")
    return config


def _components(section: dict | None, key: str) -> list[dict]:
    """A normalizer/pre-tokenizer/decoder/processor flattened out of its Sequence wrappers."""
    if not section:
        return []
    if section.get("type") == "Sequence":
        return [part for child in section.get(key, []) for part in _components(child, key)]
    return [section]


def _template(config: dict, specials: dict[str, int]) -> tuple[list[int], list[int]] | None:
    """Ids the post-processor puts before and after one sequence, or None if it does more than that."""
    prefix: list[int] = []
    suffix: list[int] = []
    for processor in _components(config.get("post_processor"), "processors"):
        kind = processor.get("type")
        if kind == "ByteLevel":
            continue
        if kind != "TemplateProcessing":
            return None
        table = processor.get("special_tokens", {})
        seen_sequence = False
        for piece in processor.get("single", []):
            if "Sequence" in piece:
                seen_sequence = True
                continue
            ids = table.get(piece["SpecialToken"]["id"], {}).get("ids", [])
            (suffix if seen_sequence else prefix).extend(ids)
    return prefix, suffix


def _token_bytes(config: dict, byte_level: bool, replacement: str | None,
                 source: str = "tokenizer.json") -> list[bytes | None]:
    model = config["model"]
    entries = dict(model["vocab"])
    size = check_id_range(list(entries.values()) + [t["id"] for t in config.get("added_tokens") or []], source)
    table: list[bytes | None] = [None] * size
    byte_fallback = bool(model.get("byte_fallback"))
    for token, index in entries.items():
        if byte_level:
            try:
                table[index] = chars_to_bytes(token)
                continue
            except KeyError:
                pass
        match = _BYTE_FALLBACK_TOKEN.fullmatch(token) if byte_fallback else None
        if match:
            table[index] = bytes([int(match.group(1), 16)])
        else:
            table[index] = (token.replace(replacement, " ") if replacement else token).encode("utf-8")
    for added in config.get("added_tokens") or []:
        table[added["id"]] = added["content"].encode("utf-8")
    return table


def _rank_plan(config: dict, specials: dict[str, int], template,
               token_bytes: list[bytes | None]) -> tuple[RankPlan | None, str]:
    """Ranks + regex reproducing this BPE exactly under tiktoken's algorithm, or None and the reason."""
    model = config["model"]
    if config.get("normalizer"):
        return None, "it has a normalizer"
    if model.get("dropout") or model.get("byte_fallback") or model.get("continuing_subword_prefix") \
            or model.get("end_of_word_suffix"):
        return None, "its BPE uses dropout, byte fallback or subword affixes"
    parts = _components(config.get("pre_tokenizer"), "pretokenizers")
    if len(parts) == 1 and parts[0].get("type") == "ByteLevel" and parts[0].get("use_regex", True) \
            and not parts[0].get("add_prefix_space"):
        pattern = HF_BYTE_LEVEL_PATTERN
    elif (len(parts) == 2 and parts[0].get("type") == "Split" and "Regex" in parts[0].get("pattern", {})
          and parts[0].get("behavior") == "Isolated" and not parts[0].get("invert")
          and parts[1].get("type") == "ByteLevel" and not parts[1].get("use_regex", True)
          and not parts[1].get("add_prefix_space")):
        pattern = parts[0]["pattern"]["Regex"]
        if re.search(r"\{\d+(?:,\d*)?\}\+", pattern):
            return None, "its regex has a counted repeat followed by '+', which tiktoken reads differently"
    else:
        return None, "its pre-tokenizer is not a byte-level regex split"
    if template is None:
        return None, "its post-processor does more than add tokens around the text"
    for added in config.get("added_tokens") or []:
        if not added.get("special") or added.get("lstrip") or added.get("rstrip") or added.get("single_word"):
            return None, "it has added tokens with non-default matching rules"
    ranks = {chars_to_bytes(token): index for token, index in model["vocab"].items()
             if len(token) == 1 and token in byte_to_char()}
    if len(ranks) != 256:
        return None, "its vocabulary lacks some of the 256 byte tokens"
    vocab = model["vocab"]
    split_points: dict[str, set[int]] = {}
    last_rank = -1
    for left, right in (entry.split(" ", 1) if isinstance(entry, str) else entry for entry in model["merges"]):
        merged_text = left + right
        merged = vocab.get(merged_text)
        if merged is None or merged < last_rank:
            return None, "its merge order is not the order of the merged tokens' ids"
        last_rank = merged
        points = split_points.get(merged_text)
        if points is None:
            split_points[merged_text] = {len(left)}
        else:
            points.add(len(left))
    if not set("".join(split_points)) <= byte_to_char_set():
        return None, "a merged token holds characters outside the byte-level alphabet"
    ranks.update((token_bytes[vocab[token]], vocab[token]) for token in split_points)
    if len(set(ranks.values())) != len(ranks):
        return None, "two byte strings share an id"
    every_split = any(len(points) > 1 for points in split_points.values())
    if every_split:
        # converted from ranks: each split into two ranked tokens must be a merge (spelled in
        # byte-level characters, one per byte, so string cuts are byte cuts)
        known = split_points.keys() | set(byte_to_char())
        for text, points in split_points.items():
            if any(i not in points and text[:i] in known and text[i:] in known for i in range(1, len(text))):
                return None, f"token {chars_to_bytes(text)!r} lacks merges for some of its splits"
    else:
        for text, points in split_points.items():
            token = chars_to_bytes(text)
            parts = byte_pair_split(ranks, token, ranks[token])
            if len(parts) != 2 or len(parts[0]) not in points:
                return None, f"token {token!r} is merged differently from the rank order"
    if not model.get("ignore_merges") and every_split:
        return None, "whole-word lookup differs from merging (ignore_merges is off)"
    if model.get("ignore_merges") and len(ranks) != len(vocab):
        return None, "some vocabulary entries are neither bytes nor merge results"
    prefix, suffix = template
    return RankPlan(pattern, ranks, dict(specials), list(prefix), list(suffix)), ""


def analyze_tokenizer_json(config: dict[str, Any], source: str = "tokenizer.json") -> HFLayout:
    """Token bytes, special tokens, decoding rule and fast-engine plan of a parsed BPE tokenizer.json."""
    pre = _components(config.get("pre_tokenizer"), "pretokenizers")
    decoders = _components(config.get("decoder"), "decoders")
    normalizers = _components(config.get("normalizer"), "normalizers")
    byte_level = any(part.get("type") == "ByteLevel" for part in pre + decoders)
    metaspace = [part for part in pre + decoders if part.get("type") == "Metaspace"]
    replacement = None
    if metaspace:
        replacement = metaspace[0].get("replacement", "\u2581")
    elif any(part.get("type") == "Replace" and part.get("content") == "\u2581" for part in normalizers) or any(
            part.get("type") == "Replace" and part.get("pattern", {}).get("String") == "\u2581" for part in decoders):
        replacement = "\u2581"
    strip = any(part.get("type") == "Strip" and part.get("start", 0) >= 1 and part.get("content") == " "
                for part in decoders) or any(part.get("prepend_scheme", "always") != "never"
                                             for part in metaspace if part in decoders)
    specials = {t["content"]: t["id"] for t in config.get("added_tokens") or [] if t.get("special")}
    template = _template(config, specials)
    table = _token_bytes(config, byte_level, replacement, source)
    plan, reason = (None, "it is not byte-level") if not byte_level else _rank_plan(config, specials, template, table)
    return HFLayout(table, specials, byte_level, replacement, strip,
                    template, plan, reason)

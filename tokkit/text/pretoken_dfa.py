"""A pre-tokenizer regex as an automaton over character classes, to find pre-token boundaries for many
strings at once (numpy) instead of one regex call per string.

The regex is parsed (the subset that BPE pre-tokenizers use: alternation, groups, ``(?i:...)``, character
classes and escapes such as ``\\p{L}``, quantifiers ``? * + {m,n}`` (possessive and lazy forms accepted),
a one-character negative lookahead ``(?!\\S)`` and ``$``), compiled to a Thompson program, and run as a
Pike VM whose ordered thread lists are the states of a lazily built DFA: this reproduces leftmost-first
(backtracking) match semantics, so the first match at a position is the regex module's. Characters
that every atom of the pattern treats alike share a class, so states step on class ids.
Unsupported syntax raises ``ValueError``; callers then fall back to the tokenizer itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import regex

_CHAR, _SPLIT, _JMP, _MATCH, _NOT_NEXT, _END = range(6)


@dataclass
class _Node:
    kind: str  # "atom", "seq", "alt", "repeat", "notnext", "end"
    atom: int = -1
    parts: list | None = None
    lo: int = 0
    hi: int | None = None
    greedy: bool = True


class _Parser:
    """Recursive descent over the regex subset; atoms become regex sources tested one character at a time."""

    def __init__(self, pattern: str) -> None:
        self.s, self.i = pattern, 0
        self.atoms: list[str] = []

    def _atom(self, source: str, ignore_case: bool) -> _Node:
        text = f"(?i:{source})" if ignore_case else source
        if text not in self.atoms:
            self.atoms.append(text)
        return _Node("atom", atom=self.atoms.index(text))

    def parse(self) -> _Node:
        node = self._alt(False)
        if self.i != len(self.s):
            raise ValueError(f"unsupported regex syntax at {self.i}: {self.s[self.i:self.i + 10]!r}")
        return node

    def _alt(self, ic: bool) -> _Node:
        options = [self._seq(ic)]
        while self.i < len(self.s) and self.s[self.i] == "|":
            self.i += 1
            options.append(self._seq(ic))
        return options[0] if len(options) == 1 else _Node("alt", parts=options)

    def _seq(self, ic: bool) -> _Node:
        items = []
        while self.i < len(self.s) and self.s[self.i] not in "|)":
            items.append(self._quantified(ic))
        return _Node("seq", parts=items)

    def _quantified(self, ic: bool) -> _Node:
        node = self._primary(ic)
        s = self.s
        if self.i >= len(s) or s[self.i] not in "?*+{":
            return node
        if node.kind in ("notnext", "end"):
            raise ValueError("a quantified assertion is not supported")
        ch = s[self.i]
        if ch == "{":
            close = s.index("}", self.i)
            body = s[self.i + 1:close]
            lo_text, _, hi_text = body.partition(",")
            lo = int(lo_text)
            hi = lo if "," not in body else (int(hi_text) if hi_text else None)
            self.i = close + 1
        else:
            lo, hi = {"?": (0, 1), "*": (0, None), "+": (1, None)}[ch]
            self.i += 1
        greedy = True
        if self.i < len(s) and s[self.i] in "?+":
            greedy = s[self.i] == "+"  # possessive runs as greedy (same pieces for these patterns; tested)
            self.i += 1
        return _Node("repeat", parts=[node], lo=lo, hi=hi, greedy=greedy)

    def _class_end(self, start: int) -> int:
        j = start + 1
        if j < len(self.s) and self.s[j] == "^":
            j += 1
        if j < len(self.s) and self.s[j] == "]":
            j += 1
        while self.s[j] != "]":
            j += 2 if self.s[j] == "\\" else 1
        return j + 1

    def _escape_end(self, start: int) -> int:
        j = start + 2
        if self.s[start + 1] in "pP" and j < len(self.s) and self.s[j] == "{":
            j = self.s.index("}", j) + 1
        return j

    def _primary(self, ic: bool) -> _Node:
        s, i = self.s, self.i
        ch = s[i]
        if ch == "(":
            if s.startswith("(?:", i):
                self.i, inner_ic, kind = i + 3, ic, "group"
            elif s.startswith("(?i:", i):
                self.i, inner_ic, kind = i + 4, True, "group"
            elif s.startswith("(?!", i):
                self.i, inner_ic, kind = i + 3, ic, "notnext"
            elif s.startswith("(?", i):
                raise ValueError(f"unsupported group {s[i:i + 4]!r}")
            else:
                self.i, inner_ic, kind = i + 1, ic, "group"
            inner = self._alt(inner_ic)
            if self.i >= len(s) or s[self.i] != ")":
                raise ValueError("unbalanced parenthesis")
            self.i += 1
            if kind == "notnext":
                if inner.kind == "seq" and len(inner.parts) == 1:
                    inner = inner.parts[0]
                if inner.kind != "atom":
                    raise ValueError("only one-character negative lookahead is supported")
                return _Node("notnext", atom=inner.atom)
            return inner
        if ch == "[":
            end = self._class_end(i)
            self.i = end
            return self._atom(s[i:end], ic)
        if ch == "\\":
            end = self._escape_end(i)
            self.i = end
            if s[i + 1] in "bBAzZG" or s[i + 1].isdigit():
                raise ValueError(f"unsupported escape {s[i:end]!r}")
            return self._atom(s[i:end], ic)
        if ch == "$":
            self.i += 1
            return _Node("end")
        if ch in "^*+?{":
            raise ValueError(f"unsupported regex syntax {ch!r}")
        self.i += 1
        return self._atom("." if ch == "." else regex.escape(ch), ic)


def _compile(node: _Node, prog: list) -> None:
    """Append the Thompson program of ``node`` to ``prog`` (instructions are [op, a, b])."""
    if node.kind == "atom":
        prog.append([_CHAR, node.atom, 0])
    elif node.kind == "notnext":
        prog.append([_NOT_NEXT, node.atom, 0])
    elif node.kind == "end":
        prog.append([_END, 0, 0])
    elif node.kind == "seq":
        for part in node.parts:
            _compile(part, prog)
    elif node.kind == "alt":
        jumps = []
        for k, part in enumerate(node.parts):
            if k < len(node.parts) - 1:
                split = len(prog)
                prog.append([_SPLIT, split + 1, 0])
                _compile(part, prog)
                jumps.append(len(prog))
                prog.append([_JMP, 0, 0])
                prog[split][2] = len(prog)
            else:
                _compile(part, prog)
        for j in jumps:
            prog[j][1] = len(prog)
    elif node.kind == "repeat":
        (body,) = node.parts
        for _ in range(node.lo):
            _compile(body, prog)
        if node.hi is None:
            top = len(prog)
            prog.append([_SPLIT, top + 1, 0])
            _compile(body, prog)
            prog.append([_JMP, top, 0])
            prog[top][2] = len(prog)
            if not node.greedy:
                prog[top][1], prog[top][2] = prog[top][2], prog[top][1]
        else:
            splits = []
            for _ in range(node.hi - node.lo):
                splits.append(len(prog))
                prog.append([_SPLIT, len(prog) + 1, 0])
                _compile(body, prog)
            for split in splits:
                prog[split][2] = len(prog)
                if not node.greedy:
                    prog[split][1], prog[split][2] = prog[split][2], prog[split][1]
    else:  # pragma: no cover - the parser makes no other kinds
        raise ValueError(node.kind)


class PretokenDFA:
    """Leftmost-first matching of one pre-tokenizer regex, stepped on character classes.

    State 0 is dead (no thread left); state 1 is the start of a match. ``step(state, cls)`` returns
    (next state, whether a match ends before that character); ``ends_at_end(state)`` whether one ends at
    the end of the text.
    """

    def __init__(self, pattern: str) -> None:
        parser = _Parser(pattern)
        tree = parser.parse()
        self.pattern = pattern
        self._atoms = [regex.compile(source) for source in parser.atoms]
        prog: list = []
        _compile(tree, prog)
        prog.append([_MATCH, 0, 0])
        self._prog = prog
        self._class_of: dict[str, int] = {}
        self._signatures: dict[tuple[bool, ...], int] = {}
        self._members: list[tuple[bool, ...]] = []
        self._states: list[tuple[int, ...]] = [(), (0,)]
        self._state_ids: dict[tuple[int, ...], int] = {(): 0, (0,): 1}
        self._steps: dict[tuple[int, int], tuple[int, bool]] = {}
        self._ends: dict[int, bool] = {}

    # -- classes ---------------------------------------------------------------------------------
    def char_class(self, char: str) -> int:
        """The class id of one character (characters with the same atom memberships share it)."""
        cls = self._class_of.get(char)
        if cls is None:
            signature = tuple(bool(atom.fullmatch(char)) for atom in self._atoms)
            cls = self._signatures.setdefault(signature, len(self._signatures))
            if cls == len(self._members):
                self._members.append(signature)
            self._class_of[char] = cls
        return cls

    def classes(self, text: str) -> list[int]:
        return [self.char_class(char) for char in text]

    @property
    def n_classes(self) -> int:
        return len(self._members)

    # -- the Pike VM as a lazy DFA -------------------------------------------------------------------
    def _closure(self, pcs: tuple[int, ...], peek: int | None) -> tuple[list[int], bool]:
        """Threads at character-consuming instructions, in priority order, and whether a match is
        reached first (which cuts every lower-priority thread); ``peek`` is the next class or None."""
        prog, members = self._prog, self._members
        out: list[int] = []
        seen: set[int] = set()
        stack = list(reversed(pcs))
        while stack:
            pc = stack.pop()
            if pc in seen:
                continue
            seen.add(pc)
            op, a, b = prog[pc]
            if op == _CHAR:
                out.append(pc)
            elif op == _SPLIT:
                stack.append(b)
                stack.append(a)
            elif op == _JMP:
                stack.append(a)
            elif op == _NOT_NEXT:
                if peek is None or not members[peek][a]:
                    stack.append(pc + 1)
            elif op == _END:
                if peek is None:
                    stack.append(pc + 1)
            else:  # _MATCH
                return out, True
        return out, False

    def _state(self, pcs: tuple[int, ...]) -> int:
        sid = self._state_ids.get(pcs)
        if sid is None:
            sid = self._state_ids[pcs] = len(self._states)
            self._states.append(pcs)
        return sid

    def step(self, state: int, cls: int) -> tuple[int, bool]:
        key = (state, cls)
        hit = self._steps.get(key)
        if hit is None:
            threads, matched = self._closure(self._states[state], cls)
            member = self._members[cls]
            nxt: list[int] = []
            for pc in threads:
                if member[self._prog[pc][1]] and pc + 1 not in nxt:
                    nxt.append(pc + 1)
            hit = self._steps[key] = (self._state(tuple(nxt)), matched)
            table = getattr(self, "_table", None)
            if table is not None and state < table[0].shape[0] and cls < table[0].shape[1]:
                table[0][state, cls], table[1][state, cls] = hit
        return hit

    def ends_at_end(self, state: int) -> bool:
        hit = self._ends.get(state)
        if hit is None:
            hit = self._ends[state] = self._closure(self._states[state], None)[1]
        return hit

    def run(self, classes: list[int], state: int = 1) -> tuple[int, int | None]:
        """Step through ``classes`` from ``state``: (state after them, offset of the last match end
        before the end of the input, or None)."""
        last = None
        for k, cls in enumerate(classes):
            if state == 0:
                break
            state, matched = self.step(state, cls)
            if matched:
                last = k
        return state, last

    def first_piece(self, text: str) -> int | None:
        """Length of the first pre-token of ``text`` (the match at 0), or None where nothing matches."""
        state, last = self.run(self.classes(text))
        if state != 0 and self.ends_at_end(state):
            last = len(text)
        return last

    def pieces(self, text: str) -> list[str]:
        """The pre-tokens of ``text`` (as ``regex.findall``; a character no match starts is skipped)."""
        out, start = [], 0
        while start < len(text):
            length = self.first_piece(text[start:])
            if not length:
                start += 1
                continue
            out.append(text[start:start + length])
            start += length
        return out

    # -- many strings at once ----------------------------------------------------------------------
    def _dense(self) -> tuple[np.ndarray, np.ndarray]:
        """The steps found so far as arrays [state, class] -> next state (-1: not yet) and match flag."""
        shape = (len(self._states), self.n_classes)
        table = getattr(self, "_table", None)
        if table is None or table[0].shape != shape:
            nxt = np.full(shape, -1, dtype=np.int64)
            hit = np.zeros(shape, dtype=bool)
            for (state, cls), (to, matched) in self._steps.items():
                if state < shape[0] and cls < shape[1]:
                    nxt[state, cls], hit[state, cls] = to, matched
            table = self._table = (nxt, hit)
        return table

    def last_match_offsets(self, state: int, flat: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """For strings given as class ids (``flat[starts[i]:starts[i] + lengths[i]]``), stepping each from
        ``state``: the offset of the last match end within it (0..length), -1 where none ends there."""
        n = len(lengths)
        last = np.full(n, -1, dtype=np.int64)
        finals = np.zeros(n, dtype=np.int64)
        alive = np.flatnonzero(lengths > 0)
        current = np.full(len(alive), state, dtype=np.int64)
        j = 0
        while alive.size:
            cls = flat[starts[alive] + j]
            nxt, hit = self._dense()
            step = nxt[current, cls] if cls.size else cls
            missing = step < 0
            if missing.any():
                for s, c in set(zip(current[missing].tolist(), cls[missing].tolist())):
                    self.step(s, c)
                nxt, hit = self._dense()
                step = nxt[current, cls]
            matched = hit[current, cls]
            last[alive[matched]] = j
            current = step
            j += 1
            ended = lengths[alive] == j
            if ended.any():
                finals[alive[ended]] = current[ended]
            keep = ~ended & (current != 0)
            alive, current = alive[keep], current[keep]
        ends = np.array([self.ends_at_end(s) for s in range(len(self._states))], dtype=bool)
        at_end = (lengths > 0) & (finals != 0) & ends[finals]
        last[at_end] = lengths[at_end]
        return last


@lru_cache(maxsize=8)
def pretoken_dfa(pattern: str) -> PretokenDFA:
    """The automaton of a pre-tokenizer pattern, built once per pattern (ValueError if unsupported)."""
    return PretokenDFA(pattern)

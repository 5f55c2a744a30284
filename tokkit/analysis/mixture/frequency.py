"""Category samples from word-frequency tables (such as PyPI ``wordfreq``'s, built from web text, Wikipedia,
subtitles, news, books and social media): the pre-token counts merge replay needs, as a tokenizer's
pre-tokenizer would see running text of that language.

A table gives lower-cased words and their frequencies. Running text writes each word with or without a
leading space, in lower case, Capitalized or UPPER case, and between words puts punctuation, digits and
line breaks. :func:`writing_stats` measures those habits on a sample of running text of the language;
:func:`written_forms` applies them to a table (expected count of every written form and separator);
:func:`frequency_sample` cuts the forms with the tokenizer's own pre-tokenizer.

What this may bias (say so where the shares are quoted): the casing and separators come from whatever
running text is given (help files and man pages on a typical machine: more Title Case and short lines than
web prose); rare words beyond the table's cut are missing; tables that segment scripts written without
spaces (Chinese, Japanese) or split clitics ("l'homme") into words lose the pre-tokens that span words;
numbers come only from the separators, since the tables fold digits.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np

from tokkit.analysis.mixture.corpus import CategorySample
from tokkit.errors import InputError

#: a word of running text: letters only (digits and underscores belong to the separators), with the
#: single space before it when there is one
_WORD = re.compile(r"( ?)([^\W\d_]+)")
#: lines with fewer words are UI labels, headings or list items, not prose: they are not measured
PROSE_LINE_WORDS = 8
#: case classes of a written form
LOWER, CAPITALIZED, UPPER = 0, 1, 2


@dataclass(frozen=True)
class WritingStats:
    """How a language's running text writes its words.

    ``case_shares``: (3,) shares of lower-case, Capitalized and UPPER-case words over all cased words.
    ``word_case``: lower-cased word -> (3,) counts of its three cases in the measured text.
    ``glued``: share of words written without a leading space (after punctuation or a line break, or in
    a script written without spaces).
    ``separators``: the text between words (punctuation, digits, line breaks, extra spaces) -> how
    often it occurs per word.
    """

    case_shares: np.ndarray = field(default_factory=lambda: np.array([1.0, 0.0, 0.0]))
    word_case: Mapping[str, np.ndarray] = field(default_factory=dict)
    glued: float = 0.0
    separators: Mapping[str, float] = field(default_factory=dict)
    words_measured: int = 0


def _case_class(word: str) -> int:
    if len(word) > 1 and word.isupper():
        return UPPER
    return CAPITALIZED if word[0].isupper() else LOWER


def writing_stats(text: str, *, prose_line_words: int = PROSE_LINE_WORDS) -> WritingStats:
    """Casing, leading-space and separator habits measured on the prose lines (at least
    ``prose_line_words`` words) of running ``text`` in one language."""
    word_case: dict[str, np.ndarray] = {}
    separators: Counter = Counter()
    n_words = glued = 0
    for line in text.splitlines():
        matches = list(_WORD.finditer(line))
        if len(matches) < prose_line_words:
            continue
        end = 0
        for match in matches:
            space, word = match.group(1), match.group(2)
            gap = line[end : match.start()]
            if gap:
                separators[gap] += 1
            end = match.end()
            n_words += 1
            glued += not space
            if word.lower() != word.upper():
                counts = word_case.get(word.lower())
                if counts is None:
                    counts = word_case[word.lower()] = np.zeros(3)
                counts[_case_class(word)] += 1
        separators[line[end:] + "\n"] += 1
    if n_words == 0:
        raise InputError(f"the writing sample has no prose lines (lines of at least {prose_line_words} words) "
                         "to measure casing and spacing on")
    total = sum(word_case.values(), np.zeros(3))
    shares = total / total.sum() if total.sum() else np.array([1.0, 0.0, 0.0])
    return WritingStats(shares, word_case, glued / n_words,
                        {gap: count / n_words for gap, count in separators.items()}, n_words)


def mean_stats(stats: list[WritingStats]) -> WritingStats:
    """Language-level habits averaged over several languages (for a language with no running text of its
    own): mean case shares, glued share and separator rates, no per-word casing."""
    if not stats:
        raise InputError("no writing statistics to average")
    separators: Counter = Counter()
    for s in stats:
        for gap, rate in s.separators.items():
            separators[gap] += rate / len(stats)
    return WritingStats(np.mean([s.case_shares for s in stats], axis=0), {}, float(np.mean([s.glued for s in stats])),
                        dict(separators), 0)


def written_forms(
    table: Mapping[str, float],
    stats: WritingStats,
    *,
    top_words: int = 30_000,
    smoothing: float = 2.0,
    min_frequency: float = 1e-7,
    glued: float | None = None,
) -> dict[str, float]:
    """Expected count per word of running text of every written form of ``table``'s words (word ->
    frequency, case folded) and of every separator ``stats`` measured.

    The ``top_words`` most frequent words are kept; words with digits are left out (tables fold digits,
    the separators carry them). Each word's case shares are its own counts in the measured text smoothed
    towards the language's (``smoothing`` pseudo-counts); words never seen take the language's shares. A
    word is glued (no leading space) at the measured rate unless ``glued`` overrides it (1.0 for scripts
    written without spaces). Forms below ``min_frequency`` are dropped.
    """
    if not 0 < top_words:
        raise InputError("top_words must be positive")
    words = sorted(((w, f) for w, f in table.items() if f > 0 and w and not any(c.isdigit() for c in w)),
                   key=lambda item: -item[1])[:top_words]
    if not words:
        raise InputError("the frequency table holds no words")
    share_glued = stats.glued if glued is None else glued
    forms: Counter = Counter()
    for word, frequency in words:
        cased = word.lower() != word.upper()
        if not cased:
            mix = np.array([1.0, 0.0, 0.0])
        else:
            own = stats.word_case.get(word)
            mix = stats.case_shares if own is None else (own + smoothing * stats.case_shares) / (own.sum() + smoothing)
        spellings = (word, word[:1].upper() + word[1:], word.upper())
        for spelling, share in zip(spellings, mix):
            for form, part in ((" " + spelling, 1.0 - share_glued), (spelling, share_glued)):
                count = frequency * share * part
                if count > 0 and count >= min_frequency:
                    forms[form] += count
    for gap, rate in stats.separators.items():
        if rate > 0 and rate >= min_frequency:
            forms[gap] += rate
    return dict(forms)


def frequency_sample(
    name: str, forms: Mapping[str, float], pretokenize: Callable[[str], list[str]], *, words: float = 1e8
) -> CategorySample:
    """The category sample of written ``forms`` (form -> expected count per word, from
    :func:`written_forms`) in ``words`` words of running text, each form cut by ``pretokenize``."""
    counts: Counter = Counter()
    n_bytes = 0.0
    for form, rate in forms.items():
        expected = rate * words
        for piece in pretokenize(form):
            counts[piece] += expected
        n_bytes += expected * len(form.encode("utf-8"))
    if not counts:
        raise InputError(f"category {name!r}: its frequency table gives no pre-tokens")
    return CategorySample(name, counts, int(round(n_bytes)), 1)


def wordfreq_table(language: str, top_words: int | None = None, wordlist: str = "best") -> dict[str, float]:
    """``wordfreq``'s frequency table of ``language`` (word -> frequency; its ``top_words`` most frequent
    words, whole frequency buckets, when given), or a one-line error saying how to install it or which
    languages it has."""
    try:
        import wordfreq
    except ImportError:
        raise InputError("frequency-table categories need the wordfreq package: pip install 'tokkit[mixture-bench]' "
                         "(or pip install wordfreq)") from None
    available = wordfreq.available_languages(wordlist)
    if language not in available:
        raise InputError(f"wordfreq has no {wordlist!r} table for {language!r}; it has: {', '.join(sorted(available))}")
    table: dict[str, float] = {}
    # buckets come in decreasing frequency, bucket i holding the words of frequency cB_to_freq(-i)
    for index, bucket in enumerate(wordfreq.get_frequency_list(language, wordlist)):
        if top_words is not None and len(table) >= top_words:
            break
        frequency = wordfreq.cB_to_freq(-index)
        for word in bucket:
            table[word] = frequency
    return table

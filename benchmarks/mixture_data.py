"""On-machine text categories for the mixture benchmark.

Natural languages: gettext catalogs (/usr/share/locale/*/LC_MESSAGES/*.mo and LibreOffice's, translated
strings only), translated man pages (/usr/share/man/<lang>, Debian manpages-<lang>, troff markup
stripped) and LibreOffice and GIMP help (Debian libreoffice-help-<lang>, gimp-help-<lang>), without the
untranslated English lines those keep; ensure_packages installs the packages (Debian mirrors only).
Programming languages: source files on the machine.

Each category's files are cut into ~2 KB blocks dealt at random into disjoint ``train`` and ``infer``
halves, cached as plain text under ``~/.cache/tokkit/mixture-bench`` (never committed).

Web-derived languages (:func:`web_forms`): PyPI ``wordfreq``'s tables (``pip install 'tokkit[mixture-bench]'``)
made into written forms by tokkit.analysis.mixture.frequency, with the casing, leading-space and separator
habits measured on the on-machine text of the same language (:func:`language_stats`).
"""

from __future__ import annotations

import functools
import gettext
import gzip
import html
import random
import re
import subprocess
import sys
from pathlib import Path
from typing import Callable, Iterable

CACHE = Path.home() / ".cache" / "tokkit" / "mixture-bench"
DATA_VERSION = "2"  # bump when the readers change what a category holds: caches are then rebuilt
SPLIT_CAP = 12_000_000  # bytes kept per split and category
DOC_CAP = 100_000  # characters kept per file, so that no single file dominates a sample

#: languages with gettext catalogs, man pages and LibreOffice help on the machine
LANGUAGES = ["en", "ca", "cs", "da", "de", "el", "es", "fi", "fr", "hu", "id", "it", "ja", "ko", "nl", "pl", "pt",
             "ru", "sv", "tr", "vi", "zh_CN"]
#: Debian packages the language categories read: LibreOffice help (~3-6 MB of prose per language, with
#: the UI catalogs of libreoffice-l10n-<lang>), GIMP help (~2-6 MB) and the manpages-l10n translations
_NO_GIMP_HELP = {"en", "id", "pl", "tr", "vi"}  # languages GIMP's help lacks (English has plenty without)
_MANPAGES = {"cs", "da", "de", "el", "es", "fi", "fr", "hu", "id", "it", "ja", "nl", "pl", "ru", "sv", "tr", "vi"}
PACKAGES = [f"libreoffice-help-{'en-us' if lang == 'en' else lang.lower().replace('_', '-')}" for lang in LANGUAGES] + [
    f"manpages-{lang}" for lang in sorted(_MANPAGES)] + ["manpages-zh"] + [
    f"gimp-help-{lang.lower().replace('_', '-')}" for lang in LANGUAGES if lang not in _NO_GIMP_HELP] + [
    "lynx"]  # gimp-help depends on gimp's help browser or a www-browser; lynx is the small one
HELP = Path("/usr/share/libreoffice/help")
UI_CATALOGS = Path("/usr/lib/libreoffice/program/resource")  # libreoffice-l10n-<lang>, pulled in by the help
GIMP_HELP = Path("/usr/share/gimp/2.0/help")

_PY = sorted(Path(p) for p in Path(sys.base_prefix).glob("lib/python3*"))[0]
CODE: dict[str, tuple[list[Path], Callable[[Path], bool]]] = {
    "python": ([_PY], lambda p: p.suffix == ".py"),
    "c": ([Path("/usr/include")], lambda p: p.suffix == ".h" and "c++" not in p.parts),
    "cpp": ([Path("/usr/include/c++")], lambda p: True),
    "perl": ([Path("/usr/share/perl"), Path("/usr/share/perl5"), Path("/usr/lib/x86_64-linux-gnu/perl")],
             lambda p: p.suffix in (".pm", ".pl")),
    "javascript": ([Path("/usr"), _PY.parent.parent], lambda p: p.suffix == ".js"),
    "html": ([Path("/usr/share"), _PY.parent.parent], lambda p: p.suffix == ".html"),
    "cmake": ([Path("/usr")], lambda p: p.suffix == ".cmake" or p.name == "CMakeLists.txt"),
    "xml": ([Path("/usr/share")], lambda p: p.suffix == ".xml"),
}


def _blocks(text: str, size: int = 2000) -> list[str]:
    """``text`` cut at line ends into blocks of about ``size`` characters."""
    blocks, start = [], 0
    while start < len(text):
        end = text.find("\n", start + size)
        end = len(text) if end < 0 else end + 1
        blocks.append(text[start:end])
        start = end
    return blocks


def _mo_text(path: Path) -> str:
    try:
        with open(path, "rb") as handle:
            catalog = gettext.GNUTranslations(handle)._catalog
    except (OSError, ValueError, UnicodeDecodeError):
        return ""
    return "\n".join(v for k, v in catalog.items() if k and isinstance(v, str) and v)


_TROFF_ESCAPE = re.compile(r"\\f[BIRP]|\\f\[[A-Z]*\]|\\\(..|\\\*.|\\[-&e|^]|\\s[-+]?\d")


def _man_text(path: Path) -> str:
    try:
        raw = gzip.decompress(path.read_bytes()).decode("utf-8", errors="replace")
    except (OSError, EOFError, ValueError):
        return ""
    lines = []
    for line in raw.splitlines():
        if line.startswith(('.\\"', "'\\\"", '.\\}')):
            continue
        if line.startswith((".", "'")):
            fields = line.split(None, 1)
            line = fields[1].replace('"', "") if len(fields) > 1 else ""
        line = _TROFF_ESCAPE.sub("", line)
        if line.strip():
            lines.append(line)
    return "\n".join(lines)


def _read(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError:
        return ""
    return "" if b"\0" in data[:8192] else data.decode("utf-8", errors="replace")


def _write_splits(name: str, items: Iterable[tuple[Path, Callable[[Path], str]]]) -> None:
    folder = CACHE / name
    folder.mkdir(parents=True, exist_ok=True)
    parts: dict[str, list[str]] = {"train": [], "infer": []}
    sizes = {"train": 0, "infer": 0}
    items = sorted(items)
    rng = random.Random(0)
    rng.shuffle(items)  # any prefix of a split is then a sample of many files
    for path, reader in items:
        if min(sizes.values()) >= SPLIT_CAP:
            break
        # blocks of ~2 KB go to one half or the other at random: both halves sample the same sources,
        # as disjoint samples of a large corpus would
        for block in _blocks(reader(path)[:DOC_CAP]):
            half = "train" if rng.random() < 0.5 else "infer"
            if sizes[half] < SPLIT_CAP:
                parts[half].append(block)
                sizes[half] += len(block.encode("utf-8"))
    for half, texts in parts.items():
        rng.shuffle(texts)  # any prefix is then a sample of blocks from every file read, not of a few files
        (folder / f"{half}.txt").write_text("".join(texts), encoding="utf-8")


_TAG = re.compile(r"(?s)<(script|style)\b.*?</\1>|<[^>]+>")


_ENGLISH_FOOTERS = {"Report a bug in GIMP", "Report a documentation error"}


def _help_text(path: Path) -> str:
    """Prose of a LibreOffice or GIMP help page: tags dropped, entities decoded, English footers cut."""
    raw = path.read_text(encoding="utf-8", errors="replace")
    text = html.unescape(_TAG.sub(" ", raw)).split("Help content debug info")[0]
    lines = (line.strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line and line not in _ENGLISH_FOOTERS)


def ensure_packages() -> None:
    """Install the Debian packages the language categories read (needs root)."""
    query = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Status}\\n", *PACKAGES],
                           capture_output=True, text=True)
    installed = {line.split()[0] for line in query.stdout.splitlines() if line.endswith(" installed")}
    missing = [pkg for pkg in PACKAGES if pkg not in installed]
    if not missing:
        return
    command = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing]
    print("installing " + " ".join(missing), file=sys.stderr)
    if subprocess.run(command, stdout=subprocess.DEVNULL).returncode != 0:
        sys.exit("could not install the language data; run: " + " ".join(command))


def _help_dir(lang: str) -> Path:
    return HELP / ("en-US" if lang == "en" else lang.replace("_", "-"))


#: English function words that none of the other benchmark languages uses as a word
_ENGLISH_WORDS = frozenset(
    "the and with this that which from you your can will when not are have has there into only also should "
    "these their would been than then them they".split())


def _without_english(text: str) -> str:
    """``text`` without its English lines (two or more English function words, at least 15% of the line's
    words): translated man pages and help keep untranslated passages (15-35% of the bytes), and a
    language category should hold that language, as a language-identified corpus would."""
    kept = []
    for line in text.splitlines():
        words = line.lower().split()
        hits = sum(word in _ENGLISH_WORDS for word in words)
        if hits < 2 or hits < 0.15 * len(words):
            kept.append(line)
    return "\n".join(kept)


def language_files(lang: str) -> list[tuple[Path, Callable[[Path], str]]]:
    """A language's gettext catalogs (system and LibreOffice; English: none, msgids are not a sample of
    prose), man pages and help; English lines are dropped from the other languages."""
    catalogs = [Path(f"/usr/share/locale/{lang}/LC_MESSAGES"), UI_CATALOGS / lang / "LC_MESSAGES"]
    mo = [] if lang == "en" else [(p, _mo_text) for folder in catalogs for p in folder.glob("*.mo")]
    man_root = Path("/usr/share/man") if lang == "en" else Path(f"/usr/share/man/{lang}")
    man_glob = "man*/*.gz" if lang == "en" else "**/*.gz"
    man = [(p, _man_text) for p in man_root.glob(man_glob)]
    gimp = GIMP_HELP / lang
    help_pages = [(p, _help_text) for folder in (_help_dir(lang), gimp) for p in folder.rglob("*.html")]
    files = mo + man + help_pages
    if lang == "en":
        return files
    return [(path, lambda p, read=read: _without_english(read(p))) for path, read in files]


def code_files(name: str) -> list[tuple[Path, Callable[[Path], str]]]:
    roots, keep = CODE[name]
    found = {p for root in roots if root.is_dir() for p in root.rglob("*") if p.is_file() and keep(p)}
    return [(p, _read) for p in found]


def category_text(name: str, half: str) -> str:
    """The cached ``train`` or ``infer`` text of a category, built on first use and rebuilt when it was
    made by another version of these readers."""
    target, stamp = CACHE / name / f"{half}.txt", CACHE / name / "version"
    if not target.exists() or not stamp.exists() or stamp.read_text() != DATA_VERSION:
        if name not in CODE:
            ensure_packages()
        _write_splits(name, code_files(name) if name in CODE else language_files(name))
        stamp.write_text(DATA_VERSION)
    return target.read_text(encoding="utf-8")


#: wordfreq language code -> the on-machine category of that language, where the names differ
WORDFREQ_ON_MACHINE = {"zh": "zh_CN"}
#: scripts written without spaces between words: every word is glued to the one before
NO_SPACES = {"zh", "ja"}
STATS_CHARS = 3_000_000  # characters of on-machine text the writing habits are measured on
#: on-machine languages whose habits stand in for a language without on-machine text: European
#: languages that capitalize only sentence starts and names (German capitalizes every noun; CJK and
#: Korean text is mostly unspaced or uncased)
STAND_IN = ["en", "ca", "cs", "da", "es", "fi", "fr", "hu", "id", "it", "nl", "pl", "pt", "ru", "sv", "tr"]


def wordfreq_languages() -> list[str]:
    """The languages wordfreq has a large ('best') table for."""
    import wordfreq

    return sorted(wordfreq.available_languages("best"))


@functools.lru_cache(maxsize=None)
def language_stats(lang: str):
    """Casing, spacing and separators of ``lang`` measured on its on-machine text (``infer`` half), or the
    mean of the stand-in languages' where the machine has no text of it (no per-word casing then)."""
    from tokkit.analysis.mixture.frequency import mean_stats, writing_stats

    name = WORDFREQ_ON_MACHINE.get(lang, lang)
    if name in LANGUAGES:
        return writing_stats(category_text(name, "infer")[:STATS_CHARS])
    return mean_stats([language_stats(other) for other in STAND_IN])


FORMS_VERSION = "1"  # bump when written_forms or language_stats change what a cached table holds


@functools.lru_cache(maxsize=None)
def web_forms(lang: str, top_words: int = 30_000) -> dict[str, float]:
    """Written forms of ``lang``'s wordfreq table (form -> expected count per word of running text),
    cached as JSON under CACHE/wordfreq (they do not depend on the tokenizer)."""
    import json
    from importlib.metadata import version

    from tokkit.analysis.mixture.frequency import wordfreq_table, written_forms
    from tokkit.core.atomic import atomic_write_text

    stamp = f"{DATA_VERSION}/{FORMS_VERSION}/{version('wordfreq')}"
    path = CACHE / "wordfreq" / f"{lang}-{top_words}.json"
    if path.exists():
        cached = json.loads(path.read_text(encoding="utf-8"))
        if cached.get("stamp") == stamp:
            return cached["forms"]
    forms = written_forms(wordfreq_table(lang, 2 * top_words), language_stats(lang), top_words=top_words,
                          glued=1.0 if lang in NO_SPACES else None)
    atomic_write_text(path, json.dumps({"stamp": stamp, "forms": forms}, ensure_ascii=False))
    return forms

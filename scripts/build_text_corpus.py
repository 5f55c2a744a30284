"""Build the training corpus of tokkit's default text tokenizer from text found on any Debian machine.

Man pages (English and every translated language under /usr/share/man, troff requests and font
escapes removed) plus Python standard-library sources, one file per source, written under OUTPUT.
The text is third-party: it stays on the machine and is never committed.

    python scripts/build_text_corpus.py data/text_corpus
"""

from __future__ import annotations

import argparse
import gzip
import re
import sysconfig
from collections import defaultdict
from pathlib import Path

MAN_ROOT = Path("/usr/share/man")
_REQUEST = re.compile(r"^[.'][^\n]*\n?", re.MULTILINE)  # troff request lines (.TH, .SH, .B ...)
_ESCAPE = re.compile(r"\\f[BIRPC]|\\f\(..|\\f\[[^\]]*\]|\\&|\\-|\\\(..|\\\*\(..|\\[ e|^%]")


def man_text(raw: str) -> str:
    """Readable text of a man page: request lines dropped, common escapes removed or resolved."""
    text = _REQUEST.sub("", raw)
    return _ESCAPE.sub(lambda match: {"\\-": "-", "\\e": "\\", "\\ ": " "}.get(match.group(), ""), text)


def man_pages(per_language_limit: int) -> dict[str, str]:
    """Language ("en" for the untranslated pages) -> cleaned man-page text, at most the limit each."""
    texts: dict[str, list[str]] = defaultdict(list)
    sizes: dict[str, int] = defaultdict(int)
    for path in sorted(MAN_ROOT.glob("**/*.gz")):
        relative = path.relative_to(MAN_ROOT).parts
        language = "en" if relative[0].startswith("man") else relative[0]
        if sizes[language] >= per_language_limit:
            continue
        try:
            text = man_text(gzip.decompress(path.read_bytes()).decode("utf-8"))
        except (OSError, EOFError, UnicodeDecodeError):
            continue
        texts[language].append(text)
        sizes[language] += len(text.encode())
    return {language: "\n".join(parts) for language, parts in texts.items()}


def python_sources(limit: int) -> str:
    parts, size = [], 0
    for path in sorted(Path(sysconfig.get_paths()["stdlib"]).rglob("*.py")):
        if "test" in path.parts or "site-packages" in path.parts:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        parts.append(text)
        size += len(text.encode())
        if size >= limit:
            break
    return "\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output", type=Path, help="folder for the corpus files")
    parser.add_argument("--english-mb", type=float, default=6.0, help="MB of English man pages")
    parser.add_argument("--language-mb", type=float, default=2.0, help="MB per translated language at most")
    parser.add_argument("--python-mb", type=float, default=4.0, help="MB of Python standard-library sources")
    args = parser.parse_args()
    args.output.mkdir(parents=True, exist_ok=True)
    limits = {"en": int(args.english_mb * 1e6)}
    for language, text in man_pages(int(max(args.english_mb, args.language_mb) * 1e6)).items():
        text = text[:limits.get(language, int(args.language_mb * 1e6))]
        (args.output / f"man-{language}.txt").write_text(text, encoding="utf-8")
    (args.output / "python-stdlib.txt").write_text(python_sources(int(args.python_mb * 1e6)), encoding="utf-8")
    for path in sorted(args.output.glob("*.txt")):
        print(f"{path.name:<24}{path.stat().st_size / 1e6:8.2f} MB")


if __name__ == "__main__":
    main()

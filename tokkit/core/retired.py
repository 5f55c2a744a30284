"""Built-in models that a later tokkit replaced: their hashes, so tokens they made are named when refused.

A token file records its tokenizer's hash; when a built-in default is retrained, files made by the old one no
longer match. Rather than "another tokenizer made these", the refusal then says which retired model made them
and how to decode them.
"""

from __future__ import annotations

#: hash of a retired built-in -> what it was and how to decode its tokens
RETIRED: dict[str, str] = {
    "a27df693b9a1da32": (
        "tokkit's first speech default 'audio' (one FSQ code per frame, 0.8 kbps), replaced by the "
        "second generation (several bitrates); decode them with tokkit at commit 0d76efb or earlier, "
        "or encode the audio again"
    ),
}


def retired_note(recorded_hash: object) -> str:
    """'' or a sentence (starting with '; ') naming the retired built-in that made tokens with this hash."""
    note = RETIRED.get(recorded_hash) if isinstance(recorded_hash, str) else None
    return f"; they were made by {note}" if note else ""

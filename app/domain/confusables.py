"""Look-alike text: an identifier part that mixes scripts (a Cyrillic "a", U+0430, among Latin
letters) or carries invisible formatting characters can pass for another user's identifier."""

from __future__ import annotations

import unicodedata


def scripts_of(text: str) -> set[str]:
    """The scripts of the letters in ``text``, by the first word of their Unicode names."""
    found = set()
    for char in text:
        if char.isalpha():
            name = unicodedata.name(char, "")
            found.add(name.split(" ", 1)[0] if name else "UNKNOWN")
    return found


def confusable_reason(text: str) -> str | None:
    """Why ``text`` could be mistaken for another string, or None."""
    if any(unicodedata.category(char) in ("Cf", "Cc") for char in text):
        return "it contains invisible or control characters"
    for part in text.replace("@", ".").split("."):
        scripts = scripts_of(part)
        if len(scripts) > 1:
            return f"it mixes {' and '.join(sorted(s.title() for s in scripts))} letters"
    return None

"""Text in the plain form that names, captions and words are compared in."""

from __future__ import annotations

import unicodedata


def fold(text: str) -> str:
    """``text`` in ASCII, accents dropped (``Café Müller`` -> ``Cafe Muller``); letters without an
    ASCII form (``ß``, ``ø``) go. Case and punctuation are kept: each caller decides on those."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()

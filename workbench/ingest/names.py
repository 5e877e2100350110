"""The words names are built from: particles, titles, legal forms and business words.

One reviewed list of each (``config/names.toml``), read by name discovery and by subject linkage
alike, so that both decide "person or business?" on the same words.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import field_validator

from workbench.configuration import ConfigModel, load

CONFIG = Path(__file__).resolve().parents[1] / "config" / "names.toml"


class WordList(ConfigModel):
    evidence: str
    words: frozenset[str]

    @field_validator("words")
    @classmethod
    def _plain(cls, words: frozenset[str]) -> frozenset[str]:
        odd = sorted(w for w in words if not w or w != w.lower() or "." in w or not w.isascii())
        if odd:
            raise ValueError(f"words must be lower case ASCII without dots: {', '.join(odd)}")
        return words


class Names(ConfigModel):
    particles: WordList
    titles: WordList
    legal_forms: WordList
    business_words: WordList


@cache
def lists(path: Path = CONFIG) -> Names:
    """The shipped word lists, validated."""
    return load(path, Names)


def particles() -> frozenset[str]:
    """Family-name prefixes (tussenvoegsels): ``van``, ``de``, ``ter``, ..."""
    return lists().particles.words


def titles() -> frozenset[str]:
    """Forms of address and titles before a name: ``dhr``, ``mevr``, ``dr``, ..."""
    return lists().titles.words


def legal_forms() -> frozenset[str]:
    """Legal forms after a trade name: ``bv``, ``vof``, ``stichting``, ``gmbh``, ..."""
    return lists().legal_forms.words


@cache  # the union is asked for every word of every cell discovery reads
def business_words() -> frozenset[str]:
    """Every word that makes a name a business's: the legal forms and the trade words."""
    return lists().legal_forms.words | lists().business_words.words

"""The fideslang taxonomy's one rule: a dotted key covers itself and every key below it.

Data categories (``user.contact.email``) and data uses (``marketing.advertising``) are dotted
paths; a declaration of ``user.contact`` covers ``user.contact.email`` but not ``user.contactless``.
"""

from __future__ import annotations


def covers(declared: str, category: str) -> bool:
    """Whether ``declared`` is ``category`` or one of its parents."""
    return category == declared or category.startswith(declared + ".")


def related(one: str, other: str) -> bool:
    """Whether either key covers the other (one is the other, a parent or a child of it)."""
    return covers(one, other) or covers(other, one)

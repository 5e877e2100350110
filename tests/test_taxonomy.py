"""The fideslang rule that a dotted key covers the keys below it, and only those."""

from __future__ import annotations

import pytest

from workbench.reference.taxonomy import covers, related


@pytest.mark.parametrize(("declared", "category", "expected"), [
    ("user.contact", "user.contact", True),
    ("user.contact", "user.contact.email", True),
    ("user", "user.contact.address.street", True),
    ("user.contact", "user.contactless", False),  # a shared prefix is not a parent
    ("user.contact.email", "user.contact", False),  # a child does not cover its parent
    ("user.financial", "user.contact", False),
])
def test_covers_itself_and_its_children_only(declared: str, category: str, expected: bool) -> None:
    assert covers(declared, category) is expected


def test_related_either_way_but_not_siblings() -> None:
    assert related("user.contact", "user.contact.email")
    assert related("user.contact.email", "user.contact")
    assert not related("user.contact.email", "user.contact.phone_number")
    assert not related("marketing", "marketingx")

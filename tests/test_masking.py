"""Masked examples keep a value's shape and lose the person."""

from __future__ import annotations

import pytest

from workbench.ingest.masking import mask


@pytest.mark.parametrize("value,kind,expected", [
    ("jan.jansen@example.nl", "email", "j***@e***.nl"),
    ("NL91ABNA0417164300", "iban", "NL************4300"),
    ("06-12345678", "phone", "********78"),
    ("111222333", "bsn", "*******33"),
    ("Jan van der Berg", "name", "J** v** d** B***"),
    ("31-01-1980", "birth_date", "**-**-1980"),
    ("1980-05-17", "birth_date", "1980-**-**"),
    ("", "email", ""),
    (None, None, ""),
])
def test_mask(value: object, kind: str | None, expected: str) -> None:
    assert mask(value, kind) == expected


def test_masked_value_never_contains_the_value() -> None:
    for value in ["jan.jansen@example.nl", "NL91ABNA0417164300", "Jansen", "0612345678"]:
        assert value not in mask(value)

"""Identifiers are normalised by the libraries made for them; invalid ones are flagged, kept."""

from __future__ import annotations

import pandas as pd
import pytest

from workbench.ingest import identifiers


@pytest.mark.parametrize("kind,value,expected", [
    ("email", " Jan.Jansen@Example.COM ", ("jan.jansen@example.com", True)),
    ("email", "jan@", ("jan@", False)),
    ("phone", "06-12345678", ("+31612345678", True)),
    ("phone", "+32 470 12 34 56", ("+32470123456", True)),
    ("phone", "12345", ("12345", False)),
    ("iban", "nl91 abna 0417 1643 00", ("NL91ABNA0417164300", True)),
    ("iban", "NL91ABNA0417164301", ("NL91ABNA0417164301", False)),
    ("bic", "abnanl2a", ("ABNANL2A", True)),
    ("vat_number", "NL 0044.95.445.B01", ("NL004495445B01", True)),
    ("vat_number", "004495445B01", ("NL004495445B01", True)),
    ("vat_number", "DE136695976", ("DE136695976", True)),
    ("kvk_number", "1234 5678", ("12345678", True)),
    ("kvk_number", "1234567", ("1234567", False)),
    ("bsn", "1112.22.333", ("111222333", True)),
    ("bsn", "123456789", ("123456789", False)),
    ("postcode", "8011ab", ("8011 AB", True)),
    ("postcode", "8011", ("8011", False)),
    ("postcode", "B-1000", ("B-1000", True)),
    ("customer_number", "          1001", ("1001", True)),
    ("card_number", "4242 4242 4242 4242", ("**** 4242", True)),
])
def test_normalisers(kind: str, value: str, expected: tuple[str, bool]) -> None:
    assert identifiers.NORMALISERS[kind](value) == expected


def test_normalise_column_once_per_value_and_keeps_invalid() -> None:
    values = pd.Series(["NL91 ABNA 0417 1643 00", "", "NL91ABNA0417164301", "NL91 ABNA 0417 1643 00"])
    normal, valid = identifiers.normalise_column(values, "iban")
    assert normal.tolist() == ["NL91ABNA0417164300", "", "NL91ABNA0417164301", "NL91ABNA0417164300"]
    assert valid.tolist() == [True, False, False, True]


def test_known_results_are_not_checked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    known: dict = {}
    identifiers.normalise_column(pd.Series(["06-12345678", "12345"]), "phone", known)
    assert known == {"06-12345678": ("+31612345678", True), "12345": ("12345", False)}
    monkeypatch.setitem(identifiers.NORMALISERS, "phone", lambda value: pytest.fail(f"checked {value}"))
    normal, valid = identifiers.normalise_column(pd.Series(["12345", "06-12345678", ""]), "phone", known)
    assert normal.tolist() == ["12345", "+31612345678", ""] and valid.tolist() == [False, True, False]


@pytest.mark.parametrize("kind, values", [
    ("iban", ["NL91 ABNA 0417 1643 00", "nl91abna0417164300", "NL91ABNA0417164301", "BE68539007547034",
              " NL91ABNA0417164300 ", "NL00 odd", "", "  ", "DE89 3704 0044 0532 0130 00"]),
    ("email", ["Jan@Example.NL", "jan@example.nl ", "no-at-sign", "a@b", "\u00e9mile@voorbeeld.nl", "", " "]),
    ("postcode", ["1234ab", "1234 AB", "1234 SA", "0123 AB", "SW1A 1AA", "", "\t"]),
    ("phone", ["06-12345678", "12345", ""]),
])
def test_normalise_column_gives_each_value_what_the_library_gives(kind: str, values: list[str]) -> None:
    normal, valid = identifiers.normalise_column(pd.Series(values * 2), kind)
    expected = [identifiers.NORMALISERS[kind](v) if v.strip() else ("", False) for v in values * 2]
    assert list(zip(normal.tolist(), valid.tolist(), strict=True)) == expected

"""The column-speed identifier checks agree with the libraries: every value the fast checks settle
gets the verdict and normal form python-stdnum and email-validator give it, on every identifier
value of the demo and on large random samples; the rest goes to the libraries themselves."""

from __future__ import annotations

import random
import string

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stdnum import iban

from workbench import demo
from workbench.ingest import identifiers, sources

LIBRARY = {"iban": identifiers.iban_number, "email": identifiers.email, "postcode": identifiers.postcode_nl}
COUNTRIES = ["NL", "DE", "FR", "GB", "LU", "AT", "IT", "DK", "IE", "FI", "PL", "PT", "CH", "SE",
             "BE", "ES", "NO", "ME", "MT", "XK", "ZZ"]


def _agrees(kind: str, values: list[str]) -> dict:
    """The fast verdicts, each checked against the library's public function."""
    settled = identifiers.FAST[kind](values)
    for value, verdict in settled.items():
        assert verdict == LIBRARY[kind](value), (kind, value)
    return settled


def _bban(rng: random.Random, country: str) -> str:
    lengths = {"NL": 14, "DE": 18, "FR": 23, "GB": 18, "LU": 16, "AT": 16, "IT": 23, "DK": 14,
               "IE": 18, "FI": 14, "PL": 24, "PT": 21, "CH": 17, "SE": 20, "BE": 12, "ES": 20,
               "NO": 11, "ME": 18, "MT": 27, "XK": 16, "ZZ": 14}
    alphabet = rng.choice([string.digits, string.digits + string.ascii_uppercase])
    head = "".join(rng.choice(string.ascii_uppercase) for _ in range(4)) if rng.random() < 0.4 else ""
    body = head + "".join(rng.choice(alphabet) for _ in range(lengths[country] - len(head)))
    return body[: lengths[country] + rng.choice([0, 0, 0, -1, 1])]


def _ibans(rng: random.Random, n: int) -> list[str]:
    """IBANs of many countries with correct check digits, some mistyped, spaced or lower-cased."""
    out = []
    for _ in range(n):
        country = rng.choice(COUNTRIES)
        bban = _bban(rng, country)
        number = country + iban.calc_check_digits(country + "00" + bban) + bban
        roll = rng.random()
        if roll < 0.2:  # one character mistyped
            at = rng.randrange(len(number))
            number = number[:at] + rng.choice(string.digits + string.ascii_uppercase) + number[at + 1:]
        elif roll < 0.35:
            number = " ".join(number[i:i + 4] for i in range(0, len(number), 4))
        elif roll < 0.45:
            number = number.lower()
        elif roll < 0.5:
            number = rng.choice([" ", "\t", ".", "-", "\u00a0"]) + number + rng.choice(["", " ", "\n"])
        out.append(number)
    return out


def _emails(rng: random.Random, n: int) -> list[str]:
    """Addresses as people type them: recased, with stray dots, hyphens, spaces, Unicode."""
    pieces = ["jan", "Piet", "de.vries", "a", "x_y", "o'brien", "k+tag", "é", "-", ".", "..", "@", " ",
              "1", "%", "=", "xn--", "ß", '"']
    domains = ["example.nl", "Example.COM", "xs4all.nl", "mail.co.uk", "a-b.nl", "-ab.nl", "ab-.nl",
               "localhost", "host.test", "x.local", "123.45", "bücher.de", "xn--bcher-kva.de", "a.b",
               "nl", "x" * 64 + ".nl", "sub.domain.example.org", "b.invalid", "a..nl"]
    out = []
    for _ in range(n):
        local = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 3)))
        if rng.random() < 0.4:  # most people type their address right
            local = rng.choice(pieces[:7]) + str(rng.randint(0, 999))
        elif rng.random() < 0.05:
            local = "l" * rng.randint(60, 70)
        out.append(local + rng.choice(["@", "@", "@", "", "@@"]) + rng.choice(domains))
    return out


def _postcodes(rng: random.Random, n: int) -> list[str]:
    chars = string.digits + "ABSDsdab -"
    out = [f"{rng.randint(1000, 9999)}{rng.choice(['', ' ', '  ', '-'])}"
           f"{rng.choice(string.ascii_letters)}{rng.choice(string.ascii_letters)}" for _ in range(n)]
    out += ["".join(rng.choice(chars) for _ in range(rng.randint(0, 8))) for _ in range(n // 4)]
    return out + ["1234SA", "1234 sd", "0123 AB", "NL-1234 AB", "B-1000"]


@pytest.fixture(scope="module")
def demo_values(tmp_path_factory) -> dict[str, list[str]]:
    """Every value of every demo column that holds an IBAN, e-mail address or postcode."""
    found: dict[str, set[str]] = {kind: set() for kind in LIBRARY}
    for path in demo.write(tmp_path_factory.mktemp("demo")):
        if path.suffix.lower() not in (".csv", ".xlsx", ".json", ".xml"):
            continue  # a mailbox or log holds no column of these
        extract = sources.read(path)
        for column, field in extract.column_map.items():
            if field in found and column in extract.raw.columns:
                values = extract.raw[column].fillna("").astype("str")
                found[field].update(v for v in values if v.strip())
    return {kind: sorted(values) for kind, values in found.items()}


@pytest.mark.parametrize("kind", sorted(LIBRARY))
@pytest.mark.slow
def test_fast_checks_agree_on_every_demo_value(demo_values, kind):
    values = demo_values[kind]
    assert values, f"the demo holds no {kind}"
    settled = _agrees(kind, values)
    assert len(settled) >= 0.9 * len(values)  # the library sees only the rare odd value


@pytest.mark.parametrize(("kind", "make"), [("iban", _ibans), ("email", _emails), ("postcode", _postcodes)])
def test_fast_checks_agree_on_a_large_random_sample(kind, make):
    values = sorted(set(make(random.Random(17), 30_000)))
    settled = _agrees(kind, values)
    valid = sum(ok for _, ok in settled.values())
    assert valid > 1000
    if kind != "postcode":  # the postcode check settles only valid ones, the others both verdicts
        assert len(settled) - valid > 100


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.emails(), st.text(alphabet="aZ09._%+'=-@ éx", max_size=25)), max_size=20),
       st.lists(st.text(alphabet="NLDEBnl0123456789 .-AZ", max_size=24), max_size=20),
       st.lists(st.text(alphabet="1234567890ABSDsd -", max_size=9), max_size=20))
def test_fast_checks_agree_on_generated_values(emails, ibans, postcodes):
    _agrees("email", emails)
    _agrees("iban", ibans)
    _agrees("postcode", postcodes)


def test_a_column_of_distinct_ibans_goes_to_the_library_only_for_what_the_fast_check_leaves(monkeypatch):
    rng = random.Random(3)
    values = [f"NL{iban.calc_check_digits('NL00ABNA' + str(n).zfill(10))}ABNA{str(n).zfill(10)}"
              for n in rng.sample(range(10**9), 20_000)]
    odd = ["BE68539007547034", "NL91 ABNA 0417 1643 00\t"]  # a national check; a tab
    values += [*odd, "NL00 odd"]
    asked: list[str] = []
    library = identifiers.iban_number
    monkeypatch.setitem(identifiers.NORMALISERS, "iban", lambda v: asked.append(v) or library(v))
    normal, valid = identifiers.normalise_column(pd.Series(values), "iban")
    assert sorted(asked) == odd  # one call each, none for the 20,000 plain ones
    assert valid.iloc[:20_000].all() and valid.iloc[-2]
    assert not valid.iloc[-1]  # a wrong check digit, settled at once
    assert normal.iloc[0] == values[0]

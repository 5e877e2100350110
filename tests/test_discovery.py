"""Discovery: each detector on valid and broken identifiers, the column name as context, and
discover() on a workspace whose Mollie export carries columns nobody mapped."""

from __future__ import annotations

import csv
import io
import random
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
from conftest import payments_csv
from faker import Faker
from stdnum.nl import bsn

from workbench.datamap import inventory
from workbench.ingest import discovery
from workbench.ingest.discovery import classify
from workbench.store.workspace import Workspace

CHECKS = {k.name: k.check for k in discovery.KINDS}


@pytest.fixture(scope="module")
def fake() -> Faker:
    Faker.seed(3)
    return Faker("nl_NL")


def _passes(kind: str, values: list[str], hinted: bool = True) -> list[bool]:
    return CHECKS[kind](pd.Series(values, dtype="str"), hinted).tolist()


def _change_digit(value: str, rng: random.Random) -> str:
    """The value with one digit replaced by another: a check digit scheme must notice."""
    positions = [i for i, c in enumerate(value) if c.isdigit()]
    i = rng.choice(positions)
    return value[:i] + str((int(value[i]) + rng.randint(1, 9)) % 10) + value[i + 1:]


def _luhn_card(rng: random.Random, prefix: str = "4", length: int = 16) -> str:
    body = prefix + "".join(str(rng.randint(0, 9)) for _ in range(length - len(prefix) - 1))
    total = 0
    for i, c in enumerate(reversed(body)):
        d = int(c) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return body + str((10 - total % 10) % 10)


def _phone(rng: random.Random) -> str:
    """A Dutch mobile or Zwolle number, or a Belgian mobile one: prefix and remaining digits."""
    prefix, digits = rng.choice([("06-1", 7), ("+31 6 2", 7), ("038-4", 6), ("+32 470 ", 6)])
    return prefix + "".join(str(rng.randint(0, 9)) for _ in range(digits))


def _birth_dates(rng: random.Random, n: int, fmt: str = "%d-%m-%Y") -> list[str]:
    today = date.today()
    return [(today - timedelta(days=rng.randint(20 * 365, 80 * 365))).strftime(fmt) for _ in range(n)]


# ---------------------------------------------------------------------------------------------
# the value checks: valid identifiers pass, one changed digit fails


@pytest.mark.parametrize("kind", ["bsn", "iban", "card_number"])
def test_valid_identifiers_pass_and_one_changed_digit_fails(kind: str, fake: Faker) -> None:
    rng = random.Random(kind)
    make = {"bsn": fake.ssn, "iban": fake.iban, "card_number": lambda: _luhn_card(rng)}[kind]
    valid = [make() for _ in range(300)]
    broken = [_change_digit(v, rng) for v in valid]
    assert all(_passes(kind, valid))
    # 11-proof, mod 97 and Luhn all catch every single changed digit
    assert not any(_passes(kind, broken))


@pytest.mark.parametrize("kind,good,bad", [
    ("email", ["jan.jansen@example.com", "E.Mulder@Voorbeeld.NL"], ["jan@", "jan@@example.com", "a b@c.nl"]),
    ("phone", ["06-12345678", "038-4123456", "+31 38 412 3456", "+44 20 7946 0958", "+32 470 12 34 56"],
     ["612345678", "12345", "+31 6 123", "0612345678901234"]),
    ("bic", ["ABNANL2A", "RABONL2U", "INGBNL2AXXX"], ["ABNAXX2A", "abnanl2a", "ABNANL2"]),
    ("vat_number", ["NL004495445B01", "004495445B01", "DE136695976", "BE0403170701", "FR40303265045"],
     ["NL004495446B01", "DE136695977", "NL91ABNA0417164300"]),
    ("kvk_number", ["12345678", "1234 5678"], ["1234567", "123456789", "1234567a"]),
    ("postcode", ["8011 AB", "8011ab", "1012JS"], ["0123 AB", "8011 SS", "8011", "B-1000"]),
    ("card_number", ["4242 4242 4242 4242", "5555-5555-5555-4444", "**** **** **** 4242", "424242******4242"],
     ["4242 4242 4242 4241", "0031612345678", "+3161234567890", "**** 42"]),
    ("ip_address", ["192.168.1.10", "8.8.8.8", "2001:db8::1", "::1"],
     ["999.1.1.1", "1182161.2610.01", "1.2.3", "12345678"]),
    ("person_name", ["Jan Jansen", "Eva de Vries", "J.P. van der Berg", "Saar van den Pol-Hekker",
                     "Jansen, J.", "Dhr. Loïs Hekker"],
     ["Jansen", "Blonk BV", "Brouwer & van der Laar", "Stichting van der Veiver", "Order 1001",
      "graag terugbellen", "JAN JANSEN", "De Bijenkorf"]),
])
def test_checks_on_valid_and_invalid_values(kind: str, good: list[str], bad: list[str]) -> None:
    assert all(_passes(kind, good)), [v for v, ok in zip(good, _passes(kind, good), strict=True) if not ok]
    assert not any(_passes(kind, bad)), [v for v, ok in zip(bad, _passes(kind, bad), strict=True) if ok]


def test_bsn_needs_exactly_nine_digits() -> None:
    # stdnum pads eight digits to nine, so this eight-digit (KvK-like) number passes its 11-proof
    assert bsn.is_valid("11222335")
    values = ["111222333", "1112.22.333", "11222335", "0111222333"]
    assert _passes("bsn", values) == [True, True, False, False]


def test_birth_date_plausibility_depends_on_the_name() -> None:
    today = date.today()
    recent = (today - timedelta(days=400)).isoformat()
    old = (today - timedelta(days=365 * 45)).isoformat()
    assert _passes("birth_date", [recent, old, old + " 00:00:00"], hinted=True) == [True, True, True]
    assert _passes("birth_date", [recent, old], hinted=False) == [False, True]
    assert _passes("birth_date", [old + " 10:12:00", "1850-01-01", "geen", "31-02-1980"]) == [False] * 4


# ---------------------------------------------------------------------------------------------
# classify: values and names together


def _column(fake: Faker, kind: str, n: int = 40) -> list[str]:
    rng = random.Random(kind)
    make = {
        "email": fake.email,
        "phone": lambda: _phone(rng),
        "iban": lambda: rng.choice([fake.iban, Faker("de_DE").iban])(),
        "bic": lambda: rng.choice(["ABNANL2A", "RABONL2U", "INGBNL2A", "TRIONL2U", "BUNQNL2A"]),
        "bsn": fake.ssn,
        "vat_number": lambda: "NL" + fake.ssn() + "B01",
        "postcode": fake.postcode,
        "card_number": lambda: _luhn_card(rng, rng.choice(["4", "51", "37"])),
        "ip_address": lambda: rng.choice([fake.ipv4, fake.ipv6])(),
        "person_name": fake.name,
    }[kind]
    return [make() for _ in range(n)]


@pytest.mark.parametrize("name,kind", [
    ("Klantmail", "email"), ("Telefoon", "phone"), ("Rekeningnummer", "iban"), ("Swift", "bic"),
    ("Sofinummer", "bsn"), ("Btw-nummer", "vat_number"), ("Postcode", "postcode"),
    ("Kaartnummer", "card_number"), ("IP-adres", "ip_address"), ("Contactpersoon", "person_name"),
])
def test_each_kind_found_with_its_dutch_name(name: str, kind: str, fake: Faker) -> None:
    found = classify(name, pd.Series(_column(fake, kind)))
    assert found is not None and found.kind == kind
    assert found.confidence >= 0.9
    assert "the column name points at it" in found.evidence


@pytest.mark.parametrize("kind", ["email", "phone", "iban", "bsn", "vat_number", "postcode",
                                  "card_number", "ip_address"])
def test_values_alone_are_enough_for_unambiguous_kinds(kind: str, fake: Faker) -> None:
    found = classify("Veld 7", pd.Series(_column(fake, kind)))
    assert found is not None and found.kind == kind
    assert 0.8 <= found.confidence <= 1.0
    hinted = classify({"phone": "Mobiel", "bsn": "BSN"}.get(kind, "x"), pd.Series(_column(fake, kind)))
    if kind in ("phone", "bsn"):  # the name adds confidence to the ambiguous ones
        assert hinted.confidence > found.confidence


def test_kvk_needs_context_from_the_name() -> None:
    rng = random.Random(8)
    numbers = pd.Series([str(rng.randint(10_000_000, 99_999_999)) for _ in range(60)])
    for name in ("KvK", "KvK-nummer", "kvknr", "Chamber of Commerce", "Inschrijving handelsregister"):
        found = classify(name, numbers)
        assert found is not None and (found.kind, found.field) == ("kvk_number", "kvk_number"), name
    for name in ("Ordernummer", "Kenmerk", "Reference", "Kvkk"):
        assert classify(name, numbers) is None, name


def test_random_nine_digit_numbers_are_not_bsn() -> None:
    rng = random.Random(9)
    numbers = pd.Series([str(rng.randint(100_000_000, 999_999_999)) for _ in range(500)])
    share = CHECKS["bsn"](numbers.astype("str"), False).mean()
    assert 0.05 < share < 0.14  # about one in eleven passes the 11-proof by luck
    for name in ("Nummer", "Factuurnummer", "BSN", "Sofinummer"):
        assert classify(name, numbers) is None, name


def test_phone_bsn_and_kvk_are_told_apart(fake: Faker) -> None:
    phones = pd.Series(["06" + str(10_000_000 + i * 7919) for i in range(40)])
    bsns = pd.Series([fake.ssn() for _ in range(40)])
    kvks = pd.Series([str(30_000_000 + i * 7919) for i in range(40)])
    assert classify("Nummer", phones).kind == "phone"
    assert classify("Nummer", bsns).kind == "bsn"
    assert classify("Nummer", kvks) is None
    assert classify("KvK", kvks).kind == "kvk_number"
    # values win over a misleading name
    assert classify("Telefoon", bsns).kind == "bsn"
    assert classify("KvK", bsns).kind == "bsn"


def test_names_versus_companies_and_free_text(fake: Faker) -> None:
    people = pd.Series([fake.name() for _ in range(60)])
    companies = pd.Series([fake.company() for _ in range(60)])
    text = pd.Series([fake.sentence() for _ in range(60)])
    assert classify("Naam", people).kind == "person_name"
    assert classify("Tenaamstelling", people).field == "name"
    assert classify("Naam", companies) is None
    assert classify("Naam", text) is None
    assert classify("Omschrijving", people) is None  # no name hint: names alone are too ambiguous
    assert classify("Bedrijfsnaam", people) is None  # a name about organisations
    assert classify("Gebruikersnaam", people) is None


def test_birth_dates_with_and_without_a_name_hint() -> None:
    rng = random.Random(10)
    births = pd.Series(_birth_dates(rng, 50))
    assert classify("Geboortedatum", births).kind == "birth_date"
    assert classify("DOB", pd.Series(_birth_dates(rng, 50, "%Y-%m-%d"))).confidence >= 0.9
    unhinted = classify("Datum 2", births)
    assert unhinted.kind == "birth_date" and unhinted.confidence < 0.6  # a date, possibly of birth
    today = date.today()
    invoices = pd.Series([(today - timedelta(days=rng.randint(1, 1500))).isoformat() for _ in range(50)])
    assert classify("Factuurdatum", invoices) is None


def test_empty_and_unknown_columns_give_nothing() -> None:
    assert classify("Leeg", pd.Series(["", None, "  "])) is None
    assert classify("Status", pd.Series(["paid", "open", "expired"] * 10)) is None


def test_evidence_counts_and_masks(fake: Faker) -> None:
    values = [fake.email() for _ in range(30)] + ["", "geen"]
    found = classify("E-mail", pd.Series(values))
    assert found.kind == "email"
    assert "30 of 31 distinct values" in found.evidence and "31 of 32 rows filled" in found.evidence
    assert not any(v in found.evidence for v in values if v)
    assert "***@" in found.evidence


def test_large_columns_are_sampled(fake: Faker) -> None:
    values = pd.Series([f"klant{i}@voorbeeld.nl" for i in range(6000)])
    found = classify("Mail", values)
    assert found.kind == "email"
    assert "2,000 of 2,000 distinct values (a sample of 2,000 of 6,000)" in found.evidence


# ---------------------------------------------------------------------------------------------
# discover() on a workspace

WEIRD = 'Klant "tel." / mobiel'


def _extra_columns(n: int, seed: int = 11) -> dict[str, list[str]]:
    rng = random.Random(seed)
    f = Faker("nl_NL")
    f.seed_instance(seed)
    return {
        "Klantmail": [f.email() for _ in range(n)],
        "IP": [f.ipv4() if i % 3 else f.ipv6() for i in range(n)],
        "Geboortedatum": _birth_dates(rng, n),
        "Kenmerk": [str(rng.randint(10_000_000, 99_999_999)) for _ in range(n)],
        "KvK-nummer": [str(rng.randint(10_000_000, 99_999_999)) for _ in range(n)],
        "Sofinummer": [f.ssn() for _ in range(n)],
        WEIRD: ["06-1" + str(rng.randint(1_000_000, 9_999_999)) for _ in range(n)],
        "Opmerking": [f.sentence() for _ in range(n)],
        "Leeg": [""] * n,
    }


def _mollie_csv(path: Path, n: int = 30) -> Path:
    """A Mollie payments CSV (conftest's layout) with extra columns nobody maps."""
    f = Faker("nl_NL")
    f.seed_instance(12)
    rows = [f"2026-10-{1 + i % 28:02d} 10:00:00,ideal,EUR,{10 + i}.00,paidout,tr_{i:04d},Order {1000 + i},"
            f"{f.name()},{f.iban()},ABNANL2A,EUR,{10 + i}.00,1182161.2610.01," for i in range(n)]
    payments_csv(path, rows)
    table = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    extra = _extra_columns(n)
    table[0] += list(extra)
    for i, row in enumerate(table[1:]):
        row += [values[i] for values in extra.values()]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(table)
    path.write_text(out.getvalue(), encoding="utf-8-sig")
    return path


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    tmp = tmp_path_factory.mktemp("discovery")
    ws = Workspace(tmp / "ws")
    ws.import_files([_mollie_csv(tmp / "settlement.csv")])
    return ws


def test_discover_finds_the_unknown_columns(workspace: Workspace) -> None:
    found = inventory.discover(workspace).set_index("column")
    assert list(inventory.discover(workspace).columns) == inventory.DISCOVERY_COLUMNS
    assert set(found.index) == set(_extra_columns(1))  # the mapped Mollie columns are not here
    assert set(found.service) == {"mollie"} and set(found.export_kind) == {"payments_csv"}
    kinds = found.kind.to_dict()
    assert kinds == {"Klantmail": "email", "IP": "ip_address", "Geboortedatum": "birth_date",
                     "Kenmerk": None, "KvK-nummer": "kvk_number", "Sofinummer": "bsn", WEIRD: "phone",
                     "Opmerking": None, "Leeg": None}
    assert found.loc["Geboortedatum", "field"] == "birth_date" and found.loc["IP", "field"] is None
    assert (found.decided_by == "detector").all()
    assert (found.loc[found.kind.notna(), "confidence"] >= 0.9).all()
    assert found.loc["Sofinummer", "personal"] and found.loc["Leeg", "confidence"] == 0.0


def test_discover_never_shows_raw_values(workspace: Workspace) -> None:
    evidence = " ".join(inventory.discover(workspace).evidence)
    for values in _extra_columns(30).values():
        assert not any(v and v in evidence for v in values if len(v) > 4)


def test_analyst_decision_wins_and_feeds_the_next_import(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    ws.import_files([_mollie_csv(tmp_path / "a.csv", 20)])
    ws.decide_column("mollie", "payments_csv", "IP", category="user.device.ip_address",
                     decided_by="Marieke", note="logged at checkout")
    ws.decide_column("mollie", "payments_csv", "Kenmerk", field="customer_number", decided_by="Marieke")
    ws.decide_column("mollie", "payments_csv", "Opmerking", personal=False, decided_by="Marieke")
    found = inventory.discover(ws).set_index("column")
    ip = found.loc["IP"]
    assert (ip.decided_by, ip.confidence, ip.field) == ("Marieke", 1.0, None)
    assert ip.category == "user.device.ip_address"
    assert "logged at checkout" in ip.evidence and "the detector said ip_address" in ip.evidence
    kenmerk = found.loc["Kenmerk"]
    assert (kenmerk.field, kenmerk.kind, kenmerk.decided_by) == ("customer_number", None, "Marieke")
    assert found.loc["Opmerking", "personal"] is False
    assert found.loc["Klantmail", "decided_by"] == "detector"
    # the next import maps Kenmerk by the decision; only the newest import of the export counts
    ws.import_files([_mollie_csv(tmp_path / "b.csv", 21)])
    again = inventory.discover(ws)
    assert "Kenmerk" not in set(again.column) and again.column.is_unique
    assert again.set_index("column").loc["IP", "decided_by"] == "Marieke"


def test_discover_on_a_missing_workspace(tmp_path: Path) -> None:
    found = inventory.discover(Workspace(tmp_path / "none"))
    assert found.empty and list(found.columns) == inventory.DISCOVERY_COLUMNS

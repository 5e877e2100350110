"""The demo's exports at a grown business's scale, made fast for benchmarks: ``n`` Mollie payments
in the settlement CSV and ``n`` parties spread over MoneyBird, FactuurSturen and Exact Online, each
in the same CSV format as the demo's own writers (their writers write them).

Calling Faker a million times would take minutes, so Faker makes a pool of names and places once
and numpy combines them. The people have the demo's mess (see :meth:`Business.as_typed`): e-mail
addresses in another case, IBANs with spaces, typos in family names, missing phones and e-mails,
postcodes without a space, and partners in one household sharing an address and an IBAN. One
seed gives the same bytes.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from faker import Faker

from workbench.demo import TODAY, exact, factuursturen, moneybird
from workbench.demo.mollie import PAYMENTS_HEADER

PARTY_SERVICES = ("moneybird", "factuursturen", "exact")
BANKS = {"ABNA": "ABNANL2A", "RABO": "RABONL2U", "INGB": "INGBNL2A", "SNSB": "SNSBNL2A",
         "TRIO": "TRIONL2U", "ASNB": "ASNBNL21"}
DOMAINS = ["gmail.com", "hotmail.com", "outlook.com", "ziggo.nl", "kpnmail.nl", "xs4all.nl", "live.nl"]
PREFIXES = ["", "", "", "van", "de", "van der", "van den"]
_ALPHABET = np.array(list("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"))
_POSTCODE_LETTERS = np.array(list("ABCEGHJKLMNPRTVWXZ"))  # never SA, SD or SS


@dataclass(frozen=True)
class Files:
    """What :func:`write` wrote: the payments CSV, the party exports and their row counts."""

    payments: Path
    parties: list[Path]
    payment_rows: int
    party_rows: dict[str, int]
    people: int
    payers: int


def write(out: Path, payments: int, parties: int, seed: int = 2026) -> Files:
    """Write ``payments`` settlement CSV rows under ``out/mollie/`` and ``parties`` contacts over
    ``out/{moneybird,factuursturen,exact}/``; the payers are some of the same people."""
    rng = np.random.default_rng(seed)
    people = _people(_pool(seed), rng, parties)
    membership = _membership(rng, len(people), parties)
    written, counts = [], {}
    for service in PARTY_SERVICES:
        rows = people.loc[membership[service]]
        typed = _typed(rows, rng)
        written.append(_WRITERS[service](Path(out) / service, typed, rng))
        counts[service] = len(typed)
    payers = people.sample(n=min(len(people), max(1, payments // 40)), random_state=seed)
    path, rows = _payments_csv(Path(out) / "mollie", _typed(payers, rng), rng, payments)
    return Files(path, written, rows, counts, len(people), len(payers))


# --------------------------------------------------------------------------------------------
# the people


def _pool(seed: int) -> dict[str, np.ndarray]:
    fake = Faker("nl_NL")
    fake.seed_instance(seed)

    def unique(make, n: int) -> np.ndarray:
        return np.array(sorted({make() for _ in range(n)}))

    return {"male": unique(fake.first_name_male, 600), "female": unique(fake.first_name_female, 600),
            "family": unique(lambda: fake.last_name().split()[-1], 3000),
            "street": unique(fake.street_name, 3000), "city": unique(fake.city, 800),
            "company": unique(fake.company, 3000)}


def _pick(rng: np.random.Generator, values, n: int) -> np.ndarray:
    values = np.asarray(values)
    return values[rng.integers(0, len(values), n)]


def _people(pool: dict[str, np.ndarray], rng: np.random.Generator, parties: int) -> pd.DataFrame:
    """About one person for each 1.65 parties (most people are in one or two systems)."""
    n = max(2, int(parties / 1.65 * 1.1))
    male = rng.random(n) < 0.5
    given = np.where(male, _pick(rng, pool["male"], n), _pick(rng, pool["female"], n))
    frame = pd.DataFrame({
        "number": np.arange(100001, 100001 + n), "given_name": given,
        "gender": np.where(male, "M", "V"), "name_prefix": _pick(rng, PREFIXES, n),
        "family_name": _pick(rng, pool["family"], n), "street": _pick(rng, pool["street"], n),
        "house_number": pd.Series(rng.integers(1, 250, n)).astype(str).to_numpy()
        + _pick(rng, ["", "", "", "a", "-2", " bis"], n),
        "postcode": pd.Series(rng.integers(1000, 10000, n)).astype(str).to_numpy() + " "
        + _pick(rng, _POSTCODE_LETTERS, n) + _pick(rng, _POSTCODE_LETTERS, n),
        "city": _pick(rng, pool["city"], n),
        "phone": _pick(rng, ["06-", "+31 6 ", "06"], n)
        + pd.Series(rng.integers(10**7, 6 * 10**7, n)).astype(str).to_numpy(),
        "kind": _pick(rng, ["consumer"] * 14 + ["sole_trader"] * 3 + ["company"] * 3, n),
        "since": [TODAY - timedelta(days=int(d)) for d in rng.integers(30, 365 * 9, n)],
    })
    frame["email"] = _emails(frame, rng)
    frame["iban"], frame["bic"] = _ibans(rng, n)
    company = frame["kind"].ne("consumer")
    trade = frame["family_name"] + " " + _pick(rng, ["ICT", "Advies", "Bouw", "Design", "Klussen"], n)
    frame["company"] = np.where(frame["kind"].eq("company"), _pick(rng, pool["company"], n),
                                np.where(company, trade, ""))
    frame["kvk"] = np.where(company, pd.Series(rng.integers(10**7, 10**8, n)).astype(str), "")
    frame["vat"] = np.where(company, "NL" + _nine_digits(rng, n) + "B01", "")
    _households(frame, rng)
    return frame


def _emails(frame: pd.DataFrame, rng: np.random.Generator) -> pd.Series:
    local = (frame["given_name"] + "." + frame["name_prefix"].str.replace(" ", "") + frame["family_name"])
    local = local.str.lower().str.replace(r"[^a-z0-9._]", "", regex=True)
    local = local + pd.Series(rng.integers(1, 1000, len(frame))).astype(str).where(
        rng.random(len(frame)) < 0.6, "")
    email = local + "@" + _pick(rng, DOMAINS, len(frame))
    twice = email.duplicated()  # a namesake gets an address of their own, as providers insist
    return email.where(~twice, local + "." + frame["number"].astype(str) + "@" + email.str.split("@").str[1])


def _ibans(rng: np.random.Generator, n: int) -> tuple[list[str], np.ndarray]:
    """Dutch IBANs that pass the ISO 7064 mod 97 check, with the bank's BIC."""
    banks = _pick(rng, list(BANKS), n)
    accounts = pd.Series(rng.integers(10**9, 10**10, n)).astype(str).to_numpy()
    digits = {b: "".join(str(int(ch, 36)) for ch in b) for b in BANKS}
    check = [98 - int(digits[b] + a + "232100") % 97 for b, a in zip(banks, accounts, strict=True)]
    return ([f"NL{c:02d}{b}{a}" for c, b, a in zip(check, banks, accounts, strict=True)],
            np.array([BANKS[b] for b in banks]))


def _nine_digits(rng: np.random.Generator, n: int) -> np.ndarray:
    """Nine digits passing the eleven test (the old BSN-based VAT numbers)."""
    digits = rng.integers(0, 10, (n, 9))
    digits[:, 0] = rng.integers(1, 10, n)
    weights = np.arange(9, 1, -1)
    bad = (digits[:, :8] * weights).sum(axis=1) % 11 == 10  # no check digit would do
    digits[bad, 7] = (digits[bad, 7] + 1) % 10
    digits[:, 8] = (digits[:, :8] * weights).sum(axis=1) % 11
    number = (digits * 10 ** np.arange(8, -1, -1)).sum(axis=1)
    return pd.Series(number).astype(str).str.zfill(9).to_numpy()


def _moved(typed: pd.DataFrame, rng: np.random.Generator) -> None:
    """Four in a hundred moved and this system still has the old address; half of them stayed
    in the neighbourhood (the same four postcode digits)."""
    moved = rng.random(len(typed)) < 0.04
    n = int(moved.sum())
    near = rng.random(n) < 0.5
    elsewhere = pd.Series(rng.integers(1000, 10000, n)).astype(str).to_numpy()
    old = typed.loc[moved, "postcode"].str[:4].where(near, elsewhere)
    letters = _pick(rng, _POSTCODE_LETTERS, n) + _pick(rng, _POSTCODE_LETTERS, n)
    typed.loc[moved, "postcode"] = old + " " + letters
    typed.loc[moved, "house_number"] = pd.Series(rng.integers(1, 250, n)).astype(str).to_numpy()
    typed.loc[moved, "street"] = typed.loc[moved, "street"].sample(frac=1, random_state=rng).to_numpy()


def _households(frame: pd.DataFrame, rng: np.random.Generator) -> None:
    """Three in a hundred consumers live with the next person: same family name, address and IBAN."""
    first = np.flatnonzero((rng.random(len(frame)) < 0.03) & frame["kind"].eq("consumer").to_numpy())
    first = first[first + 1 < len(frame)]
    shared = ["name_prefix", "family_name", "street", "house_number", "postcode", "city", "iban", "bic"]
    frame.loc[first + 1, shared] = frame.loc[first, shared].to_numpy()
    frame.loc[first + 1, "kind"] = "consumer"


def _membership(rng: np.random.Generator, people: int, parties: int) -> dict[str, np.ndarray]:
    """Which people each system has, ``parties`` records in all: one, two or three systems each."""
    count = rng.choice([1, 2, 3], size=people, p=[0.5, 0.35, 0.15])
    chosen = np.argsort(rng.random((people, 3)), axis=1) < count[:, None]
    flat = np.flatnonzero(chosen.ravel())[:parties]  # row-major: person by person
    keep = np.zeros(chosen.size, dtype=bool)
    keep[flat] = True
    keep = keep.reshape(chosen.shape)
    return {service: np.flatnonzero(keep[:, i]) for i, service in enumerate(PARTY_SERVICES)}


def _typed(people: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """The people as one system has them typed in (the rates of :meth:`Business.as_typed`)."""
    typed = people.reset_index(drop=True).copy()
    n = len(typed)
    parts = typed["email"].str.split("@", n=1)
    local, domain = parts.str[0], parts.str[1]
    recased = local.str.title().where(rng.random(n) < 0.5, local.str.upper())
    typed["email"] = typed["email"].where(rng.random(n) >= 0.25, recased + "@" + domain)
    spaced = typed["iban"].str.replace(r"(.{4})(?!$)", r"\1 ", regex=True)
    typed["iban"] = typed["iban"].where(rng.random(n) >= 0.4, spaced)
    family = typed["family_name"]
    swapped = family.str[:1] + family.str[2:3] + family.str[1:2] + family.str[3:]
    typed["family_name"] = family.where((rng.random(n) >= 0.06) | (family.str.len() < 4), swapped)
    typed["phone"] = typed["phone"].where(rng.random(n) >= 0.25, "")
    typed["email"] = typed["email"].where(rng.random(n) >= 0.05, "")
    typed["postcode"] = typed["postcode"].where(rng.random(n) >= 0.3, typed["postcode"].str.replace(" ", ""))
    street = typed["street"]
    typo = street.str[:2] + street.str[3:4] + street.str[2:3] + street.str[4:]
    typed["street"] = street.where((rng.random(n) >= 0.02) | (street.str.len() < 6), typo)
    _moved(typed, rng)
    typed["family"] = (typed["name_prefix"] + " " + typed["family_name"]).str.strip()
    typed["full_name"] = typed["given_name"] + " " + typed["family"]
    typed["address"] = typed["street"] + " " + typed["house_number"]
    typed["display_name"] = typed["company"].where(typed["company"].ne(""), typed["full_name"])
    return typed


# --------------------------------------------------------------------------------------------
# the party exports, written by the demo's own writers


def _dates(days) -> list[str]:
    return [f"{d:%d-%m-%Y}" for d in days]


def _moneybird(out: Path, p: pd.DataFrame, rng: np.random.Generator) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    n, company = len(p), p["kind"].eq("company")
    sepa = rng.random(n) < 0.5
    slug = p["company"].str.lower().str.replace(r"[^a-z0-9]", "", regex=True)
    since = _dates(p["since"])
    columns = {
        "Klantnummer": p["number"].astype(str), "Bedrijfsnaam": p["company"],
        "Voornaam": p["given_name"].where(~company, ""), "Achternaam": p["family"].where(~company, ""),
        "T.a.v.": p["full_name"].where(company, ""), "Adres 1": p["address"], "Adres 2": "",
        "Postcode": p["postcode"], "Plaats": p["city"], "Land": "NL", "Telefoonnummer": p["phone"],
        "E-mailadres": p["email"],
        "E-mailadres voor facturen": ("facturen@" + slug + ".nl").where(company, p["email"]),
        "Btw-nummer": p["vat"], "KvK-nummer": p["kvk"], "IBAN": p["iban"].where(sepa, ""),
        "Naam rekeninghouder": p["display_name"].where(sepa, ""), "BIC": p["bic"].where(sepa, ""),
        "Mandaatreferentie": ("MB-" + p["number"].astype(str)).where(sepa, ""),
        "Mandaatdatum": pd.Series(since, index=p.index).where(sepa, ""),
        "Verzendmethode": np.where(rng.random(n) < 0.05, "Post", "E-mail"), "Notities": "",
        "Klant sinds": since,
    }
    rows = _frame(columns, p.index, moneybird.CONTACT_HEADER).to_numpy().tolist()
    return moneybird._csv(out / "contacten.csv", moneybird.CONTACT_HEADER, rows)


def _factuursturen(out: Path, p: pd.DataFrame, rng: np.random.Generator) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    n = len(p)
    mobile = rng.random(n) < 0.7
    iban = p["iban"].where(rng.random(n) < 0.85, "")
    collect = iban.ne("") & (rng.random(n) < 0.2)
    business = p["kind"].ne("consumer")
    stamp = [f"{datetime.combine(TODAY, datetime.min.time()) - timedelta(minutes=int(m)):%d-%m-%Y %H:%M}"
             for m in rng.integers(1440, 400 * 1440, n)]
    columns = {
        "clientnr": p["number"].astype(str), "company": p["company"], "contact": p["full_name"],
        "showcontact": np.where(business, "Ja", "Nee"), "address": p["address"],
        "zipcode": p["postcode"], "city": p["city"], "country": "Nederland",
        "phone": p["phone"].where(~mobile, ""), "mobile": p["phone"].where(mobile, ""),
        "email": p["email"], "bankcode": iban, "biccode": p["bic"].where(iban.ne(""), ""),
        "taxnumber": p["vat"], "taxshifted": "Nee", "lastinvoice": "",
        "sendmethod": np.where(p["email"].ne(""), "E-mail", "Post"),
        "paymentmethod": np.where(collect, "Automatische incasso", "Bankoverschrijving"),
        "top": np.where(p["kind"].eq("company"), "30", "14"), "stddiscount": "0",
        "mailintro": "Beste " + p["given_name"] + ",", "reference": "", "notes": "",
        "notesoninvoice": "Nee", "active": np.where(rng.random(n) < 0.95, "Ja", "Nee"),
        "defaultdoclang": "Nederlands", "currency": "EUR",
        "mandateid": ("FS" + p["number"].astype(str).str.zfill(6)).where(collect, ""),
        "mandatedate": pd.Series(_dates(p["since"]), index=p.index).where(collect, ""),
        "collecttype": np.where(collect, "RCUR", ""), "taxtype": "Exclusief btw", "timestamp": stamp,
    }
    keys = [key for _, key in factuursturen.CLIENT_COLUMNS]
    records = _frame(columns, p.index, keys).to_dict("records")
    data = factuursturen._csv(records, factuursturen.CLIENT_COLUMNS, "cp1252", blank_tail=True)
    (out / "klanten.csv").write_bytes(data)
    return out / "klanten.csv"


def _exact(out: Path, p: pd.DataFrame, rng: np.random.Generator) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    columns = {
        "Code": p["number"].map("{:>18}".format), "Naam": p["display_name"],
        "Zoekcode": p["display_name"].str.upper().str.replace(r"[^A-Z0-9]", "", regex=True).str[:10],
        "Adresregel 1": p["address"], "Postcode": p["postcode"], "Plaats": p["city"], "LandCode": "NL",
        "LandOmschrijving": "Nederland", "Telefoon": p["phone"], "E-mail": p["email"],
        "KvK-nummer": p["kvk"], "Btw-nummer": p["vat"], "IBAN": p["iban"], "Status": "Klant",
        "Klant sinds": _dates(p["since"]),
        "Kredietlimiet verkoop": _pick(rng, ["0,00", "0,00", "500,00", "2.500,00", "10.000,00"], len(p)),
        "Classificatie 1Omschrijving": np.where(p["kind"].eq("consumer"), "Particulier", "MKB"),
    }
    rows = _frame(columns, p.index, exact.RELATION_HEADER).to_dict("records")
    return exact._csv(out / "CRMAccounts.csv", exact.RELATION_HEADER, rows)


def _frame(columns: dict, index: pd.Index, order: list[str]) -> pd.DataFrame:
    return pd.DataFrame({k: (v.to_numpy() if isinstance(v, pd.Series) else v) for k, v in columns.items()},
                        index=range(len(index)))[order].astype(str)


_WRITERS = {"moneybird": _moneybird, "factuursturen": _factuursturen, "exact": _exact}


# --------------------------------------------------------------------------------------------
# the Mollie settlement CSV


def write_webshop(out: Path, payments: int, payers: int, seed: int = 2026) -> tuple[Path, int]:
    """A web shop's settlement CSV under ``out/mollie/``: ``payments`` rows from ``payers`` distinct
    people, each paying at least once, most of them only once (people no party export knows)."""
    rng = np.random.default_rng(seed + 1)
    people = _people(_pool(seed), rng, int(payers * 1.65 / 1.1) + 2).head(payers)
    return _payments_csv(Path(out) / "mollie", _typed(people, rng), rng, payments, every_payer=True)


def _payments_csv(out: Path, payers: pd.DataFrame, rng: np.random.Generator, rows: int,
                  every_payer: bool = False) -> tuple[Path, int]:
    """``rows`` rows: payments, and a refund row for each refunded one, in time order; with
    ``every_payer`` each payer pays at least once (there must be fewer payers than payments)."""
    out.mkdir(parents=True, exist_ok=True)
    refunds = rows // 21
    n = rows - refunds
    status = _pick(rng, ["paidout"] * 70 + ["paid"] * 15 + ["failed"] * 5 + ["expired"] * 5, n).astype(object)
    status[rng.choice(n, refunds, replace=False)] = "refunded"
    start = np.datetime64(f"{TODAY - timedelta(days=3 * 365)}T00:00:00")
    created = start + np.sort(rng.integers(0, 3 * 365 * 86400, n)).astype("timedelta64[s]")
    cents = _pick(rng, [2500, 4900, 7500, 12100, 25000, 60500, 121000, 245000], n) + rng.integers(0, 100, n)
    method = _pick(rng, ["ideal"] * 6 + ["creditcard", "banktransfer", "paypal", "directdebit"], n)
    picks = rng.integers(0, len(payers), n)
    if every_payer:
        picks[:len(payers)] = np.arange(len(payers))
        rng.shuffle(picks)
    who = payers.iloc[picks].reset_index(drop=True)
    unknown = np.isin(status, ["failed", "expired"])
    name = np.where(unknown, "", np.where(np.isin(method, ["creditcard", "paypal"]), who["full_name"],
                                          who["display_name"]))
    account = np.where(unknown | (method == "creditcard"), "",
                       np.where(method == "paypal", who["email"], who["iban"]))
    bic = np.where(unknown | np.isin(method, ["creditcard", "paypal"]), "", who["bic"])
    settled = np.isin(status, ["paidout", "refunded"])
    money = np.array([f"{c // 100:,}.{c % 100:02d}" for c in cents.tolist()], dtype=object)
    plain = np.array([f"{c // 100}.{c % 100:02d}" for c in cents.tolist()], dtype=object)
    stamp = pd.Series(np.datetime_as_string(created, unit="s"))
    reference = "1182161." + stamp.str[2:4] + stamp.str[5:7] + _pick(rng, [".01", ".02", ".03"], n)
    payment = pd.DataFrame({
        "Date": stamp.str.replace("T", " ").to_numpy(), "Payment method": method, "Currency": "EUR",
        "Amount": money, "Status": status, "ID": _ids(rng, "tr_", 10, n),
        "Description": "Bestelling " + pd.Series(rng.integers(10**6, 10**7, n)).astype(str).to_numpy(),
        "Consumer name": name, "Consumer bank account": account, "Consumer BIC": bic,
        "Settlement currency": np.where(settled, "EUR", ""),
        "Settlement amount": np.where(settled, plain, ""),
        "Settlement reference": np.where(settled, reference.to_numpy(), ""),
        "Amount refunded": np.where(status == "refunded", money, "")})
    back = payment[status == "refunded"].copy()
    later = created[status == "refunded"] + np.timedelta64(3, "D")
    back["Date"] = pd.Series(np.datetime_as_string(later, unit="s")).str.replace("T", " ").to_numpy()
    back["Payment method"], back["Status"] = "refund", "refunded"
    back["Amount refunded"] = back["Amount"]
    back["Amount"] = "-" + back["Amount"]
    back["Settlement amount"] = "-" + back["Settlement amount"]
    back["ID"] = _ids(rng, "re_", 10, len(back))
    back["Description"] = "Refund " + back["Description"]
    table = pd.concat([payment, back]).sort_values("Date", kind="stable")[PAYMENTS_HEADER]
    path = out / "mollie-settlements.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(PAYMENTS_HEADER)
        for start in range(0, len(table), 100_000):  # in slices: a million rows of str at once is GBs
            part = table.iloc[start:start + 100_000]
            writer.writerows(zip(*(part[c].tolist() for c in PAYMENTS_HEADER), strict=True))
    return path, len(table)


def _ids(rng: np.random.Generator, prefix: str, length: int, n: int) -> np.ndarray:
    """Mollie-like ids; a repeat is made unique by changing its last character."""
    chars = _ALPHABET[rng.integers(0, len(_ALPHABET), (n, length))]
    ids = pd.Series(prefix + np.ascontiguousarray(chars).view(f"<U{length}").ravel())
    while (twice := ids.duplicated()).any():
        ids[twice] = ids[twice].str[:-1] + _pick(rng, _ALPHABET, int(twice.sum()))
    return ids.to_numpy()

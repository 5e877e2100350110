"""Discovery: what the columns nobody mapped hold, judged from their values and their names.

A column's distinct non-empty values (a sample of at most :data:`SAMPLE` of them) are checked
against each kind with the library made for it (python-stdnum, phonenumbers, email-validator
without DNS, :mod:`ipaddress`), mostly through :data:`workbench.ingest.identifiers.NORMALISERS`. The
column name, Dutch or English, is context: it lowers the share of valid values a kind needs and
is required outright for kinds that values alone cannot tell apart (any eight digits fit a KvK
number; two capitalised words fit many things besides a person's name).

The confidence is the share of distinct values that validate, discounted for the chance that
so few values validate by luck (one random nine-digit number passes the 11-proof one time in
eleven) and, without a name hint, by how ambiguous the kind is. :func:`workbench.datamap.inventory.discover`
applies this to a workspace, where the analyst's decision on a column always wins.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
from stdnum import luhn
from stdnum.nl import postcode

from workbench.ingest import headers, identifiers, names
from workbench.ingest.masking import mask
from workbench.text import fold

SAMPLE = 2000  # distinct values checked per column
MIN_CONFIDENCE = 0.5  # below this, a kind is not reported
EXAMPLES = 2


@dataclass(frozen=True)
class Finding:
    """What a column holds according to the detector."""

    kind: str
    field: str | None  # the canonical field it would feed, None when there is none (IP address)
    confidence: float
    evidence: str  # counts and masked examples, never a raw value


Check = Callable[[pd.Series, bool], pd.Series]  # distinct values, name hinted -> valid flags


@dataclass(frozen=True)
class Kind:
    """One kind of value the detector knows, with the thresholds that govern it."""

    name: str
    field: str | None
    check: Check
    test: str  # what "valid" means, for the evidence
    hints: tuple[str, ...]  # folded name parts; one of three letters or fewer must start a word of
    # the name and be followed by nothing or a suffix like 'nummer' ('KvK-nummer', 'kvknr', 'IP')
    share: float | None  # share of valid values needed without a name hint; None: needs the hint
    hinted_share: float  # share needed when the name hints the kind
    chance: float  # how often a value of the same shape validates by luck
    unhinted: float = 1.0  # confidence factor without a name hint


# ---------------------------------------------------------------------------------------------
# value checks: a cheap shape filter on all values first, the library only on what passes it


def _passing(values: pd.Series, fits: pd.Series, test: Callable[[str], bool]) -> pd.Series:
    """``test`` applied to the values of the right shape only; False for the rest."""
    return fits & values.where(fits, "").map(lambda v: bool(v) and test(v)).astype("bool")


def _library(kind: str, shape: str) -> Check:
    normalise = identifiers.NORMALISERS[kind]
    pattern = re.compile(shape)

    def check(values: pd.Series, hinted: bool) -> pd.Series:
        fits = values.str.fullmatch(pattern)
        return _passing(values, fits, lambda v: normalise(v)[1])

    return check


def _phone(values: pd.Series, hinted: bool) -> pd.Series:
    # a phone number is written with its trunk or international prefix; a bare run of digits
    # is more likely a BSN, KvK or order number (phonenumbers would accept 612345678)
    digits = values.str.count(r"\d")
    fits = values.str.fullmatch(r"(?:\+|\(?0)[\d\s().\-/]{6,22}") & digits.between(9, 15)
    return _passing(values, fits, lambda v: identifiers.phone(v)[1])


def _bsn(values: pd.Series, hinted: bool) -> pd.Series:
    # exactly nine digits: stdnum pads shorter numbers, which would let KvK numbers through
    compact = values.str.replace(r"[\s.\-]", "", regex=True)
    fits = compact.str.fullmatch(r"\d{9}")
    return _passing(compact, fits, lambda v: identifiers.bsn_number(v)[1])


def _postcode(values: pd.Series, hinted: bool) -> pd.Series:
    # not identifiers.postcode_nl: it leaves foreign postcodes valid, here only Dutch ones count
    fits = values.str.fullmatch(r"[1-9]\d{3}\s?[A-Za-z]{2}")
    return _passing(values, fits, postcode.is_valid)


_MASKED_CARD = re.compile(r"[\d*xX\u2022]{8,15}\d{4}")


def _card(values: pd.Series, hinted: bool) -> pd.Series:
    """A full number that passes Luhn (major industry 2-6), or one masked to its last digits."""
    compact = values.str.replace(r"[\s\-]", "", regex=True)
    full = compact.str.fullmatch(r"[2-6]\d{12,18}")
    valid = _passing(compact, full, luhn.is_valid)
    masked = compact.str.fullmatch(_MASKED_CARD) & compact.str.count(r"[*xX\u2022]").ge(4)
    return valid | masked


def _ip(values: pd.Series, hinted: bool) -> pd.Series:
    fits = values.str.fullmatch(r"[0-9A-Fa-f:.]{2,45}") & values.str.contains(r"[.:]", regex=True)
    return _passing(values, fits, _is_ip)


def _online_id(values: pd.Series, hinted: bool) -> pd.Series:
    """An analytics tool's client or user id: one token (GA4's client id is two numbers joined by
    a dot); only the column's name tells it from any other key, so the kind needs that hint."""
    return values.str.fullmatch(r"[\w.:-]{1,128}").fillna(False).astype("bool")


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


_DATE_FORMATS = ("%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y", "%d.%m.%Y", "%Y/%m/%d", "%Y%m%d")


def _birth_date(values: pd.Series, hinted: bool) -> pd.Series:
    """A date without a time of day, of someone alive: 0-120 years ago when the name says
    'birth', 16-110 years ago (an adult client) when it does not, so that recent invoice and
    payment dates do not pass."""
    text = values.str.replace(r"[ T]00:00(?::00(?:\.0+)?)?$", "", regex=True)
    dates = pd.Series(pd.NaT, index=values.index, dtype="datetime64[s]")  # seconds: any year fits
    for fmt in _DATE_FORMATS:
        dates = dates.fillna(pd.to_datetime(text, format=fmt, errors="coerce").astype("datetime64[s]"))
    age = (pd.Timestamp.today().normalize() - dates).dt.days / 365.25
    low, high = (0, 120) if hinted else (16, 110)
    return age.between(low, high).fillna(False).astype("bool")


_WORD = re.compile(r"[^\W\d_]+(?:['\u2019-][^\W\d_]+)*")
_INITIALS = re.compile(r"(?:[^\W\d_]\.)+[^\W\d_]?")


def looks_like_name(text: str) -> bool:
    """Two to four capitalised name words (or initials and a surname), tussenvoegsels allowed;
    anything with digits, company words, ampersands or lower-case words is not a name."""
    words = text.replace(",", " ").split()
    if not 2 <= len(words) <= 8:
        return False
    named = initials = 0
    for word in words:
        bare = fold(word).lower().rstrip(".")
        if bare in names.business_words() or bare.replace(".", "") in names.business_words():
            return False
        if bare in names.titles() or bare in names.particles():
            continue
        if _INITIALS.fullmatch(word) and word[0].isupper():
            initials += 1
        elif _WORD.fullmatch(word) and word[0].isupper() and not word.isupper():
            named += 1
        else:
            return False
    return named >= 1 and 2 <= named + initials <= 4


def _person_name(values: pd.Series, hinted: bool) -> pd.Series:
    return values.map(looks_like_name).astype("bool")


KINDS: list[Kind] = [
    Kind("email", "email", _library("email", r"[^@\s]+@[^@\s]+\.[^@\s]+"), "e-mail syntax",
         ("mail",), 0.8, 0.5, 0.0),
    Kind("iban", "iban", _library("iban", r"[A-Za-z]{2}\d{2}[A-Za-z0-9 ]{10,34}"), "the IBAN check",
         ("iban", "rekening", "bankaccount", "accountnumber"), 0.8, 0.5, 0.01),
    Kind("vat_number", "vat_number",
         _library("vat_number", r"(?:[A-Za-z]{2}[0-9A-Za-z+*.\s\-]{2,16})|(?:\d{9}\s?B\d{2})"),
         "the EU VAT check", ("btw", "vat", "omzetbelasting", "taxnumber", "taxid"), 0.8, 0.5, 0.05, 0.95),
    Kind("card_number", "card_number", _card, "the Luhn check (or a masked card)",
         ("card", "kaart", "pan"), 0.9, 0.5, 0.1, 0.85),
    Kind("bsn", "bsn", _bsn, "the 11-proof",
         ("bsn", "sofi", "burgerservicenummer", "citizenservicenumber", "nationalid"),
         0.9, 0.5, 1 / 11, 0.85),
    Kind("ip_address", None, _ip, "an IPv4 or IPv6 address",
         ("ip", "ipadres", "ipaddress", "remoteaddr"), 0.8, 0.5, 0.05, 0.95),
    Kind("online_id", None, _online_id, "one token, as a client id or user id is",
         ("userpseudoid", "gaclientid", "cookieid", "pseudoid"), None, 0.8, 0.5),
    Kind("bic", "bic", _library("bic", r"[A-Z]{6}[A-Z0-9]{2}(?:[A-Z0-9]{3})?"), "BIC shape and country",
         ("bic", "swift"), 0.9, 0.5, 0.2, 0.8),
    Kind("postcode", "postcode", _postcode, "a Dutch postcode",
         ("postcode", "postalcode", "zip"), 0.8, 0.5, 0.05, 0.9),
    Kind("phone", "phone", _phone, "a valid phone number (phonenumbers, NL)",
         ("telefoon", "phone", "mobiel", "mobile", "gsm", "tel", "fax"), 0.8, 0.5, 0.1, 0.9),
    Kind("kvk_number", "kvk_number", _library("kvk_number", r"\d{4}\s?\d{4}"), "eight digits",
         ("kvk", "kamervankoophandel", "chamberofcommerce", "coc", "handelsregister"), None, 0.8, 0.3),
    Kind("birth_date", "birth_date", _birth_date, "a plausible date of birth",
         ("geboorte", "geboren", "birth", "dob", "geb", "verjaardag"), 0.9, 0.6, 0.3, 0.55),
    Kind("person_name", "name", _person_name, "the shape of a person's name",
         ("naam", "name", "contact", "tenaamstelling", "houder", "holder", "persoon", "person",
          "klant", "customer", "ontvanger", "recipient"), None, 0.5, 0.2),
]
KIND_BY_FIELD = {k.field: k.name for k in KINDS if k.field}

# a name that mentions one of these is about an organisation or a thing, not a person's name
_NOT_A_PERSON = ("bedrijf", "company", "organisatie", "organisation", "organization", "firma",
                 "handelsnaam", "tradename", "product", "artikel", "article", "item", "bestand", "file",
                 "user", "gebruiker", "host", "domain", "domein", "bank", "plaats", "city", "stad",
                 "straat", "street", "project", "merchant", "winkel", "shop", "method", "methode",
                 "land", "country")
# what may follow a short hint inside one word: 'KvKnummer', 'telnr', 'IPadres', 'gebdatum'
_SUFFIXES = {"", "nr", "nummer", "number", "num", "no", "adres", "address", "addr", "code", "id",
             "datum", "date", "v4", "v6"}


# ---------------------------------------------------------------------------------------------
# names as context


def _words(name: str) -> set[str]:
    """The words of a column name, accents dropped, lower case; both as written ('KvK', 'IPv4')
    and with camelCase and digits split off ('customerIP')."""
    text = fold(str(name))
    split = re.sub(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Za-z])(?=\d)", " ", text)
    return {w for part in (text, split) for w in re.split(r"[^0-9a-z]+", part.lower()) if w}


def hinted(kind: Kind, name: str) -> bool:
    """Whether the column name points at ``kind``."""
    words = _words(name)
    folded = headers.fold(name)
    if kind.name == "person_name" and any(n in folded for n in _NOT_A_PERSON):
        return False
    for hint in kind.hints:
        if len(hint) > 3 and hint in folded:
            return True
        if len(hint) <= 3 and any(w.startswith(hint) and w[len(hint):] in _SUFFIXES for w in words):
            return True
    return False


# ---------------------------------------------------------------------------------------------
# classifying one column


def _distinct(values: pd.Series) -> tuple[pd.Series, int, int, int]:
    """A sample of the distinct non-empty values, and the counts of filled rows, all rows and
    distinct values."""
    text = values.dropna().astype("str").str.strip()
    text = text[text.ne("")]
    distinct = pd.Series(text.unique(), dtype="str")
    total = len(distinct)
    if total > SAMPLE:
        distinct = distinct.sample(SAMPLE, random_state=0)
    return distinct.reset_index(drop=True), len(text), len(values), total


def _score(kind: Kind, valid: int, checked: int, hint: bool) -> float:
    share = valid / checked
    needed = kind.hinted_share if hint else kind.share
    if needed is None or share < needed or valid == 0:
        return 0.0
    return share * (1 - kind.chance ** valid) * (1.0 if hint else kind.unhinted)


def classify(name: str, values: pd.Series) -> Finding | None:
    """What the column ``name`` holds, judged from its values and its name; None when no kind
    reaches :data:`MIN_CONFIDENCE` (or the column is empty)."""
    sample, filled, rows, total = _distinct(values)
    if sample.empty:
        return None
    best: tuple[float, Kind, pd.Series, bool] | None = None
    for kind in KINDS:
        hint = hinted(kind, name)
        if kind.share is None and not hint:
            continue
        valid = kind.check(sample, hint)
        score = _score(kind, int(valid.sum()), len(sample), hint)
        if score >= MIN_CONFIDENCE and (best is None or score > best[0]):
            best = (score, kind, valid, hint)
    if best is None:
        return None
    score, kind, valid, hint = best
    return Finding(kind.name, kind.field, round(score, 3),
                   _evidence(kind, sample[valid], len(sample), filled, rows, total, hint))


def _evidence(kind: Kind, good: pd.Series, checked: int, filled: int, rows: int,
              total: int, hint: bool) -> str:
    sampled = f" (a sample of {checked:,} of {total:,})" if total > checked else ""
    examples = ", ".join(mask(v, kind.name) for v in good.head(EXAMPLES))
    context = "the column name points at it" if hint else "the column name gives no hint"
    return (f"{len(good):,} of {checked:,} distinct values{sampled} pass {kind.test} "
            f"({len(good) / checked:.0%}); {filled:,} of {rows:,} rows filled; {context}; "
            f"e.g. {examples}")

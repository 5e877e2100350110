"""Normalising identifiers with the libraries made for them.

Each function takes one value and returns ``(normalised, valid)``. An invalid value comes back
as it was (only trimmed) with ``valid`` False: it is flagged, never silently repaired.
:func:`normalise_column` applies one of them to a whole column, once per distinct value.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pandas as pd
import phonenumbers
from email_validator import EmailNotValidError, validate_email
from stdnum import bic, iban
from stdnum.eu import vat
from stdnum.nl import bsn, postcode

Result = tuple[str, bool]


def email(value: str) -> Result:
    text = value.strip()
    try:
        checked = validate_email(text, check_deliverability=False)  # never a DNS look-up
    except EmailNotValidError:
        return text, False
    return checked.normalized.lower(), True


def phone(value: str, region: str = "NL") -> Result:
    text = value.strip()
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return text, False
    if not phonenumbers.is_valid_number(number):
        return text, False
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), True


def _stdnum(module) -> Callable[[str], Result]:
    def check(value: str) -> Result:
        text = value.strip()
        if module.is_valid(text):
            return module.compact(text), True
        return text, False

    return check


iban_number = _stdnum(iban)
bic_code = _stdnum(bic)
bsn_number = _stdnum(bsn)


def vat_number(value: str) -> Result:
    """An EU VAT number; a bare Dutch one (123456789B01) gets its NL prefix."""
    text = value.strip()
    compact = re.sub(r"[\s.\-]", "", text).upper()
    if re.fullmatch(r"\d{9}B\d{2}", compact):
        compact = "NL" + compact
    if vat.is_valid(compact):
        return vat.compact(compact), True
    return text, False


def postcode_nl(value: str) -> Result:
    """A Dutch postcode as ``1234 AB``; foreign postcodes stay as they are, unflagged."""
    text = value.strip()
    if postcode.is_valid(text):
        return postcode.validate(text), True
    return text, not re.fullmatch(r"\d{4}\s*[A-Za-z]{0,2}", text)


def kvk_number(value: str) -> Result:
    """A KvK number is eight digits; it has no check digit any more."""
    text = value.strip()
    digits = re.sub(r"\s", "", text)
    return (digits, True) if re.fullmatch(r"\d{8}", digits) else (text, False)


def customer_number(value: str) -> Result:
    """Relation codes: Exact pads them with leading spaces to 18 characters."""
    return value.strip(), bool(value.strip())


def card_number(value: str) -> Result:
    """A payment card number, kept as its last four digits only."""
    digits = re.sub(r"\D", "", value)
    return (f"**** {digits[-4:]}", len(digits) >= 4) if digits else (value.strip(), False)


NORMALISERS: dict[str, Callable[[str], Result]] = {
    "email": email,
    "phone": phone,
    "postcode": postcode_nl,
    "iban": iban_number,
    "bic": bic_code,
    "vat_number": vat_number,
    "kvk_number": kvk_number,
    "customer_number": customer_number,
    "bsn": bsn_number,
    "card_number": card_number,
}


def normalise_column(values: pd.Series, kind: str,
                     known: dict[str, Result] | None = None) -> tuple[pd.Series, pd.Series]:
    """Normalised values and validity flags for a column, computed once per distinct value.

    ``known`` carries the results between columns of one import, so a value that is both a
    party's field and an identifier row (a consumer's IBAN on every payment) is checked once."""
    text = values.fillna("").astype("str")
    codes, distinct = pd.factorize(text, use_na_sentinel=False)
    distinct = distinct.to_numpy(dtype=object).tolist()
    known = {} if known is None else known
    todo = [v for v in distinct if v not in known and v.strip()]
    known.update(_check_all(todo, kind))
    results = [known.get(v, ("", False)) for v in distinct]
    normal = np.array([r[0] for r in results], dtype=object)[codes]
    valid = np.array([r[1] for r in results], dtype=bool)[codes]
    return (pd.Series(normal, index=values.index, dtype="str"),
            pd.Series(valid, index=values.index, dtype="bool"))


def _check_all(values: list[str], kind: str) -> dict[str, Result]:
    check = NORMALISERS[kind]
    return {value: check(value) for value in values}

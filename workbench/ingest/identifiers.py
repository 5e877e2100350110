"""Normalising identifiers with the libraries made for them.

Each function takes one value and returns ``(normalised, valid)``. An invalid value comes back
as it was (only trimmed) with ``valid`` False: it is flagged, never silently repaired.
:func:`normalise_column` applies one of them to a whole column, once per distinct value.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email
from pydantic import ConfigDict, Field, StrictInt, StrictStr, model_validator
from stdnum import bic, iban
from stdnum.eu import vat
from stdnum.nl import bsn, postcode

from workbench.configuration import ConfigModel, Text, load

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



# --------------------------------------------------------------------------------------------
# checks at column speed: a pure-format check settles most distinct values of a column at once,
# with the same verdict as the library (tests/test_identifier_speed.py proves it on the demo and
# on random values); a value it cannot settle goes to the library's public function


def _check_all(values: list[str], kind: str) -> dict[str, Result]:
    settled = FAST[kind](values) if kind in FAST and values else {}
    check = NORMALISERS[kind]
    settled.update({value: check(value) for value in values if value not in settled})
    return settled


def fast_iban(values: list[str]) -> dict[str, Result]:
    """IBANs settled by shape, country length, BBAN structure and the mod-97 check; a country
    with a national check of its own, or not in ``config/iban_formats.toml``, is left unsettled."""
    text = pa.array(values, pa.string())
    plain = pc.match_substring_regex(text, r"^[A-Za-z0-9 .\-]+$")  # stdnum's compact: drop ' -.'
    compact = pc.utf8_upper(pc.replace_substring_regex(text, r"[ .\-]", ""))
    shaped = pc.and_(plain, pc.match_substring_regex(compact, r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{1,30}$"))
    shaped = shaped.to_numpy(zero_copy_only=False)
    rotated = pc.binary_join_element_wise(pc.utf8_slice_codeunits(compact, 4),
                                          pc.utf8_slice_codeunits(compact, 0, 4), "")
    checksum = np.zeros(len(values), dtype=bool)  # only shaped values are plain ASCII
    checksum[shaped] = _mod97(rotated.filter(pa.array(shaped)).to_numpy(zero_copy_only=False)) == 1
    formats = _iban_formats()
    known = pc.match_substring_regex(compact, "|".join(formats.values())).to_numpy(zero_copy_only=False)
    listed = pc.is_in(pc.utf8_slice_codeunits(compact, 0, 2), pa.array(list(formats))).to_numpy(
        zero_copy_only=False)
    normal = compact.to_pylist()
    out: dict[str, Result] = {}
    for i in np.flatnonzero(shaped & (~checksum | listed)):  # a wrong check digit fails everywhere
        value = values[i]
        out[value] = (normal[i], True) if checksum[i] and known[i] else (value.strip(), False)
    return out


def _mod97(rotated: np.ndarray) -> np.ndarray:
    """ISO 7064 mod 97-10 of each rearranged IBAN, letters as 10..35, a column at a time."""
    codes = rotated.astype("S34").view(np.uint8).reshape(len(rotated), 34).astype(np.int64)
    rest = np.zeros(len(rotated), dtype=np.int64)
    for column in codes.T:
        digit, letter = (column >= 48) & (column <= 57), (column >= 65) & (column <= 90)
        rest = np.where(digit, (rest * 10 + column - 48) % 97,
                        np.where(letter, (rest * 100 + column - 55) % 97, rest))
    return rest


class _IbanFormat(ConfigModel):
    """One country's IBAN in the SWIFT registry's notation: its length, and its BBAN as parts of
    ``<count>!<n|a|c>``."""

    model_config = ConfigDict(strict=True)
    length: Annotated[StrictInt, Field(gt=4)]
    bban: Annotated[StrictStr, Field(pattern=r"^(\d+![nac])+$")]

    @model_validator(mode="after")
    def _agree(self) -> _IbanFormat:
        if 4 + sum(int(count) for count, _ in self.parts()) != self.length:
            raise ValueError("length and bban disagree")
        return self

    def parts(self) -> list[tuple[str, str]]:
        return re.findall(r"(\d+)!([nac])", self.bban)


class _IbanFormats(ConfigModel):
    evidence: Text
    countries: dict[Annotated[StrictStr, Field(pattern=r"^[A-Z]{2}$")], _IbanFormat]


@lru_cache(maxsize=1)
def _iban_formats() -> dict[str, str]:
    """Per country a regular expression of the whole compact IBAN (``config/iban_formats.toml``)."""
    path = Path(str(resources.files("workbench") / "config" / "iban_formats.toml"))
    chars = {"n": "[0-9]", "a": "[A-Z]", "c": "[A-Z0-9]"}  # compact IBANs are upper case
    out = {}
    for country, spec in load(path, _IbanFormats).countries.items():
        body = "".join(f"{chars[kind]}{{{count}}}" for count, kind in spec.parts())
        out[country] = f"^{country}[0-9]{{2}}{body}$"
    return out


# ASCII addresses email-validator accepts as they are: dot-atoms of common characters, host names
# of letters, digits and single hyphens, a top-level domain of letters. Anything else (quotes,
# Unicode, IDNA 'xn--' labels, special-use domains) goes to email-validator itself.
_PLAIN_EMAIL = (r"(?i)^[a-z0-9%+_'=-]+(\.[a-z0-9%+_'=-]+)*@"
                r"([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def fast_email(values: list[str]) -> dict[str, Result]:
    """E-mail addresses settled by syntax: plain ones valid, lower-cased; ones without '@' invalid."""
    text = pa.array(values, pa.string())
    special = "|".join(re.escape(name) for name in SPECIAL_USE_DOMAIN_NAMES)
    plain = pc.and_(pc.match_substring_regex(text, _PLAIN_EMAIL),
                    pc.invert(pc.match_substring_regex(text, rf"(?i)--|[.@]({special})$")))
    plain = pc.and_(plain, pc.less_equal(pc.utf8_length(text), 254))
    plain = pc.and_(plain, pc.less_equal(pc.find_substring(text, "@"), 64)).to_numpy(zero_copy_only=False)
    lower = pc.utf8_lower(text).to_pylist()
    no_at = pc.invert(pc.match_substring(text, "@")).to_numpy(zero_copy_only=False)
    out: dict[str, Result] = {values[i]: (lower[i], True) for i in np.flatnonzero(plain)}
    out.update({values[i]: (values[i].strip(), False) for i in np.flatnonzero(no_at)})
    return out


def fast_postcode(values: list[str]) -> dict[str, Result]:
    """Dutch postcodes written plainly (``1234AB``, ``1234 ab``) as ``1234 AB``; others unsettled."""
    text = pa.array(values, pa.string())
    plain = pc.match_substring_regex(text, r"^[1-9][0-9]{3} ?[A-Za-z]{2}$").to_numpy(zero_copy_only=False)
    out: dict[str, Result] = {}
    for i in np.flatnonzero(plain):
        value = values[i]
        letters = value[-2:].upper()
        if letters not in ("SA", "SD", "SS"):  # the combinations PostNL does not use
            out[value] = (f"{value[:4]} {letters}", True)
    return out


FAST: dict[str, Callable[[list[str]], dict[str, Result]]] = {
    "iban": fast_iban, "email": fast_email, "postcode": fast_postcode}

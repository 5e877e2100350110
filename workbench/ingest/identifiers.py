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
from workbench.ingest.tabular import SPACING

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

    The pure-format check settles most distinct values as Arrow arrays, without a Python object
    per value (a webshop's column holds a distinct IBAN per payer); the rest goes to the library.
    ``known`` carries the library's results between columns of one import, so a value that is
    both a party's field and an identifier row (a consumer's IBAN on every payment) is checked
    once."""
    codes, distinct = pd.factorize(values.fillna("").astype("str"), use_na_sentinel=False)
    distinct = pa.array(distinct.array).cast(pa.string())  # the type the fast checks are written for
    blank = pc.equal(pc.utf8_trim(distinct, characters=SPACING), "").to_numpy(zero_copy_only=False)
    if kind in FAST_COLUMNS and len(distinct):
        settled, normal, valid = FAST_COLUMNS[kind](distinct)
    else:
        settled, normal = np.zeros(len(distinct), dtype=bool), pa.nulls(len(distinct), pa.string())
        valid = np.zeros(len(distinct), dtype=bool)
    rest = ~settled & ~blank
    results = _library(distinct.filter(pa.array(rest)).to_pylist(), kind, {} if known is None else known)
    checked = pa.array([r[0] for r in results], pa.string())
    normal = pc.replace_with_mask(normal, pa.array(rest), checked)
    valid = valid & ~blank
    valid[rest] = [r[1] for r in results]
    normal = pc.if_else(pa.array(blank), "", normal)
    return (pa.chunked_array([normal.take(pa.array(codes))]).to_pandas().set_axis(values.index),
            pd.Series(valid[codes], index=values.index, dtype="bool"))


def _library(values: list[str], kind: str, known: dict[str, Result]) -> list[Result]:
    """Each value's result by the library, checked once whatever the number of calls."""
    check = NORMALISERS[kind]
    known.update({value: check(value) for value in values if value not in known})
    return [known[value] for value in values]



# --------------------------------------------------------------------------------------------
# checks at column speed: a pure-format check settles most distinct values of a column at once,
# with the same verdict as the library (tests/test_identifier_speed.py proves it on the demo and
# on random values); a value it cannot settle goes to the library's public function


# A fast check's verdict on an array of distinct values: which it settles, their normalised
# text (anything where unsettled) and their validity.
Settled = tuple[np.ndarray, pa.Array, np.ndarray]


def _as_results(values: list[str], found: Settled) -> dict[str, Result]:
    settled, normal, valid = found
    which = np.flatnonzero(settled)
    texts = normal.take(pa.array(which)).to_pylist()
    return {values[i]: (text, bool(valid[i])) for i, text in zip(which, texts, strict=True)}


def fast_iban(values: list[str]) -> dict[str, Result]:
    """IBANs settled by shape, country length, BBAN structure and the mod-97 check; a country
    with a national check of its own, or not in ``config/iban_formats.toml``, is left unsettled."""
    return _as_results(values, _fast_iban(pa.array(values, pa.string())))


def _fast_iban(text: pa.Array) -> Settled:
    plain = pc.match_substring_regex(text, r"^[A-Za-z0-9 .\-]+$")  # stdnum's compact: drop ' -.'
    compact = pc.utf8_upper(pc.replace_substring_regex(text, r"[ .\-]", ""))
    shaped = pc.and_(plain, pc.match_substring_regex(compact, r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{1,30}$"))
    shaped = shaped.to_numpy(zero_copy_only=False)
    rotated = pc.binary_join_element_wise(pc.utf8_slice_codeunits(compact, 4),
                                          pc.utf8_slice_codeunits(compact, 0, 4), "")
    checksum = np.zeros(len(text), dtype=bool)  # only shaped values are plain ASCII
    checksum[shaped] = _mod97(rotated.filter(pa.array(shaped)).to_numpy(zero_copy_only=False)) == 1
    formats = _iban_formats()
    known = pc.match_substring_regex(compact, "|".join(formats.values())).to_numpy(zero_copy_only=False)
    listed = pc.is_in(pc.utf8_slice_codeunits(compact, 0, 2), pa.array(list(formats))).to_numpy(
        zero_copy_only=False)
    good = checksum & known
    # a shaped value's only spacing is the space: stripping it is trimming spaces
    normal = pc.if_else(pa.array(good), compact, pc.utf8_trim(text, " "))
    return shaped & (~checksum | listed), normal, good  # a wrong check digit fails everywhere


# Per byte of a rearranged IBAN: what it adds (a digit its value, a letter 10..35) and what the
# remainder so far is multiplied by (10 for one digit, 100 for a letter's two; padding leaves it).
_MOD97_VALUE = np.zeros(256, dtype=np.int32)
_MOD97_VALUE[48:58] = np.arange(10)
_MOD97_VALUE[65:91] = np.arange(10, 36)
_MOD97_SHIFT = np.ones(256, dtype=np.int32)
_MOD97_SHIFT[48:58] = 10
_MOD97_SHIFT[65:91] = 100


def _mod97(rotated: np.ndarray) -> np.ndarray:
    """ISO 7064 mod 97-10 of each rearranged IBAN, letters as 10..35, a column at a time."""
    codes = np.asfortranarray(rotated.astype("S34").view(np.uint8).reshape(len(rotated), 34))
    rest = np.zeros(len(rotated), dtype=np.int32)
    for column in codes.T:  # looked up a column at a time: a table of all would take 8 bytes a byte
        rest = (rest * _MOD97_SHIFT[column] + _MOD97_VALUE[column]) % 97
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
    return _as_results(values, _fast_email(pa.array(values, pa.string())))


def _fast_email(text: pa.Array) -> Settled:
    special = "|".join(re.escape(name) for name in SPECIAL_USE_DOMAIN_NAMES)
    plain = pc.and_(pc.match_substring_regex(text, _PLAIN_EMAIL),
                    pc.invert(pc.match_substring_regex(text, rf"(?i)--|[.@]({special})$")))
    plain = pc.and_(plain, pc.less_equal(pc.utf8_length(text), 254))
    plain = pc.and_(plain, pc.less_equal(pc.find_substring(text, "@"), 64))
    no_at = pc.invert(pc.match_substring(text, "@")).to_numpy(zero_copy_only=False)
    normal = pc.if_else(plain, pc.utf8_lower(text), pc.utf8_trim(text, characters=SPACING))
    plain = plain.to_numpy(zero_copy_only=False)
    return plain | no_at, normal, plain


def fast_postcode(values: list[str]) -> dict[str, Result]:
    """Dutch postcodes written plainly (``1234AB``, ``1234 ab``) as ``1234 AB``; others unsettled."""
    return _as_results(values, _fast_postcode(pa.array(values, pa.string())))


def _fast_postcode(text: pa.Array) -> Settled:
    plain = pc.match_substring_regex(text, r"^[1-9][0-9]{3} ?[A-Za-z]{2}$")
    letters = pc.utf8_upper(pc.utf8_slice_codeunits(text, -2))
    # the combinations PostNL does not use
    used = pc.and_(plain, pc.invert(pc.is_in(letters, pa.array(["SA", "SD", "SS"])))).to_numpy(
        zero_copy_only=False)
    return used, pc.binary_join_element_wise(pc.utf8_slice_codeunits(text, 0, 4), letters, " "), used


FAST: dict[str, Callable[[list[str]], dict[str, Result]]] = {
    "iban": fast_iban, "email": fast_email, "postcode": fast_postcode}
# the same checks on an array of distinct values, as normalise_column uses them
FAST_COLUMNS: dict[str, Callable[[pa.Array], Settled]] = {
    "iban": _fast_iban, "email": _fast_email, "postcode": _fast_postcode}

"""The firm's house bank: its account statements, which name the clients who pay and their IBANs.

Exports read here, both downloaded from the bank's internet banking for business (the menu is
called *Downloaden*, *Transacties exporteren* or *Afschriften*; the file format is chosen there):

* MT940 (SWIFT): one record per booking (``:61:`` line) with its ``:86:`` details. ABN AMRO
  (Internet Bankieren Zakelijk, *MT940*; its files start with ``ABNANL2A`` lines), ING (Mijn ING
  Zakelijk, *MT940 gestructureerd*, in SWIFT blocks ``{1:...}{4:``; older files start
  ``0000 01INGB``), Rabobank (Rabo Internetbankieren, *MT940*; a ``:940:`` first line), Triodos,
  Knab, SNS, ASN Bank and RegioBank (de Volksbank) and bunq (app, *Export*, *MT940*);
* CAMT.053 XML, versions 001.02 to 001.08 (every bank above offers it, often as *CAMT.053* or
  *XML*): one record per transaction (``TxDtls``), or per booking without one.

The counterparty (the debtor of money in, the creditor of money out) is the party; the firm's
own accounts, the bank's costs and a payment service's payouts are no client's. The banks'
layouts are reviewed data in ``workbench/config/banks.toml``. Mollie's own statements (its
settlement MT940 and Business Account CAMT.053) are read by :mod:`workbench.ingest.sources.mollie`.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from functools import cache
from pathlib import Path
from typing import Annotated
from xml.etree.ElementTree import Element

import mt940
import pandas as pd
from pydantic import AfterValidator, ConfigDict

from workbench.configuration import ConfigModel, Regex, Text, load
from workbench.errors import InputError
from workbench.ingest import headers, tabular
from workbench.ingest.model import FIELDS, ExportKind, Extract
from workbench.ingest.sources import _common, _xml, mollie

SERVICE = "bank"
MT940 = ExportKind(SERVICE, "mt940", "House bank statement MT940")
CAMT053 = ExportKind(SERVICE, "camt053", "House bank statement CAMT.053 XML")
KINDS: list[ExportKind] = [MT940, CAMT053]
FORMATS: dict[str, tuple[str, ...]] = {MT940.name: ("mt940",), CAMT053.name: ("xml",)}
OTHER = headers.KNOWN_WITHOUT_FIELD
CONFIG = Path(__file__).resolve().parents[2] / "config" / "banks.toml"
_CAMT053 = re.compile(r"\{urn:iso:std:iso:20022:tech:xsd:camt\.053\.001\.\d{2}\}Document")
_PARTY_FIELDS = [f for f, spec in FIELDS.items() if spec.table == "party"]
# The mt940 library logs a line it cannot read, names and IBANs included: keep that out of every
# log (an unreadable file is refused with a message of our own).
logging.getLogger("mt940").addHandler(logging.NullHandler())
logging.getLogger("mt940").propagate = False


def detect(path: Path, mappings: headers.MappingsLike = None) -> ExportKind | None:
    """An MT940 or CAMT.053 statement that is not Mollie's own (each file has one reader)."""
    loaded = _common.load(path)
    if loaded.format == "mt940":
        return None if mollie.owns_mt940(loaded) else MT940
    if loaded.format == "xml" and _CAMT053.fullmatch(_xml.root_tag(loaded)):
        return None if mollie.owns_camt053(loaded) else CAMT053
    return None


def read(path: Path, kind: ExportKind | None = None, mappings: headers.MappingsLike = None) -> Extract:
    loaded, kind = _common.resolve(path, kind, detect, "house bank", KINDS, FORMATS, mappings,
                                   mismatch="is a {fmt} file, not a {title}")
    return _mt940(loaded) if kind == MT940 else _camt053(loaded)


# --------------------------------------------------------------------------------------------
# the banks' layouts (reviewed data)


@dataclasses.dataclass(frozen=True)
class Bank:
    name: str
    header: re.Pattern
    account: re.Pattern
    statement_line: str = ""
    line61: tuple[tuple[str, re.Pattern], ...] = ()


@dataclasses.dataclass(frozen=True)
class Layouts:
    banks: tuple[Bank, ...]
    free_text: tuple[re.Pattern, ...]
    own_lines: re.Pattern
    placeholders: frozenset[str]
    sepa_codes: tuple[str, ...]


class _Model(ConfigModel):
    model_config = ConfigDict(strict=True)


class _Line61(_Model):
    field: Text  # the mt940 library's field of the :61: line
    pattern: Regex  # with the groups account and/or name


def _tag(name: str) -> str:
    if not hasattr(mt940.tags, name):  # reviewed data naming a tag the installed library lacks
        raise ValueError(f"{name!r} is no tag of mt940.tags")
    return name


class _BankLayout(_Model):
    name: Text
    header: Regex
    account: Regex
    statement_line: Annotated[Text, AfterValidator(_tag)] | None = None
    line61: list[_Line61] = []
    evidence: Text


class _FreeText(_Model):
    style: Text
    pattern: Regex
    evidence: Text


class _OwnLines(_Model):
    patterns: list[Regex]
    evidence: Text


class _BanksFile(_Model):
    placeholders: list[Text]
    placeholders_evidence: Text
    sepa_codes: list[Text]
    sepa_evidence: Text
    free_text: list[_FreeText]
    own_lines: _OwnLines
    bank: list[_BankLayout]


@cache
def layouts() -> Layouts:
    """``banks.toml``, validated, its patterns compiled."""
    data = load(CONFIG, _BanksFile)
    banks = tuple(
        Bank(b.name, re.compile(b.header, re.M), re.compile(b.account), b.statement_line or "",
             tuple((r.field, re.compile(r.pattern)) for r in b.line61))
        for b in data.bank
    )
    return Layouts(
        banks=banks,
        free_text=tuple(re.compile(f.pattern) for f in data.free_text),
        own_lines=re.compile("|".join(f"(?:{p})" for p in data.own_lines.patterns), re.I | re.M),
        placeholders=frozenset(p.upper() for p in data.placeholders),
        sepa_codes=tuple(data.sepa_codes),
    )


def _bank(preamble: str, account: str) -> Bank | None:
    """The bank that wrote the file: by its header lines, else by its own account's bank code."""
    banks = layouts().banks
    return (next((b for b in banks if b.header.search(preamble)), None)
            or next((b for b in banks if b.account.search(account)), None))


# --------------------------------------------------------------------------------------------
# MT940


class _Statement(mt940.models.Transactions):
    """The mt940 library, keeping what its default clean-up drops: a line holding only "-" inside
    a field (ING wraps ``MND-EV01`` there) and spaces at a line's end (a cut mid-word)."""

    @staticmethod
    def strip(lines: list[str]) -> list[str]:
        return [line.replace("\r", "") for line in lines if line.strip()]


def _statements(text: str) -> tuple[str, str, list[int]]:
    """The statements without what surrounds them (header lines, SWIFT blocks, the summary after
    the closing balance), the header lines, and the line number of each ``:61:``.

    A statement runs from ``:20:`` to its closing balance ``:62x:``; an ``:86:`` after that is
    information on the whole statement, not on the last booking. A field wrapped onto more lines
    is put together: ``:86:`` keeps its lines, ``:61:`` its first line apart (Rabobank and de
    Volksbank put the counterparty on the second), the others are joined (ING wraps ``:28C:``)."""
    lines = re.sub(r"\{4:[ \t]*(?=:20:)", "{4:\n", text).split("\n")
    fields: list[list[str]] = []
    preamble, rows, inside = [], [], False
    for number, line in enumerate(lines, 1):
        inside = inside or line.startswith(":20:")
        if not inside:
            preamble.append(line.strip())
        elif _TAG.match(line) or not fields:
            fields.append([line])
            rows += [number] if line.startswith(":61:") else []
            inside = not line.startswith(":62")
        elif line.strip():
            fields[-1].append(line)
    return "\n".join(_field_text(f) for f in fields), "\n".join(preamble), rows


_TAG = re.compile(r":\d{2}[A-Z]?:")


def _field_text(lines: list[str]) -> str:
    if lines[0].startswith(":86:"):
        return "\n".join(lines)
    if lines[0].startswith(":61:") and len(lines) > 1:
        return lines[0].rstrip() + "\n" + "".join(x.strip() for x in lines[1:])
    return "".join(x.strip() for x in lines)


def _mt940(loaded: _common.Loaded) -> Extract:
    text = loaded.text.replace("\r\n", "\n").replace("\r", "\n")
    body, preamble, rows = _statements(text)
    first_account = next(iter(re.findall(r"^:25:(.*)$", body, re.M)), "").strip()
    bank = _bank(preamble, first_account)
    transactions = _parse_mt940(loaded, body, bank)
    if len(rows) != len(transactions):
        raise InputError(loaded.path, f"{len(rows)} :61: lines but {len(transactions)} readable",
                         expected="one :61: line per booking")
    records = [_mt940_record(t.data, bank) for t in transactions]
    raw = pd.DataFrame(records, index=pd.Index(rows, dtype="int64"))
    # a statement of a quiet day has no booking: the columns every booking has, no rows
    raw = raw.reindex(columns=list(dict.fromkeys([*_mt940_record({}, None), *raw.columns]))).fillna("")
    column_map, priority = _rule_map(list(raw.columns), _MT940_RULES, _MT940_OTHER)
    canon = _common.canonical_frame(raw, priority, loaded.path)
    own_accounts = set(_compact(raw[":25:"]))
    return _finish(MT940, raw, raw, canon, column_map, own_accounts, set())


def _parse_mt940(loaded: _common.Loaded, body: str, bank: Bank | None) -> list:
    tags = {}
    if bank and bank.statement_line:
        tag = getattr(mt940.tags, bank.statement_line)()
        tags[tag.id] = tag
    statement = _Statement(
        processors={"post_statement": [
            mt940.processors.date_cleanup_post_processor,
            mt940.processors.transactions_to_transaction(
                "transaction_reference", "account_identification", "statement_number",
                "sequence_number"),
        ]},
        tags=tags,
        options=mt940.Options(reversal_sign=True, case_insensitive_marks=True,
                              unbounded_details=True, merge_keeps_values=True),
    )
    try:
        return statement.parse(body)
    except (ValueError, KeyError, TypeError, RuntimeError, ArithmeticError) as exc:
        # the library's message quotes the line, which may hold a name: give only its type
        raise InputError(loaded.path, f"not a readable MT940 statement ({type(exc).__name__})",
                         expected="an MT940 file as a Dutch bank exports it") from None


def _mt940_record(data: dict, bank: Bank | None) -> dict[str, str]:
    """One booking's fields as text, named after the tag they come from, plus the counterparty
    taken from the ``:86:`` sub-fields or free text and from the ``:61:`` line where the bank
    puts it there."""
    amount = data.get("amount")
    sequence = data.get("sequence_number")
    statement = data.get("statement_number") or ""
    lines = (data.get("transaction_details") or "").split("\n")
    record = {
        ":20:": data.get("transaction_reference"),
        ":25:": data.get("account_identification"),
        ":28C:": f"{statement}/{sequence}" if sequence else statement,
        ":61: value date": data.get("date"),
        ":61: entry date": data.get("entry_date"),
        ":61: mark": data.get("status"),
        ":61: amount": amount.amount if amount is not None else None,
        "currency": amount.currency if amount is not None else data.get("currency"),
        ":61: type": data.get("id"),
        ":61: customer reference": data.get("customer_reference"),
        ":61: bank reference": data.get("bank_reference"),
        ":61: details": data.get("extra_details"),
    }
    record = {k: "" if v is None else str(v).strip() for k, v in record.items()}
    structured = bool(re.match(r"\s*/[A-Z]{2,9}/", lines[0]))
    record[":86:"] = "".join(lines) if structured else " ".join(x.strip() for x in lines if x.strip())
    record.update(_sepa_fields(record[":86:"]) if structured else _free_text("\n".join(lines)))
    for field, pattern in bank.line61 if bank else ():
        match = pattern.match(record[_LINE61_FIELDS[field]])
        if match:
            record.update({f":61: counterparty {k}": v.strip() for k, v in match.groupdict().items() if v})
    return record


# The mt940 library's names of the :61: sub-fields a bank may put the counterparty in.
_LINE61_FIELDS = {"extra_details": ":61: details", "customer_reference": ":61: customer reference"}


def _sepa_fields(details: str) -> dict[str, str]:
    """The ``/CODE/value`` sub-fields of a structured ``:86:``; ING's ``/CNTP/`` split into
    account, BIC, name and place; a ``/REMI/`` stripped of its ``USTD//`` or ``STRD/CUR/``."""
    codes = "|".join(layouts().sepa_codes)
    found: dict[str, str] = {}
    for match in re.finditer(rf"/({codes})/(.*?)(?=/(?:{codes})/|$)", details):
        code, value = match.groups()
        found.setdefault(f"/{code}/", value)
    out = {k: v.rstrip("/").strip() for k, v in found.items() if k != "/CNTP/"}
    if "/CNTP/" in found:
        parts = [*found["/CNTP/"].split("/"), "", "", "", ""]
        out.update({"/CNTP/ account": parts[0].strip(), "/CNTP/ BIC": parts[1].strip(),
                    "/CNTP/ name": parts[2].strip(), "/CNTP/ place": parts[3].strip()})
    if "/REMI/" in out:
        out["/REMI/"] = re.sub(r"^(?:USTD//?|STRD/(?:CUR/)?)", "", out["/REMI/"]).strip("/ ")
    for party in ("/BENM/", "/ORDP/"):  # Rabobank nests the name below the ordering or paid party
        out.pop(party, None)
    return out


def _free_text(details: str) -> dict[str, str]:
    """The counterparty of a free-text ``:86:`` as the first layout of ``banks.toml`` that fits
    finds it."""
    for pattern in layouts().free_text:
        match = pattern.search(details)
        if match:
            found = {k: re.sub(r"\s*>2\d", " ", v).strip() for k, v in match.groupdict().items() if v}
            return {f":86: counterparty {k}": v for k, v in found.items()}
    return {}


_MT940_RULES = [
    ("date", ":61: value date"), ("amount", ":61: amount"), ("currency", "currency"),
    ("name", "/NAME/"), ("name", "/CNTP/ name"), ("name", ":61: counterparty name"),
    ("name", ":86: counterparty name"),
    ("iban", "/IBAN/"), ("iban", "/CNTP/ account"), ("iban", ":61: counterparty account"),
    ("iban", ":86: counterparty account"),
    ("bic", "/BIC/"), ("bic", "/CNTP/ BIC"), ("bic", ":86: counterparty bic"),
    ("street", "/ADDR/"), ("city", "/CNTP/ place"),
    ("description", "/REMI/"), ("description", ":86:"),
    # Rabobank and de Volksbank put the counterparty's account and name on the :61: line's second
    # line; elsewhere it holds codes (ING's /TRCD/): free text that may name a person
    ("description", ":61: details"),
    ("reference", "/EREF/"), ("reference", "/PREF/"), ("reference", ":61: customer reference"),
    ("other_name", "/ULTD/"), ("other_name", "/ULTC/"),
]
_MT940_OTHER = (r":20:|:25:|:28C:|:61: .*|/(?:TRTP|MARF|CSID|PURP|ISDT|RTRN|TRCD|SUM|ID"
                r"|BUSP|CDTRREF|CDTRREFTP|CD|ISSR|PAYMENT|IREF|ACCW|FX|EXCH|OCMT|ORIG|CHGS)/")


# --------------------------------------------------------------------------------------------
# CAMT.053


# The counterparty's side of a booking: the debtor of money in, the creditor of money out.
_SIDE = {"CRDT": "Dbtr", "DBIT": "Cdtr"}
_CAMT_RULES = [
    ("date", r"Ntry/BookgDt/(?:Dt|DtTm)"), ("date", r"Ntry/ValDt/(?:Dt|DtTm)"),
    ("amount", r"TxDtls/AmtDtls/TxAmt/Amt"), ("amount", r"TxDtls/Amt"), ("amount", r"Ntry/Amt"),
    ("currency", r"TxDtls/AmtDtls/TxAmt/Amt@Ccy"), ("currency", r"TxDtls/Amt@Ccy"),
    ("currency", r"Ntry/Amt@Ccy"), ("status", r"Ntry/Sts(?:/Cd)?"),
    ("description", r"TxDtls/RmtInf/Ustrd(?:\[\d+\])?"), ("description", r"TxDtls/AddtlTxInf"),
    ("description", r"Ntry/AddtlNtryInf"),
    ("reference", r"TxDtls/Refs/EndToEndId"), ("reference", r"TxDtls/RmtInf/Strd/.*/Ref"),
    ("name", r"TxDtls/RltdPties/(?:Dbtr|Cdtr)(?:/Pty)?/Nm"),
    ("account_holder", r"TxDtls/RltdPties/(?:DbtrAcct|CdtrAcct)/Nm"),
    ("iban", r"TxDtls/RltdPties/(?:DbtrAcct|CdtrAcct)/Id/IBAN"),
    ("bic", r"TxDtls/RltdAgts/(?:DbtrAgt|CdtrAgt)/FinInstnId/BIC(?:FI)?"),
    ("street", r"TxDtls/RltdPties/(?:Dbtr|Cdtr)(?:/Pty)?/PstlAdr/(?:StrtNm|BldgNb|AdrLine(?:\[\d+\])?)"),
    ("postcode", r"TxDtls/RltdPties/(?:Dbtr|Cdtr)(?:/Pty)?/PstlAdr/PstCd"),
    ("city", r"TxDtls/RltdPties/(?:Dbtr|Cdtr)(?:/Pty)?/PstlAdr/TwnNm"),
    ("country", r"TxDtls/RltdPties/(?:Dbtr|Cdtr)(?:/Pty)?/PstlAdr/Ctry"),
    ("other_name", r"TxDtls/RltdPties/(?:UltmtDbtr|UltmtCdtr)(?:/Pty)?/Nm"),
    ("other_address", r"TxDtls/RltdPties/(?:UltmtDbtr|UltmtCdtr)(?:/Pty)?/PstlAdr/.*"),
]
# Booking and statement structure; ``Stmt/Acct`` is the firm's own account and name.
_CAMT_OTHER = (r"Stmt/.*|Ntry/.*|TxDtls/(?:Refs|AmtDtls|Amt|CdtDbtInd|BkTxCd|Purp|RltdDts|Chrgs"
               r"|RtrInf|RmtInf/Strd)(?:[/@\[].*)?")
_DUTCH_POSTCODE = re.compile(r"^(\d{4}\s?[A-Z]{2})\s+(\S.*)$")


def _camt053(loaded: _common.Loaded) -> Extract:
    root = _xml.parse(loaded, "a complete CAMT.053 statement as the bank writes it")
    if not _CAMT053.fullmatch(root.tag):
        raise InputError(loaded.path, f"the root element is {_xml.local(root.tag)!r} in another "
                         "namespace or schema", expected="a camt.053.001.xx Document "
                         "(urn:iso:std:iso:20022:tech:xsd:camt.053.001.02 to .08)")
    records = [r for stmt in root.iterfind("{*}BkToCstmrStmt/{*}Stmt") for r in _camt_records(stmt)]
    if not records:
        raise InputError(loaded.path, "holds no booking (Ntry)", expected="a CAMT.053 statement")
    raw = pd.DataFrame(records, index=pd.RangeIndex(1, len(records) + 1), dtype="str").fillna("")
    column_map, _ = _rule_map(list(raw.columns), _CAMT_RULES, _CAMT_OTHER)
    direction = _first(raw, ["TxDtls/CdtDbtInd", "Ntry/CdtDbtInd"]).str.upper()
    view = _counterparty_view(raw, direction)
    canon = _camt_canonical(view, direction, loaded.path)
    own_accounts = set(_compact(_first(raw, ["Stmt/Acct/Id/IBAN", "Stmt/Acct/Id/Othr/Id"])))
    owners = set(_first(raw, ["Stmt/Acct/Ownr/Nm", "Stmt/Acct/Ownr/Pty/Nm", "Stmt/Acct/Nm"]).str.casefold())
    return _finish(CAMT053, raw, view, canon, column_map, own_accounts, owners)


def _camt_records(stmt: Element) -> list[dict[str, str]]:
    """One record per transaction, each with its booking's and statement's fields."""
    statement = _leaves(stmt, "Stmt", skip=("Ntry", "Bal", "TxsSummry"))
    records = []
    for entry in stmt.iterfind("{*}Ntry"):
        booking = {**statement, **_leaves(entry, "Ntry", skip=("NtryDtls",))}
        transactions = [{**booking, **_leaves(details, "Ntry/NtryDtls", skip=("TxDtls",)),
                         **_leaves(tx, "TxDtls")}
                        for details in entry.iterfind("{*}NtryDtls") for tx in details.iterfind("{*}TxDtls")]
        records.extend(transactions or [booking])
    return records


def _leaves(element: Element, prefix: str, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """:func:`_xml.flatten` with attributes named ``Ntry/Amt@Ccy``."""
    return {k.replace("/@", "@"): v for k, v in _xml.flatten(element, prefix, skip).items()}


def _counterparty_view(raw: pd.DataFrame, direction: pd.Series) -> pd.DataFrame:
    """The records with the firm's own side of each booking blanked (the creditor of money in,
    the debtor of money out), so what is left of the parties is the counterparty's."""
    view = raw.copy()
    for column in raw.columns:
        segments = re.sub(r"\[\d+\]|@.*", "", column).split("/")
        for mark, side in _SIDE.items():
            own = "Cdtr" if side == "Dbtr" else "Dbtr"
            if {own, own + "Acct", own + "Agt", "Ultmt" + own} & set(segments):
                view[column] = view[column].mask(direction.eq(mark), "")
    return view


def _camt_canonical(view: pd.DataFrame, direction: pd.Series, path: Path) -> pd.DataFrame:
    """The canonical columns of each transaction: amounts signed by ``CdtDbtInd``, the remittance
    pieces joined, the house number joined to the street, a postcode written before the place
    moved to the postcode."""
    def pick(*patterns: str) -> pd.Series:
        columns = [c for p in patterns for c in view.columns if re.fullmatch(p, c)]
        return _first(view, columns)

    party = r"TxDtls/RltdPties/(?:Dbtr|Cdtr)(?:/Pty)?"
    address = party + "/PstlAdr/"
    street = (pick(address + "StrtNm") + " " + pick(address + "BldgNb")).str.strip()
    lines = _joined(view, address + r"AdrLine(?:\[\d+\])?")
    city = pick(address + "TwnNm")
    split = city.str.extract(_DUTCH_POSTCODE)
    postcode = pick(address + "PstCd")
    moved = postcode.eq("") & split[0].notna()
    ustrd = _joined(view, r"TxDtls/RmtInf/Ustrd(?:\[\d+\])?")
    canon = pd.DataFrame({
        "date": pick(r"Ntry/BookgDt/(?:Dt|DtTm)", r"Ntry/ValDt/(?:Dt|DtTm)"),
        "amount": pick(r"TxDtls/AmtDtls/TxAmt/Amt", r"TxDtls/Amt", r"Ntry/Amt"),
        "currency": pick(r"TxDtls/AmtDtls/TxAmt/Amt@Ccy", r"TxDtls/Amt@Ccy", r"Ntry/Amt@Ccy"),
        "status": pick(r"Ntry/Sts(?:/Cd)?"),
        "description": ustrd.where(ustrd.ne(""), pick(r"TxDtls/AddtlTxInf", r"Ntry/AddtlNtryInf")),
        "reference": pick(r"TxDtls/Refs/EndToEndId", r"TxDtls/RmtInf/Strd/.*/Ref"),
        "name": pick(party + "/Nm"),
        "account_holder": pick(r"TxDtls/RltdPties/(?:DbtrAcct|CdtrAcct)/Nm"),
        "iban": pick(r"TxDtls/RltdPties/(?:DbtrAcct|CdtrAcct)/Id/IBAN"),
        "bic": pick(r"TxDtls/RltdAgts/(?:DbtrAgt|CdtrAgt)/FinInstnId/BIC(?:FI)?"),
        "street": street.where(street.ne(""), lines),
        "postcode": postcode.mask(moved, split[0]),
        "city": city.mask(moved, split[1]),
        "country": pick(address + "Ctry"),
    }, index=view.index)
    canon["date"] = tabular.parse_dates(canon["date"], path, "Ntry/BookgDt/Dt")
    amounts = tabular.parse_amounts(canon["amount"], path, "Ntry/Amt").abs()
    canon["amount"] = amounts.mask(direction.eq("DBIT"), -amounts)
    return canon


def _joined(frame: pd.DataFrame, pattern: str) -> pd.Series:
    """Repeated elements (``Ustrd``, ``AdrLine``) as one text."""
    columns = [c for c in frame.columns if re.fullmatch(pattern, c)]
    if not columns:
        return pd.Series("", index=frame.index, dtype="str")
    return frame[columns].agg(" ".join, axis=1).str.split().str.join(" ")


# --------------------------------------------------------------------------------------------
# shared by both formats


def _rule_map(columns: list[str], rules: list[tuple[str, str]],
              other: str) -> tuple[dict[str, str | None], dict[str, str]]:
    """The canonical field of each column from ``(field, pattern)`` rules (``other``: known
    columns without a field), and the mapped columns ordered by rule, most telling first."""
    hits = {c: next(((i, f) for i, (f, p) in enumerate(rules) if re.fullmatch(p, c)), None)
            for c in columns}
    column_map = {c: hit[1] if hit else (OTHER if re.fullmatch(other, c) else None)
                  for c, hit in hits.items()}
    ranked = sorted((hit[0], c) for c, hit in hits.items() if hit)
    priority = {c: column_map[c] for _, c in ranked if FIELDS[column_map[c]].table != "extra"}
    return column_map, priority


def _first(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    """Per row, the first non-empty value of the columns, in their order."""
    out = pd.Series("", index=frame.index, dtype="str")
    for column in columns:
        if column in frame.columns:
            values = _common.trimmed(frame[column])
            out = out.where(out.ne(""), values)
    return out


def _compact(values: pd.Series) -> pd.Series:
    """Account numbers compared without spaces, case, or a currency ING appends (``...EUR``)."""
    return values.astype("str").str.upper().str.replace(r"\s", "", regex=True).str.replace(
        r"(?<=\d)[A-Z]{3}$", "", regex=True)


def _finish(kind: ExportKind, raw: pd.DataFrame, view: pd.DataFrame, canon: pd.DataFrame,
            column_map: dict[str, str | None], own_accounts: set[str], owners: set[str]) -> Extract:
    """Bank lines as documents, counterparties as parties. A line to or from one of the firm's
    own accounts or its account owner, and the bank's or a service's own line, has no client
    party; a placeholder is no reference; each booking gets a key of its own (two equal card
    payments on one day are two bookings)."""
    rules = layouts()
    canon["reference"] = _common.column(canon, "reference").mask(
        _common.column(canon, "reference").str.upper().isin(rules.placeholders), "")
    own = (_compact(_common.column(canon, "iban")).isin(own_accounts - {""})
           | _common.column(canon, "name").str.casefold().isin(owners - {""})
           | _common.column(canon, "description").str.contains(rules.own_lines)
           | _common.column(canon, "name").str.contains(rules.own_lines))
    for field in [f for f in _PARTY_FIELDS if f in canon.columns]:
        canon[field] = canon[field].mask(own, "")
    parties, documents = _common.split(canon, "bank_line")
    account = _first(raw, [":25:", "Stmt/Acct/Id/IBAN", "Stmt/Acct/Id/Othr/Id"])
    key_frame = pd.DataFrame({"account": account, "date": canon["date"].astype("str"),
                              "amount": canon["amount"].astype("str"),
                              "text": pd.Series(["|".join(row) for row in view.astype("str").itertuples(
                                  index=False)], index=view.index, dtype="str")})
    key_frame["nth"] = key_frame.groupby(list(key_frame.columns)).cumcount().astype("str")
    documents["doc_key"] = _common.content_key(key_frame, key_frame.columns, prefix="b:")
    extract = _common.finish(kind, view, parties, documents, column_map)
    return dataclasses.replace(extract, raw=raw)

"""Mollie, the payment service provider.

Exports read here (Mollie Dashboard unless said otherwise):

* payments / settlement CSV: *Payments* > *Export*, or *Settlements* > a settlement > *Export* >
  CSV; one row per payment, refund, chargeback or fee (fee rows have no ID), English headers;
* Business Account bank statement CSV: *Reports* > *Statements* > CSV; one row per booking with
  its counterparty;
* Business Account bank statement CAMT.053 XML: the same screen, format CAMT053 (Mollie offers it
  for settlements too); one record per transaction (``TxDtls``), or per booking without one;
* settlement or balance report MT940: *Reports* > *Settlements* or *Balances* > *Export* > MT940;
  one record per ``:61:`` line, with the payer's name, IBAN, BIC, the payment description and
  the Mollie payment id from its ``:86:`` SEPA sub-fields;
* credit-card mandate export CSV: sent by Mollie on request when you move to another payment
  provider; its full card numbers are masked to their last four digits on import, in the copy
  the workspace keeps too;
* API dumps (JSON) as the Mollie API v2 or ``mollie-api-python`` returns them: payments,
  customers, orders, refunds, chargebacks, mandates, settlements, balance transactions,
  subscriptions and payment links, as one object, a list, or a HAL page
  (``{"count": 2, "_embedded": {"orders": [...]}, "_links": ...}``), with the objects embedded
  in them (an order's lines, payments and refunds); recognised by the objects' ``resource``
  field. The paths per resource are reviewed data (``config/headers/mollie_api.toml``). Not a
  dashboard download, but what someone with the API key (*Developers* > *API keys*) can save.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from xml.etree.ElementTree import Element

import mt940
import pandas as pd

from workbench.configuration import ConfigError
from workbench.errors import InputError
from workbench.ingest import headers, identifiers
from workbench.ingest.model import FIELDS, ExportKind, Extract
from workbench.ingest.sources import _common, _xml

SERVICE = "mollie"
MT940 = ExportKind(SERVICE, "mt940", "Mollie settlement / balance report MT940")
CAMT053 = ExportKind(SERVICE, "camt053", "Mollie bank statement CAMT.053 XML")
API_JSON = ExportKind(SERVICE, "api_json", "Mollie API dump (JSON)")
_TABLES = headers.tables(SERVICE)
KINDS: list[ExportKind] = [*(t.kind for t in _TABLES), MT940, CAMT053, API_JSON]
FORMATS: dict[str, tuple[str, ...]] = {
    **{t.kind.name: t.formats for t in _TABLES},
    MT940.name: ("mt940",), CAMT053.name: ("xml",), API_JSON.name: ("json",),
}
OTHER = headers.KNOWN_WITHOUT_FIELD

# Mollie's ids say what a record is (tr_ payment, re_ refund, chb_ chargeback).
_ID_TYPES = {"tr_": "payment", "re_": "refund", "chb_": "chargeback"}
_TRANSACTION_TYPES = {t: t for t in ("payment", "refund", "chargeback", "fee")}


def detect(path: Path, mappings: headers.MappingsLike = None) -> ExportKind | None:
    loaded = _common.load(path)
    if loaded.format == "mt940":
        return MT940 if owns_mt940(loaded) else None
    if loaded.format == "xml":
        return CAMT053 if owns_camt053(loaded) else None
    if loaded.format == "json":
        return API_JSON if _api_objects(loaded) is not None else None
    return _common.table_kind(loaded, SERVICE, mappings)


def read(path: Path, kind: ExportKind | None = None, mappings: headers.MappingsLike = None) -> Extract:
    loaded, kind = _common.resolve(path, kind, detect, "Mollie", KINDS, FORMATS, mappings,
                                   mismatch="is a {fmt} file, not a {title}")
    if kind == MT940:
        return _mt940(loaded)
    if kind == CAMT053:
        return _camt053(loaded)
    if kind == API_JSON:
        return _api_json(loaded)
    table = _common.required_table(loaded, kind, mappings)
    readers = {"payments_csv": _payments, "bank_statement_csv": _bank_statement,
               "mandates_csv": _mandates}
    return readers[kind.name](loaded, table)


# --------------------------------------------------------------------------------------------
# helpers shared by the formats


def _col(frame: pd.DataFrame, name: str) -> pd.Series:
    """A column as text, or empty text when the frame lacks it."""
    if name not in frame.columns:
        return pd.Series("", index=frame.index, dtype="str")
    return _common.trimmed(frame[name])


def _doc_types(ids: pd.Series, default: str) -> pd.Series:
    kinds = pd.Series(default, index=ids.index, dtype="str")
    for prefix, name in _ID_TYPES.items():
        kinds = kinds.mask(ids.str.startswith(prefix), name)
    return kinds


def _paypal_email(canon: pd.DataFrame) -> pd.DataFrame:
    """PayPal payments carry the payer's e-mail address where other methods have an IBAN."""
    account = _col(canon, "iban")
    is_email = account.str.contains("@", regex=False)
    canon["email"] = account.where(is_email, _col(canon, "email"))
    canon["iban"] = account.where(~is_email, "")
    return canon


def _rule_map(
    columns: list[str], rules: list[tuple[str, str]], other: str
) -> tuple[dict[str, str | None], dict[str, str]]:
    """For nested formats: the canonical field of each column from ``(field, pattern)`` rules
    (``other`` matches known columns without a field), and the mapped columns ordered by rule,
    most telling first, which is the order :func:`_common.canonical_frame` prefers them in."""
    compiled = [(f, re.compile(p)) for f, p in rules]
    known = re.compile(other)
    hits = {c: next(((i, f) for i, (f, p) in enumerate(compiled) if p.fullmatch(c)), None)
            for c in columns}
    column_map = {c: hit[1] if hit else (OTHER if known.fullmatch(c) else None)
                  for c, hit in hits.items()}
    ranked = sorted(((hit[0], c) for c, hit in hits.items() if hit), key=lambda pair: pair[0])
    return column_map, {c: column_map[c] for _, c in ranked}


# --------------------------------------------------------------------------------------------
# CSV exports


def _payments(loaded: _common.Loaded, table: headers.HeaderTable) -> Extract:
    raw = loaded.table
    column_map = table.column_map(list(raw.columns))
    canon = _paypal_email(_common.canonical_frame(raw, column_map, loaded.path))
    parties, documents = _common.split(canon)
    ids = _col(canon, "doc_key")
    kinds = _doc_types(ids, "payment")
    method = _col(canon, "payment_method").str.lower()
    kinds = kinds.mask(method.isin(["refund", "chargeback"]), method)
    stated = _col(canon, "doc_type").str.lower().map(_TRANSACTION_TYPES)  # newer CSV's type
    kinds = stated.fillna(kinds)
    # Fee, VAT and reservation rows have no payment id; invoice fee rows have ids like MOL...
    documents["doc_type"] = kinds.mask(ids.eq("") | ids.str.upper().str.startswith("MOL"), "fee")
    return _common.finish(table.kind, raw, parties, documents, column_map)


_ENTRY_TYPE = {headers.fold(n) for n in ("ENTRY_TYPE", "Boekingstype")}


def _bank_statement(loaded: _common.Loaded, table: headers.HeaderTable) -> Extract:
    raw = loaded.table
    column_map = table.column_map(list(raw.columns))
    canon = _common.canonical_frame(raw, column_map, loaded.path)
    entry = next((raw[c] for c in raw.columns if headers.fold(c) in _ENTRY_TYPE), None)
    if entry is not None:  # the sign follows CREDIT/DEBIT even where the amount has none
        entry = entry.str.strip().str.upper()
        size = canon["amount"].abs()
        canon["amount"] = canon["amount"].mask(entry.eq("CREDIT"), size).mask(entry.eq("DEBIT"), -size)
    parties, documents = _common.split(canon, "bank_line")
    return _common.finish(table.kind, raw, parties, documents, column_map)


def _mandates(loaded: _common.Loaded, table: headers.HeaderTable) -> Extract:
    """Card holders with their cards; every full card number is masked before anything
    else sees it, in ``raw`` and in the bytes the workspace keeps."""
    raw = loaded.table.copy()
    column_map = table.column_map(list(raw.columns))
    originals: dict[str, str] = {}
    for column in [c for c, f in column_map.items() if f == "card_number"]:
        masked, _ = identifiers.normalise_column(raw[column], "card_number")
        full = raw[column].ne(masked) & raw[column].str.strip().ne("")
        originals.update(zip(raw.loc[full, column], masked[full], strict=True))
        raw[column] = masked
    keep = _mask_bytes(loaded, originals)
    canon = _common.canonical_frame(raw, column_map, loaded.path)
    parties, _ = _common.split(canon)
    return _common.finish(table.kind, raw, parties, canon.iloc[:0, :0], column_map, keep)


def _mask_bytes(loaded: _common.Loaded, replacements: dict[str, str]) -> bytes:
    """The file's bytes with each card number replaced by its masked form. Only values long
    enough to be a card number are replaced: a short one (a typo) could also be a month."""
    codec = {b"\xff\xfe": "utf-16-le", b"\xfe\xff": "utf-16-be"}.get(loaded.data[:2], "utf-8")
    replacements = {k: v for k, v in replacements.items() if len(re.sub(r"\D", "", k)) >= 12}
    data = loaded.data
    for original in sorted(replacements, key=len, reverse=True):
        data = data.replace(original.encode(codec), replacements[original].encode(codec))
    if any(original.encode(codec) in data for original in replacements):
        raise InputError(loaded.path, "a card number could not be masked in the stored copy",
                         expected="a mandate export as Mollie writes it")
    return data


# --------------------------------------------------------------------------------------------
# MT940


# Mollie's ABN AMRO account as the statement's own (:25:), or Mollie payment, refund or
# chargeback ids as end-to-end references. A house bank's statement names Mollie's account only
# as a counterparty (a payout), and Mollie's ids never: workbench.ingest.sources.bank reads those.
_MOLLIE_ACCOUNT = re.compile(r"^:25:\s*(?:NL\d{2})?ABNA052459095\d", re.M)
_MOLLIE_IDS = re.compile(r"/EREF/(?:tr|re|chb)_[0-9A-Za-z]")
_MOLLIE_CAMT = re.compile(rb"<(?:\w+:)?EndToEndId>\s*(?:tr|re|chb)_[0-9A-Za-z]|<(?:\w+:)?Acct>\s*"
                          rb"<(?:\w+:)?Id>\s*<(?:\w+:)?IBAN>\s*NL\d{2}ABNA052459095\d")


def owns_mt940(loaded: _common.Loaded) -> bool:
    """Whether an MT940 file is Mollie's own settlement or balance report."""
    return loaded.format == "mt940" and bool(
        _MOLLIE_ACCOUNT.search(loaded.text) or _MOLLIE_IDS.search(_unwrapped(loaded.text)))


def owns_camt053(loaded: _common.Loaded) -> bool:
    """Whether a CAMT.053 file is Mollie's own statement: Mollie's ids as end-to-end references
    or Mollie's account as the statement's own."""
    return bool(_CAMT053_ROOT.fullmatch(_xml.root_tag(loaded)) and _MOLLIE_CAMT.search(loaded.data))
_SEPA_CODES = ["TRTP", "IBAN", "BIC", "NAME", "REMI", "EREF", "MARF", "CSID", "PURP", "ADDR",
               "ORDP", "BENM", "ULTD", "ULTC", "ID"]
_SEPA_FIELD = "/{code}/(.*?)(?=/(?:" + "|".join(_SEPA_CODES) + ")/|$)"
_MT940_RULES = [
    ("date", ":61: value date"), ("amount", ":61: amount"), ("currency", "currency"),
    ("doc_key", "/EREF/"), ("name", "/NAME/"), ("iban", "/IBAN/"), ("bic", "/BIC/"),
    ("street", "/ADDR/"), ("description", "/REMI/"), ("description", ":86:"),
    ("reference", ":61: customer reference"),
]
_MT940_OTHER = r":20:|:25:|:28C:|:61: .*|/(?:TRTP|MARF|CSID|PURP)/"


def _unwrapped(text: str) -> str:
    return text.replace("\r", "").replace("\n", "")


class _Statement(mt940.models.Transactions):
    """The mt940 library, keeping a space at the end of a line: Mollie wraps ``:86:`` at a
    fixed width mid-token, so such a space is part of the text."""

    @staticmethod
    def strip(lines: list[str]) -> list[str]:
        lines = [line.replace("\r", "") for line in lines]
        return [line for line in lines if line.strip() not in ("", "-")]


def _mt940(loaded: _common.Loaded) -> Extract:
    text = loaded.text.replace("\r\n", "\n")
    statement = _Statement(
        processors={"post_statement": [
            mt940.processors.date_cleanup_post_processor,
            mt940.processors.transactions_to_transaction(
                "transaction_reference", "account_identification", "statement_number",
                "sequence_number"),
        ]},
        options=mt940.Options(reversal_sign=True, case_insensitive_marks=True),
    )
    try:
        transactions = statement.parse(text)
    except (ValueError, KeyError, TypeError, RuntimeError, ArithmeticError) as exc:
        # the library's message quotes the line, which may hold a name: give only its type
        raise InputError(loaded.path, f"not a readable MT940 statement ({type(exc).__name__})",
                         expected="an MT940 file as Mollie exports it") from None
    rows = [i for i, line in enumerate(text.split("\n"), 1) if line.startswith(":61:")]
    if len(rows) != len(transactions):
        raise InputError(loaded.path, f"{len(rows)} :61: lines but {len(transactions)} readable",
                         expected="one :61: line per booking")
    raw = pd.DataFrame([_mt940_record(t.data) for t in transactions], index=pd.Index(rows),
                       columns=list(_mt940_record({})))
    details = raw[":86:"]
    for code in _SEPA_CODES:
        values = details.str.extract(_SEPA_FIELD.format(code=code), expand=False)
        if values.notna().any():
            raw[f"/{code}/"] = values.fillna("").str.strip()
    column_map, priority = _rule_map(list(raw.columns), _MT940_RULES, _MT940_OTHER)
    canon = _common.canonical_frame(raw, priority, loaded.path)
    doc_key = _col(canon, "doc_key").mask(_col(canon, "doc_key").str.upper().eq("NOTPROVIDED"), "")
    canon["doc_key"] = doc_key
    canon["reference"] = doc_key.where(doc_key.ne(""), _col(canon, "reference"))
    # Money out without a Mollie id is Mollie's own line (the payout to the merchant's account,
    # Mollie B.V.'s fees): its counterparty is the merchant or Mollie, no client.
    own = ~doc_key.str.match(r"(?:tr|re|chb)_") & canon["amount"].lt(0)
    for field in [c for c in canon.columns if FIELDS[c].table == "party"]:
        canon[field] = canon[field].mask(own, "")
    parties, documents = _common.split(canon)
    documents["doc_type"] = _doc_types(doc_key, "bank_line")
    return _common.finish(MT940, raw, parties, documents, column_map)


def _mt940_record(data: dict) -> dict[str, str]:
    """One booking's fields as text, named after the tag they come from; the ``:86:`` lines
    joined without a space, as Mollie cut them."""
    amount = data.get("amount")
    statement = data.get("statement_number") or ""
    sequence = data.get("sequence_number")
    record = {
        ":20:": data.get("transaction_reference"),
        ":25:": data.get("account_identification"),
        ":28C:": f"{statement}/{sequence}" if sequence else statement,
        ":61: value date": data.get("date"),
        ":61: entry date": data.get("entry_date"),
        ":61: mark": data.get("status"),
        ":61: funds code": data.get("funds_code"),
        ":61: amount": amount.amount if amount is not None else None,
        "currency": amount.currency if amount is not None else data.get("currency"),
        ":61: type": data.get("id"),
        ":61: customer reference": data.get("customer_reference"),
        ":61: bank reference": data.get("bank_reference"),
        ":61: details": data.get("extra_details"),
        ":86:": (data.get("transaction_details") or "").replace("\n", ""),
    }
    return {k: "" if v is None else str(v) for k, v in record.items()}


# --------------------------------------------------------------------------------------------
# CAMT.053


_CAMT053_ROOT = re.compile(r"\{urn:iso:std:iso:20022:tech:xsd:camt\.053\.[0-9.]+\}Document")
_PARTY = r"TxDtls/RltdPties/(?:Dbtr|Cdtr)(?:/Pty)?"
_ULTIMATE = r"TxDtls/RltdPties/(?:UltmtDbtr|UltmtCdtr)(?:/Pty)?"
_CAMT_RULES = [
    ("doc_key", r"TxDtls/Refs/EndToEndId"), ("doc_key", r"Ntry/AcctSvcrRef"),
    ("doc_key", r"TxDtls/Refs/AcctSvcrRef"),
    ("date", r"Ntry/BookgDt/(?:Dt|DtTm)"), ("date", r"Ntry/ValDt/(?:Dt|DtTm)"),
    ("amount", r"TxDtls/AmtDtls/TxAmt/Amt"), ("amount", r"TxDtls/Amt"), ("amount", r"Ntry/Amt"),
    ("currency", r"TxDtls/AmtDtls/TxAmt/Amt@Ccy"), ("currency", r"TxDtls/Amt@Ccy"),
    ("currency", r"Ntry/Amt@Ccy"),
    ("status", r"Ntry/Sts(?:/Cd)?"),
    ("description", r"TxDtls/RmtInf/Ustrd(?:\[\d+\])?"), ("description", r"TxDtls/AddtlTxInf"),
    ("description", r"Ntry/AddtlNtryInf"),
    ("name", _PARTY + "/Nm"), ("name", _ULTIMATE + "/Nm"),
    ("account_holder", r"TxDtls/RltdPties/(?:DbtrAcct|CdtrAcct)/Nm"),
    ("iban", r"TxDtls/RltdPties/(?:DbtrAcct|CdtrAcct)/Id/IBAN"),
    ("bic", r"TxDtls/RltdAgts/(?:DbtrAgt|CdtrAgt)/FinInstnId/BIC(?:FI)?"),
    ("street", _PARTY + r"/PstlAdr/(?:StrtNm|AdrLine(?:\[\d+\])?)"),
    ("postcode", _PARTY + "/PstlAdr/PstCd"), ("city", _PARTY + "/PstlAdr/TwnNm"),
    ("country", _PARTY + "/PstlAdr/Ctry"),
    ("email", _PARTY + "/CtctDtls/EmailAdr"), ("phone", _PARTY + "/CtctDtls/(?:PhneNb|MobNb)"),
    ("birth_date", _PARTY + "/Id/PrvtId/DtAndPlcOfBirth/BirthDt"),
]
# Booking and statement structure; party details not listed above stay unmapped for review.
# ``Stmt/Acct`` is the firm's own account (its IBAN and owner, the controller itself).
_CAMT_OTHER = (r"Stmt/.*|Ntry/.*|TxDtls/(?:Refs|AmtDtls|Amt|CdtDbtInd|BkTxCd|Purp|RltdDts|Chrgs"
               r"|RtrInf|RmtInf/Strd)(?:[/@\[].*)?")
# The account holder's own side of a booking: the creditor of money in, the debtor of money out.
_OWN_SIDE = {"CRDT": {"Cdtr", "CdtrAcct", "UltmtCdtr", "CdtrAgt"},
             "DBIT": {"Dbtr", "DbtrAcct", "UltmtDbtr", "DbtrAgt"}}


def _camt053(loaded: _common.Loaded) -> Extract:
    root = _xml.parse(loaded, "a complete CAMT.053 statement as the bank writes it")
    if not _CAMT053_ROOT.fullmatch(root.tag):
        raise InputError(loaded.path, f"the root element is {_xml.local(root.tag)!r} in another "
                         "namespace or schema", expected="a camt.053 Document "
                         "(urn:iso:std:iso:20022:tech:xsd:camt.053.*)")
    records = [r for stmt in root.iterfind("{*}BkToCstmrStmt/{*}Stmt") for r in _camt_records(stmt)]
    raw = pd.DataFrame(records, index=pd.RangeIndex(1, len(records) + 1), dtype="str").fillna("")
    column_map, priority = _rule_map(list(raw.columns), _CAMT_RULES, _CAMT_OTHER)
    view, direction = _counterparty_view(raw)
    canon = _common.canonical_frame(view, priority, loaded.path)
    ustrd = [c for c in raw.columns if re.fullmatch(r"TxDtls/RmtInf/Ustrd(?:\[\d+\])?", c)]
    if ustrd:  # remittance text comes in 140-character pieces; the description is all of them
        joined = raw[ustrd].agg(" ".join, axis=1).str.split().str.join(" ")
        canon["description"] = joined.where(joined.ne(""), canon["description"])
    if "amount" in canon:
        canon["amount"] = canon["amount"].abs().mask(direction.eq("DBIT"), -canon["amount"].abs())
    canon["reference"] = _col(view, "TxDtls/Refs/EndToEndId")
    parties, documents = _common.split(canon)
    documents["doc_type"] = _doc_types(canon["reference"], "bank_line")
    extract = _common.finish(CAMT053, view, parties, documents, column_map)
    return dataclasses.replace(extract, raw=raw)


def _camt_records(stmt: Element) -> list[dict[str, str]]:
    """One record per transaction, each with its booking's and statement's fields."""
    statement = _leaves(stmt, "Stmt", skip=("Ntry", "Bal", "TxsSummry"))
    records = []
    for entry in stmt.iterfind("{*}Ntry"):
        booking = {**statement, **_leaves(entry, "Ntry", skip=("NtryDtls",))}
        transactions = []
        for details in entry.iterfind("{*}NtryDtls"):
            batch = _leaves(details, "Ntry/NtryDtls", skip=("TxDtls",))
            transactions += [{**booking, **batch, **_leaves(tx, "TxDtls")}
                             for tx in details.iterfind("{*}TxDtls")]
        records.extend(transactions or [booking])
    return records


def _leaves(element: Element, prefix: str, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """:func:`_xml.flatten` with attributes named as in the CAMT rules (``Ntry/Amt@Ccy``)."""
    return {k.replace("/@", "@"): v for k, v in _xml.flatten(element, prefix, skip).items()}


def _counterparty_view(raw: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """The records with the account holder's own side blanked, so that name, IBAN and BIC are
    the counterparty's, and ``NOTPROVIDED`` end-to-end ids blanked."""
    direction = _col(raw, "TxDtls/CdtDbtInd")
    direction = direction.where(direction.ne(""), _col(raw, "Ntry/CdtDbtInd")).str.upper()
    view = raw.copy()
    for column in raw.columns:
        segments = set(re.sub(r"\[\d+\]|@.*", "", column).split("/"))
        for mark, own in _OWN_SIDE.items():
            if segments & own:
                view[column] = view[column].mask(direction.eq(mark), "")
    e2e = "TxDtls/Refs/EndToEndId"
    if e2e in view:
        view[e2e] = view[e2e].mask(view[e2e].str.upper().eq("NOTPROVIDED"), "")
    return view, direction


# --------------------------------------------------------------------------------------------
# API JSON (every resource that names a person, and the money documents around them)


@dataclasses.dataclass(frozen=True)
class _Resource:
    """How one Mollie API resource maps (``config/headers/mollie_api.toml``)."""

    name: str
    plural: str
    doc_type: str
    party: str
    sign: int
    rules: list[tuple[str, str]]
    other: str


def _resources() -> dict[str, _Resource]:
    """The reviewed field paths per resource, in the order the file lists each field's paths."""
    out = {}
    for name, table in _common.api_fields("mollie_api.toml").items():
        if table.get("party", "") not in _PARTY_ROLES:
            raise ConfigError([f"workbench/config/headers/mollie_api.toml: {name}.party: "
                               f"is not one of {_PARTY_ROLES}"])
        rules = [(f, re.escape(path)) for f, paths in table.get("fields", {}).items() for path in paths]
        out[name] = _Resource(name, table["plural"], table["doc_type"], table.get("party", ""),
                              table.get("sign", 1), rules, "|".join(table.get("other", [])))
    return out


_PARTY_ROLES = ("", "customer", "consumer")
# What tells one paying person from another; the customer id links them, it is not them.
_CONSUMER = [f for f in dict.fromkeys([*_common.PARTY_KEY_CONTENT, "card_number"])
             if f != "customer_number"]
_API = _resources()
_EMBEDDED = "embedded in"  # the raw column naming the object an embedded object came in


def _api_objects(loaded: _common.Loaded) -> list[dict] | None:
    """The top-level API objects of a dump when they are Mollie's (each has a ``resource``), as
    one object, a list, or a HAL page (``_embedded`` holding one list, ``count``, ``_links``)."""
    obj = loaded.json
    if isinstance(obj, dict) and isinstance(obj.get("_embedded"), dict) and "resource" not in obj:
        lists = list(obj["_embedded"].values())
        obj = [o for v in lists for o in v] if all(isinstance(v, list) for v in lists) else None
    elif isinstance(obj, dict):
        obj = [obj]
    if (isinstance(obj, list) and obj and all(isinstance(o, dict) for o in obj)
            and all(isinstance(o.get("resource"), str) for o in obj)):
        return obj
    return None


def _api_records(objects: list[dict]) -> list[dict[str, str]]:
    """Every object and, right after it, the objects embedded in it, flattened; an embedded
    object names its parent (``order ord_...``) in the column ``embedded in``."""
    rows: list[dict[str, str]] = []

    def visit(obj: dict, parent: str) -> None:
        children: list[dict] = []
        own = {k: v for k, v in obj.items() if not _holds_objects(k, v, children)}
        row = {_EMBEDDED: parent} if parent else {}
        row.update(_common.flat_items(own))
        rows.append(row)
        for child in children:
            visit(child, f"{obj.get('resource', '')} {_common.as_text(obj.get('id'))}".strip())

    for obj in objects:
        visit(obj, "")
    return rows


def _holds_objects(key: str, value: object, children: list[dict]) -> bool:
    """Whether ``value`` holds API objects of their own (``lines``, ``_embedded``); if so they
    are added to ``children``."""
    if not isinstance(value, list | dict):
        return False
    values = list(value.values()) if key == "_embedded" and isinstance(value, dict) else [value]
    items = [i for v in values for i in (v if isinstance(v, list) else [v])]
    if not items or not all(isinstance(i, dict) and isinstance(i.get("resource"), str) for i in items):
        return False  # plain data (an empty list, metadata): kept as a column
    children.extend(items)
    return True


def _api_json(loaded: _common.Loaded) -> Extract:
    objects = _api_objects(loaded)
    if objects is None:
        raise InputError(loaded.path, "not a dump of Mollie API objects",
                         expected='objects with a "resource" field, as a list, one object, or '
                                  'a page {"_embedded": {"payments": [...]}}')
    raw = pd.DataFrame(_api_records(objects), dtype="str").fillna("")
    raw.index = pd.RangeIndex(1, len(raw) + 1)
    unknown = sorted(set(raw["resource"]) - set(_API))
    if unknown:
        row = int(raw.index[raw["resource"].isin(unknown)][0])
        raise InputError(loaded.path, f"holds Mollie {', '.join(map(repr, unknown))} objects, "
                         "which the workbench does not read", row=row,
                         expected="Mollie API objects of the resources " + ", ".join(_API))
    # customers first: a customer's own record wins its key over a payment that names it
    found = sorted((r for r in _API if raw["resource"].eq(r).any()),
                   key=lambda r: _API[r].party != "customer")
    parts = [_api_part(loaded, raw, _API[r]) for r in found]
    parties = pd.concat([p.parties for p in parts])
    parties = parties[~parties["party_key"].duplicated()].sort_values("source_row")
    documents = _inherit_parties(raw, pd.concat([p.documents for p in parts]).sort_values("source_row"))
    column_map = {c: _stronger(*(p.column_map.get(c) for p in parts)) for c in raw.columns}
    kind = dataclasses.replace(API_JSON, title=_title(found, column_map))
    return Extract(kind, raw, parties, documents, column_map,
                   pd.concat([p.identifiers for p in parts], ignore_index=True))


def _title(found: list[str], column_map: dict[str, str | None]) -> str:
    """The export's title naming what the file holds, and saying so when none of it is
    personal data (a settlements list, chargebacks)."""
    names = ", ".join(_API[r].plural.replace("_", " ") for r in found)
    personal = any(f in FIELDS and FIELDS[f].personal for f in column_map.values())
    return f"Mollie API dump (JSON) of {names}" + ("" if personal else "; it holds no personal data")


def _api_part(loaded: _common.Loaded, raw: pd.DataFrame, resource: _Resource) -> Extract:
    """The objects of one resource: each has its own meaning for ``id`` and ``createdAt``."""
    rows = raw[raw["resource"].eq(resource.name)]
    columns = [c for c in rows.columns if rows[c].ne("").any()]
    # a key every object in the file leaves null (a chargeback's reversedAt) is still known
    nulls = [c for c in rows.columns if not raw[c].ne("").any()]
    empty, _ = _rule_map(nulls, resource.rules, resource.other)
    rows = rows[columns]
    column_map, priority = _rule_map(columns, resource.rules, resource.other)
    canon = _common.canonical_frame(rows, priority, loaded.path)
    if "amount" in canon.columns and resource.sign < 0:
        canon["amount"] = -canon["amount"].abs()
    if resource.party == "consumer":
        canon = _paypal_email(canon)
        # The person named in the object is its party; the Mollie customer is linked through
        # customer_number, and is the party when no such person is named.
        consumer = _common.content_key(canon, _CONSUMER)
        canon["party_key"] = consumer.where(consumer.ne(""), _col(canon, "customer_number"))
    parties, documents = _common.split(canon)
    if resource.doc_type:
        documents["doc_type"] = resource.doc_type
        if resource.name == "payment":
            documents["doc_type"] = _doc_types(_col(canon, "doc_key"), "payment")
    else:
        documents = canon.iloc[:0, :0]
    extract = _common.finish(API_JSON, rows, parties, documents, column_map)
    return dataclasses.replace(extract, column_map={**empty, **column_map})


def _inherit_parties(raw: pd.DataFrame, documents: pd.DataFrame) -> pd.DataFrame:
    """An embedded object without a party of its own (an order's lines, a refund in a payment)
    belongs to the party of the object it came in; an object without one that embeds one
    with a party (a refund with its payment) belongs to that party."""
    if documents.empty or _EMBEDDED not in raw.columns:
        return documents
    rows = documents["source_row"]
    own = pd.Series((raw["resource"] + " " + _col(raw, "id")).str.strip().reindex(rows).to_numpy(),
                    index=documents.index)
    parent = pd.Series(raw[_EMBEDDED].reindex(rows).to_numpy(), index=documents.index)
    keys = documents["party_key"].copy()
    for _ in range(3):  # an order's refund's lines are three levels down
        known = keys.ne("")
        down = dict(zip(own[known], keys[known], strict=True))
        up = dict(zip(parent[known & parent.ne("")][::-1], keys[known & parent.ne("")][::-1],
                      strict=True))  # the first embedded object with a party
        found = [down.get(p) or up.get(o) or "" for p, o in zip(parent, own, strict=True)]
        keys = keys.mask(~known, pd.Series(found, index=keys.index, dtype="str"))
    return documents.assign(party_key=keys)


def _stronger(*targets: str | None) -> str | None:
    """Of the fields one column fed in different records, the most telling (personal first)."""
    def rank(target: str | None) -> int:
        if target in FIELDS:
            return 3 if FIELDS[target].personal else 2
        return 1 if target == OTHER else 0

    return max(targets, key=rank)

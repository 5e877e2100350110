"""The XML Auditfile Financieel (XAF 3.2, also 3.x and 4.x): the standard Dutch audit file that
MoneyBird, Exact Online and most Dutch bookkeeping packages export for the tax office.

Personal data sits in ``company/customersSuppliers/customerSupplier`` (name, contact person,
phone, e-mail, KvK and btw number, addresses, bank accounts) and in the journal lines
(``transactions/journal/transaction/trLine``) that point at a relation by ``custSupID`` and
carry free text. Each service module owns its own :class:`ExportKind` and calls :func:`read`;
:func:`software` tells which package wrote the file.

``raw`` has one row per ``customerSupplier`` and per ``trLine`` (column ``record`` says which),
named by path relative to the record: ``customerSupplier/streetAddress/city``,
``trLine/amnt``, ``transaction/trDt``, ``journal/jrnID``; a repeated element gets ``[2]``,
``[3]``, ... after its name. Ledger accounts, VAT codes, periods and subledger lines are not
read: they hold no relation data of their own (subledger lines repeat journal lines).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from xml.etree.ElementTree import Element, ParseError

import pandas as pd
from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET

from workbench import headers
from workbench.errors import InputError
from workbench.model import ExportKind, Extract
from workbench.sources import _common

NAMESPACE = re.compile(r"^http://www\.auditfiles\.nl/XAF/[34]\.\d+$")
EXPECTED = "an XAF auditfile (root 'auditfile' in namespace http://www.auditfiles.nl/XAF/3.2)"

CUSTOMER, LINE = "customerSupplier", "trLine"

# Canonical field per element name inside a customerSupplier (also in its history and
# addresses). Every other element the schema defines is known without a field ("other").
_PARTY_FIELDS = {
    "custSupID": "party_key", "custSupName": "name", "contact": "name", "telephone": "phone",
    "fax": "phone", "eMail": "email", "commerceNr": "kvk_number", "taxRegIdent": "vat_number",
    "streetname": "street", "number": "street", "numberExtension": "street", "city": "city",
    "postalCode": "postcode", "country": "country", "bankAccNr": "iban", "bankIdCd": "bic",
}
_PARTY_OTHER = {
    "website", "taxRegistrationCountry", "relationshipID", "custSupTp", "custSupGrpID",
    "custCreditLimit", "supplierLimit", "property", "region", "userID", "changeDateTime",
    "changeDescription",
}
# The same for a journal line and the transaction and journal it sits in.
_LINE_FIELDS = {
    "trLine/nr": "doc_key", "trLine/docRef": "reference", "trLine/effDate": "date",
    "trLine/desc": "description", "trLine/amnt": "amount", "trLine/custSupID": "party_key",
    "trLine/invRef": "reference", "trLine/bankAccNr": "iban", "trLine/bankIdCd": "bic",
    "trLine/currency/curCode": "currency", "transaction/desc": "description",
    "transaction/trDt": "date",
}
_LINE_OTHER = {
    "trLine": {"accID", "amntTp", "recRef", "matchKeyID", "orderRef", "receivingDocRef",
               "shipDocRef", "costID", "prodID", "projID", "artGrpID", "workCostArrRef",
               "qntityID", "qntity", "vatID", "vatPerc", "vatAmnt", "vatAmntTp", "curAmnt"},
    "transaction": {"nr", "periodNumber", "amnt", "amntTp", "sourceID", "userID"},
    "journal": {"jrnID", "desc", "jrnTp", "offsetAccID", "bankAccNr"},
}


# Column order decides which of two columns for one field wins (see canonical_frame): the line's
# own elements before its transaction's and its journal's, a relation's current values before
# its history, whatever the first record holds.
_RANK = {"record": 0, CUSTOMER: 1, LINE: 2, "transaction": 3, "journal": 4}


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _namespace(tag: str) -> str:
    return tag[1:].partition("}")[0] if tag.startswith("{") else ""


def is_xaf(loaded: _common.Loaded) -> bool:
    """Whether the file's root element is an XAF ``auditfile`` (judged from the root only, so a
    truncated auditfile is still recognised and :func:`read` says what is wrong with it)."""
    try:
        return _is_auditfile(_root_tag(loaded))
    except DefusedXmlException:
        return False


def _root_tag(loaded: _common.Loaded) -> str:
    """The root element's tag, "" when the file is not XML; refuses DTDs and entities."""
    if loaded.format != "xml":
        return ""
    try:
        for _, element in SafeET.iterparse(io.BytesIO(loaded.data), events=("start",),
                                           forbid_dtd=True):
            return element.tag
    except ParseError:
        return ""
    return ""


def _is_auditfile(tag: str) -> bool:
    return _local(tag) == "auditfile" and bool(NAMESPACE.match(_namespace(tag)))


def software(loaded: _common.Loaded) -> str:
    """``header/softwareDesc``: the package that wrote the auditfile, or "" when not said."""
    if not is_xaf(loaded):
        return ""
    try:
        for _, element in SafeET.iterparse(io.BytesIO(loaded.data), events=("end",),
                                           forbid_dtd=True):
            name = _local(element.tag)
            if name == "softwareDesc":
                return (element.text or "").strip()
            if name == "header":
                return ""
    except (ParseError, DefusedXmlException):
        return ""
    return ""


def read(loaded: _common.Loaded, kind: ExportKind) -> Extract:
    """The auditfile's relations as parties and their journal lines as documents."""
    root = _parse(loaded)
    company = _child(root, "company")
    if company is None:
        raise InputError(loaded.path, "the auditfile has no 'company' element", expected=EXPECTED)
    records = [
        {"record": CUSTOMER, **_flatten(c, CUSTOMER)}
        for c in _children(_child(company, "customersSuppliers"), CUSTOMER)
    ] + _lines(_child(company, "transactions"))
    if not records:
        raise InputError(loaded.path, "the auditfile has no relations and no journal lines",
                         expected="customersSuppliers/customerSupplier or transactions/journal")
    raw = pd.DataFrame(records).fillna("").astype("str")
    raw = raw[sorted(raw.columns, key=lambda c: (_RANK.get(c.partition("/")[0], len(_RANK)),
                                                 "History/" in c))]
    raw.index = pd.RangeIndex(1, len(raw) + 1)
    column_map = {c: _field(c) for c in raw.columns}
    canon = _common.canonical_frame(raw, column_map, loaded.path)
    is_party = raw["record"].eq(CUSTOMER)
    parties, _ = _common.split(_parties(canon[is_party], raw[is_party]))
    linked = ~is_party & _column(canon, "party_key").ne("")
    currency = _text(_child(_child(root, "header"), "curCode"))
    _, documents = _common.split(_documents(canon[linked], raw[linked], currency), "journal_line")
    return _common.finish(kind, raw, parties, documents, column_map)


def _parse(loaded: _common.Loaded) -> Element:
    try:
        if not _is_auditfile(_root_tag(loaded)):
            raise InputError(loaded.path, "not an XAF auditfile", expected=EXPECTED)
        return SafeET.fromstring(loaded.data, forbid_dtd=True)
    except ParseError as exc:
        line, _ = exc.position
        raise InputError(loaded.path, "broken or truncated XML", row=line,
                         expected="a complete auditfile as the package exports it") from None
    except DefusedXmlException as exc:
        raise InputError(loaded.path, f"unsafe XML refused ({type(exc).__name__})",
                         expected="an auditfile without DTD or entities") from None


def _child(element: Element | None, name: str) -> Element | None:
    return next(_children(element, name), None)


def _children(element: Element | None, name: str) -> Iterator[Element]:
    return (c for c in (element if element is not None else []) if _local(c.tag) == name)


def _flatten(element: Element, prefix: str, skip: str = "") -> dict[str, str]:
    """Every leaf below ``element`` by its path; the n-th repeat of an element gets ``[n]``."""
    out: dict[str, str] = {}
    for name, value in element.attrib.items():
        out[f"{prefix}/@{_local(name)}"] = value
    seen: dict[str, int] = {}
    for child in element:
        name = _local(child.tag)
        if name == skip:
            continue
        seen[name] = seen.get(name, 0) + 1
        path = f"{prefix}/{name}" + (f"[{seen[name]}]" if seen[name] > 1 else "")
        if len(child) or child.attrib:
            out.update(_flatten(child, path))
        else:
            out[path] = (child.text or "").strip()
    return out


def _lines(transactions: Element | None) -> list[dict[str, str]]:
    """One record per journal line, the line's own elements first, then its transaction's and
    its journal's (so the line's description and date win over the transaction's)."""
    records = []
    for journal in _children(transactions, "journal"):
        journal_fields = _flatten(journal, "journal", skip="transaction")
        for transaction in _children(journal, "transaction"):
            transaction_fields = _flatten(transaction, "transaction", skip=LINE)
            for line in _children(transaction, LINE):
                records.append({"record": LINE, **_flatten(line, LINE), **transaction_fields,
                                **journal_fields})
    return records


def _field(column: str) -> str | None:
    """The canonical field a flattened column feeds; "other" when the schema knows it."""
    if column == "record":
        return headers.KNOWN_WITHOUT_FIELD
    plain = re.sub(r"\[\d+\]", "", column)
    record, _, rest = plain.partition("/")
    leaf = plain.rpartition("/")[2]
    if record == CUSTOMER:
        if leaf == "custSupID" and rest != "custSupID":  # the ID repeated in the history
            return headers.KNOWN_WITHOUT_FIELD
        if leaf in _PARTY_FIELDS:
            return _PARTY_FIELDS[leaf]
        return headers.KNOWN_WITHOUT_FIELD if leaf in _PARTY_OTHER else None
    if plain in _LINE_FIELDS:
        return _LINE_FIELDS[plain]
    return headers.KNOWN_WITHOUT_FIELD if leaf in _LINE_OTHER.get(record, ()) else None


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    """A column, or empty text when the file has no such element."""
    return frame[name] if name in frame.columns else pd.Series("", index=frame.index, dtype="str")


def _address(raw: pd.DataFrame, kind: str) -> pd.Series:
    """Street, number and extension of the first address of a kind, as one line."""
    parts = [_column(raw, f"{CUSTOMER}/{kind}/{p}") for p in ("streetname", "number", "numberExtension")]
    return parts[0].str.cat(parts[1:], sep=" ").str.replace(r"\s+", " ", regex=True).str.strip()


def _parties(canon: pd.DataFrame, raw: pd.DataFrame) -> pd.DataFrame:
    """A relation with a KvK or btw number is an organisation named ``custSupName``; its
    ``contact`` (when given) is the person's name."""
    canon = canon.copy()
    street = _address(raw, "streetAddress")
    canon["street"] = street.where(street.ne(""), _address(raw, "postalAddress"))
    name = _column(raw, f"{CUSTOMER}/custSupName").str.strip()
    contact = _column(raw, f"{CUSTOMER}/contact").str.strip()
    business = _column(canon, "kvk_number").ne("") | _column(canon, "vat_number").ne("")
    canon["company"] = name.where(business, "")
    canon["name"] = contact.where(business & contact.ne(""), name.where(~business, ""))
    canon["party_type"] = pd.Series("unknown", index=raw.index).mask(business, "organisation")
    return canon


def _text(element: Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def _documents(canon: pd.DataFrame, raw: pd.DataFrame, currency: str) -> pd.DataFrame:
    """Debit lines count positive, credit lines negative; the key is journal/transaction/line;
    a line without a currency of its own is in the auditfile's currency."""
    canon = canon.copy()
    if "amount" in canon.columns:
        credit = _column(raw, f"{LINE}/amntTp").str.upper().eq("C")
        canon["amount"] = canon["amount"].where(~credit, -canon["amount"])
    canon["doc_key"] = _column(raw, "journal/jrnID").str.cat(
        [_column(raw, "transaction/nr"), _column(raw, f"{LINE}/nr")], sep="/")
    canon["currency"] = _column(canon, "currency").replace("", currency)
    return canon

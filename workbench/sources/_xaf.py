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

import re
from xml.etree.ElementTree import Element

import pandas as pd

from workbench import headers
from workbench.errors import InputError
from workbench.model import ExportKind, Extract
from workbench.sources import _common, _xml

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
    "website": "website",
}
_PARTY_OTHER = {
    "taxRegistrationCountry", "relationshipID", "custSupTp", "custSupGrpID",
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


def is_xaf(loaded: _common.Loaded) -> bool:
    """Whether the file's root element is an XAF ``auditfile`` (judged from the root only, so a
    truncated auditfile is still recognised and :func:`read` says what is wrong with it)."""
    return _is_auditfile(_xml.root_tag(loaded))


def _is_auditfile(tag: str) -> bool:
    return _xml.local(tag) == "auditfile" and bool(NAMESPACE.match(_xml.namespace(tag)))


def software(loaded: _common.Loaded) -> str:
    """``header/softwareDesc``: the package that wrote the auditfile, or "" when not said."""
    if not is_xaf(loaded):
        return ""
    for element in _xml.iterparse(loaded, "end"):
        name = _xml.local(element.tag)
        if name == "softwareDesc":
            return (element.text or "").strip()
        if name == "header":
            return ""
    return ""


def read(loaded: _common.Loaded, kind: ExportKind) -> Extract:
    """The auditfile's relations as parties and their journal lines as documents."""
    root = _parse(loaded)
    company = _xml.child(root, "company")
    if company is None:
        raise InputError(loaded.path, "the auditfile has no 'company' element", expected=EXPECTED)
    records = [
        {"record": CUSTOMER, **_xml.flatten(c, CUSTOMER)}
        for c in _xml.children(_xml.child(company, "customersSuppliers"), CUSTOMER)
    ] + _lines(_xml.child(company, "transactions"))
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
    linked = ~is_party & _common.column(canon, "party_key").ne("")
    currency = _text(_xml.child(_xml.child(root, "header"), "curCode"))
    _, documents = _common.split(_documents(canon[linked], raw[linked], currency), "journal_line")
    return _common.finish(kind, raw, parties, documents, column_map)


def _parse(loaded: _common.Loaded) -> Element:
    if loaded.format != "xml":
        raise InputError(loaded.path, "not an XAF auditfile", expected=EXPECTED)
    # parsed before the root is judged, so an unsafe or truncated file is named as such
    root = _xml.parse(loaded, "a complete auditfile as the package exports it")
    if not _is_auditfile(root.tag):
        raise InputError(loaded.path, "not an XAF auditfile", expected=EXPECTED)
    return root


def _lines(transactions: Element | None) -> list[dict[str, str]]:
    """One record per journal line, the line's own elements first, then its transaction's and
    its journal's (so the line's description and date win over the transaction's)."""
    records = []
    for journal in _xml.children(transactions, "journal"):
        journal_fields = _xml.flatten(journal, "journal", skip=("transaction",))
        for transaction in _xml.children(journal, "transaction"):
            transaction_fields = _xml.flatten(transaction, "transaction", skip=(LINE,))
            for line in _xml.children(transaction, LINE):
                records.append({"record": LINE, **_xml.flatten(line, LINE), **transaction_fields,
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


def _address(raw: pd.DataFrame, kind: str) -> pd.Series:
    """Street, number and extension of the first address of a kind, as one line."""
    parts = [_common.column(raw, f"{CUSTOMER}/{kind}/{p}")
             for p in ("streetname", "number", "numberExtension")]
    return parts[0].str.cat(parts[1:], sep=" ").str.replace(r"\s+", " ", regex=True).str.strip()


def _parties(canon: pd.DataFrame, raw: pd.DataFrame) -> pd.DataFrame:
    """A relation with a KvK or btw number is an organisation named ``custSupName``; its
    ``contact`` (when given) is the person's name."""
    canon = canon.copy()
    street = _address(raw, "streetAddress")
    canon["street"] = street.where(street.ne(""), _address(raw, "postalAddress"))
    name = _common.column(raw, f"{CUSTOMER}/custSupName").str.strip()
    contact = _common.column(raw, f"{CUSTOMER}/contact").str.strip()
    business = _common.column(canon, "kvk_number").ne("") | _common.column(canon, "vat_number").ne("")
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
        credit = _common.column(raw, f"{LINE}/amntTp").str.upper().eq("C")
        canon["amount"] = canon["amount"].where(~credit, -canon["amount"])
    canon["doc_key"] = _common.column(raw, "journal/jrnID").str.cat(
        [_common.column(raw, "transaction/nr"), _common.column(raw, f"{LINE}/nr")], sep="/")
    canon["currency"] = _common.column(canon, "currency").replace("", currency)
    return canon

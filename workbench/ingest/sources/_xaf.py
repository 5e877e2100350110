"""The XML Auditfile Financieel (XAF 3.1, 3.2, 3.2.1 and 4.0): the standard Dutch audit file
that MoneyBird, Exact Online, Twinfield, AFAS, SnelStart, e-Boekhouden and most other Dutch
bookkeeping packages export for the tax office (in the package: "auditfile" or "XAF export").

The root element's namespace decides the version (:data:`VERSIONS`). Personal data sits in
``company/customersSuppliers/customerSupplier`` (name, contact person, phone, e-mail, KvK and
btw number, addresses, bank accounts; 4.0 keeps fewer of them), in the journal lines
(``transactions/journal/transaction/trLine``) that point at a relation by ``custSupID`` and
carry free text (4.0 adds the counterparty's account, ``offsetBankAccNr``), and in the subledger
lines of 3.x (``transactions/subledgers/subledger/sbLine`` and the open items at the start of
the year, ``openingBalance/obSubledgers/obSubledger/obSbLine``). The opening-balance lines
(``openingBalance/obLine``) hold ledger amounts only; they are kept as records all the same.

The file is read streaming: each record is flattened when its element ends and the element is
then dropped, so an auditfile of a gigabyte never stands in memory as a tree.

``raw`` has one row per record (column ``record`` says which), named by path relative to the
record: ``customerSupplier/streetAddress/city``, ``trLine/amnt``, ``transaction/trDt``,
``journal/jrnID``, ``sbLine/invRef``, ``subledger/sbType``; a repeated element gets ``[2]``,
``[3]``, ... after its name. Ledger accounts, VAT codes and periods are not read: they hold no
relation data.

Which package wrote the file (``header/softwareDesc``) decides the system the records are
filed under (:func:`system`); a file that does not say stays with the service that read it.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from xml.etree.ElementTree import Element, ParseError

import pandas as pd
import pyarrow as pa
from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET

from workbench.errors import InputError
from workbench.ingest import headers, limits
from workbench.ingest.model import ExportKind, Extract
from workbench.ingest.sources import _common, _xml

# The namespaces of the published versions (the Belastingdienst's XML Auditfile Financieel
# pages; 3.2.1 and 4.0 moved to the ODB namespace).
VERSIONS = {
    "http://www.auditfiles.nl/XAF/3.1": "3.1",
    "http://www.auditfiles.nl/XAF/3.2": "3.2",
    "http://www.odb.belastingdienst.nl/Belastingdienst/BCPP/1.0/structures/"
    "XmlAuditfileFinancieel3.2.1": "3.2.1",
    "http://www.odb.belastingdienst.nl/Belastingdienst/BCPP/1.1/structures/"
    "XmlauditfileXAF_4.0": "4.0",
}
EXPECTED = ("an XAF auditfile (root 'auditfile' in the namespace of XAF 3.1, 3.2, 3.2.1 or 4.0, "
            "e.g. http://www.auditfiles.nl/XAF/3.2)")

CUSTOMER, LINE = "customerSupplier", "trLine"
SUBLEDGER_LINE, OPENING_ITEM, OPENING_LINE = "sbLine", "obSbLine", "obLine"
# Each record and the element whose own leaves it inherits (its context), if any.
RECORDS = {CUSTOMER: None, LINE: "transaction", SUBLEDGER_LINE: "subledger",
           OPENING_ITEM: "obSubledger", OPENING_LINE: None}
# Elements whose leaves are context for the records below them, and the one above them.
CONTEXTS = {"journal": None, "transaction": "journal", "subledger": None, "obSubledger": None}
# Container elements whose children are dropped once read: what stays in memory is the
# header and the company's own leaves.
_DROPPED_BELOW = {"customersSuppliers", "generalLedger", "vatCodes", "periods", "openingBalance",
                  "obSubledgers", "transactions", "subledgers", *CONTEXTS}

# Canonical field per element name inside a customerSupplier (also in its history and
# addresses). Every other element the schemas define is known without a field ("other").
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
    # 4.0: the relation's open balance at the start and the end of the year
    "opBalDesc", "opBalTp", "clBalDesc", "clBalTp",
}
# The same for the lines and the elements they sit in. 4.0's trLine/bankAccNr is the firm's
# own account (its counterparty's is offsetBankAccNr); in 3.x it is the relation's.
_SUBLEDGER_FIELDS = {
    "custSupID": "party_key", "desc": "description", "amnt": "amount", "invRef": "reference",
    "docRef": "reference", "invDt": "date", "invDueDt": "due_date", "curCode": "currency",
}
_LINE_FIELDS = {
    "trLine/nr": "doc_key", "trLine/docRef": "reference", "trLine/effDate": "date",
    "trLine/desc": "description", "trLine/amnt": "amount", "trLine/custSupID": "party_key",
    "trLine/invRef": "reference", "trLine/bankAccNr": "iban", "trLine/bankIdCd": "bic",
    "trLine/offsetBankAccNr": "iban", "trLine/currency/curCode": "currency",
    "transaction/desc": "description", "transaction/trDt": "date",
    **{f"{record}/{leaf}": name for record in (SUBLEDGER_LINE, OPENING_ITEM)
       for leaf, name in _SUBLEDGER_FIELDS.items()},
    **{f"{record}/currency/curCode": "currency" for record in (SUBLEDGER_LINE, OPENING_ITEM)},
}
_LINE_ITEMS = {"nr", "accID", "amntTp", "recRef", "matchKeyID", "orderRef", "receivingDocRef",
               "shipDocRef", "costID", "prodID", "projID", "artGrpID", "workCostArrRef",
               "qntityID", "qntity", "vatID", "vatPerc", "vatAmnt", "vatAmntTp", "curAmnt",
               # 4.0
               "settDate", "cost", "product", "project",
               # subledger lines
               "jrnID", "trNr", "trLineNr", "obLineNr", "invPurSalTp", "invTp", "mutTp"}
_LINE_OTHER = {
    LINE: _LINE_ITEMS, SUBLEDGER_LINE: _LINE_ITEMS, OPENING_ITEM: _LINE_ITEMS,
    OPENING_LINE: {"nr", "accID", "amnt", "amntTp"},
    "transaction": {"nr", "periodNumber", "amnt", "amntTp", "sourceID", "userID", "Source", "User"},
    "journal": {"jrnID", "desc", "jrnTp", "offsetAccID", "bankAccNr"},
    "subledger": {"sbType", "sbDesc", "linesCount", "totalDebit", "totalCredit"},
    "obSubledger": {"sbType", "sbDesc", "linesCount", "totalDebit", "totalCredit"},
}
_OWN_ACCOUNT_4 = "trLine/bankAccNr"

# Column order decides which of two columns for one field wins (see canonical_frame): the line's
# own elements before its transaction's and its journal's, a relation's current values before
# its history, whatever the first record holds.
_RANK = {"record": 0, CUSTOMER: 1, LINE: 2, SUBLEDGER_LINE: 2, OPENING_ITEM: 2, OPENING_LINE: 2,
         "transaction": 3, "subledger": 3, "obSubledger": 3, "journal": 4}


def is_xaf(loaded: _common.Loaded) -> bool:
    """Whether the file's root element is an XAF ``auditfile`` (judged from the root only, so a
    truncated auditfile is still recognised and :func:`read` says what is wrong with it)."""
    return _is_auditfile(_xml.root_tag(loaded))


def _is_auditfile(tag: str) -> bool:
    return _xml.local(tag) == "auditfile" and _xml.namespace(tag) in VERSIONS


def version(loaded: _common.Loaded) -> str:
    """The XAF version, from the root's namespace; "" when the file is no auditfile."""
    return VERSIONS.get(_xml.namespace(_xml.root_tag(loaded)), "") if is_xaf(loaded) else ""


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


def system(software_desc: str) -> str:
    """The system a ``softwareDesc`` names: its first word, in lower case, without a version or
    a web domain ("Exact Online" gives exact, "e-Boekhouden.nl" e-boekhouden, "SnelStart 12"
    snelstart); "" when it names none. Taken from the file as data, so a package nobody here
    has heard of still gets a name of its own."""
    words = [w for w in re.findall(r"[a-z0-9][a-z0-9.-]*", software_desc.lower())
             if re.search("[a-z]", w)]
    return words[0].partition(".")[0].strip("-") if words else ""


def read(loaded: _common.Loaded, kind: ExportKind) -> Extract:
    """The auditfile's relations as parties and their journal and subledger lines as documents,
    filed under the system ``softwareDesc`` names (else under ``kind``'s service)."""
    if loaded.format != "xml":
        raise InputError(loaded.path, "not an XAF auditfile", expected=EXPECTED)
    auditfile = _stream(loaded)
    if not auditfile.has_company:
        raise InputError(loaded.path, "the auditfile has no 'company' element", expected=EXPECTED)
    if not auditfile.rows:
        raise InputError(loaded.path, "the auditfile has no relations and no journal lines",
                         expected="customersSuppliers/customerSupplier or transactions/journal")
    named = system(auditfile.header.get("softwareDesc", ""))
    if named and named != kind.service:
        # the reading service's title names its own package; this file's is another
        kind = replace(kind, service=named,
                       title=f"XAF {auditfile.version} auditfile ({auditfile.header['softwareDesc']})")
    raw = auditfile.frame()
    column_map = {c: _field(c, auditfile.version) for c in raw.columns}
    canon = _common.canonical_frame(raw, column_map, loaded.path)
    is_party = raw["record"].eq(CUSTOMER)
    parties, _ = _common.split(_parties(canon[is_party], raw[is_party]))
    linked = ~is_party & _common.column(canon, "party_key").ne("")
    currency = auditfile.header.get("curCode", "")
    _, documents = _common.split(_documents(canon[linked], raw[linked], currency), "journal_line")
    return _common.finish(kind, raw, parties, documents, column_map)


@dataclass
class _Auditfile:
    """What the streaming pass keeps: the header, the version and the records. Records are
    grouped by the columns they have (the lines of one package look alike) and every few
    thousand turned into an Arrow table, whose strings take a fraction of Python's room."""

    version: str = ""
    header: dict[str, str] = field(default_factory=dict)
    has_company: bool = False
    pending: dict[tuple[str, ...], list[tuple[str, ...]]] = field(default_factory=dict)
    tables: list[pa.Table] = field(default_factory=list)
    rows: int = 0
    # the flattened leaves of the transaction and journal now open, shared by all their lines
    contexts: dict[str, tuple[Element, dict[str, str]]] = field(default_factory=dict)

    def add(self, record: dict[str, str]) -> None:
        self.rows += 1
        columns = (_ROW, *record)
        rows = self.pending.setdefault(columns, [])
        rows.append((self.rows, *record.values()))
        if len(rows) >= _CHUNK:
            self._store(columns)

    def _store(self, columns: tuple[str, ...]) -> None:
        rows = self.pending.pop(columns)
        self.tables.append(pa.table({name: pa.array([r[i] for r in rows],
                                                    pa.int64() if i == 0 else pa.string())
                                     for i, name in enumerate(columns)}))

    def frame(self) -> pd.DataFrame:
        """The records in file order, a column per path, "" where a record has none."""
        for columns in list(self.pending):
            self._store(columns)
        table = pa.concat_tables(self.tables, promote_options="default").sort_by(_ROW)
        self.tables = []
        names = sorted((c for c in table.column_names if c != _ROW),
                       key=lambda c: (_RANK.get(c.partition("/")[0], len(_RANK)), "History/" in c))
        raw = pd.DataFrame({name: table[name].fill_null("").to_pandas().astype("str")
                            for name in names})
        raw.index = pd.RangeIndex(1, len(raw) + 1)
        return raw


_ROW, _CHUNK = "\x00row", 20_000


def _stream(loaded: _common.Loaded) -> _Auditfile:
    """One pass over the file with the safe parser, each record flattened when it ends and
    every element dropped once read. A broken or unsafe file is named as such, with the line."""
    auditfile = _Auditfile()
    try:
        for event, element, parents in _events(loaded):
            if event == "start":
                _started(loaded, auditfile, element, parents)
            else:
                _ended(loaded, auditfile, element, parents)
    except ParseError as exc:
        raise InputError(loaded.path, "broken or truncated XML (not well-formed)",
                         row=exc.position[0],
                         expected="a complete auditfile as the package exports it") from None
    except DefusedXmlException as exc:
        raise InputError(loaded.path, f"unsafe XML refused ({type(exc).__name__})",
                         expected="a complete auditfile as the package exports it, without DTD "
                         "or entities") from None
    return auditfile


def _events(loaded: _common.Loaded) -> Iterator[tuple[str, Element, list[Element]]]:
    """Start and end events with the chain of open elements above each one."""
    parents: list[Element] = []
    for event, element in SafeET.iterparse(io.BytesIO(loaded.data), events=("start", "end"),
                                           forbid_dtd=True):
        if event == "start":
            yield event, element, parents
            parents.append(element)
        else:
            parents.pop()
            yield event, element, parents


def _started(loaded: _common.Loaded, auditfile: _Auditfile, element: Element,
             parents: list[Element]) -> None:
    if not parents:  # the root: judged before anything else is read
        if not _is_auditfile(element.tag):
            raise InputError(loaded.path, "not an XAF auditfile", expected=EXPECTED)
        auditfile.version = VERSIONS[_xml.namespace(element.tag)]
    elif len(parents) == 1 and _xml.local(element.tag) == "company":
        auditfile.has_company = True


def _ended(loaded: _common.Loaded, auditfile: _Auditfile, element: Element,
           parents: list[Element]) -> None:
    if len(parents) < 2:
        if parents and _xml.local(element.tag) == "header":
            auditfile.header = {_xml.local(c.tag): (c.text or "").strip() for c in element}
        return
    name, above = _xml.local(element.tag), _xml.local(parents[-1].tag)
    if name in RECORDS and above in _DROPPED_BELOW:
        if auditfile.rows >= limits.current().max_rows:
            raise limits.refuse(loaded.path, "the auditfile's records", auditfile.rows + 1,
                                "max_rows")
        auditfile.add({"record": name, **_xml.flatten(element, name),
                       **_context(auditfile, parents, name)})
    # read: drop it, so the tree never grows with the file; a context's own leaves stay until
    # the context ends, its records need them
    if above in _DROPPED_BELOW and (above not in CONTEXTS or name in RECORDS or name in CONTEXTS):
        _drop(parents[-1], element)


def _drop(parent: Element, element: Element) -> None:
    """Remove a child that has been read. The parser runs ahead of the events, so later siblings
    may already hang below the parent; the earlier ones are gone or are a context's few leaves,
    so the child is found near the front."""
    for index, child in enumerate(parent):
        if child is element:
            del parent[index]
            return


def _context(auditfile: _Auditfile, parents: list[Element], record: str) -> dict[str, str]:
    """The leaves of the elements a record sits in (its transaction's and journal's), which
    come before the records in every version's schema, so they are all there when it ends."""
    out: dict[str, str] = {}
    context = RECORDS[record]
    while context:
        holder = next((p for p in reversed(parents) if _xml.local(p.tag) == context), None)
        if holder is not None:
            cached = auditfile.contexts.get(context)
            if cached is None or cached[0] is not holder:
                cached = holder, _xml.flatten(holder, context, skip=(*RECORDS, *CONTEXTS))
                auditfile.contexts[context] = cached
            out.update(cached[1])
        context = CONTEXTS.get(context)
    return out


def _field(column: str, xaf_version: str = "3.2") -> str | None:
    """The canonical field a flattened column feeds; "other" when a schema knows it."""
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
    if plain == _OWN_ACCOUNT_4 and xaf_version == "4.0":
        return headers.KNOWN_WITHOUT_FIELD
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


def _documents(canon: pd.DataFrame, raw: pd.DataFrame, currency: str) -> pd.DataFrame:
    """Debit lines count positive, credit lines negative; a journal line's key is
    journal/transaction/line, a subledger line's its subledger type and number behind ``sb`` (in
    the year) or ``ob`` (open at its start); a line without a currency of its own is in the
    auditfile's currency."""
    canon = canon.copy()
    record = raw["record"]
    if "amount" in canon.columns:
        side = pd.Series("", index=raw.index, dtype="str")
        for name in (LINE, SUBLEDGER_LINE, OPENING_ITEM):
            side = side.where(record.ne(name), _common.column(raw, f"{name}/amntTp"))
        canon["amount"] = canon["amount"].where(~side.str.upper().eq("C"), -canon["amount"])
    journal = _common.column(raw, "journal/jrnID").str.cat(
        [_common.column(raw, "transaction/nr"), _common.column(raw, f"{LINE}/nr")], sep="/")
    keys = {SUBLEDGER_LINE: ("sb", "subledger"), OPENING_ITEM: ("ob", "obSubledger")}
    for name, (prefix, holder) in keys.items():
        key = (prefix + "/" + _common.column(raw, f"{holder}/sbType")).str.cat(
            _common.column(raw, f"{name}/nr"), sep="/")
        journal = journal.where(record.ne(name), key)
    canon["doc_key"] = journal
    canon["currency"] = _common.column(canon, "currency").replace("", currency)
    return canon

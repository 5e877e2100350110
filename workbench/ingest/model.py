"""The canonical model that every stage reads and writes.

An export is read into an :class:`Extract`: the raw records with every original column, and the
same records projected onto three canonical tables:

* **parties**: a person or organisation as one system knows it;
* **documents**: payments, invoices and bank lines, each pointing at a party;
* **identifiers**: every e-mail, phone, IBAN, ... value with the column it came from, normalised
  where valid and kept as it was (flagged) where not.

Every canonical row carries ``source_row``, the row of the raw record it came from, and the
workspace adds the file's SHA-256, so every value can be traced to file, row and column.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


@dataclass(frozen=True)
class ExportKind:
    """One kind of file that one service exports, for example a payment provider's settlement CSV."""

    service: str
    name: str
    title: str

    @property
    def key(self) -> str:
        return f"{self.service}/{self.name}"


@dataclass(frozen=True)
class Field:
    """A canonical field: which table it belongs to, how it is typed, whether it is personal."""

    name: str
    table: str  # "party", "document", or "extra" (inventoried, not in a canonical table)
    type: str  # "text", "identifier", "date", "amount"
    personal: bool
    doc: str


FIELDS: dict[str, Field] = {
    f.name: f
    for f in [
        # parties
        Field("party_key", "party", "text", True, "the system's own key for the party"),
        Field("party_type", "party", "text", False, "person, organisation or unknown"),
        Field("name", "party", "text", True, "full name as the system shows it"),
        Field("given_name", "party", "text", True, "first name"),
        Field("name_prefix", "party", "text", True, "tussenvoegsel (van, de, ...)"),
        Field("family_name", "party", "text", True, "last name"),
        Field("initials", "party", "text", True, "initials"),
        Field("company", "party", "text", True, "organisation name (a sole trader's is personal)"),
        Field("organisation_key", "party", "text", False,
              "key of the organisation a contact person belongs to"),
        Field("email", "party", "identifier", True, "e-mail address"),
        Field("phone", "party", "identifier", True, "telephone number"),
        Field("street", "party", "text", True, "street and house number or address line"),
        Field("postcode", "party", "identifier", True, "postcode"),
        Field("city", "party", "text", True, "city"),
        Field("country", "party", "text", False, "country"),
        Field("iban", "party", "identifier", True, "bank account (IBAN)"),
        Field("bic", "party", "identifier", False, "bank identifier (BIC)"),
        Field("account_holder", "party", "text", True, "name of the bank account holder"),
        Field("vat_number", "party", "identifier", True, "VAT (btw) number"),
        Field("kvk_number", "party", "identifier", True, "Chamber of Commerce (KvK) number"),
        Field("customer_number", "party", "identifier", True, "customer or relation number"),
        Field("birth_date", "party", "date", True, "date of birth"),
        Field("bsn", "party", "identifier", True, "citizen service number (BSN)"),
        Field("gender", "party", "text", True, "gender"),
        Field("card_number", "party", "identifier", True, "payment card, masked to its last four digits"),
        Field("notes", "party", "text", True, "free-text notes about the party"),
        # personal data a record holds beyond the party itself; inventoried, not projected
        Field("other_name", "extra", "text", True,
              "another person's name on the record (ordered by, deliver to, attention of, partner)"),
        Field("other_address", "extra", "text", True, "another address on the record (delivery)"),
        Field("search_code", "extra", "text", True, "a search code made from the name"),
        Field("title", "extra", "text", True, "form of address or title (Dhr., Mevr., dr.)"),
        Field("job_title", "extra", "text", True, "job title of a contact person"),
        Field("birth_place", "extra", "text", True, "place of birth"),
        Field("nationality", "extra", "text", True, "nationality"),
        Field("language", "extra", "text", True, "preferred language"),
        Field("identity_document", "extra", "text", True, "identity document type or number"),
        Field("picture", "extra", "text", True, "photo of a person or a link to it"),
        Field("website", "extra", "text", True, "website (a sole trader's names the person)"),
        # documents
        Field("doc_key", "document", "text", False, "the system's own key for the document"),
        Field("doc_type", "document", "text", False, "payment, refund, invoice, bank_line, fee, ..."),
        Field("date", "document", "date", False, "date of the payment, invoice or bank line"),
        Field("due_date", "document", "date", False, "due date"),
        Field("amount", "document", "amount", False, "amount, negative for money going out"),
        Field("currency", "document", "text", False, "ISO currency code"),
        Field("status", "document", "text", False, "status in the source system"),
        Field("description", "document", "text", True, "free text; often holds names or references"),
        Field("reference", "document", "text", False, "invoice number, settlement or payment reference"),
        Field("payment_method", "document", "text", False, "ideal, creditcard, banktransfer, ..."),
    ]
}

PARTY_COLUMNS = [f.name for f in FIELDS.values() if f.table == "party"]
DOCUMENT_COLUMNS = [f.name for f in FIELDS.values() if f.table == "document"] + ["party_key"]
IDENTIFIER_KINDS = [
    "email", "phone", "postcode", "iban", "bic", "vat_number", "kvk_number", "customer_number",
    "bsn", "card_number",
]
IDENTIFIER_COLUMNS = ["party_key", "column", "kind", "raw_value", "value", "valid"]


@dataclass
class Extract:
    """What a source module's ``read`` returns for one file.

    ``raw`` holds one row per source record with every original column (as text, named as in
    the file; nested formats use dotted or slashed paths) plus ``source_row``. ``parties`` and
    ``documents`` hold the canonical columns plus ``source_row``. ``column_map`` tells, for
    every original column, the canonical field it fed, or None when nobody knows the column.
    """

    kind: ExportKind
    raw: pd.DataFrame
    parties: pd.DataFrame
    documents: pd.DataFrame
    column_map: dict[str, str | None]
    identifiers: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=IDENTIFIER_COLUMNS))
    keep_bytes: bytes | None = None  # what raw/ keeps instead of the file (a masked copy)
    recognition: str = ""  # how the export was chosen when its columns fit none completely

    @property
    def unmapped(self) -> list[str]:
        return [c for c, f in self.column_map.items() if f is None]

    @property
    def recognised(self) -> list[str]:
        return [c for c, f in self.column_map.items() if f is not None]

    @property
    def personal_columns(self) -> list[str]:
        return [c for c, f in self.column_map.items() if f in FIELDS and FIELDS[f].personal]

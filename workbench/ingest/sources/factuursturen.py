"""FactuurSturen (factuursturen.nl), the invoicing service.

Exports read here:

* clients ("klanten") export, CSV or Excel: *Klanten* > *Exporteren*; one row per client with
  its number, company, contact person, address, e-mail, IBAN, VAT number and invoicing settings;
* invoices ("facturen") export, CSV or Excel: *Facturen* > *Exporteren*; one row per invoice with
  the client's number and the client details as printed on the invoice, dates and totals;
* JSON dumps of the REST API (*Instellingen* > *Verbindingen* > *Maak API Sleutel*, then
  ``GET /api/v1/clients`` or ``/api/v1/invoices``): a list of client or invoice objects, or one
  object in its ``{"client": {...}}`` / ``{"invoice": {...}}`` wrapper.

Only the API field names are verified; the column labels of the dashboard exports, their menu
path, delimiter and encoding are inferred (see ``config/headers/factuursturen.toml``). The JSON
dumps are mapped with the same header tables, so a user's synonyms for ``clients`` or
``invoices`` apply to the JSON of that kind too. A client has one contact field holding the
contact person's full name; it is kept whole in ``name``, and a client with a company name is an
organisation.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from workbench.errors import InputError
from workbench.ingest import headers
from workbench.ingest.model import ExportKind, Extract
from workbench.ingest.sources import _common

SERVICE = "factuursturen"
CLIENTS_JSON = ExportKind(SERVICE, "clients_json", "FactuurSturen API clients (JSON)")
INVOICES_JSON = ExportKind(SERVICE, "invoices_json", "FactuurSturen API invoices (JSON)")
# Which header table maps each JSON kind, and the document type of its rows.
_JSON_TABLES = {CLIENTS_JSON.name: "clients", INVOICES_JSON.name: "invoices"}
_DOC_TYPES = {"clients": "", "invoices": "invoice"}

KINDS: list[ExportKind] = [t.kind for t in headers.tables(SERVICE)] + [CLIENTS_JSON, INVOICES_JSON]
FORMATS: dict[str, tuple[str, ...]] = {
    **{t.kind.name: t.formats for t in headers.tables(SERVICE)},
    CLIENTS_JSON.name: ("json",),
    INVOICES_JSON.name: ("json",),
}

# The API's single-object wrapper (reinoud/factuursturen returns ``raw["client"]`` for clients/ID).
_WRAPPERS = ("client", "invoice")
# Keys only FactuurSturen's API objects have (Client.cs, Invoice.cs).
_CLIENT_KEYS = {"showcontact", "sendmethod", "taxshifted", "tax_shifted", "stddiscount",
                "mailintro", "bankcode", "biccode", "mandateid", "lastinvoice"}
_INVOICE_KEYS = {"totalintax", "open", "paiddate", "payment_url", "lastreminder", "uncollectible"}
# Nested invoice parts with numbered keys (lines.line1.description, history.3.amount, ...):
# the first line's description describes the invoice, the rest is known but has no field.
_LINE_DESCRIPTION = re.compile(r"^lines\.[^.]+\.description$")
_NESTED = re.compile(r"^(lines|taxes|history)\.")


def detect(path: Path, mappings: headers.MappingsLike = None) -> ExportKind | None:
    loaded = _common.load(path)
    if loaded.format == "json":
        return _json_kind(loaded)
    return _common.table_kind(loaded, SERVICE, mappings)


def read(path: Path, kind: ExportKind | None = None, mappings: headers.MappingsLike = None) -> Extract:
    loaded, kind = _common.resolve(path, kind, detect, "FactuurSturen", KINDS, FORMATS, mappings)
    if kind.name in _JSON_TABLES:
        return _read_json(loaded, kind, mappings)
    table = _common.table_for(kind, mappings)
    lacking = table.missing(loaded.columns)
    if lacking:
        raise InputError(path, f"lacks the columns for {', '.join(lacking)}",
                         expected=f"the header row of a {kind.title}")
    raw = loaded.table
    return _project(loaded.path, kind, raw, table.column_map(list(raw.columns)))


# --------------------------------------------------------------------------------------------
# JSON dumps of the API


def _records(loaded: _common.Loaded) -> list[dict] | None:
    obj = loaded.json
    if isinstance(obj, dict) and len(obj) == 1:
        key, inner = next(iter(obj.items()))
        if key in _WRAPPERS and isinstance(inner, dict):
            return [inner]
    return _common.json_records(loaded)


def _json_kind(loaded: _common.Loaded) -> ExportKind | None:
    records = _records(loaded)
    if records is None:
        return None
    keys = set().union(*map(dict.keys, records))
    if keys & {"invoicenr", "invoicenr_full"} and keys & _INVOICE_KEYS:
        return INVOICES_JSON
    if "clientnr" in keys and keys & _CLIENT_KEYS:
        return CLIENTS_JSON
    return None


def _read_json(loaded: _common.Loaded, kind: ExportKind, mappings: headers.MappingsLike) -> Extract:
    if _json_kind(loaded) != kind:
        raise InputError(loaded.path, f"not a {kind.title}",
                         expected="a list of API objects as GET /api/v1/"
                                  f"{_JSON_TABLES[kind.name]} returns them")
    raw = _common.flatten(_records(loaded))
    table = next(t for t in headers.tables(SERVICE, mappings) if t.kind.name == _JSON_TABLES[kind.name])
    column_map = table.column_map(list(raw.columns))
    for column, field in column_map.items():
        if field is None and _NESTED.match(column):
            is_line_text = _LINE_DESCRIPTION.match(column) and kind == INVOICES_JSON
            column_map[column] = "description" if is_line_text else headers.KNOWN_WITHOUT_FIELD
    return _project(loaded.path, kind, raw, column_map)


# --------------------------------------------------------------------------------------------
# the canonical projection


def _project(path: Path, kind: ExportKind, raw: pd.DataFrame,
             column_map: dict[str, str | None]) -> Extract:
    """Clients give parties only; invoices give one document each, pointing at the client."""
    canon = _common.canonical_frame(raw, column_map, path)
    company = canon.get("company", pd.Series("", index=canon.index))
    canon["party_type"] = company.ne("").map({True: "organisation", False: "person"})
    table_name = _JSON_TABLES.get(kind.name, kind.name)
    parties, documents = _common.split(canon, _DOC_TYPES[table_name])
    if table_name == "clients":
        documents = documents.iloc[0:0]  # a client list holds none, whatever a user maps
    return _common.finish(kind, raw, parties, documents, column_map)

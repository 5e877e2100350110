"""Mollie, the payment service provider.

Exports read here (Mollie Dashboard unless said otherwise):

* payments / settlement CSV: *Payments* or *Settlements* > pick a settlement > *Export* > CSV;
  one row per payment, refund, chargeback or fee, English headers;
* Business Account bank statement CSV: *Reports* > *Statements* > CSV;
* credit-card mandate export CSV: delivered by Mollie on request when you migrate PSP; its full
  card numbers are masked to their last four digits on import, in the stored copy too.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from workbench import headers
from workbench.model import ExportKind, Extract
from workbench.sources import _common

SERVICE = "mollie"
FORMATS: dict[str, tuple[str, ...]] = {t.kind.name: t.formats for t in headers.tables(SERVICE)}
KINDS: list[ExportKind] = [t.kind for t in headers.tables(SERVICE)]

# Mollie's ``Payment method`` / ``Status`` say what a settlement row is.
_DOC_TYPES = {"refund": "refund", "chargeback": "chargeback"}


def detect(path: Path, mappings: Path | None = None) -> ExportKind | None:
    table = _common.match_table(_common.load(path), SERVICE, mappings)
    return table.kind if table else None


def read(path: Path, kind: ExportKind | None = None, mappings: Path | None = None) -> Extract:
    loaded = _common.load(path)
    kind = kind or detect(path, mappings)
    table = _common.table_for(kind, mappings)
    if kind.name == "payments_csv":
        return _payments(loaded, table)
    return _common.read_tabular(loaded, table, doc_type="bank_line")


def _payments(loaded: _common.Loaded, table: headers.HeaderTable) -> Extract:
    raw = loaded.table
    column_map = table.column_map(list(raw.columns))
    canon = _common.canonical_frame(raw, column_map, loaded.path)
    # PayPal payments carry the consumer's e-mail address where other methods have an IBAN.
    account = canon.get("iban", pd.Series("", index=canon.index))
    is_email = account.str.contains("@", regex=False)
    canon["email"] = account.where(is_email, "")
    canon["iban"] = account.where(~is_email, "")
    parties, documents = _common.split(canon)
    method = canon.get("payment_method", pd.Series("", index=canon.index)).str.lower()
    fee = canon.get("doc_key", pd.Series("", index=canon.index)).eq("")
    documents["doc_type"] = method.map(_DOC_TYPES).fillna("payment").where(~fee, "fee")
    return _common.finish(table.kind, raw, parties, documents, column_map)

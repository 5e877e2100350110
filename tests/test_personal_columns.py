"""Columns that are known but have no canonical party or document field ("other") must still be
inventoried as personal data when they hold it: names of other people on a record, job titles,
search codes, salutations, languages, ... (the "extra" fields of workbench.ingest.model)."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from workbench import pipeline
from workbench.datamap import inventory
from workbench.ingest.model import FIELDS
from workbench.reference import register as registry

# A column named like this is expected to hold a person's data.
PERSONAL_NAME = re.compile(
    r"name|naam|adres|address|e-?mail|mail|telefoon|phone|geboorte|birth|bsn|iban", re.IGNORECASE)
# A country (or its description) is not personal on its own (model.FIELDS["country"]).
COUNTRY = re.compile(r"country|land", re.IGNORECASE)
# Named like personal data but known not to be, each for a stated reason.
NOT_PERSONAL = {
    ("moneybird", "email_ubl"),  # flag: attach UBL to the invoice e-mail
    ("moneybird", "contact.email_ubl"),  # the same flag in an invoice's contact snapshot
    ("factuursturen", "defaultemail"),  # number of the firm's default e-mail text
    ("mollie", "Stmt/Acct/Id/IBAN"),  # the firm's own account on its bank statement
    ("analytics", "event_name"),  # the kind of event: page_view, purchase
    ("smtpcom", "mail_from"),  # the firm's own sending address (webwinkel@...)
}


@pytest.fixture(scope="module")
def fields(demo_run: pipeline.Run) -> pd.DataFrame:
    return inventory.build(demo_run.workspace, registry.load())


def _column(fields: pd.DataFrame, service: str, kind: str, column: str) -> pd.Series:
    rows = fields[fields.service.eq(service) & fields.export_kind.eq(kind) & fields.column.eq(column)]
    assert len(rows) == 1, f"{service}/{kind} has no column {column!r}"
    return rows.iloc[0]


def test_someone_elses_name_on_an_invoice_is_personal(fields: pd.DataFrame) -> None:
    row = _column(fields, "exact", "api_sales_invoices", "OrderedByName")
    assert (row.field, row.personal, row.category) == ("other_name", True, "user.name")
    assert FIELDS["other_name"].table == "extra"


def test_moneybird_attention_columns_are_personal(fields: pd.DataFrame) -> None:
    attention = fields[fields.service.eq("moneybird")
                       & fields.column.str.contains(r"attention|t\.a\.v", case=False)]
    assert not attention.empty
    assert attention.personal.eq(True).all(), attention[["export_kind", "column", "personal"]]
    assert attention.category.notna().all()


def test_extra_fields_are_personal_with_a_category(fields: pd.DataFrame) -> None:
    extra = fields[fields.field.isin([f.name for f in FIELDS.values() if f.table == "extra"])]
    assert {"other_name", "search_code", "job_title", "nationality", "title", "language"} <= set(
        extra.field)
    assert extra.personal.eq(True).all() and extra.category.notna().all()


def test_no_column_named_like_personal_data_is_classified_not_personal(fields: pd.DataFrame) -> None:
    named = fields.column.str.contains(PERSONAL_NAME) & ~fields.column.str.contains(COUNTRY)
    excused = pd.Series([(s, c) in NOT_PERSONAL for s, c in zip(fields.service, fields.column,
                                                                 strict=True)], index=fields.index)
    wrong = fields[named & fields.personal.eq(False) & ~excused]
    assert wrong.empty, wrong[["service", "export_kind", "column", "examples"]].to_string()

"""Exports with personal data: owner-only and safe against formula injection."""

from __future__ import annotations

import stat
from pathlib import Path

import openpyxl
import pandas as pd

from workbench.store.safe_files import safe_cell, write_csv, write_xlsx

EVIL = pd.DataFrame({"naam": ["=HYPERLINK(\"http://x\",\"klik\")", "+31 6 1234", "-2+3", "@SUM(A1)",
                              "Jan"], "bedrag": [1.5, -2.0, 3.0, 4.0, 5.0]})


def test_safe_cell() -> None:
    assert safe_cell("=1+1") == "'=1+1"
    assert safe_cell("\t=1") == "'\t=1"
    assert safe_cell("Jan") == "Jan"
    assert safe_cell(-2.0) == -2.0  # a negative number is no formula
    assert safe_cell("-12,50") == "-12,50"  # nor is one written as text, the way an export writes it
    assert safe_cell("-1234.5") == "-1234.5"
    assert safe_cell("-2+3") == "'-2+3"
    assert safe_cell("-12,50+cmd|' /C calc'!A0") == "'-12,50+cmd|' /C calc'!A0"


def test_csv_is_owner_only_and_quoted(tmp_path: Path) -> None:
    path = write_csv(EVIL, tmp_path / "x.csv")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    back = pd.read_csv(path, dtype=str)
    assert all(v.startswith("'") for v in back["naam"][:4]) and back["naam"][4] == "Jan"
    assert back["bedrag"].tolist() == ["1.5", "-2.0", "3.0", "4.0", "5.0"]


def test_xlsx_is_owner_only_and_has_no_formulas(tmp_path: Path) -> None:
    path = write_xlsx({"Inventaris": EVIL}, tmp_path / "x.xlsx")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    sheet = openpyxl.load_workbook(path).active
    cells = [c for row in sheet.iter_rows() for c in row]
    assert not any(c.data_type == "f" for c in cells)
    assert sheet["A2"].value.startswith("'=HYPERLINK")
    assert sheet["B3"].value == -2.0

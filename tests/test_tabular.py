"""Reading real-world CSV/XLSX and parsing Dutch and English numbers and dates."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.errors import InputError
from workbench.ingest import tabular

P = Path("export.csv")


def _nl(value: Decimal) -> str:
    sign = "-" if value < 0 else ""
    whole, frac = f"{abs(value):.2f}".split(".")
    return f"{sign}{int(whole):,}".replace(",", ".") + "," + frac


def _en(value: Decimal) -> str:
    return f"{value:,.2f}"


amounts = st.decimals(min_value=Decimal("-9999999.99"), max_value=Decimal("9999999.99"), places=2)


@settings(max_examples=200, deadline=None)
@given(st.lists(amounts, min_size=1, max_size=20), st.sampled_from(["nl", "en", "plain", "euro"]))
def test_amounts_round_trip_in_every_style(values: list[Decimal], style: str) -> None:
    render = {"nl": _nl, "en": _en, "plain": lambda v: f"{v:.2f}",
              "euro": lambda v: "€ " + _nl(v)}[style]
    parsed = tabular.parse_amounts(pd.Series([render(v) for v in values]), P, "Bedrag")
    assert [Decimal(f"{p:.2f}") for p in parsed] == values


def test_amount_forms_seen_in_exports() -> None:
    column = pd.Series(["1.234,56", "12,50", "€ 12,50", "-2,88", "(5,00)", "", "1.234"])
    assert tabular.parse_amounts(column, P, "Bedrag").fillna(0).tolist() == [
        1234.56, 12.5, 12.5, -2.88, -5.0, 0, 1234.0]
    english = pd.Series(["2,067.08", "-10.00", "1,234"])
    assert tabular.parse_amounts(english, P, "AMOUNT").tolist() == [2067.08, -10.0, 1234.0]


def test_bad_amount_names_row_and_column() -> None:
    with pytest.raises(InputError, match=r"row 3, column 'Bedrag'.*expected an amount"):
        tabular.parse_amounts(pd.Series(["1,00", "twaalf"], index=[2, 3]), P, "Bedrag")


@settings(max_examples=200, deadline=None)
@given(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2040, 12, 31)),
       st.sampled_from(["%d-%m-%Y", "%d-%m-%Y %H:%M:%S", "%Y-%m-%d", "%Y-%m-%d %H:%M:%S",
                        "%d/%m/%Y", "%Y-%m-%dT%H:%M:%S"]))
def test_dates_round_trip(moment: datetime, fmt: str) -> None:
    moment = moment.replace(microsecond=0)
    parsed = tabular.parse_dates(pd.Series([moment.strftime(fmt)]), P, "Datum").iloc[0]
    expected = pd.Timestamp(moment if "%H" in fmt else moment.date())
    assert parsed == expected


def test_excel_serial_odata_and_offset_dates() -> None:
    column = pd.Series(["45658", "/Date(1735689600000)/", "2025-01-01T12:00:00+01:00", ""])
    parsed = tabular.parse_dates(column, P, "Datum")
    assert parsed.iloc[0] == pd.Timestamp("2025-01-01")
    assert parsed.iloc[1] == pd.Timestamp("2025-01-01")
    assert parsed.iloc[2] == pd.Timestamp("2025-01-01 12:00")
    assert pd.isna(parsed.iloc[3])


def test_bad_date_names_row_and_column() -> None:
    with pytest.raises(InputError, match=r"row 5, column 'Datum'.*expected a date"):
        tabular.parse_dates(pd.Series(["31-02-2026"], index=[5]), P, "Datum")


@pytest.mark.parametrize("encoding,bom", [("utf-8", b""), ("utf-8", b"\xef\xbb\xbf"),
                                          ("cp1252", b""), ("utf-16", b"")])
@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_csv_encodings_and_delimiters(tmp_path: Path, encoding: str, bom: bytes,
                                      delimiter: str) -> None:
    rows = [["Naam", "Plaats", "Bedrag"], ["Zoë", "Café", "1.234,56"], ["", "", ""],
            ["Naam", "Plaats", "Bedrag"], ["Jan", "Zwolle", "€ 1,00"], ["", "", ""]]
    text = "\r\n".join(delimiter.join(f'"{c}"' if delimiter in c else c for c in r) for r in rows)
    data = bom + text.encode(encoding)
    path = tmp_path / "x.csv"
    path.write_bytes(data)
    frame = tabular.read_csv_text(path, tabular.decode(path, data))
    assert list(frame.columns) == ["Naam", "Plaats", "Bedrag"]
    assert frame["Naam"].tolist() == ["Zoë", "Jan"]  # blank and repeated header rows dropped
    assert frame.index.tolist() == [2, 5]  # spreadsheet row numbers survive


@pytest.mark.parametrize("body,row", [("a;b;c\n1;2;3\n4;5;6;7\n", 3), ("a;b;c\n1;2\n", 2),
                                      ('a;b;c\n"x";2\n', 2), ('a;b;c\n"x;\ny";2;3\n4;5\n', 3)])
def test_ragged_rows_are_named(tmp_path: Path, body: str, row: int) -> None:
    path = tmp_path / "r.csv"
    with pytest.raises(InputError, match=rf"row {row}:.*fields"):
        tabular.read_csv_text(path, body)


def test_binary_and_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    with pytest.raises(InputError, match="binary content"):
        tabular.decode(path, b"\x00\x01\x02garbage")
    with pytest.raises(InputError, match="row 2.*unreadable encoding"):
        tabular.decode(path, b"a;b\n\x81\x8d;x\n")


def test_xlsx_dates_numbers_and_blank_rows(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Klantnummer", "Datum", "Bedrag"])
    sheet.append([1001, datetime(2026, 1, 31), 1234.5])
    sheet.append([None, None, None])
    path = tmp_path / "x.xlsx"
    book.save(path)
    frame = tabular.read_xlsx(path, path.read_bytes())
    assert frame.to_dict("records") == [
        {"Klantnummer": "1001", "Datum": "2026-01-31", "Bedrag": "1234.5"}]
    assert frame.index.tolist() == [2]


def test_truncated_xlsx(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    book.active.append(["a"])
    path = tmp_path / "x.xlsx"
    book.save(path)
    data = path.read_bytes()[: len(path.read_bytes()) // 2]
    with pytest.raises(InputError, match="not a readable XLSX"):
        tabular.read_xlsx(path, data)


def test_sniff_format() -> None:
    assert tabular.sniff_format(b"PK\x03\x04rest") == "xlsx"
    assert tabular.sniff_format(b"\xef\xbb\xbf<?xml version='1.0'?><a/>") == "xml"
    assert tabular.sniff_format(b'  {"d": {"results": []}}') == "json"
    assert tabular.sniff_format(b":20:940A150612\r\n:25:NL30") == "mt940"
    assert tabular.sniff_format("Code\tNaam\n".encode("utf-16")) == "text"


def test_error_messages_do_not_repeat_the_value() -> None:
    with pytest.raises(InputError) as info:
        tabular.parse_dates(pd.Series(["17-05-19800"], index=[4]), P, "Geboortedatum")
    assert "19800" not in str(info.value) and "row 4" in str(info.value)


@pytest.mark.parametrize("body", [
    "a,b,c\r\n1,2,3\r\n4,5,6\r\n",
    "\r\n\r\n a,b ,c\r\n1,\"x\r\ny\",3\r\n4,5,6\r\n\r\n\r\n",  # leading blank lines, a value over two lines
    "a;b;c\n1;\"x;\ny\";3\n\n4;5;6\n",
    "a,b,c\n1,\"he said \"\"hi\"\"\",3\n4,,\n,,\na,b,c\n7,8,9",  # quotes, blank and repeated header rows
    "Naam;Plaats\nZoë;Café\n",
    "a,b\n1,2\r3,4\r",
])
def test_fast_csv_reader_reads_as_the_pandas_reader(body: str) -> None:
    fast = tabular._read_csv_arrow(body)
    assert fast is not None
    expected = tabular.drop_noise_rows(tabular._read_csv_pandas(P, body))
    pd.testing.assert_frame_equal(tabular.drop_noise_rows(fast), expected)
    pd.testing.assert_frame_equal(tabular.read_csv_text(P, "\ufeff" + body), expected)


@pytest.mark.parametrize("body", ["a,a\n1,2\n", "a,,c\n1,2,3\n", "a\tb\n1\t2\n  \n3\t4\n", "a;b\n1;2;3\n",
                                  "a;b\n1\x0b;2\n"])
def test_what_the_fast_reader_would_read_otherwise_goes_to_pandas(body: str) -> None:
    assert tabular._read_csv_arrow(body) is None


def test_decimal_mark_is_decided_by_rows_not_by_distinct_values() -> None:
    values = pd.Series(["1.234,56"] * 3 + ["2.50", "7.25"], index=range(2, 7))
    assert tabular.parse_amounts(values, P, "Bedrag").tolist() == [1234.56] * 3 + [250.0, 725.0]


def test_dates_of_several_formats_in_one_column() -> None:
    values = pd.Series(["2026-01-31 14:05:00"] * 300 + ["31-01-2026", "", "2026-02-01"], index=range(2, 305))
    parsed = tabular.parse_dates(values, P, "Datum")
    assert parsed.iloc[-3:].tolist()[::2] == [pd.Timestamp("2026-01-31"), pd.Timestamp("2026-02-01")]
    assert parsed.iloc[0] == pd.Timestamp("2026-01-31 14:05") and pd.isna(parsed.iloc[-2])


# --------------------------------------------------------------------------------------------
# nothing altered on the way in


def _with_sheet_values(source: Path, target: Path, values: dict[str, str]) -> Path:
    """The workbook with some cells' stored text replaced, as another program writes them
    (openpyxl itself writes a large integer as a float)."""
    import zipfile

    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            data = old.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                for placeholder, stored in values.items():
                    data = data.replace(f"<v>{placeholder}</v>".encode(), f"<v>{stored}</v>".encode())
            new.writestr(info, data)
    return target


def test_xlsx_numbers_keep_every_digit(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    book.active.append(["Klantnummer", "Tijdstip", "Bedrag", "Fractie", "Naam"])
    book.active.append([111, 222, 333, 444, "Zoë"])
    book.save(tmp_path / "plain.xlsx")
    stored = {"111": "246813579012345678", "222": "1532426400.0", "333": "1.5E3", "444": "1E-5"}
    path = _with_sheet_values(tmp_path / "plain.xlsx", tmp_path / "numbers.xlsx", stored)
    row = tabular.read_xlsx(path, path.read_bytes()).iloc[0]
    assert row["Klantnummer"] == "246813579012345678"
    assert row["Tijdstip"] == "1532426400"
    assert row["Bedrag"] == "1500" and row["Fractie"] == "0.00001" and row["Naam"] == "Zoë"


def test_utf8_with_one_stray_windows_byte_keeps_its_accents() -> None:
    text = "naam\nZoë Müller\nJosé García\nFrançois\n"
    data = text.encode("utf-8").replace("é".encode(), "é".encode("cp1252"), 1)
    assert tabular.decode(P, data) == text


def test_a_byte_neither_utf8_nor_windows_is_refused_naming_the_row() -> None:
    data = "naam\nZoë\n".encode() + b"Jo\x81st\n"
    with pytest.raises(InputError, match=r"row 3: unreadable encoding \(byte 0x81\)"):
        tabular.decode(P, data)


def test_plain_windows_1252_file_still_reads() -> None:
    assert tabular.decode(P, "naam\nJosé\n".encode("cp1252")) == "naam\nJosé\n"


@pytest.mark.parametrize("value", ["1e5", "1E5", "Infinity", "inf", "NaN", "0x10", "1_000"])
def test_exponents_and_special_numbers_are_no_amounts(value: str) -> None:
    with pytest.raises(InputError, match="row 3, column 'Bedrag': not an amount"):
        tabular.parse_amounts(pd.Series(["12,50", value], index=[2, 3]), P, "Bedrag")


def test_amount_beyond_the_decimal_type_is_refused() -> None:
    with pytest.raises(InputError, match="row 2, column 'Bedrag': an amount beyond"):
        tabular.parse_amounts(pd.Series(["12345678901234567,00"], index=[2]), P, "Bedrag")
    assert tabular.parse_amounts(pd.Series(["999.999.999.999.999,99"], index=[2]), P, "B").iloc[0] > 0


@pytest.mark.parametrize("value", ["99999", "0", "80000"])
def test_day_numbers_outside_the_years_of_excel_are_no_dates(value: str) -> None:
    with pytest.raises(InputError, match="row 2, column 'Datum': not a date"):
        tabular.parse_dates(pd.Series([value], index=[2]), P, "Datum")
    serial = tabular.parse_dates(pd.Series(["45292"], index=[2]), P, "Datum")
    assert str(serial.iloc[0].date()) == "2024-01-01"


def test_messages_escape_control_characters_in_names() -> None:
    error = InputError(Path("a\x1b[31m\u202eb.csv"), "not an export", column="Naam\n\x07")
    text = str(error)
    assert "\x1b" not in text and "\u202e" not in text and "\x07" not in text and "\n" not in text
    assert "a\\x1b[31m\\u202eb.csv" in text and "Zoë" in str(InputError(Path("Zoë.csv"), "x"))


@pytest.mark.parametrize(("row", "column"), [
    ("2026-10-01 10:12:00,ideal,EUR,1e5,paidout,tr_x,Order,Jan,,,EUR,1.00,1,", "Amount"),
    ("99999,ideal,EUR,1.00,paidout,tr_x,Order,Jan,,,EUR,1.00,1,", "Date"),
])
def test_import_stops_with_exit_2_naming_file_row_and_column(tmp_path: Path, row: str, column: str,
                                                             capsys: pytest.CaptureFixture) -> None:
    from conftest import payments_csv

    from workbench.ui.cli import main

    path = payments_csv(tmp_path / "settlement.csv", [row])
    assert main(["--workspace", str(tmp_path / "ws"), "import", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"settlement.csv, row 2, column '{column}'" in err and "expected" in err

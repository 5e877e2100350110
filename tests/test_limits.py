"""Limits on every input: what is refused before it is read whole, and that a file is read once."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
from conftest import payments_csv

from workbench.configuration import ConfigError
from workbench.errors import InputError
from workbench.ingest import limits, tabular
from workbench.ingest.sources import _common
from workbench.store.workspace import Workspace
from workbench.ui.cli import main

SHEET_HEAD = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
              '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
PARTS = {
    "[Content_Types].xml": (
        '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
        'package/2006/content-types"><Default Extension="rels" ContentType="application/'
        'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType='
        '"application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName='
        '"/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.'
        'spreadsheetml.worksheet+xml"/></Types>'),
    "_rels/.rels": (
        '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats'
        '.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
        'openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target='
        '"xl/workbook.xml"/></Relationships>'),
    "xl/workbook.xml": (
        '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/'
        'spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'),
    "xl/_rels/workbook.xml.rels": (
        '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats'
        '.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
        'openxmlformats.org/officeDocument/2006/relationships/worksheet" Target='
        '"worksheets/sheet1.xml"/></Relationships>'),
}


def _cell(value: str) -> str:
    return f'<c t="inlineStr"><is><t>{value}</t></is></c>'


def write_xlsx(path: Path, rows: int) -> Path:
    """A workbook made by hand: a header and ``rows`` identical rows, streamed into the zip so
    that even millions of rows take little memory to write (and compress hundreds of times)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in PARTS.items():
            archive.writestr(name, text)
        with archive.open("xl/worksheets/sheet1.xml", "w") as sheet:
            # rows and cells without their optional references: every row alike, as in a bomb
            sheet.write((SHEET_HEAD + "<row>" + _cell("Name") + _cell("E-mail") + _cell("Klantnummer")
                         + "</row>").encode())
            row = ("<row>" + _cell("Jan Jansen") + _cell("jan@example.nl") + "<c><v>42</v></c></row>")
            for start in range(0, rows, 10_000):
                sheet.write((row * min(10_000, rows - start)).encode())
            sheet.write(b"</sheetData></worksheet>")
    return path


def _import(tmp_path: Path, *files: Path, capsys: pytest.CaptureFixture) -> tuple[int, str]:
    code = main(["--workspace", str(tmp_path / "ws"), "import", *map(str, files)])
    return code, capsys.readouterr().err


def _set_limits(folder: Path, **values: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / limits.FILE_NAME).write_text(
        "[limits]\n" + "".join(f"{k} = {v}\n" for k, v in values.items()), encoding="utf-8")


def test_defaults_are_reviewed_data() -> None:
    settings = limits.defaults()
    assert settings.max_bytes >= 1_000_000_000  # a 1 GB auditfile must still import
    assert settings.max_bytes < 2_000_000_000  # a 2 GB file is refused by its size
    assert settings.max_xlsx_ratio < 200 and settings.max_xml_depth >= 20


@pytest.mark.parametrize(("text", "problem"), [
    ("[limits]\nmax_rowz = 5\n", "limits.max_rowz: Extra inputs are not permitted"),
    ("[limits]\nmax_rows = -5\n", "limits.max_rows: Input should be greater than 0"),
    ("[limits]\nmax_rows = true\n", "limits.max_rows: Input should be a valid integer"),
    ("[other]\nmax_rows = 5\n", "limits: Field required"),
    ("[limits\n", "not valid TOML"),
    (b"[limits]\nmax_rows = 5 # \xff\n", "unreadable"),
])
def test_a_workspace_override_is_validated(tmp_path: Path, text: str | bytes, problem: str) -> None:
    path = tmp_path / limits.FILE_NAME
    path.write_bytes(text) if isinstance(text, bytes) else path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=problem) as error:
        limits.for_workspace(tmp_path)
    assert limits.FILE_NAME in str(error.value)


def test_a_workspace_override_changes_only_what_it_names(tmp_path: Path) -> None:
    _set_limits(tmp_path, max_rows=7)
    settings = limits.for_workspace(tmp_path)
    assert settings.max_rows == 7 and settings.max_bytes == limits.defaults().max_bytes


def test_xlsx_bomb_is_refused_by_its_expansion_before_it_is_opened(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture) -> None:
    bomb = write_xlsx(tmp_path / "contacts.xlsx", 300_000)
    with zipfile.ZipFile(bomb) as archive:
        expanded = sum(i.file_size for i in archive.infolist())
    assert expanded / bomb.stat().st_size > limits.defaults().max_xlsx_ratio

    def never(*_: object, **__: object) -> None:
        raise AssertionError("the workbook was opened")

    monkeypatch.setattr(tabular.openpyxl, "load_workbook", never)
    code, err = _import(tmp_path, bomb, capsys=capsys)
    assert code == 2 and "max_xlsx_ratio" in err and "contacts.xlsx" in err
    assert not (tmp_path / "ws" / "workbench.duckdb").exists()


def test_xlsx_rows_beyond_the_limit_stop_the_stream(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture) -> None:
    _set_limits(tmp_path / "ws", max_rows=50, max_xlsx_ratio=100_000)
    code, err = _import(tmp_path, write_xlsx(tmp_path / "rows.xlsx", 200), capsys=capsys)
    assert code == 2 and "max_rows = 50" in err and "rows.xlsx" in err


def test_xlsx_cells_beyond_the_limit(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    _set_limits(tmp_path / "ws", max_cells=100, max_xlsx_ratio=100_000)
    code, err = _import(tmp_path, write_xlsx(tmp_path / "cells.xlsx", 60), capsys=capsys)
    assert code == 2 and "max_cells = 100" in err


def test_csv_rows_beyond_the_limit(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    _set_limits(tmp_path / "ws", max_rows=2)
    code, err = _import(tmp_path, payments_csv(tmp_path / "p.csv"), capsys=capsys)
    assert code == 2 and "max_rows = 2" in err and "p.csv" in err


# VmHWM is this process's own peak: getrusage's ru_maxrss keeps the forking parent's peak across
# exec, which inside a large test run says more about pytest than about the import.
BOMB_MEMORY = textwrap.dedent("""
    import re, sys
    from pathlib import Path
    from workbench.ui.cli import main
    code = main(["--workspace", sys.argv[2], "import", sys.argv[1]])
    peak = re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text()).group(1)
    print(code, int(peak) // 1024)
""")


@pytest.mark.slow
def test_xlsx_bomb_import_stays_small_in_memory(tmp_path: Path) -> None:
    bomb = write_xlsx(tmp_path / "bomb.xlsx", 1_000_000)
    assert bomb.stat().st_size < 2_000_000
    run = subprocess.run([sys.executable, "-c", BOMB_MEMORY, str(bomb), str(tmp_path / "ws")],
                         capture_output=True, text=True, timeout=120, check=False)
    code, peak_mb = map(int, run.stdout.split())
    assert code == 2 and "max_xlsx_ratio" in run.stderr
    assert peak_mb < 500


def test_fifo_is_refused_without_blocking(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    fifo = tmp_path / "export.csv"
    os.mkfifo(fifo)
    code, err = _import(tmp_path, fifo, capsys=capsys)
    assert code == 2 and "not a regular file" in err


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_character_device_is_refused_unread(tmp_path: Path, device: str,
                                            capsys: pytest.CaptureFixture) -> None:
    if not Path(device).exists():
        pytest.skip(f"{device} is not on this system")
    link = tmp_path / "export.csv"
    link.symlink_to(device)  # a symlink is followed before the file is judged
    for path in (Path(device), link):
        code, err = _import(tmp_path, path, capsys=capsys)
        assert code == 2 and "not a regular file" in err


def test_sparse_file_is_refused_by_its_size_before_any_read(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture) -> None:
    sparse = tmp_path / "huge.csv"
    with sparse.open("wb") as handle:
        handle.truncate(3 * 1024**3)
    _set_limits(tmp_path / "ws", max_bytes=1_000_000)

    def never(*_: object, **__: object) -> None:
        raise AssertionError("the file was read")

    monkeypatch.setattr(tabular, "_read_all", never)
    code, err = _import(tmp_path, sparse, capsys=capsys)
    assert code == 2 and "max_bytes = 1,000,000" in err and "3,221,225,472" in err
    code, err = _import(tmp_path / "default", sparse, capsys=capsys)  # the default refuses too
    assert code == 2 and "max_bytes" in err


def test_deep_json_is_refused_naming_the_limit(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    deep = tmp_path / "payments.json"
    deep.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    code, err = _import(tmp_path, deep, capsys=capsys)
    assert code == 2 and "max_json_depth" in err and "payments.json" in err


def test_json_depth_counts_brackets_outside_strings_only(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    tabular.check_json_depth(path, json.dumps([{"description": "[[[[" * 100}]))
    with pytest.raises(InputError, match="max_json_depth"):
        tabular.check_json_depth(path, "[" * 65 + "]" * 65)


def test_deep_xml_is_refused_naming_the_limit(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    deep = tmp_path / "statement.xml"
    deep.write_text('<?xml version="1.0"?>' + "<a>" * 5000 + "</a>" * 5000, encoding="utf-8")
    code, err = _import(tmp_path, deep, capsys=capsys)
    assert code == 2 and "max_xml_depth" in err and "statement.xml" in err


def test_file_changed_while_it_is_read_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture) -> None:
    path = payments_csv(tmp_path / "p.csv")
    original = tabular._read_all

    def grows(handle, size: int) -> bytes:
        data = original(handle, size)
        with path.open("ab") as other:  # another program appends meanwhile
            other.write(b"2026-10-05 00:00:00,,EUR,1.00,paidout,,x,,,,EUR,1.00,1,\n")
        return data

    monkeypatch.setattr(tabular, "_read_all", grows)
    code, err = _import(tmp_path, path, capsys=capsys)
    assert code == 2 and "changed while it was read" in err
    assert not (tmp_path / "ws" / "workbench.duckdb").exists()


def test_what_is_parsed_is_what_is_hashed_and_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = payments_csv(tmp_path / "p.csv")
    parsed = path.read_bytes()
    import workbench.ingest.sources as sources

    original = sources.read

    def then_changed(file: Path, *args: object, **kwargs: object):
        extract = original(file, *args, **kwargs)
        # after the parse, the file changes on disk, and a second look at it sees the new one
        path.write_bytes(parsed.replace(b"Jan Jansen", b"Piet Pietersen"))
        assert _common.load(file).data == parsed  # held for the rest of this file's import
        return extract

    monkeypatch.setattr(sources, "read", then_changed)
    ws = Workspace(tmp_path / "ws")
    [result] = ws.import_files([path])
    sha = hashlib.sha256(parsed).hexdigest()
    assert result.sha256 == sha
    assert (ws.raw_dir / sha).read_bytes() == parsed
    assert ws.query("SELECT file_sha256 FROM imports")["file_sha256"].tolist() == [sha]


def test_file_deleted_mid_import_still_imports_what_was_read(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    path = payments_csv(tmp_path / "p.csv")
    parsed = path.read_bytes()
    import workbench.ingest.sources as sources

    original = sources.read

    def then_deleted(file: Path, *args: object, **kwargs: object):
        extract = original(file, *args, **kwargs)
        path.unlink()
        return extract

    monkeypatch.setattr(sources, "read", then_deleted)
    ws = Workspace(tmp_path / "ws")
    [result] = ws.import_files([path])
    assert (ws.raw_dir / result.sha256).read_bytes() == parsed

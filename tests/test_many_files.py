"""Many small exports in one import are read together, as one table per header, and written in a
few statements: the workspace holds exactly what importing them one by one gives, an error still
names the file and row, and the import stays all or nothing."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import pytest
from conftest import snapshot

from workbench.demo import scale
from workbench.errors import InputError
from workbench.store import workspace as workspace_module
from workbench.store.workspace import Workspace

pytestmark = pytest.mark.slow  # a scaled demo cut into hundreds of files, imported twice


def _cut(source: Path, folder: Path, stem: str, rows: int, count: int) -> list[Path]:
    """``count`` files of ``rows`` data rows each, cut from ``source`` with its header (as bytes:
    each keeps its export's encoding)."""
    lines = source.read_bytes().splitlines(keepends=True)
    folder.mkdir(exist_ok=True)
    out = []
    for i in range(count):
        part = lines[1 + i * rows: 1 + (i + 1) * rows]
        out.append(folder / f"{stem}-{i:03d}.csv")
        out[-1].write_bytes(lines[0] + b"".join(part))
    return out


@pytest.fixture(scope="module")
def small_files(tmp_path_factory) -> list[Path]:
    """Small Mollie settlement CSVs and MoneyBird contact lists, in an order that mixes them, with
    one file given twice."""
    folder = tmp_path_factory.mktemp("small")
    files = scale.write(folder / "data", payments=400, parties=120, seed=11)
    mollie = _cut(files.payments, folder / "in", "payments", 6, 30)
    contacts = next(p for p in files.parties if "moneybird" in p.parts)
    moneybird = _cut(contacts, folder / "in", "contacts", 4, 8)
    return [*mollie[:20], *moneybird, *mollie[20:], mollie[3]]


def _content(ws: Workspace) -> dict:
    """Every table's rows, the moment of each import left out."""
    tables = {}
    with duckdb.connect(str(ws.db_path), read_only=True) as con:
        for (name,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall():
            frame = con.execute(f'SELECT * FROM "{name}"').df().drop(columns=["imported_at"], errors="ignore")
            tables[name] = sorted(map(repr, frame.astype("str").itertuples(index=False)))
    return tables


def test_files_read_together_give_what_one_by_one_gives(tmp_path, small_files, monkeypatch):
    together = Workspace(tmp_path / "together")
    results = together.import_files(small_files)
    assert [r.batch is not None for r in results].count(True) >= 30  # read together indeed
    assert results[-1].unchanged and results[-1].previous == {}  # the file given twice
    monkeypatch.setattr(workspace_module, "TOGETHER_ROWS", 0)  # every file alone, as before
    alone = Workspace(tmp_path / "alone")
    singles = alone.import_files(small_files)
    assert all(r.batch is None for r in singles)
    assert _content(together) == _content(alone)
    assert sorted(p.name for p in together.raw_dir.iterdir()) == \
        sorted(p.name for p in alone.raw_dir.iterdir())
    for mine, theirs in zip(results, singles, strict=True):
        assert [mine.import_id, *map(len, (mine.extract.raw, mine.extract.parties, mine.extract.documents))] \
            == [theirs.import_id, *map(len, (theirs.extract.raw, theirs.extract.parties,
                                             theirs.extract.documents))]
    # each record still knows its file and row
    first = together.query("""SELECT i.file_name, r.source_row, json_extract_string(r.record, '$."ID"') AS id
                              FROM raw_records r JOIN imports i USING (import_id)
                              WHERE i.file_name = 'payments-007.csv' ORDER BY r.source_row""")
    lines = small_files[7].read_text(encoding="utf-8-sig").splitlines()
    assert first["source_row"].tolist() == list(range(2, len(lines) + 1))
    assert first["id"].tolist() == [row[5] for row in csv.reader(lines[1:])]


def test_a_second_import_of_the_same_files_changes_nothing(tmp_path, small_files):
    ws = Workspace(tmp_path / "ws")
    ws.import_files(small_files[:10])
    before = snapshot(ws.path)
    again = ws.import_files(small_files[:10])
    assert all(r.unchanged and r.previous["import_id"] for r in again)
    assert snapshot(ws.path) == before


def test_a_bad_file_among_many_is_named_and_nothing_is_written(tmp_path, small_files):
    ws = Workspace(tmp_path / "ws")
    ws.import_files(small_files[:3])
    before = snapshot(ws.path)
    ragged = tmp_path / "ragged.csv"
    lines = small_files[5].read_text(encoding="utf-8-sig").splitlines()
    ragged.write_text("\n".join([*lines[:3], lines[3] + ",extra", *lines[4:]]) + "\n", encoding="utf-8-sig")
    with pytest.raises(InputError, match=r"ragged.csv, row 4"):
        ws.import_files([*small_files[3:12], ragged, *small_files[12:20]])
    assert snapshot(ws.path) == before

"""Each source record's original cells are stored once, as text (``raw_rows``, names per import in
``raw_names``); ``raw_records`` shows them as JSON objects, and a workspace that kept a JSON copy
per record is moved over when it is next opened for writing."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from tests.conftest import payments_csv
from workbench.store.workspace import RAW_VALUES_SQL, Workspace


def test_every_cell_is_kept_once_and_shown_as_its_record(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    path = payments_csv(tmp_path / "settlement.csv")
    ws.import_files([path])
    header = path.read_text(encoding="utf-8-sig").splitlines()[0].split(",")
    stored = ws.query("SELECT names FROM raw_names")["names"].tolist()
    assert [list(n) for n in stored] == [header]
    records = ws.query("SELECT source_row, record::VARCHAR AS record FROM raw_records ORDER BY source_row")
    first = json.loads(records["record"].iloc[0])
    assert list(first) == header and first["Amount"] == "100.00" and first["Amount refunded"] == ""
    assert records["source_row"].tolist() == [2, 3, 4, 5]
    values = ws.query(f"SELECT {RAW_VALUES_SQL.format(names='?::VARCHAR[]')} AS v FROM raw_records "
                      "ORDER BY source_row", [["ID", "no such column"]])["v"].tolist()
    assert [list(v) for v in values] == [["tr_aaa111", None], ["tr_bbb222", None], ["re_ccc333", None],
                                         ["", None]]
    with duckdb.connect(str(ws.db_path), read_only=True) as con:
        kinds = dict(con.execute("SELECT table_name, table_type FROM information_schema.tables").fetchall())
    assert kinds["raw_records"] == "VIEW" and kinds["raw_rows"] == "BASE TABLE"


def test_a_workspace_with_json_records_is_moved_over(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    ws.import_files([payments_csv(tmp_path / "settlement.csv")])
    before = ws.query("SELECT import_id, source_row, record::VARCHAR AS r FROM raw_records ORDER BY ALL")
    with duckdb.connect(str(ws.db_path)) as con:  # as an older workbench left it
        con.execute("CREATE TABLE old AS SELECT import_id, source_row, record::JSON AS record "
                    "FROM raw_records")
        con.execute("DROP VIEW raw_records")
        con.execute("DROP TABLE raw_rows")
        con.execute("DROP TABLE raw_names")
        con.execute("ALTER TABLE old RENAME TO raw_records")
        con.execute("DROP TABLE schema_version")  # it kept no version
    with ws.connect():
        pass
    after = ws.query("SELECT import_id, source_row, record::VARCHAR AS r FROM raw_records ORDER BY ALL")
    assert after.equals(before)
    with duckdb.connect(str(ws.db_path), read_only=True) as con:
        kinds = dict(con.execute("SELECT table_name, table_type FROM information_schema.tables").fetchall())
    assert kinds["raw_records"] == "VIEW" and kinds["raw_rows"] == "BASE TABLE"

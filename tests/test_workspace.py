"""The workspace: one transaction per import, content-addressed raw files, versions by natural
key, owner-only permissions, and survival of an import killed half-way."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from conftest import payments_csv, snapshot

from workbench.datamap import linkage
from workbench.errors import InputError, WorkbenchError
from workbench.store import schema
from workbench.store import workspace as workspace_module
from workbench.store.workspace import Workspace


def test_import_keeps_raw_file_and_provenance(tmp_path: Path, payments: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    [result] = ws.import_files([payments])
    sha = hashlib.sha256(payments.read_bytes()).hexdigest()
    assert result.sha256 == sha
    assert (ws.raw_dir / sha).read_bytes() == payments.read_bytes()
    # a canonical value goes back to file, row and column
    trace = ws.query("""
        SELECT i.file_sha256, d.source_row, c.name AS column,
               json_extract_string(r.record, '$."Amount"') AS original, d.amount
        FROM documents d JOIN imports i USING (import_id)
        JOIN columns c ON c.import_id = d.import_id AND c.field = 'amount'
        JOIN raw_records r ON r.import_id = d.import_id AND r.source_row = d.source_row
        WHERE d.doc_key = 'tr_bbb222'""").iloc[0]
    assert (trace.file_sha256, trace.source_row, trace.column) == (sha, 3, "Amount")
    assert (trace.original, float(trace.amount)) == ("1,050.00", 1050.0)


def test_identifiers_normalised_and_flagged(tmp_path: Path) -> None:
    path = payments_csv(tmp_path / "p.csv", [
        "2026-10-01 10:12:00,ideal,EUR,1.00,paid,tr_1,x,Jan,nl91 abna 0417 1643 00,ABNANL2A,EUR,1,s,",
        "2026-10-01 10:13:00,ideal,EUR,1.00,paid,tr_2,x,Piet,NL00BANK0000000000,ABNANL2A,EUR,1,s,",
    ])
    ws = Workspace(tmp_path / "ws")
    ws.import_files([path])
    ids = ws.query("SELECT raw_value, value, valid FROM identifiers WHERE kind = 'iban' "
                   "ORDER BY raw_value").values.tolist()
    assert ids == [["NL00BANK0000000000", "NL00BANK0000000000", False],
                   ["nl91 abna 0417 1643 00", "NL91ABNA0417164300", True]]


def test_same_file_twice_changes_nothing(tmp_path: Path, payments: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    ws.import_files([payments])
    before = snapshot(ws.path)
    [again] = ws.import_files([payments])
    assert again.unchanged and again.previous["import_id"] == 1
    assert snapshot(ws.path) == before


def test_newer_export_updates_by_natural_key_and_keeps_earlier(tmp_path: Path) -> None:
    first = payments_csv(tmp_path / "a.csv", [
        "2026-10-01 10:12:00,ideal,EUR,10.00,open,tr_1,Order,Jan,,,EUR,,,"])
    second = payments_csv(tmp_path / "b.csv", [
        "2026-10-01 10:12:00,ideal,EUR,10.00,paidout,tr_1,Order,Jan,,,EUR,10.00,s1,",
        "2026-10-02 10:12:00,ideal,EUR,12.00,paid,tr_2,Order,Jan,,,EUR,,,"])
    ws = Workspace(tmp_path / "ws")
    ws.import_files([first])
    ws.import_files([second])
    current = ws.query("SELECT doc_key, status FROM documents ORDER BY doc_key").values.tolist()
    assert current == [["tr_1", "paidout"], ["tr_2", "paid"]]
    history = ws.query("SELECT import_id, status FROM document_versions WHERE doc_key = 'tr_1' "
                       "ORDER BY import_id").values.tolist()
    assert history == [[1, "open"], [2, "paidout"]]


def test_owner_only_permissions(tmp_path: Path, payments: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    ws.import_files([payments])
    for path in [ws.path, *ws.path.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, f"{path} is readable by others ({oct(mode)})"


def test_all_or_nothing_on_a_new_workspace(tmp_path: Path, payments: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("Date,Amount\n1,2\n")
    ws = Workspace(tmp_path / "ws")
    with pytest.raises(InputError, match="bad.csv"):
        ws.import_files([payments, bad])
    assert not ws.path.exists()


def test_all_or_nothing_on_an_existing_workspace(tmp_path: Path, payments: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    ws.import_files([payments])
    before = snapshot(ws.path)
    other = payments_csv(tmp_path / "other.csv", [
        "2026-10-01 10:12:00,ideal,EUR,10.00,open,tr_9,Order,Jan,,,EUR,,,"])
    ragged = tmp_path / "ragged.csv"
    ragged.write_text(payments.read_text(encoding="utf-8-sig") + "1,2,3\n")
    with pytest.raises(InputError, match=r"ragged.csv, row 6"):
        ws.import_files([other, ragged])
    assert snapshot(ws.path) == before


KILL = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from workbench.store.workspace import Workspace
    ws = Workspace(sys.argv[1])
    original = Workspace._commit
    def die(self, con):
        if sys.argv[3] == "after":
            original(self, con)
        os.kill(os.getpid(), signal.SIGKILL)
    Workspace._commit = die
    ws.import_files([Path(sys.argv[2])])
""")


@pytest.mark.parametrize("moment", ["before", "after"])
def test_import_killed_half_way(tmp_path: Path, payments: Path, moment: str) -> None:
    ws = Workspace(tmp_path / "ws")
    ws.import_files([payments])
    newer = payments_csv(tmp_path / "newer.csv", [
        "2026-11-01 10:12:00,ideal,EUR,10.00,open,tr_new,Order,Jan,,,EUR,,,"])
    before = snapshot(ws.path)
    proc = subprocess.run([sys.executable, "-c", KILL, str(ws.path), str(newer), moment],
                          capture_output=True, text=True, env={**os.environ})
    assert proc.returncode == -9
    assert (ws.path / ".staging").exists()  # the killed import left its staged raw file
    status = ws.status()  # opening the workspace finishes or undoes it
    assert not (ws.path / ".staging").exists()
    if moment == "before":
        assert snapshot(ws.path) == before
    else:
        assert len(status) == 2
        stored = status.file_sha256.tolist()[-1]
        assert (ws.raw_dir / stored).read_bytes() == newer.read_bytes()


def test_analyst_decision_feeds_a_field_on_the_next_import(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    first = tmp_path / "a.csv"
    lines = payments_csv(first).read_text(encoding="utf-8-sig").splitlines()
    first.write_text("\n".join([lines[0] + ",Klantmail"] + [f"{line},jan@example.nl" for line in lines[1:]]))
    [result] = ws.import_files([first])
    assert "Klantmail" in result.extract.unmapped
    ws.decide_column("mollie", "payments_csv", "Klantmail", field="email", category="user.contact.email")
    second = tmp_path / "b.csv"
    second.write_text(first.read_text().replace("Order 1001", "Order 1001b"))
    [result] = ws.import_files([second])
    assert result.extract.column_map["Klantmail"] == "email"
    emails = ws.query("SELECT DISTINCT value FROM identifiers WHERE \"column\" = 'Klantmail'")
    assert emails.value.tolist() == ["jan@example.nl"]
    decided = ws.query("SELECT category, decided_by FROM column_decisions").values.tolist()
    assert decided == [["user.contact.email", "analyst"]]


def test_failed_import_never_removes_a_folder_that_was_there(tmp_path: Path, payments: Path) -> None:
    home = tmp_path / "Documents"
    home.mkdir()
    (home / "brief.txt").write_text("mine")
    ws = Workspace(home)

    def fail(self, con):
        raise RuntimeError("disk full")

    original = Workspace._commit
    Workspace._commit = fail
    try:
        with pytest.raises(RuntimeError):
            ws.import_files([payments])
    finally:
        Workspace._commit = original
    assert sorted(p.name for p in home.iterdir()) == ["brief.txt"]


def test_compact_copes_with_a_quote_in_the_path(tmp_path: Path, payments: Path) -> None:
    ws = Workspace(tmp_path / "o'brien")
    ws.import_files([payments])
    ws.compact()
    assert ws.query("SELECT count(*) AS n FROM documents").n[0] == 4


# --- one schema, migrated on open --------------------------------------------------------------------

# What a workspace of the earlier workbench held before any link, request, mail or erasure: the tables
# the import made; every other table was created when first used.
_EARLIER_TABLES = {"imports", "columns", "raw_names", "raw_rows", "party_versions", "document_versions",
                   "identifier_versions", "column_decisions"}


def _as_an_earlier_workbench_left_it(ws: Workspace) -> None:
    with duckdb.connect(str(ws.db_path)) as con:
        tables = con.execute("SELECT table_name FROM information_schema.tables "
                             "WHERE table_type = 'BASE TABLE'").fetchall()
        for view in ("identifiers", "parties", "documents", "raw_records"):
            con.execute(f"DROP VIEW {view}")
        for (name,) in tables:
            if name not in _EARLIER_TABLES:
                con.execute(f'DROP TABLE "{name}"')
        # the request register before searches kept their query
        con.execute("""CREATE TABLE request_searches (
            request_id VARCHAR NOT NULL, system VARCHAR NOT NULL, result VARCHAR NOT NULL,
            method VARCHAR NOT NULL, searched_on DATE NOT NULL, recorded_at TIMESTAMP NOT NULL)""")
        con.execute("INSERT INTO request_searches VALUES ('R-2025-0001', 'mollie', 'found', 'manual', "
                    "DATE '2025-01-02', TIMESTAMP '2025-01-02 10:00:00')")


def _tables(ws: Workspace) -> set[str]:
    with duckdb.connect(str(ws.db_path), read_only=True) as con:
        found = con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    return {name for (name,) in found}


def test_a_new_workspace_has_the_whole_schema(tmp_path: Path, payments: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    ws.import_files([payments])
    every = {"subjects", "subject_lookup", "link_candidates", "link_decisions", "requests", "request_events",
             "request_searches", "mail_messages", "purges", "retention_holds", "audit_anchor", "outputs",
             "raw_records", "parties", "schema_version"}
    assert every <= _tables(ws)
    versions = ws.query("SELECT version FROM schema_version ORDER BY version")["version"].tolist()
    assert versions == [m.version for m in schema.MIGRATIONS] and versions[-1] == schema.LATEST
    # nothing linked yet is an empty table, and says so as before
    assert ws.is_empty("subjects") and not ws.is_empty("imports")
    with pytest.raises(WorkbenchError, match="no subjects yet: run 'workbench link' first"):
        linkage.find(ws, email="jan@example.nl")


def test_a_workspace_of_an_earlier_version_is_migrated_when_opened(tmp_path: Path, payments: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    ws.import_files([payments])
    documents = ws.query("SELECT * FROM documents ORDER BY doc_key")
    _as_an_earlier_workbench_left_it(ws)
    assert "subjects" not in _tables(ws) and "schema_version" not in _tables(ws)
    # a reader opening it has it brought up to date first
    assert ws.query("SELECT count(*) AS n FROM subjects")["n"][0] == 0
    assert {"subjects", "requests", "purges", "outputs", "raw_records", "schema_version"} <= _tables(ws)
    pd.testing.assert_frame_equal(ws.query("SELECT * FROM documents ORDER BY doc_key"), documents)
    searched = ws.query("SELECT system, query FROM request_searches")
    assert searched.values.tolist() == [["mollie", None]]  # the column an earlier version lacked
    assert ws.query("SELECT max(version) AS v FROM schema_version")["v"][0] == schema.LATEST
    with ws.connect() as con:  # once: a second open applies nothing
        assert schema.migrate(con) == []
    assert len(ws.query("SELECT * FROM schema_version")) == len(schema.MIGRATIONS)


def test_subjects_linked_under_the_keyed_table_survive_its_migration(tmp_path: Path, payments: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    ws.import_files([payments])
    linkage.link(ws)
    linked = ws.query("SELECT * FROM subjects ORDER BY service, export_kind, party_key")
    with duckdb.connect(str(ws.db_path)) as con:  # as migration 1 alone left it: with its primary key
        con.execute("DELETE FROM schema_version WHERE version > 1")
        con.execute("CREATE TABLE keyed AS SELECT * FROM subjects")
        con.execute("DROP TABLE subjects")
        con.execute(f"CREATE TABLE subjects ({_SUBJECT_COLUMNS}, "
                    "PRIMARY KEY (service, export_kind, party_key))")
        con.execute("INSERT INTO subjects SELECT * FROM keyed")
        con.execute("DROP TABLE keyed")
    kinds = "SELECT constraint_type FROM duckdb_constraints() WHERE table_name = 'subjects'"
    assert ws.query(kinds)["constraint_type"].tolist() == ["NOT NULL"]  # migrated when opened
    pd.testing.assert_frame_equal(ws.query("SELECT * FROM subjects ORDER BY service, export_kind, party_key"),
                                  linked)
    linkage.link(ws)  # and linking again replaces the rows, one per party
    assert len(ws.query("SELECT DISTINCT service, export_kind, party_key FROM subjects")) == len(linked)


_SUBJECT_COLUMNS = """subject_id VARCHAR NOT NULL, service VARCHAR, export_kind VARCHAR, party_key VARCHAR,
    how VARCHAR, probability DOUBLE, evidence VARCHAR, linked_at TIMESTAMP"""


def test_a_transaction_commits_or_rolls_back(tmp_path: Path, payments: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    ws.import_files([payments])
    with ws.transaction() as con:
        con.execute("INSERT INTO audit_anchor VALUES (1, 'a', now()::TIMESTAMP)")
    with pytest.raises(RuntimeError), ws.transaction() as con:
        con.execute("INSERT INTO audit_anchor VALUES (2, 'b', now()::TIMESTAMP)")
        raise RuntimeError("half-way")
    with ws.connect() as con, pytest.raises(RuntimeError), ws.transaction(con):
        con.execute("DELETE FROM audit_anchor")
        raise RuntimeError("half-way")
    assert ws.query("SELECT seq, hash FROM audit_anchor").values.tolist() == [[1, "a"]]


def test_a_registered_journal_is_finished_by_the_next_writer(tmp_path: Path, payments: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    ws = Workspace(tmp_path / "ws")
    ws.import_files([payments])
    finished = []

    def finish(opened: Workspace) -> None:
        finished.append(opened.path)
        (opened.path / ".test-journal").unlink()

    monkeypatch.setitem(workspace_module._RECOVERY, ".test-journal", finish)
    (ws.path / ".test-journal").write_text("{}")
    assert len(ws.status()) == 1  # a reader: a writer's open finishes it first
    assert finished == [ws.path] and not (ws.path / ".test-journal").exists()
    with ws.connect():
        pass
    assert finished == [ws.path]  # nothing left to finish

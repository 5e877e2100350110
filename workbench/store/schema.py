"""The workspace database's whole schema: every table and view, in one place.

A ``schema_version`` table records which of the ordered :data:`MIGRATIONS` a database has had. The
workspace applies the missing ones when it opens (:func:`migrate`), each in its own transaction,
so a database written by an earlier workbench (which created most tables only when first used)
is brought up to date once, and every table exists from then on: a reader finds an empty table
where nothing was imported or recorded yet, never a missing one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import duckdb

from workbench.ingest.model import DOCUMENT_COLUMNS, FIELDS, PARTY_COLUMNS


def _sql_type(name: str) -> str:
    typed = FIELDS[name].type if name in FIELDS else "text"
    return {"date": "TIMESTAMP", "amount": "DECIMAL(18,2)"}.get(typed, "VARCHAR")


def _columns_sql(columns: list[str]) -> str:
    return ", ".join(f"{c} {_sql_type(c)}" for c in columns)


_VERSION_KEYS = "import_id INTEGER NOT NULL, service VARCHAR NOT NULL, export_kind VARCHAR NOT NULL"

# Imported exports: each file, its columns, its original cells, and every version of every record.
IMPORTS = f"""
CREATE SEQUENCE IF NOT EXISTS import_ids START 1;
CREATE TABLE IF NOT EXISTS imports (
    import_id INTEGER PRIMARY KEY, file_sha256 VARCHAR NOT NULL UNIQUE, stored_sha256 VARCHAR,
    file_name VARCHAR, service VARCHAR, export_kind VARCHAR, export_title VARCHAR,
    rows INTEGER, parties INTEGER, documents INTEGER, imported_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS columns (
    import_id INTEGER, position INTEGER, name VARCHAR, field VARCHAR, personal BOOLEAN);
-- Every source record's original cells, once, as text in column order; the names once per import.
CREATE TABLE IF NOT EXISTS raw_names (import_id INTEGER PRIMARY KEY, names VARCHAR[]);
CREATE TABLE IF NOT EXISTS raw_rows (import_id INTEGER, source_row INTEGER, cells VARCHAR[]);
CREATE TABLE IF NOT EXISTS party_versions ({_VERSION_KEYS}, source_row INTEGER,
    {_columns_sql(PARTY_COLUMNS)});
CREATE TABLE IF NOT EXISTS document_versions ({_VERSION_KEYS}, source_row INTEGER,
    {_columns_sql(DOCUMENT_COLUMNS)});
CREATE TABLE IF NOT EXISTS identifier_versions ({_VERSION_KEYS}, source_row INTEGER, party_key VARCHAR,
    "column" VARCHAR, kind VARCHAR, raw_value VARCHAR, value VARCHAR, valid BOOLEAN);
-- The analyst's word on single columns; it wins over detectors and synonyms on the next import.
CREATE TABLE IF NOT EXISTS column_decisions (
    service VARCHAR, export_kind VARCHAR, "column" VARCHAR, field VARCHAR, category VARCHAR,
    personal BOOLEAN, decided_by VARCHAR, decided_at TIMESTAMP, note VARCHAR,
    PRIMARY KEY (service, export_kind, "column"));
-- What the workbench wrote about subjects (packages, lists), so an erasure finds them.
CREATE TABLE IF NOT EXISTS outputs (
    path VARCHAR NOT NULL, kind VARCHAR NOT NULL, request_id VARCHAR, subjects VARCHAR[],
    written_at TIMESTAMP NOT NULL);
"""

# A mailbox's index (workbench.datamap.mail): the messages stay in the mbox under raw/.
MAIL = """
CREATE TABLE IF NOT EXISTS mail_messages (
    import_id INTEGER, msg_no INTEGER, file VARCHAR, "offset" BIGINT, length BIGINT,
    message_id VARCHAR, sent_at TIMESTAMPTZ, subject VARCHAR, thread VARCHAR, labels VARCHAR[],
    attachments INTEGER);
CREATE TABLE IF NOT EXISTS mail_addresses (
    import_id INTEGER, msg_no INTEGER, role VARCHAR, address VARCHAR, name VARCHAR);
CREATE TABLE IF NOT EXISTS mail_mentions (
    import_id INTEGER, msg_no INTEGER, part VARCHAR, kind VARCHAR, value VARCHAR);
CREATE TABLE IF NOT EXISTS mail_text (import_id INTEGER, msg_no INTEGER, part VARCHAR, text VARCHAR);
CREATE TABLE IF NOT EXISTS mail_attachments (
    import_id INTEGER, msg_no INTEGER, position INTEGER, name VARCHAR, content_type VARCHAR,
    size BIGINT, sha256 VARCHAR, note VARCHAR);
CREATE INDEX IF NOT EXISTS mail_addresses_address ON mail_addresses (address);
CREATE INDEX IF NOT EXISTS mail_mentions_value ON mail_mentions (value);
"""

# Subjects: parties linked across the systems (workbench.datamap.linkage), and the analyst's decisions.
LINKAGE = """
CREATE TABLE IF NOT EXISTS subjects (
    subject_id VARCHAR NOT NULL, service VARCHAR, export_kind VARCHAR, party_key VARCHAR,
    how VARCHAR, probability DOUBLE, evidence VARCHAR, linked_at TIMESTAMP,
    PRIMARY KEY (service, export_kind, party_key));
-- what find() looks a party up by ('email:...', 'name:...'), sorted by it; an erasure removes a
-- subject's rows here with its rows in subjects
CREATE TABLE IF NOT EXISTS subject_lookup (
    lookup_key VARCHAR, subject_id VARCHAR, service VARCHAR, export_kind VARCHAR);
CREATE TABLE IF NOT EXISTS link_candidates (
    candidate_id VARCHAR PRIMARY KEY, subject_a VARCHAR, subject_b VARCHAR,
    service_a VARCHAR, export_kind_a VARCHAR, party_key_a VARCHAR,
    service_b VARCHAR, export_kind_b VARCHAR, party_key_b VARCHAR,
    probability DOUBLE, evidence VARCHAR, reason VARCHAR, found_at TIMESTAMP);
CREATE SEQUENCE IF NOT EXISTS link_decision_ids START 1;
CREATE TABLE IF NOT EXISTS link_decisions (
    decision_id INTEGER, action VARCHAR, service_a VARCHAR, export_kind_a VARCHAR,
    party_key_a VARCHAR, service_b VARCHAR, export_kind_b VARCHAR, party_key_b VARCHAR,
    subject_id VARCHAR, note VARCHAR, decided_at TIMESTAMP);
"""

# The register of data subject requests (workbench.rights.requests); ``query`` of a search came later,
# so it is the last column in every workspace.
REQUESTS = """
CREATE SEQUENCE IF NOT EXISTS request_event_ids START 1;
CREATE TABLE IF NOT EXISTS requests (
    request_id VARCHAR PRIMARY KEY, type VARCHAR NOT NULL, channel VARCHAR NOT NULL,
    email VARCHAR, name VARCHAR, email_hmac VARCHAR NOT NULL, name_hmac VARCHAR,
    received DATE NOT NULL, law_due DATE NOT NULL, policy_due DATE NOT NULL, due DATE NOT NULL,
    extension_months INTEGER NOT NULL DEFAULT 0, extended_due DATE, extension_reason VARCHAR,
    extension_told DATE,
    verify_method VARCHAR, verify_outcome VARCHAR, verified_on DATE,
    status VARCHAR NOT NULL, responded DATE, outcome VARCHAR, refusal_reason VARCHAR,
    duplicate_of VARCHAR, anonymised_on DATE,
    created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL);
CREATE TABLE IF NOT EXISTS request_events (
    event_id BIGINT PRIMARY KEY, request_id VARCHAR NOT NULL, recorded_at TIMESTAMP NOT NULL,
    action VARCHAR NOT NULL, detail JSON);
CREATE TABLE IF NOT EXISTS request_notes (
    request_id VARCHAR NOT NULL, written_at TIMESTAMP NOT NULL, note VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS request_searches (
    request_id VARCHAR NOT NULL, system VARCHAR NOT NULL, result VARCHAR NOT NULL,
    method VARCHAR NOT NULL, searched_on DATE NOT NULL, recorded_at TIMESTAMP NOT NULL);
ALTER TABLE request_searches ADD COLUMN IF NOT EXISTS query VARCHAR;
CREATE TABLE IF NOT EXISTS request_letters (
    request_id VARCHAR NOT NULL, kind VARCHAR NOT NULL, lang VARCHAR NOT NULL, dated DATE NOT NULL,
    sha256 VARCHAR NOT NULL, draft BOOLEAN NOT NULL, sent DATE, recorded_at TIMESTAMP NOT NULL);
"""

# Erasures (workbench.rights.erasure): records kept under a legal duty, what was removed, each purge.
ERASURE = """
CREATE TABLE IF NOT EXISTS retention_holds (
    service VARCHAR NOT NULL, export_kind VARCHAR NOT NULL, import_id INTEGER NOT NULL,
    source_row INTEGER NOT NULL, until DATE, rule VARCHAR NOT NULL, request_id VARCHAR,
    held_on DATE NOT NULL);
CREATE TABLE IF NOT EXISTS erased_raw_rows (
    request_id VARCHAR, import_id INTEGER NOT NULL, stored_sha256 VARCHAR NOT NULL,
    source_row INTEGER NOT NULL, erased_on DATE NOT NULL);
CREATE TABLE IF NOT EXISTS purges (
    purge_id VARCHAR PRIMARY KEY, request_id VARCHAR, subjects VARCHAR[] NOT NULL, purged_on DATE NOT NULL,
    details JSON NOT NULL, replaced_raw JSON, finished BOOLEAN NOT NULL);
CREATE TABLE IF NOT EXISTS raw_removed_rows (import_id INTEGER NOT NULL, source_row INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS raw_restored (
    request_id VARCHAR, purge_id VARCHAR NOT NULL, import_id INTEGER NOT NULL, old_sha256 VARCHAR NOT NULL,
    new_sha256 VARCHAR NOT NULL, rows_removed INTEGER NOT NULL, reason VARCHAR NOT NULL,
    restored_on DATE NOT NULL);
"""

# The head of the audit log's hash chain, kept apart from the log (workbench.audit.trail).
AUDIT = """
CREATE TABLE IF NOT EXISTS audit_anchor (
    seq INTEGER NOT NULL, hash VARCHAR NOT NULL, written_at TIMESTAMP NOT NULL);
"""

# A raw row's record as one JSON object of its original columns (``r``: raw_rows, ``n``: raw_names)
RECORD_JSON = "to_json(map_from_entries(list_zip(n.names, r.cells)))"

VIEWS = f"""
-- The current state: the newest version of each record by its natural key.
CREATE OR REPLACE VIEW parties AS SELECT * FROM party_versions
    QUALIFY row_number() OVER (PARTITION BY service, export_kind, party_key
                               ORDER BY import_id DESC) = 1;
CREATE OR REPLACE VIEW documents AS SELECT * FROM document_versions
    QUALIFY row_number() OVER (PARTITION BY service, export_kind, doc_key
                               ORDER BY import_id DESC) = 1;
CREATE OR REPLACE VIEW identifiers AS SELECT i.* FROM identifier_versions i
    JOIN parties p USING (import_id, service, export_kind, party_key);
-- Each source record as one JSON object of its original columns, made when read, never stored
-- twice; with its cells and their names, which a query over many rows reads instead
-- (workspace.RAW_VALUES_SQL).
CREATE OR REPLACE VIEW raw_records AS
    SELECT r.import_id, r.source_row, {RECORD_JSON} AS record,
           r.cells, n.names
    FROM raw_rows r JOIN raw_names n USING (import_id);
"""

VERSIONS = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, description VARCHAR NOT NULL);
"""


def _raw_records_as_rows(con: duckdb.DuckDBPyConnection) -> None:
    """A workspace that kept each record as JSON in a ``raw_records`` table has it moved into
    ``raw_rows`` (the cells in the columns' order) and ``raw_names``."""
    kind = con.execute("SELECT table_type FROM information_schema.tables "
                       "WHERE table_name = 'raw_records' AND table_schema = 'main'").fetchall()
    if kind and kind[0][0] == "BASE TABLE":
        cells = """json_transform(record, '"MAP(VARCHAR, VARCHAR)"')"""  # keeps the columns' order
        con.execute(f"""INSERT INTO raw_names SELECT import_id, any_value(map_keys({cells}))
                        FROM raw_records GROUP BY import_id""")
        con.execute(f"INSERT INTO raw_rows SELECT import_id, source_row, map_values({cells}) "
                    "FROM raw_records")
        con.execute("DROP TABLE raw_records")


def _whole_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Every table and view. An earlier workbench created each table when first used, so any of
    them may exist already (``IF NOT EXISTS``)."""
    for script in (IMPORTS, MAIL, LINKAGE, REQUESTS, ERASURE, AUDIT):
        con.execute(script)
    _raw_records_as_rows(con)
    con.execute(VIEWS)


def _subjects_without_key(con: duckdb.DuckDBPyConnection) -> None:
    """``subjects`` without its primary key. Linking replaces the whole table, and the index behind
    the key made each relink's commit take seconds on a large workspace; linking writes one row
    per party by construction."""
    con.execute("""CREATE TABLE subjects_unkeyed (
        subject_id VARCHAR NOT NULL, service VARCHAR, export_kind VARCHAR, party_key VARCHAR,
        how VARCHAR, probability DOUBLE, evidence VARCHAR, linked_at TIMESTAMP)""")
    con.execute("INSERT INTO subjects_unkeyed SELECT * FROM subjects ORDER BY subject_id")
    con.execute("DROP TABLE subjects")
    con.execute("ALTER TABLE subjects_unkeyed RENAME TO subjects")


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[duckdb.DuckDBPyConnection], None]


# In order; a new one goes at the end with the next number and is never changed once released.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "every table and view in place", _whole_schema),
    Migration(2, "subjects without a primary key", _subjects_without_key),
)
LATEST = MIGRATIONS[-1].version


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Begin; commit when the block ends, roll back when it raises."""
    con.begin()
    try:
        yield con
    except BaseException:
        con.rollback()
        raise
    con.commit()


def version(con: duckdb.DuckDBPyConnection) -> int:
    """The last migration this database has had; 0 for one written before versions were kept."""
    kept = con.execute("SELECT count(*) FROM information_schema.tables "
                       "WHERE table_name = 'schema_version' AND table_schema = 'main'").fetchall()[0][0]
    if not kept:
        return 0
    return con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchall()[0][0]


def migrate(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Apply the migrations this database has not had, each with its entry in ``schema_version``
    in one transaction; returns their numbers (none for a database that is up to date)."""
    done = version(con)
    applied = []
    for migration in MIGRATIONS:
        if migration.version <= done:
            continue
        with transaction(con):
            con.execute(VERSIONS)
            migration.apply(con)
            con.execute("INSERT INTO schema_version VALUES (?, ?)",
                        [migration.version, migration.description])
        applied.append(migration.version)
    return applied

"""The workspace: an embedded DuckDB database plus ``raw/``, every imported file kept unchanged
under its SHA-256.

Layout of a workspace directory (owner-only permissions throughout)::

    workbench.duckdb     the canonical tables, every version of every record (workbench.store.schema)
    raw/<sha256>         each imported file as it was (a masked copy where it held card numbers)
    mappings.toml        the user's extra header synonyms (optional)
    .staging/            files of an import that has not committed yet

One import is one transaction. Raw files are staged first and moved into ``raw/`` only after
the database has committed; on opening, staged files of a committed import are moved on and any
others removed, so an import killed at any point leaves the workspace as it was or as it would
have been after a clean import.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from workbench.errors import WorkbenchError
from workbench.ingest import headers, limits, sources, tabular
from workbench.ingest.model import FIELDS, Extract
from workbench.store import schema
from workbench.store.safe_files import fsync, sha256_file

DB_NAME = "workbench.duckdb"
OWNER_ONLY = 0o077
LOCK_NAME = ".lock"
COMPACT_MARK = ".compact-needed"  # the database still holds removed values in its free blocks
PENDING_OUTPUTS = ".outputs-pending.json"  # temporary outputs being written (Workspace.staging)
_LOCKS: dict[str, list] = {}  # workspace -> [lock fd, exclusive, depth] held by this process
_RECOVERING: set[str] = set()  # workspaces whose pending work this process is finishing
_STAGING: set[str] = set()  # workspaces this process is writing temporary outputs for
# A journal a layer above the workspace keeps in it, by file name, and what finishes or undoes the
# work it describes; registered by that layer (see on_recovery), called by a writer's open.
_RECOVERY: dict[str, Callable[[Workspace], None]] = {}


def on_recovery(journal: str, finish: Callable[[Workspace], None]) -> None:
    """Have ``finish(workspace)`` called when a writer opens a workspace holding the file
    ``journal`` (its name inside the workspace), before anything else is written: the module
    that keeps the journal finishes what a killed process of it left, and the workspace needs
    no knowledge of that module. A journal whose module this process never imported waits for the
    next process that did (every command of the command line imports them all)."""
    _RECOVERY[journal] = finish


class StorageError(WorkbenchError):
    """The disk is full or read-only, or another process holds the workspace."""


def _lock_wait() -> float:
    return float(os.environ.get("WORKBENCH_LOCK_WAIT", "60"))


def _lock_fd(path: Path, exclusive: bool) -> int | None:
    """The lock file's descriptor; None when a reader finds the workspace cannot be written."""
    lock = path / LOCK_NAME
    try:
        if exclusive:
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except FileNotFoundError:
        if exclusive:
            raise
        return None  # no workspace (yet): nothing to share
    except OSError as exc:
        if exclusive or exc.errno not in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise storage_problem(exc, path) from None
        try:
            return os.open(lock, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None


def _flock(fd: int, path: Path, exclusive: bool) -> None:
    """Take the lock; while another process holds it, say so once and wait a bounded time."""
    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    deadline, told = time.monotonic() + _lock_wait(), False
    while True:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise StorageError(
                    f"the workspace {path} is busy: another workbench process is "
                    f"{'using' if exclusive else 'writing'} it. Try again when it has finished "
                    "(set WORKBENCH_LOCK_WAIT to wait longer)") from None
            if not told:
                print(f"workbench: another workbench process is using {path}; waiting for it "
                      f"(up to {_lock_wait():.0f} s)", file=sys.stderr, flush=True)
                told = True
            time.sleep(0.1)


def _open_db(db_path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(str(db_path), read_only=read_only)
    except duckdb.ConnectionException:
        if not read_only:
            raise
        # this process writes the database already (a read inside a write): share that instance
        return duckdb.connect(str(db_path))
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():  # held by a program outside the workbench (a notebook, say)
            raise StorageError(
                f"the workspace database {db_path} is held by another program (a notebook or "
                "another workbench); close it and try again") from None
        raise


def storage_problem(exc: BaseException, path: Path) -> WorkbenchError | None:
    """A sentence for a full disk or a read-only file system, naming the disk; else None. The
    cause may be an earlier exception (a failed commit under the failed rollback it led to)."""
    seen = []
    while exc is not None and len(seen) < 5:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    code = next((e.errno for e in seen if getattr(e, "errno", None)), None)
    text = " ".join(str(e) for e in seen)
    if code in (errno.ENOSPC, errno.EDQUOT) or "No space left" in text or "Disk quota" in text:
        mount = _mount_point(path)
        return StorageError(
            f"the disk holding {path} (mounted at {mount}) is full; nothing was half-written. Free "
            "some space there and run the command again")
    if code == errno.EROFS or "Read-only file system" in text:
        return StorageError(
            f"the workspace {path} is on a read-only file system: commands that only read "
            "(status, find, show, request list) still work; to change it, make it writable")
    if code in (errno.EACCES, errno.EPERM) or "Permission denied" in text:
        return StorageError(f"the workspace {path} cannot be written (permission denied); "
                            "commands that only read still work")
    return None


def _mount_point(path: Path) -> Path:
    path = Path(os.path.abspath(path))
    while not path.exists() and path != path.parent:
        path = path.parent
    while not os.path.ismount(path) and path != path.parent:
        path = path.parent
    return path


@contextmanager
def storage_errors(path: Path):
    """Turn a full disk, a read-only file system (OSError or DuckDB's IOException) into a
    :class:`StorageError` that names the disk."""
    try:
        yield
    except (OSError, duckdb.Error) as exc:
        clear = storage_problem(exc, Path(path))
        if clear is None:
            raise
        raise clear from None


def write_durably(path: Path, data: bytes) -> None:
    """Write a small file whole or not at all: a temporary file, fsync, rename, fsync the folder."""
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with storage_errors(path.parent):
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temp, path)
            fsync(path.parent)
    finally:
        temp.unlink(missing_ok=True)


def default_path(explicit: str | Path | None = None) -> Path:
    """``--workspace DIR``, else ``$WORKBENCH_HOME``, else ``./workspace``."""
    return Path(explicit or os.environ.get("WORKBENCH_HOME") or "workspace")


# Small CSV files read together (see Workspace.read_files): at most this many bytes each, this many
# rows and files per table (each file's parsed table is held until its group is read: the memory
# of an import of many files stays that of one group).
SMALL_FILE_BYTES = 1 << 20
TOGETHER_ROWS = 200_000
TOGETHER_FILES = 500


def _groups(paths: Iterable[Path]) -> Iterator[list[tuple[Path, sources.Loaded | None]]]:
    """The files in order, small CSV files in a row with the same header row grouped (up to
    ``TOGETHER_ROWS`` rows), every other file alone."""
    group: list[tuple[Path, sources.Loaded | None]] = []
    rows = 0
    for path in paths:
        loaded = None
        if path.is_file() and tabular.checked_stat(path).st_size <= SMALL_FILE_BYTES:
            loaded = sources.load(path)
            # a web server log or a Parquet file is no table: read alone, by its own module
            loaded = loaded if loaded.format == "csv" and sources.streamed(path) is None else None
        fits = loaded is not None and group and group[0][1] is not None \
            and loaded.columns == group[0][1].columns and rows + len(loaded.table) <= TOGETHER_ROWS \
            and len(group) < TOGETHER_FILES
        if group and not fits:
            yield group
            group, rows = [], 0
        group.append((path, loaded))
        rows += len(loaded.table) if loaded is not None else 0
    if group:
        yield group


def _counted(extract: Extract, counts: dict[str, int]) -> Extract:
    """What one file of a batch holds, as counts: the rows themselves stay in the batch."""
    return Extract(extract.kind, _rows(counts["raw"]), _rows(counts["parties"]), _rows(counts["documents"]),
                   extract.column_map, _rows(counts["ids"]), None, extract.recognition)


@lru_cache(maxsize=256)
def _rows(n: int) -> pd.DataFrame:
    """``n`` rows without columns, shared by the files that count as many (they are only counted)."""
    return pd.DataFrame(index=pd.RangeIndex(n))


# Some rows' original records, each as one JSON object (as the ``raw_records`` view makes them), for
# a join: format ``rows`` with a table or subquery of the wanted ``import_id, source_row``. The view
# would make the JSON of every row of every export before the join picks a few of them.
RAW_RECORDS_OF = f"""(SELECT r.import_id, r.source_row, {schema.RECORD_JSON} AS record
    FROM raw_rows r JOIN raw_names n USING (import_id)
    WHERE (r.import_id, r.source_row) IN (SELECT import_id, source_row FROM {{rows}}))"""

# The values of some columns of a raw_records row, as a list, straight from its cells (no JSON is
# made or parsed): format ``names`` with SQL giving a VARCHAR[] of column names (``?::VARCHAR[]``).
# A column the row's file lacks gives NULL, as a JSON path would.
RAW_VALUES_SQL = "list_transform({names}, lambda wanted: cells[list_position(names, wanted)])"


@dataclass
class ImportResult:
    """What one file did to the workspace."""

    path: Path
    extract: Extract
    sha256: str
    import_id: int | None = None  # None when the file was imported before
    previous: dict = field(default_factory=dict)
    data: bytes = field(default=b"", repr=False)  # the bytes parsed and hashed, until staged
    # A small file read together with others of the same header: ``extract`` then holds its own
    # counts and columns, ``batch`` the rows of all of them (numbered as sources.FILE_STRIDE says)
    # and ``number`` this file's place among them.
    batch: Extract | None = field(default=None, repr=False)
    number: int = 0

    @property
    def unchanged(self) -> bool:
        return self.import_id is None


class Workspace:
    """A workspace directory; open it with :meth:`open` (creating it) or :meth:`existing`."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = default_path(path)
        self.db_path = self.path / DB_NAME
        self.raw_dir = self.path / "raw"
        self.staging_dir = self.path / ".staging"
        self.mappings = self.path / "mappings.toml"

    @property
    def exists(self) -> bool:
        return self.db_path.exists()

    @contextmanager
    def connect(self, read_only: bool = False):
        """A DuckDB connection; creates the workspace when it does not exist yet.

        A writer holds the workspace's lock (``.lock``, :func:`fcntl.flock`) exclusively, a reader
        shares it, so a second writer waits (up to ``$WORKBENCH_LOCK_WAIT`` seconds, 60 by default)
        with a message instead of failing half-way. A writer first finishes what a killed process
        left: an import's staged files, an erasure's journal, a pending compaction. Disk full,
        read-only file system and a database held elsewhere become a :class:`WorkbenchError`.
        """
        os.umask(OWNER_ONLY)  # everything this process writes holds personal data
        if read_only and self._left_behind() and self._key() not in _LOCKS and os.access(self.path, os.W_OK):
            with self.connect():  # a reader sees what the killed process would have committed
                pass
        with self.locked(exclusive=not read_only), storage_errors(self.path):
            if not read_only and not self.exists:
                self._create()
            if not read_only and self._key() not in _RECOVERING:
                self._finish_pending()
            con = self._opened(read_only)
            try:
                if not read_only:
                    schema.migrate(con)  # a workspace of an earlier version is brought up to date
                    self._recover(con)
                yield con
            finally:
                con.close()

    def _opened(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        """The database; a reader that finds it written by an earlier version has a writer bring it up
        to date first (when it can be written), so every table it reads exists."""
        con = _open_db(self.db_path, read_only)
        if not read_only or schema.version(con) >= schema.LATEST or not os.access(self.path, os.W_OK):
            return con
        con.close()
        with self.connect():
            pass
        return _open_db(self.db_path, read_only)

    @contextmanager
    def transaction(self, con: duckdb.DuckDBPyConnection | None = None
                    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """One transaction: begun, committed when the block ends, rolled back when it raises. On
        ``con`` (a write connection of this workspace) when given, else on a new write connection."""
        if con is None:
            with self.connect() as opened, self.transaction(opened):
                yield opened
            return
        con.begin()
        try:
            yield con
            self._commit(con)
        except BaseException:
            con.rollback()
            raise

    def _commit(self, con: duckdb.DuckDBPyConnection) -> None:
        """Every transaction's commit, in one place: the fault tests stop a process just before or
        after it."""
        con.commit()

    @contextmanager
    def locked(self, exclusive: bool = True):
        """Hold the workspace's lock for a whole action (re-entrant within this process)."""
        key = self._key()
        held = _LOCKS.get(key)
        if held is not None:
            if exclusive and not held[1]:
                _flock(held[0], self.path, exclusive=True)
                held[1] = True
            held[2] += 1
            try:
                yield
            finally:
                held[2] -= 1
            return
        fd = _lock_fd(self.path, exclusive)
        if fd is None:  # a read-only workspace: nobody can write it, so there is nothing to wait for
            yield
            return
        try:
            _flock(fd, self.path, exclusive)
            _LOCKS[key] = [fd, exclusive, 1]
            yield
        finally:
            _LOCKS.pop(key, None)
            os.close(fd)  # closing releases the lock

    def _create(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path.chmod(0o700)
        self.raw_dir.mkdir(exist_ok=True, mode=0o700)
        con = _open_db(self.db_path, False)
        try:
            schema.migrate(con)
        finally:
            con.close()

    def _key(self) -> str:
        return str(self.path.resolve())

    def _left_behind(self) -> bool:
        """Whether a killed writer left work to finish or undo."""
        marks = (self.staging_dir, self.path / COMPACT_MARK, self.path / PENDING_OUTPUTS,
                 *(self.path / name for name in _RECOVERY))
        return any(p.exists() for p in marks) or any(self.path.glob(".compact-*.duckdb*"))

    def _finish_pending(self) -> None:
        """Finish, or roll back, what a process killed half-way left behind in a registered journal
        (an erasure's, see :func:`on_recovery`); redo a compaction that did not complete; remove
        its leftover copies."""
        pending = [p for p in self.path.glob(".compact-*.duckdb*") if p.is_file()]
        journals = [finish for name, finish in _RECOVERY.items() if (self.path / name).exists()]
        if (self.path / PENDING_OUTPUTS).exists() and self._key() not in _STAGING:
            self._remove_pending()  # a killed process's: this one's are still being written
        if not pending and not journals and not (self.path / COMPACT_MARK).exists():
            return
        _RECOVERING.add(self._key())
        try:
            for leftover in pending:
                leftover.unlink(missing_ok=True)
            for finish in journals:
                finish(self)
            if (self.path / COMPACT_MARK).exists():
                self.compact()
        finally:
            _RECOVERING.discard(self._key())

    def _recover(self, con: duckdb.DuckDBPyConnection) -> None:
        """Finish or undo what an import killed half-way left in ``.staging``."""
        if not self.staging_dir.exists():
            return
        committed = {r[0] for r in con.execute("SELECT stored_sha256 FROM imports").fetchall()}
        for batch in self.staging_dir.iterdir():
            for staged in batch.iterdir():
                if staged.name in committed:
                    staged.replace(self.raw_dir / staged.name)
                else:
                    staged.unlink()
            batch.rmdir()
        self.staging_dir.rmdir()

    @contextmanager
    def staging(self, *paths: Path):
        """Temporary outputs (a package before it is logged and moved into place), noted durably in
        the workspace while they are written: whatever is left of them is removed afterwards, also
        by the next writer when this process is killed."""
        with self.locked():
            write_durably(self.path / PENDING_OUTPUTS,
                          json.dumps([str(Path(p).resolve()) for p in paths]).encode("utf-8"))
            _STAGING.add(self._key())
            try:
                yield
            finally:
                _STAGING.discard(self._key())
                self._remove_pending()

    def _remove_pending(self) -> None:
        marker = self.path / PENDING_OUTPUTS
        try:
            paths = [Path(p) for p in json.loads(marker.read_text("utf-8"))]
        except (OSError, ValueError):
            paths = []
        for path in paths:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        marker.unlink(missing_ok=True)

    def mark_compact(self) -> None:
        """Note, durably, that the database must be rewritten; made before a transaction that
        removes personal data commits, removed by :meth:`compact`, so a kill in between is
        finished by the next writer."""
        write_durably(self.path / COMPACT_MARK, b"compact\n")

    # ---------------------------------------------------------------------------------------
    # import

    def read_files(self, paths: Iterable[Path], source: str | None = None,
                   progress: Callable[[Path, int], None] | None = None) -> list[ImportResult]:
        """Read and check every file before anything is written (all or nothing). Small CSV files
        in a row with the same header are read together, as one table: the per-file work is what
        makes thousands of small exports slow."""
        results = []
        mappings = self.header_mappings()
        with limits.using(limits.for_workspace(self.path)):
            for group in _groups(map(Path, paths)):
                together = self._read_together(group, source, mappings) if len(group) > 1 else None
                for i, (path, _) in enumerate(group):
                    results.append(together[i] if together else self._read_file(path, source, mappings))
                    if progress:
                        progress(path, len(results[-1].extract.raw))
        return results

    @staticmethod
    def _read_together(group: list[tuple[Path, sources.Loaded]], source: str | None,
                       mappings: headers.Mappings) -> list[ImportResult] | None:
        """Small CSV files with one header read as one table; None when that table is refused or
        needs a masked copy of a file: each file is then read alone, so an error names its file."""
        tables = [loaded.table.set_axis(loaded.table.index + i * sources.FILE_STRIDE)
                  for i, (_, loaded) in enumerate(group)]
        first = group[0][1]
        combined = sources.Loaded(first.path, first.data, "csv")
        combined.__dict__["table"] = pd.concat(tables)  # the cached table of all of them
        try:
            with sources.holding(combined):
                extract = sources.read(first.path, source, mappings)
        except WorkbenchError:
            return None
        frames = (extract.parties, extract.documents, extract.identifiers)
        if extract.keep_bytes is not None or any("source_row" not in f.columns for f in frames):
            return None
        counts = {name: np.bincount(sources.file_numbers(rows), minlength=len(group)) for name, rows in (
            ("raw", extract.raw.index), ("parties", extract.parties["source_row"]),
            ("documents", extract.documents["source_row"]), ("ids", extract.identifiers["source_row"]))}
        return [ImportResult(path, _counted(extract, {k: int(v[i]) for k, v in counts.items()}),
                             hashlib.sha256(loaded.data).hexdigest(), data=loaded.data, batch=extract,
                             number=i) for i, (path, loaded) in enumerate(group)]

    @staticmethod
    def _read_file(path: Path, source: str | None, mappings: headers.Mappings) -> ImportResult:
        """One file read once: the bytes every module parses are the ones hashed and kept."""
        with sources.held(path) as loaded:
            extract = sources.read(path, source, mappings)
        sources.release()  # the extract holds what the import needs; not the file twice over
        return ImportResult(path, extract, hashlib.sha256(loaded.data).hexdigest(), data=loaded.data)

    def import_files(self, paths: Iterable[Path], source: str | None = None,
                     progress: Callable[[Path, int], None] | None = None) -> list[ImportResult]:
        """Import files in one transaction; a file imported before changes nothing."""
        results = self.read_files(paths, source, progress)
        folder_existed, created = self.path.exists(), not self.exists
        try:
            with self.connect() as con:
                self._write(con, results)
        except BaseException:
            if created:  # undo only what this import made; never a folder that was there before
                if folder_existed:
                    shutil.rmtree(self.raw_dir, ignore_errors=True)
                    self.db_path.unlink(missing_ok=True)
                    self.db_path.with_name(DB_NAME + ".wal").unlink(missing_ok=True)
                    (self.path / LOCK_NAME).unlink(missing_ok=True)
                else:
                    shutil.rmtree(self.path, ignore_errors=True)
            raise
        return results

    def _write(self, con: duckdb.DuckDBPyConnection, results: list[ImportResult]) -> None:
        batch = self.staging_dir / uuid.uuid4().hex
        try:
            with self.transaction(con):
                self._insert_new(con, results, batch)
        except BaseException:
            shutil.rmtree(batch, ignore_errors=True)
            if self.staging_dir.exists() and not any(self.staging_dir.iterdir()):
                self.staging_dir.rmdir()
            raise
        self._recover(con)

    def _insert_new(self, con: duckdb.DuckDBPyConnection, results: list[ImportResult], batch: Path) -> None:
        """The files not imported before; one imported before notes when it was."""
        found = con.execute("SELECT file_sha256, import_id, imported_at FROM imports WHERE "
                            "list_contains(?, file_sha256)", [[r.sha256 for r in results]]).fetchall()
        known = {sha: {"import_id": import_id, "imported_at": at} for sha, import_id, at in found}
        seen: set[str] = set()
        waiting: list[ImportResult] = []  # new files of the batch read together last
        for result in results:
            if waiting and result.batch is not waiting[0].batch:
                self._insert_batch(con, waiting, batch)
                waiting = []
            if result.sha256 in known or result.sha256 in seen:
                result.previous = known.get(result.sha256, {})
                continue
            seen.add(result.sha256)
            if result.batch is None:
                result.import_id = self._insert(con, result, batch)
            else:
                waiting.append(result)
        if waiting:
            self._insert_batch(con, waiting, batch)

    def _insert(self, con: duckdb.DuckDBPyConnection, result: ImportResult, batch: Path) -> int:
        import_id = con.execute("SELECT nextval('import_ids')").fetchall()[0][0]
        result.import_id = import_id
        self._insert_imports(con, [result], batch)
        extract = result.extract
        numbers = {name: np.full(len(frame), import_id) for name, frame in (
            ("raw", extract.raw), ("parties", extract.parties), ("documents", extract.documents),
            ("identifiers", extract.identifiers))}
        self._insert_rows(con, extract, numbers, {"raw": extract.raw.index.to_numpy("int64")})
        return import_id

    def _insert_batch(self, con: duckdb.DuckDBPyConnection, members: list[ImportResult], batch: Path) -> None:
        """The new files of a batch read together, in a few statements whatever their number: each
        row goes in under its own file's import id and row number."""
        ids = sorted(r[0] for r in con.execute("SELECT nextval('import_ids') FROM range(?)",
                                               [len(members)]).fetchall())
        for member, import_id in zip(members, ids, strict=True):
            member.import_id = import_id
        self._insert_imports(con, members, batch)
        extract = members[0].batch
        of_file = np.full(max(m.number for m in members) + 1, -1, dtype=np.int64)
        of_file[[m.number for m in members]] = ids
        numbers, rows = {}, {}
        for name, where in (("raw", extract.raw.index), ("parties", extract.parties["source_row"]),
                            ("documents", extract.documents["source_row"]),
                            ("identifiers", extract.identifiers["source_row"])):
            files = sources.file_numbers(where)
            numbers[name] = np.where(files < len(of_file), of_file[np.minimum(files, len(of_file) - 1)], -1)
            rows[name] = np.asarray(where, dtype=np.int64) - files * sources.FILE_STRIDE
        self._insert_rows(con, extract, numbers, rows)

    def _insert_imports(self, con: duckdb.DuckDBPyConnection, results: list[ImportResult],
                        batch: Path) -> None:
        """Stage each file's bytes; its line in ``imports``, its columns and their names."""
        kind = results[0].extract.kind
        stored = [self._stage(r, batch) for r in results]
        imports = pd.DataFrame({
            "import_id": [r.import_id for r in results], "file_sha256": [r.sha256 for r in results],
            "stored_sha256": stored, "file_name": [r.path.name for r in results],
            "service": kind.service, "export_kind": kind.name, "export_title": kind.title,
            "rows": [len(r.extract.raw) for r in results],
            "parties": [len(r.extract.parties) for r in results],
            "documents": [len(r.extract.documents) for r in results]})
        columns = pd.DataFrame(
            [[r.import_id, i, name, target, bool(target in FIELDS and FIELDS[target].personal)]
             for r in results for i, (name, target) in enumerate(r.extract.column_map.items())],
            columns=["import_id", "position", "name", "field", "personal"]).astype({"field": "object"})
        read = [r.batch if r.batch is not None else r.extract for r in results]
        names = pa.table({"import_id": [r.import_id for r in results],
                          "names": [[str(c) for c in extract.raw.columns] for extract in read]})
        for table, frame in (("imports", imports), ("columns", columns), ("raw_names", names)):
            con.register("incoming", frame)
            now = ", now()::TIMESTAMP AS imported_at" if table == "imports" else ""
            con.execute(f"INSERT INTO {table} BY NAME SELECT *{now} FROM incoming")
            con.unregister("incoming")

    @staticmethod
    def _insert_rows(con: duckdb.DuckDBPyConnection, extract: Extract, numbers: dict[str, np.ndarray],
                     rows: dict[str, np.ndarray]) -> None:
        """Every row of the extract under the import id ``numbers`` gives it (-1: a file imported
        before, left out) and its row number in its own file."""
        kind = extract.kind
        raw = extract.raw
        wanted = numbers["raw"] >= 0
        frame = pa.table({**{f"c{i}": pa.array(raw.iloc[:, i].astype("str"), from_pandas=True)
                             for i in range(len(raw.columns))},
                          "import_id": pa.array(numbers["raw"]), "source_row": pa.array(rows["raw"])})
        cells = ", ".join(f"c{i}" for i in range(len(raw.columns)))
        con.register("incoming_raw", _kept(frame, wanted))
        con.execute(f"INSERT INTO raw_rows SELECT import_id, source_row, [{cells}]::VARCHAR[] "
                    "FROM incoming_raw")
        con.unregister("incoming_raw")
        for table, name, frame in [("party_versions", "parties", extract.parties),
                                   ("document_versions", "documents", extract.documents),
                                   ("identifier_versions", "identifiers", extract.identifiers)]:
            # handed over as Arrow: DuckDB reads pandas' Arrow-backed text far slower through pandas
            incoming = pa.Table.from_pandas(frame, preserve_index=False)
            incoming = _with_column(incoming, "import_id", pa.array(numbers[name]))
            if name in rows:
                incoming = _with_column(incoming, "source_row", pa.array(rows[name]))
            con.register("incoming", _kept(incoming, numbers[name] >= 0))
            con.execute(f"INSERT INTO {table} BY NAME SELECT *, ? AS service, ? AS export_kind FROM incoming",
                        [kind.service, kind.name])
            con.unregister("incoming")

    def _stage(self, result: ImportResult, batch: Path) -> str:
        """Put the bytes that were parsed (or their masked copy) in the staging folder under
        their SHA-256; the file on disk is not read again, it may have changed or gone."""
        batch.mkdir(parents=True, exist_ok=True)
        incoming = batch / ".incoming"
        incoming.write_bytes(result.extract.keep_bytes if result.extract.keep_bytes is not None
                             else result.data)
        sha = sha256_file(incoming)
        if (self.raw_dir / sha).exists():
            incoming.unlink()
        else:
            incoming.replace(batch / sha)
        result.data = b""  # staged: not held in memory while the rows go in (a large file's worth)
        return sha

    def compact(self) -> None:
        """Rewrite the database file so that removed values do not linger in its free blocks.

        DuckDB leaves deleted and overwritten strings in unused blocks of the file, where a byte-level
        look would still find them. A copy holds live data only; it replaces the file atomically.
        The mark of :meth:`mark_compact` goes only once the copy is in place; a copy a killed process
        left behind is removed by the next writer. (Blocks the file system itself freed are beyond
        the workbench: use full-disk encryption.)
        """
        fresh = self.path / f".compact-{uuid.uuid4().hex}.duckdb"
        with self.locked():
            recovering = self._key() in _RECOVERING
            _RECOVERING.add(self._key())  # its own connect finishes nothing
            try:
                with self.connect() as con:
                    con.execute("CHECKPOINT")
                    name = con.execute("SELECT current_database()").fetchone()[0]
                    con.execute(f"ATTACH '{str(fresh).replace(chr(39), chr(39) * 2)}' AS compacted")
                    con.execute(f'COPY FROM DATABASE "{name}" TO compacted')
                    con.execute("DETACH compacted")
                with storage_errors(self.path):
                    fresh.chmod(0o600)
                    fsync(fresh)
                    os.replace(fresh, self.db_path)
                    fsync(self.path)
                    (self.path / COMPACT_MARK).unlink(missing_ok=True)
            finally:
                if not recovering:
                    _RECOVERING.discard(self._key())
                for leftover in (fresh, fresh.with_name(fresh.name + ".wal")):
                    leftover.unlink(missing_ok=True)

    # ---------------------------------------------------------------------------------------
    # outputs: what the workbench wrote about subjects (packages, lists), so an erasure finds them

    def remember_output(self, kind: str, paths: Iterable[Path], request_id: str | None,
                        subjects: Iterable[str]) -> None:
        """Record where a package or list of these subjects was written: relative to the workspace
        when inside it (so a copied or moved workspace still finds it), else absolute."""
        inside = self.path.resolve()
        rows = []
        for path in map(lambda p: Path(p).resolve(), paths):
            where = path.relative_to(inside) if path.is_relative_to(inside) else path
            rows.append([str(where), kind, request_id, list(subjects)])
        with self.connect() as con:
            con.executemany("INSERT INTO outputs VALUES (?, ?, ?, ?, now()::TIMESTAMP)", rows)

    def outputs(self, subjects: list[str]) -> pd.DataFrame:
        """The recorded outputs about any of these subjects."""
        with self.connect() as con:
            return con.execute("SELECT * FROM outputs WHERE list_has_any(subjects, ?::VARCHAR[]) "
                               "ORDER BY written_at", [subjects]).df()

    def forget_outputs(self, paths: list[str]) -> None:
        with self.connect() as con:
            con.execute("DELETE FROM outputs WHERE list_contains(?::VARCHAR[], path)", [paths])

    # ---------------------------------------------------------------------------------------
    # the analyst's decisions

    def header_mappings(self) -> headers.Mappings:
        """The user's synonyms and the analyst's column decisions, for reading exports."""
        if not self.exists:
            return headers.Mappings(self.mappings)
        decided = self.query("""SELECT service, export_kind, "column", field FROM column_decisions
                                WHERE field IS NOT NULL""")
        return headers.Mappings(self.mappings, tuple(map(tuple, decided.values.tolist())))

    def decide_column(self, service: str, export_kind: str, column: str, *, field: str | None = None,
                      category: str | None = None, personal: bool = True,
                      decided_by: str = "analyst", note: str = "") -> None:
        """Record what a column holds; with a canonical ``field`` it feeds that field from the
        next import on."""
        if field is not None and field not in FIELDS:
            raise WorkbenchError(f"{field!r} is not a canonical field; expected one of {sorted(FIELDS)}")
        with self.connect() as con:
            con.execute("INSERT OR REPLACE INTO column_decisions VALUES (?, ?, ?, ?, ?, ?, ?, "
                        "now()::TIMESTAMP, ?)",
                        [service, export_kind, column, field, category, personal, decided_by, note])

    # ---------------------------------------------------------------------------------------
    # reading

    def status(self) -> pd.DataFrame:
        """What is imported: per file its service, export, hash, import date and counts."""
        if not self.exists:
            return pd.DataFrame()
        with self.connect(read_only=True) as con:
            return con.execute("""
                SELECT service, export_kind, export_title, import_id, file_name, file_sha256,
                       imported_at, rows, parties, documents
                FROM imports ORDER BY service, export_kind, import_id""").df()

    def summary(self) -> pd.DataFrame:
        """Current parties, documents and identifiers per service and export."""
        return self.query("""
            SELECT service, export_kind,
                   (SELECT count(*) FROM parties p WHERE p.service = i.service
                        AND p.export_kind = i.export_kind) AS parties,
                   (SELECT count(*) FROM documents d WHERE d.service = i.service
                        AND d.export_kind = i.export_kind) AS documents,
                   (SELECT count(*) FROM identifiers x WHERE x.service = i.service
                        AND x.export_kind = i.export_kind AND NOT x.valid) AS invalid_identifiers
            FROM (SELECT DISTINCT service, export_kind FROM imports) i
            ORDER BY service, export_kind""")

    def columns(self) -> pd.DataFrame:
        """Every column of every import: the canonical field it feeds, or none (unmapped)."""
        return self.query("""
            SELECT i.service, i.export_kind, i.file_name, c.name AS column,
                   nullif(c.field, 'other') AS field, c.field IS NULL AS unmapped, c.personal
            FROM columns c JOIN imports i USING (import_id)
            ORDER BY i.service, i.export_kind, i.import_id, c.position""")

    def provenance(self, service: str, export_kind: str, party_key: str) -> pd.DataFrame:
        """Where each value of one party comes from: file, hash, row and original record."""
        return self.query(f"""
            WITH p AS (SELECT * FROM parties WHERE service = ? AND export_kind = ? AND party_key = ?)
            SELECT i.file_name, i.file_sha256, p.source_row, r.record
            FROM p JOIN imports i USING (import_id)
            JOIN {RAW_RECORDS_OF.format(rows="p")} r
                ON r.import_id = p.import_id AND r.source_row = p.source_row""",
            [service, export_kind, party_key])

    def is_empty(self, table: str) -> bool:
        """Whether nothing was written to ``table`` (one of the schema's) yet; also when there is no
        workspace."""
        return not self.exists or bool(self.query(f"SELECT NOT EXISTS (FROM {table}) AS empty")["empty"][0])

    def query(self, sql: str, params: list | None = None,
              frames: dict[str, pd.DataFrame] | None = None) -> pd.DataFrame:
        """Run a read-only query against the workspace; ``frames`` are DataFrames it may join."""
        with self.connect(read_only=True) as con:
            for name, frame in (frames or {}).items():
                con.register(name, frame)
            return con.execute(sql, params or []).df()


def _kept(table: pa.Table, wanted: np.ndarray) -> pa.Table:
    """The rows of ``table`` that are ``wanted``; the table itself when all are (a filter copies
    every column: a million rows' worth of memory for nothing)."""
    return table if wanted.all() else table.filter(pa.array(wanted))


def _with_column(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    """``table`` with the column ``name`` set to ``values`` (replaced where it has one)."""
    if name in table.column_names:
        return table.set_column(table.column_names.index(name), name, values)
    return table.append_column(name, values)


def json_path(column: str) -> str:
    """The JSON path of a raw record's key, whatever characters the column name holds (a bare
    name starting with '/' or '$' would be read as a JSON pointer or path)."""
    return '$."' + column.replace("\\", "\\\\").replace('"', '\\"') + '"'


# The same in SQL, for a column name held in a table.
JSON_PATH_SQL = """'$."' || replace(replace({name}, '\\', '\\\\'), '"', '\\"') || '"'"""

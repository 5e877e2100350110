"""The audit trail: an append-only, hash-chained log of what the workbench did with personal data.

Every access or portability package, erasure plan and purge (and, if the caller wants, every
import) adds one entry with :func:`record`; :func:`verify` walks the log and reports the first
entry that was changed, deleted, inserted, moved or cut off.

The log is ``audit.log`` in the workspace directory: JSON Lines, one entry per line, owner-only
(mode 0600). Each entry holds

``seq``        its sequence number, 1 for the first entry, no gaps
``timestamp``  when it was written, UTC, ISO 8601 with microseconds
``who``        who did it; by default the operating-system user (:func:`getpass.getuser`)
``action``     what was done, a short lower-case word such as ``package``, ``erasure-plan``,
               ``purge`` or ``import``
``request_id`` the request of the register it belongs to, or null
``files``      file name -> SHA-256 of every file written or read, so a package sent out can be
               proven to be the one logged
``details``    further facts as a JSON object
``prev_hash``  the ``hash`` of the entry before it; 64 zeros for the first entry
``hash``       SHA-256 (hex) of the canonical JSON of all the other fields, ``prev_hash``
               included: keys sorted, no whitespace, ASCII only (``json.dumps(..., sort_keys=True,
               separators=(",", ":"), ensure_ascii=True)``)

Changing any field of an entry breaks its own hash; deleting, inserting or moving an entry breaks
the sequence numbers and the chain of ``prev_hash``; a cut-off last line is incomplete JSON.

**No personal data in the log.** The log is kept for years, after erasure requests included, so it
must not become a copy of the people it is about. Callers pass request ids, record keys,
counts, service names and SHA-256 hashes, never names, e-mail addresses, IBANs or other values
of the subject; file names in ``files`` should be the generated ones (``mollie_payments.csv``),
not ones built from the subject's name. Nothing here can check that; it is the caller's duty.

Writing: the log is opened with ``O_APPEND`` and locked with :func:`fcntl.flock` while the last
entry is read and the new one written in one ``write``, then flushed to disk (``fsync``), so
processes appending at the same time never interleave half lines and always chain onto the true
last entry. :func:`record` refuses to append to a log whose last line is damaged, so damage is
never buried under new entries; run :func:`verify` to see where it is.

Each entry is one complete line or nothing: when a write or its ``fsync`` fails (a full disk, a
read-only file system), the file is cut back to the size it had and the caller gets an
:class:`AuditError`; a log that is a symbolic link is refused. Actions that write output (packages,
plans, to-do lists) write it to a temporary place, append their entry, and only then move the output
into place, so a failed append leaves no output without its entry.

What a hash chain cannot show on its own: someone with write access who removes entries at the
end, or rewrites the log from some entry on and computes fresh hashes, leaves a valid chain. So the
head is anchored outside the log: after each append its sequence number and hash go into the
workspace database (table ``audit_anchor``), and each package's manifest carries the head before its
own entry (``audit_head``). :func:`verify` finds a log shorter than its anchor, or one whose entry at
the anchor differs, and every purge the database records (``purges``) without its ``purge`` entry.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import getpass
import hashlib
import json
import os
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.errors import WorkbenchError
from workbench.store.safe_files import fsync

if TYPE_CHECKING:
    from workbench.store.workspace import Workspace

LOG_NAME = "audit.log"
GENESIS = "0" * 64
FIELDS = ("seq", "timestamp", "who", "action", "request_id", "files", "details", "prev_hash", "hash")

_SHA256 = re.compile(r"[0-9a-f]{64}")
_ACTION = re.compile(r"[a-z][a-z0-9_.:-]{0,63}")
_CHUNK = 64 * 1024


class AuditError(WorkbenchError):
    """The audit log cannot be written to as it is."""


@dataclass(frozen=True)
class Entry:
    """One line of the audit log."""

    seq: int
    timestamp: str
    who: str
    action: str
    request_id: str | None
    files: dict[str, str]
    details: dict[str, Any]
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in FIELDS}

    def line(self) -> bytes:
        """The entry as it is stored: canonical JSON and a newline."""
        return (_canonical(self.to_dict()) + "\n").encode("ascii")


@dataclass(frozen=True)
class Verification:
    """What :func:`verify` found. ``broken`` is the 1-based number (line) of the first bad entry."""

    ok: bool
    entries: int  # lines in the log, the bad ones included
    broken: int | None = None
    reason: str | None = None
    head: str | None = None  # hash of the last entry of the intact part, None when that is empty
    path: Path | None = field(default=None, compare=False)

    def __str__(self) -> str:
        if self.ok:
            head = f", last hash {self.head}" if self.head else ""
            return f"audit log intact: {self.entries} entries{head}"
        return f"audit log broken at entry {self.broken} of {self.entries}: {self.reason}"


def log_path(ws: Workspace | str | Path) -> Path:
    """``audit.log`` in the workspace directory; ``ws`` is a Workspace or its directory."""
    return Path(getattr(ws, "path", ws)) / LOG_NAME


def entry_hash(fields: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of every field but ``hash``."""
    content = {k: v for k, v in fields.items() if k != "hash"}
    return hashlib.sha256(_canonical(content).encode("ascii")).hexdigest()


def record(ws: Workspace | str | Path, action: str, *, who: str | None = None,
           request_id: str | None = None, files: dict[str, str] | None = None,
           details: dict | None = None) -> Entry:
    """Append one entry to the workspace's audit log and return it.

    ``files`` maps file names to their SHA-256 (hex); ``details`` is any JSON object (dates,
    paths and decimals are written as text). Neither may carry personal data: pass ids, counts and
    hashes, not names or addresses (see the module docstring).
    """
    if not isinstance(action, str) or not _ACTION.fullmatch(action):
        raise ValueError(f"action must be a short lower-case word like 'package', not {action!r}")
    if request_id is not None and not isinstance(request_id, str):
        raise TypeError("request_id must be a string or None")
    files = dict(files or {})
    for name, digest in files.items():
        if not isinstance(name, str) or not isinstance(digest, str) or not _SHA256.fullmatch(digest):
            raise ValueError(f"files[{name!r}] must be a lower-case hex SHA-256")
    if details is not None and not isinstance(details, dict):
        raise TypeError("details must be a dict or None")
    details = json.loads(json.dumps(details or {}, default=_plain, allow_nan=False))
    who = who if who is not None else _os_user()

    path = log_path(ws)
    _refuse_link(path)
    created = not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise _write_error(exc, path) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.fchmod(fd, 0o600)
        seq, prev_hash = _tail(fd, path)
        fields = {"seq": seq, "timestamp": _now(), "who": who, "action": action,
                  "request_id": request_id, "files": files, "details": details,
                  "prev_hash": prev_hash}
        entry = Entry(**fields, hash=entry_hash(fields))
        _append(fd, path, entry.line())
    finally:
        os.close(fd)  # closing releases the lock
    if created:
        fsync(path.parent)
    _anchor(path.parent, entry)
    return entry


def _append(fd: int, path: Path, data: bytes) -> None:
    """Write one whole line, or nothing: on a failed write or fsync (disk full, read-only), the
    file goes back to the size it had."""
    size = os.fstat(fd).st_size
    try:
        while data:  # O_APPEND: every write goes to the end, and the lock keeps others out
            data = data[os.write(fd, data):]
        os.fsync(fd)
    except OSError as exc:
        try:
            os.ftruncate(fd, size)
            os.fsync(fd)
        except OSError:
            pass  # the half line stays; record() refuses to build on it and verify points at it
        raise _write_error(exc, path) from None


def _write_error(exc: OSError, path: Path) -> WorkbenchError:
    from workbench.store.workspace import (
        storage_problem,  # the workspace's wording for a full or read-only disk
    )

    clear = storage_problem(exc, path.parent)
    reason = str(clear) if clear else f"{exc.strerror or type(exc).__name__}"
    return AuditError(f"{path}: the audit entry could not be written ({reason}); nothing was "
                      "appended and the action's output was not put in place")


def _refuse_link(path: Path) -> None:
    if path.is_symlink():
        raise AuditError(f"{path} is a symbolic link, not the workspace's own audit log: refused. "
                         "Put the real log back (from a backup) and run 'workbench audit verify'")


# -------------------------------------------------------------------------------------------
# the anchor: the head of the chain kept outside the log


def _anchor(directory: Path, entry: Entry) -> None:
    """Keep the new head in the workspace database (when there is one), so a log cut short or
    rewritten from some entry on no longer matches it."""
    from workbench.store.workspace import DB_NAME, Workspace

    if not (directory / DB_NAME).exists():
        return
    with Workspace(directory).transaction() as con:
        con.execute("DELETE FROM audit_anchor WHERE seq <= ?", [entry.seq])
        con.execute("INSERT INTO audit_anchor VALUES (?, ?, now()::TIMESTAMP)", [entry.seq, entry.hash])


def head(ws: Workspace | str | Path) -> dict[str, Any] | None:
    """The last entry's sequence number and hash (for a package's manifest), None for no log."""
    last = deque(entries(ws), maxlen=1)
    return {"seq": last[0].seq, "hash": last[0].hash} if last else None


def _db_facts(directory: Path, manifests: list[tuple[int, str, str]]) -> tuple[tuple[int, str] | None,
                                                                             list[str]]:
    """The anchored head and the ids of the purges the database records; ``manifests`` gets the
    head each package's manifest names (sequence number, hash, request id)."""
    from workbench.store.workspace import DB_NAME, Workspace

    if not (directory / DB_NAME).exists():
        return None, []
    ws = Workspace(directory)
    rows = ws.query("SELECT seq, hash FROM audit_anchor ORDER BY seq DESC LIMIT 1")
    anchor = (int(rows["seq"][0]), str(rows["hash"][0])) if len(rows) else None
    purged = [str(r) for r in ws.query("SELECT purge_id FROM purges ORDER BY purge_id")["purge_id"]]
    # each package's manifest names the head before its own entry
    for row in ws.query("SELECT path, request_id FROM outputs WHERE kind = 'package'").itertuples():
        manifest = directory / row.path / "manifest.json"  # an absolute path stays absolute
        try:
            head = json.loads(manifest.read_text("utf-8")).get("audit_head")
        except (OSError, ValueError):
            continue  # deleted, zipped away or elsewhere: nothing to compare
        if isinstance(head, dict) and isinstance(head.get("seq"), int) and head["seq"] > 0:
            manifests.append((head["seq"], str(head.get("hash")), str(row.request_id)))
    return anchor, purged


def verify(ws: Workspace | str | Path) -> Verification:
    """Walk the audit log and report the first entry that is not as :func:`record` wrote it; then
    check it against what is kept outside it: the head anchored in the workspace database (a log
    cut short or rewritten no longer reaches or matches it) and the purges the database records
    (each needs its ``purge`` entry).

    A workspace without a log and without an anchor is intact with 0 entries.
    """
    path = log_path(ws)
    if path.is_symlink():
        return Verification(ok=False, entries=0, broken=1, path=path,
                            reason="the log is a symbolic link, not the workspace's own file")
    manifests: list[tuple[int, str, str]] = []
    anchor, purged = _db_facts(path.parent, manifests)
    if not path.exists():
        if anchor:
            return Verification(ok=False, entries=0, broken=1, path=path, reason=(
                f"the log is missing, but the database anchors entry {anchor[0]}"))
        return Verification(ok=True, entries=0, path=path)
    walked = _walk(path)
    if walked.broken:
        return Verification(ok=False, entries=walked.count, broken=walked.broken[0],
                            reason=walked.broken[1], head=walked.head, path=path)
    reason = _outside_mismatch(walked, anchor, manifests, purged)
    if reason:
        return Verification(ok=False, entries=walked.count, broken=reason[0], reason=reason[1],
                            head=walked.head, path=path)
    return Verification(ok=True, entries=walked.count, head=walked.head, path=path)


@dataclass
class _Walked:
    """What a walk along the log found: its entries' hashes by sequence number, the purge ids its
    ``purge`` entries name, and the first broken entry (number, why) if any."""

    count: int = 0
    head: str | None = None
    hashes: dict[int, str] = field(default_factory=dict)
    purges: set[str] = field(default_factory=set)
    broken: tuple[int, str] | None = None


def _walk(path: Path) -> _Walked:
    """Check each line against the one before it; stop checking at the first broken one, but
    count every line."""
    walked, prev_hash = _Walked(), GENESIS
    with open(path, "rb") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_SH)  # no half-written line of a running append
        for walked.count, raw in enumerate(f, start=1):
            if walked.broken:
                continue
            problem = _check(raw, walked.count, prev_hash)
            if isinstance(problem, str):
                walked.broken = (walked.count, problem)
                continue
            prev_hash = walked.head = walked.hashes[walked.count] = problem["hash"]
            if problem["action"] == "purge":
                walked.purges.add(str(problem["details"].get("purge_id", "")))
    return walked


def _outside_mismatch(walked: _Walked, anchor: tuple[int, str] | None, manifests: list[tuple[int, str, str]],
                      purged: list[str]) -> tuple[int, str] | None:
    """The first entry (number, why) that disagrees with what is kept outside the log: the anchored
    head, the head a package's manifest names, a purge the database records; None when all agree."""
    count, hashes = walked.count, walked.hashes
    if anchor and hashes.get(anchor[0]) != anchor[1]:
        return min(anchor[0], count + 1), (
            f"the log ends at entry {count}, but the database anchors entry {anchor[0]} "
            "(entries were removed from the end)" if anchor[0] > count else
            f"entry {anchor[0]} is not the one the database anchors (the chain was rewritten)")
    for seq, digest, request_id in manifests:
        if hashes.get(seq) != digest:
            return min(seq, count + 1), (f"the manifest of package {request_id} names entry {seq}, which "
                                         "the log does not hold as it was (cut short or rewritten)")
    missing = [p for p in purged if p not in walked.purges]
    if missing:
        return count + 1, (f"{len(missing)} purge(s) recorded in the database have no purge entry in the "
                           f"log (purge ids {', '.join(missing)})")
    return None


def entries(ws: Workspace | str | Path) -> Iterator[Entry]:
    """The entries of the log in order, without checking them (use :func:`verify` for that)."""
    path = log_path(ws)
    if not path.exists():
        return
    with open(path, "rb") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_SH)
        lines = f.readlines()
    for raw in lines:
        fields = json.loads(raw)
        yield Entry(**{name: fields[name] for name in FIELDS})


# -------------------------------------------------------------------------------------------
# helpers

def _check(raw: bytes, number: int, prev_hash: str) -> dict[str, Any] | str:
    """The parsed entry when line ``number`` is sound and follows ``prev_hash``, else why not."""
    if not raw.endswith(b"\n"):
        return "incomplete last line (the log was cut off or a write was interrupted)"
    try:
        fields = json.loads(raw.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return "not a valid JSON entry (the line was edited or cut off)"
    if not isinstance(fields, dict):
        return "not a JSON object"
    missing = [name for name in FIELDS if name not in fields]
    extra = sorted(set(fields) - set(FIELDS))
    if missing or extra:
        return f"fields missing {missing} or unexpected {extra}"
    if not isinstance(fields["hash"], str) or not _SHA256.fullmatch(fields["hash"]):
        return "its hash is not a SHA-256"
    if entry_hash(fields) != fields["hash"]:
        return "its hash does not match its content (the entry was changed)"
    seq = fields["seq"]
    if seq != number or isinstance(seq, bool):
        return (f"sequence number {seq!r} where {number} was expected "
                "(an entry was deleted, inserted or moved)")
    if fields["prev_hash"] != prev_hash:
        before = f"entry {number - 1}" if number > 1 else "the start of the log"
        return f"its previous hash does not match {before} (an entry was deleted, inserted or moved)"
    return fields


def _tail(fd: int, path: Path) -> tuple[int, str]:
    """Sequence number and previous hash for the next entry, from the log's last line."""
    size = os.fstat(fd).st_size
    if size == 0:
        return 1, GENESIS
    if os.pread(fd, 1, size - 1) != b"\n":
        raise AuditError(f"{path}: the last line is incomplete; nothing was appended. "
                         "Run `workbench audit verify` and restore the log from a backup.")
    end = size - 1  # the final newline; the last line runs from the newline before it to here
    start, buf = end, b""
    while start > 0 and b"\n" not in buf:
        step = min(_CHUNK, start)
        start -= step
        buf = os.pread(fd, step, start) + buf
    line = buf[buf.rfind(b"\n") + 1:]
    try:
        last = json.loads(line.decode("ascii"))
        seq, digest = last["seq"], last["hash"]
        ok = isinstance(seq, int) and seq >= 1 and entry_hash(last) == digest
    except (UnicodeDecodeError, ValueError, KeyError, TypeError):
        ok = False
    if not ok:
        raise AuditError(f"{path}: the last entry is damaged; nothing was appended. "
                         "Run `workbench audit verify` and restore the log from a backup.")
    return seq + 1, digest


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def _plain(value: Any) -> str:
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, Path | Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} cannot go into the audit log; pass ids, counts or hashes")


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry, as in some containers
        return f"uid:{os.getuid()}"


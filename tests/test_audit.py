"""The audit log: entries chain, every kind of tampering is found at the right entry, concurrent
writers never break the chain, and the file is owner-only."""

from __future__ import annotations

import getpass
import hashlib
import json
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from workbench.audit import trail
from workbench.store.workspace import Workspace

SHA_A = hashlib.sha256(b"a").hexdigest()
SHA_B = hashlib.sha256(b"b").hexdigest()


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "workspace")


def _five(ws: Workspace) -> list[trail.Entry]:
    return [
        trail.record(ws, "import", files={"settlement.csv": SHA_A}, details={"import_id": 1}),
        trail.record(ws, "package", request_id="REQ-1", files={"index.html": SHA_A, "data.csv": SHA_B},
                     details={"systems": ["mollie", "moneybird"], "records": 12}),
        trail.record(ws, "erasure-plan", request_id="REQ-2", details={"steps": 3}),
        trail.record(ws, "purge", request_id="REQ-2", who="analyst", details={"rows": 4}),
        trail.record(ws, "package", request_id="REQ-3", files={"index.html": SHA_B}),
    ]


def _lines(ws: Workspace) -> list[bytes]:
    return trail.log_path(ws).read_bytes().splitlines(keepends=True)


def _write(ws: Workspace, lines: list[bytes]) -> None:
    trail.log_path(ws).write_bytes(b"".join(lines))


def _line(fields: dict) -> bytes:
    return (json.dumps(fields, sort_keys=True, separators=(",", ":")) + "\n").encode()


def _edit(line: bytes, **changes) -> bytes:
    """The line with fields changed and its own hash left as it was."""
    return _line({**json.loads(line), **changes})


def test_chain_of_entries_verifies(ws):
    made = _five(ws)
    assert [e.seq for e in made] == [1, 2, 3, 4, 5]
    assert made[0].prev_hash == "0" * 64
    assert all(b.prev_hash == a.hash for a, b in zip(made, made[1:], strict=False))
    assert made[0].who == getpass.getuser() and made[3].who == "analyst"
    assert made[1].timestamp.endswith("+00:00")
    result = trail.verify(ws)
    assert result.ok and result.entries == 5 and result.broken is None
    assert result.head == made[-1].hash
    assert "intact: 5 entries" in str(result)
    assert list(trail.entries(ws)) == made


def test_entry_hash_is_sha256_of_canonical_json(ws):
    entry = trail.record(ws, "package", request_id="REQ-1", files={"index.html": SHA_A})
    line = _lines(ws)[0]
    fields = json.loads(line)
    assert set(fields) == set(trail.FIELDS)
    content = {k: v for k, v in fields.items() if k != "hash"}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"))
    assert fields["hash"] == entry.hash == hashlib.sha256(canonical.encode()).hexdigest()
    assert line == entry.line() and line.count(b"\n") == 1


def test_no_log_is_intact_with_no_entries(ws, tmp_path):
    result = trail.verify(ws)
    assert result.ok and result.entries == 0 and result.head is None
    assert trail.verify(tmp_path / "nowhere").ok
    assert list(trail.entries(ws)) == []


def test_log_is_owner_only_and_in_the_workspace(ws):
    trail.record(ws, "package", request_id="REQ-1")
    path = ws.path / "audit.log"
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.chmod(0o644)  # widened by hand: the next append narrows it again
    trail.record(ws, "purge", request_id="REQ-1")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize(("number", "change"), [
    (1, {"who": "someone-else"}),
    (2, {"action": "erasure-plan"}),
    (3, {"request_id": "REQ-9"}),
    (4, {"details": {"rows": 0}}),
    (5, {"timestamp": "2020-01-01T00:00:00.000000+00:00"}),
    (2, {"seq": 7}),
    (3, {"prev_hash": "0" * 64}),
])
def test_changed_field_is_found(ws, number, change):
    _five(ws)
    lines = _lines(ws)
    lines[number - 1] = _edit(lines[number - 1], **change)
    _write(ws, lines)
    result = trail.verify(ws)
    assert not result.ok and result.entries == 5
    assert result.broken == number
    assert "hash does not match its content" in result.reason


def test_changed_file_hash_is_found(ws):
    _five(ws)
    lines = _lines(ws)
    lines[1] = lines[1].replace(SHA_B.encode(), hashlib.sha256(b"other").hexdigest().encode())
    _write(ws, lines)
    result = trail.verify(ws)
    assert (result.ok, result.broken) == (False, 2)
    assert "changed" in result.reason


def test_deleted_line_is_found(ws):
    _five(ws)
    lines = _lines(ws)
    del lines[2]
    _write(ws, lines)
    result = trail.verify(ws)
    assert (result.ok, result.entries, result.broken) == (False, 4, 3)
    assert "sequence number 4 where 3 was expected" in result.reason
    assert result.head == json.loads(lines[1])["hash"]  # the intact part ends at entry 2


def test_deleted_line_renumbered_breaks_the_chain(ws):
    """Whoever deletes entry 3 and renumbers the rest still breaks the chain (or the hashes)."""
    made = _five(ws)
    lines = _lines(ws)
    del lines[2]
    forged = []
    for i, line in enumerate(lines, start=1):
        fields = json.loads(line)
        fields["seq"] = i
        fields["hash"] = trail.entry_hash(fields)  # even with fresh hashes of their own
        forged.append(_line(fields))
    _write(ws, forged)
    result = trail.verify(ws)
    assert (result.ok, result.broken) == (False, 3)
    assert "previous hash does not match entry 2" in result.reason
    assert json.loads(forged[2])["prev_hash"] == made[2].hash  # still points at the deleted one


def test_deleted_first_line_is_found(ws):
    _five(ws)
    _write(ws, _lines(ws)[1:])
    result = trail.verify(ws)
    assert (result.ok, result.broken) == (False, 1)


def test_reordered_lines_are_found(ws):
    _five(ws)
    lines = _lines(ws)
    lines[1], lines[3] = lines[3], lines[1]
    _write(ws, lines)
    result = trail.verify(ws)
    assert (result.ok, result.broken) == (False, 2)
    assert "sequence number 4 where 2 was expected" in result.reason


def test_inserted_copy_is_found(ws):
    _five(ws)
    lines = _lines(ws)
    lines.insert(2, lines[1])
    _write(ws, lines)
    result = trail.verify(ws)
    assert (result.ok, result.entries, result.broken) == (False, 6, 3)


def test_inserted_forged_line_is_found(ws):
    """A line forged to fit after entry 2 (right number, previous hash and own hash) leaves the
    original entry 3, now the fourth line, out of place."""
    _five(ws)
    lines = _lines(ws)
    fields = json.loads(lines[2])
    fields.update(action="purge", request_id="REQ-X", prev_hash=json.loads(lines[1])["hash"])
    fields["hash"] = trail.entry_hash(fields)
    lines.insert(2, _line(fields))
    _write(ws, lines)
    result = trail.verify(ws)
    assert (result.ok, result.entries, result.broken) == (False, 6, 4)
    assert "sequence number 3 where 4 was expected" in result.reason


@pytest.mark.parametrize("cut", [1, 20, -5])
def test_truncated_last_line_is_found(ws, cut):
    _five(ws)
    data = trail.log_path(ws).read_bytes()
    trail.log_path(ws).write_bytes(data[:-cut] if cut > 0 else data[:cut - 1] + b"\n")
    result = trail.verify(ws)
    assert (result.ok, result.entries, result.broken) == (False, 5, 5)
    assert "incomplete" in result.reason or "not a valid JSON" in result.reason


def test_blank_or_garbage_line_is_found(ws):
    _five(ws)
    lines = _lines(ws)
    lines.insert(4, b"\n")
    _write(ws, lines)
    result = trail.verify(ws)
    assert (result.ok, result.broken) == (False, 5)


def test_no_append_onto_a_damaged_log(ws):
    _five(ws)
    data = trail.log_path(ws).read_bytes()
    trail.log_path(ws).write_bytes(data[:-10])
    with pytest.raises(trail.AuditError, match="incomplete"):
        trail.record(ws, "package", request_id="REQ-4")
    lines = data.splitlines(keepends=True)
    lines[-1] = _edit(lines[-1], who="someone-else")
    _write(ws, lines)
    with pytest.raises(trail.AuditError, match="damaged"):
        trail.record(ws, "package", request_id="REQ-4")
    assert trail.log_path(ws).read_bytes() == b"".join(lines)  # nothing was appended


def test_record_checks_its_arguments(ws):
    with pytest.raises(ValueError, match="SHA-256"):
        trail.record(ws, "package", files={"index.html": "not-a-hash"})
    with pytest.raises(ValueError, match="action"):
        trail.record(ws, "Sent package to Jan Jansen")
    with pytest.raises(TypeError):
        trail.record(ws, "package", details={"subject": object()})
    assert not trail.log_path(ws).exists()


def test_details_are_stored_as_plain_json(ws):
    import datetime as dt
    from decimal import Decimal

    entry = trail.record(ws, "purge", details={"on": dt.date(2026, 2, 28), "amount": Decimal("1.50"),
                                               "dir": Path("out"), "count": 3})
    assert entry.details == {"on": "2026-02-28", "amount": "1.50", "dir": "out", "count": 3}
    assert trail.verify(ws).ok


def test_large_entries_chain(ws):
    """The last line is found however long it is (longer than one read of the tail)."""
    files = {f"table_{i}.csv": SHA_A for i in range(2000)}
    trail.record(ws, "package", files=files)
    trail.record(ws, "package", files=files)
    trail.record(ws, "purge")
    assert trail.verify(ws).entries == 3 and trail.verify(ws).ok


WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from workbench.audit import trail
    workspace, name, go = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    while not go.exists():
        time.sleep(0.001)
    for i in range(50):
        trail.record(workspace, "package", request_id=f"{name}-{i}", details={"n": i, "pad": "x" * 3000})
""")


def test_concurrent_appends_keep_the_chain(ws, tmp_path):
    go = tmp_path / "go"
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(ws.path), name, str(go)])
               for name in ("A", "B")]
    go.touch()
    for writer in writers:
        assert writer.wait(timeout=120) == 0
    result = trail.verify(ws)
    assert result.ok, str(result)
    assert result.entries == 100
    ids = [e.request_id for e in trail.entries(ws)]
    assert sorted(ids) == sorted(f"{n}-{i}" for n in "AB" for i in range(50))
    for name in "AB":  # each writer's own entries stay in its order
        assert [i for i in ids if i.startswith(name)] == [f"{name}-{i}" for i in range(50)]


def test_cli_audit_verify_exit_codes(tmp_path: Path) -> None:
    import subprocess
    import sys

    ws = tmp_path / "ws"
    ws.mkdir()
    trail.record(ws, "package", request_id="R-2026-0001", files={"index.html": "0" * 64})
    trail.record(ws, "purge", request_id="R-2026-0001")

    def verify() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "workbench", "--workspace", str(ws), "audit",
                               "verify"], capture_output=True, text=True)

    good = verify()
    assert good.returncode == 0 and "intact: 2 entries" in good.stdout
    log = ws / "audit.log"
    log.write_text(log.read_text().replace("purge", "pack"))
    bad = verify()
    assert bad.returncode == 1 and "broken at entry 2" in bad.stdout


# --- the anchor outside the log, failed writes, symlinks, purges ----------------------------------


@pytest.fixture
def anchored(tmp_path: Path, payments: Path) -> Workspace:
    """A workspace with a database, so each append anchors the head there."""
    ws = Workspace(tmp_path / "anchored")
    ws.import_files([payments])
    _five(ws)
    return ws


def test_dropping_the_last_entries_is_found_by_the_anchor(anchored):
    lines = _lines(anchored)
    trail.log_path(anchored).write_bytes(b"".join(lines[:3]))  # a valid chain, two entries short
    result = trail.verify(anchored)
    assert not result.ok and "entries were removed from the end" in result.reason


def test_a_consistently_rewritten_chain_is_found_by_the_anchor(anchored):
    entries = list(trail.entries(anchored))
    prev, rewritten = trail.GENESIS, []
    for entry in entries:  # every hash recomputed: the chain alone looks intact
        fields = {**entry.to_dict(), "who": "someone-else", "prev_hash": prev}
        fields["hash"] = prev = trail.entry_hash(fields)
        rewritten.append(trail.Entry(**fields).line())
    trail.log_path(anchored).write_bytes(b"".join(rewritten))
    result = trail.verify(anchored)
    assert not result.ok and "rewritten" in result.reason


def test_head_is_the_last_entry(anchored):
    head = trail.head(anchored)
    assert head == {"seq": 5, "hash": list(trail.entries(anchored))[-1].hash}


def test_a_failed_write_leaves_the_log_as_it_was(anchored, monkeypatch):
    log = trail.log_path(anchored)
    before = log.read_bytes()
    real_fsync = trail.os.fsync

    def full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(trail.os, "fsync", full)
    with pytest.raises(trail.AuditError, match="is full"):
        trail.record(anchored, "package", request_id="REQ-9")
    monkeypatch.setattr(trail.os, "fsync", real_fsync)
    assert log.read_bytes() == before
    assert trail.verify(anchored).ok
    assert trail.record(anchored, "package", request_id="REQ-9").seq == 6


def test_a_log_replaced_by_a_symlink_is_refused(anchored, tmp_path):
    log = trail.log_path(anchored)
    elsewhere = tmp_path / "elsewhere.log"
    elsewhere.write_bytes(log.read_bytes())
    log.unlink()
    log.symlink_to(elsewhere)
    with pytest.raises(trail.AuditError, match="symbolic link"):
        trail.record(anchored, "package", request_id="REQ-9")
    assert elsewhere.read_bytes().count(b"\n") == 5
    result = trail.verify(anchored)
    assert not result.ok and "symbolic link" in result.reason


def test_a_purge_without_its_entry_is_found(anchored):
    with anchored.connect() as con:
        con.execute("INSERT INTO purges VALUES ('p1', 'REQ-2', ['S-1'], current_date, '{}', '[]', true)")
    result = trail.verify(anchored)
    assert not result.ok and "purge ids p1" in result.reason
    trail.record(anchored, "purge", request_id="REQ-2", details={"purge_id": "p1"})
    assert trail.verify(anchored).ok


def test_a_package_manifest_anchors_the_log(anchored):
    folder = anchored.path / "pkg"
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps({"audit_head": trail.head(anchored)}))
    anchored.remember_output("package", [folder], "REQ-7", ["S-1"])
    with anchored.connect() as con:
        con.execute("DELETE FROM audit_anchor")  # only the manifest pins the log now
    assert trail.verify(anchored).ok
    trail.log_path(anchored).write_bytes(b"".join(_lines(anchored)[:3]))
    result = trail.verify(anchored)
    assert not result.ok and "manifest of package REQ-7" in result.reason

"""Faults, each with a bounded number of tries: kill -9 at seeded points of import, link, package,
erasure and request completion (a subprocess on a copy of a small workspace); a full disk (a small
tmpfs, skipped where it cannot be mounted); a read-only workspace (a read-only bind mount, since
root ignores file modes); two processes at once, and a database held by another program.

After each fault the workspace opens, ``audit verify`` passes, nothing is left half-done (journal,
compaction copies, staged files, half-written packages), running the command again completes it,
and after an erasure the person's e-mail address and name are in no file of the workspace (byte
search, UTF-8 and UTF-16).

Slow part: the kills, one subprocess each (``KILLS`` per action, about 2 s each); the whole module
stays well under two minutes on a laptop.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import payments_csv

from workbench import demo
from workbench.audit import trail
from workbench.datamap import linkage
from workbench.reference import register as registry
from workbench.rights import erasure, letters, package, requests
from workbench.store.workspace import Workspace
from workbench.ui import cli

KILLS = 5  # kills per action
SEED = 15
CLIENTS = 60  # the demo business at its smallest

KILL = textwrap.dedent("""
    import importlib, os, signal, sys
    from workbench.ui import cli
    target, nth, when = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    module, _, attr = target.partition(":")
    owner = importlib.import_module(module)
    *path, name = attr.split(".")
    for part in path:
        owner = getattr(owner, part)
    original, calls = getattr(owner, name), [0]
    def hooked(*args, **kwargs):
        calls[0] += 1
        if calls[0] == nth and when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        result = original(*args, **kwargs)
        if calls[0] == nth and when == "after":
            os.kill(os.getpid(), signal.SIGKILL)
        return result
    setattr(owner, name, hooked)
    sys.exit(cli.main(sys.argv[4:]))
""")

# Where an action can be killed: (function, which call, before or after it runs).
POINTS = {
    "import": [("workbench.store.workspace:Workspace._commit", 1, "before"),
               ("workbench.store.workspace:Workspace._commit", 1, "after"),
               ("workbench.store.workspace:Workspace._stage", 1, "after"),
               ("os:replace", 1, "before"), ("os:replace", 1, "after")],
    "link": [("workbench.datamap.linkage:_store", 1, "before"),
             ("workbench.datamap.linkage:_store", 1, "after"),
             ("workbench.store.workspace:Workspace.connect", 2, "before"),
             ("workbench.store.workspace:Workspace.connect", 3, "after")],
    "package": [("workbench.audit.trail:record", 1, "before"), ("workbench.audit.trail:record", 1, "after"),
                ("workbench.audit.trail:_anchor", 1, "before"),
                ("workbench.rights.package:archive", 1, "after"),
                ("os:rename", 1, "before"), ("os:rename", 1, "after"),
                ("workbench.store.workspace:Workspace.remember_output", 1, "after")],
    "erasure": [("workbench.rights.erasure:write_durably", 1, "after"),
                ("workbench.rights.erasure:write_durably", 2, "after"),
                ("workbench.rights.erasure:write_durably", 3, "before"),
                ("workbench.store.workspace:Workspace.mark_compact", 1, "after"),
                ("workbench.rights.erasure:_finish", 1, "before"),
                ("workbench.rights.erasure:_remove_outputs", 1, "after"),
                ("workbench.store.workspace:Workspace.compact", 1, "before"), ("os:replace", 1, "before"),
                ("os:replace", 1, "after"), ("workbench.audit.trail:record", 2, "before"),
                ("workbench.audit.trail:record", 2, "after")],
    "complete": [("workbench.rights.requests:_anonymise", 1, "after"),
                 ("workbench.store.workspace:Workspace.mark_compact", 1, "after"),
                 ("workbench.store.workspace:Workspace.compact", 1, "before"),
                 ("os:replace", 1, "before"), ("os:replace", 1, "after")],
}
LEFTOVERS = (".erasure-journal.json", ".compact-needed", ".staging")


pytestmark = pytest.mark.slow  # one subprocess per kill, about 2 s each


# --- the small workspace ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The demo business at its smallest (its CSV exports) plus a Mollie settlement file of 2015
    with one more client, whose payments are past their retention, so an erasure deletes all of
    her records and none of her data may be left anywhere. She has an access package inside the
    workspace and a verified erasure request. States: ``base`` (before the erasure), ``purged``
    (erased, the request still open)."""
    root = tmp_path_factory.mktemp("faults")
    files = [p for p in demo.write(root / "exports", clients=CLIENTS) if p.suffix == ".csv"]
    person = SimpleNamespace(full_name="Wilhelmina Oosterhuis-Brandsma", email="w.oosterhuis@example.org")
    files.append(payments_csv(root / "exports" / "settlement-2015.csv", [
        f"2015-03-02 10:00:00,paypal,EUR,25.00,paidout,tr_old1,Order 7,{person.full_name},"
        f"{person.email},,EUR,25.00,2015.03.01,",
        f"2015-04-02 10:00:00,paypal,EUR,30.00,paidout,tr_old2,Order 8,{person.full_name},"
        f"{person.email},,EUR,30.00,2015.04.01,",
        "2015-04-03 10:00:00,ideal,EUR,12.00,paidout,tr_old3,Order 9,Karel Appel,"
        "NL91ABNA0417164300,ABNANL2A,EUR,12.00,2015.04.01,"]))
    ws = Workspace(root / "base")
    ws.import_files(files)
    linkage.link(ws)
    reg = registry.load()
    subjects = package.subjects_for(ws, person.email)
    assert set(erasure.plan(ws, reg, None, subject_ids=subjects)["action"]) <= {"delete", "check"}
    created = requests.new(ws, type="access", email=person.email, name=person.full_name)
    package.write_package(ws, reg, subject_ids=subjects, out=ws.path / "packages" / "earlier",
                          request={"id": created.request_id, "type": "access"},
                          identities={"e-mail": person.email}, pdf=False, draft=True)
    erasure_id = requests.new(ws, type="erasure", email=person.email, name=person.full_name).request_id
    requests.update(ws, erasure_id, verify="known_email:passed")
    other = demo.build(clients=CLIENTS).clients[0].person.email
    access_id = requests.new(ws, type="access", email=other).request_id
    requests.update(ws, access_id, verify="known_email:passed")
    imported = set(ws.query("SELECT DISTINCT service FROM imports")["service"])
    for system in letters.client_systems(reg):  # searched by hand: no export of them
        if system not in imported:
            requests.record_search(ws, access_id, system=system, result="not_found")
    purged = Workspace(shutil.copytree(ws.path, root / "purged"))
    assert cli.main(["--workspace", str(purged.path), "erasure-plan", "--request", erasure_id,
                     "--execute", "--yes"]) == 0
    newer = payments_csv(root / "newer.csv", [
        "2026-11-01 10:12:00,ideal,EUR,10.00,open,tr_new,Order,Jan,,,EUR,,,"])
    return {"root": root, "base": ws, "purged": purged, "person": person, "erasure": erasure_id,
            "access": access_id, "newer": newer, "register": reg}


def _copy(source: Workspace, target: Path) -> Workspace:
    return Workspace(shutil.copytree(source.path, target))


def _run(ws: Workspace, *args: str, env: dict | None = None, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workbench", "--workspace", str(ws.path), *args],
                          capture_output=True, text=True, env={**os.environ, **(env or {})}, **kw)


def _main(ws: Workspace, *args: str) -> int:
    """The command in this process (faster than a subprocess; for runs that are not killed)."""
    return cli.main(["--workspace", str(ws.path), *args])


def _killed(ws: Workspace, point: tuple[str, int, str], *args: str) -> bool:
    """Run the command in a subprocess that kills itself (SIGKILL) at ``point``; True if it died."""
    target, nth, when = point
    proc = subprocess.run([sys.executable, "-c", KILL, target, str(nth), when, "--workspace",
                           str(ws.path), *args], capture_output=True, text=True, timeout=120)
    assert "internal error" not in proc.stderr, proc.stderr
    return proc.returncode == -signal.SIGKILL


def _consistent(ws: Workspace) -> None:
    """The workspace opens (a writer's open finishes what the kill left), nothing half-done stays,
    and the audit trail verifies, anchors and purges included."""
    with ws.connect() as con:
        con.execute("SELECT count(*) FROM imports").fetchall()
    left = [p.name for p in ws.path.iterdir() if p.name in LEFTOVERS or p.name.startswith(".compact-")]
    assert left == []
    partial = [p for p in ws.path.rglob(".*partial-*")]
    assert partial == []
    verified = trail.verify(ws)
    assert verified.ok, str(verified)


def _leaks(ws: Workspace, person: SimpleNamespace) -> list[str]:
    """Files of the workspace holding the person's e-mail address or full name (UTF-8 or UTF-16,
    any case)."""
    needles = {n for value in (person.email, person.full_name)
               for n in (value.lower().encode("utf-8"), value.lower().encode("utf-16-le"))}
    found = []
    for path in ws.path.rglob("*"):
        if path.is_file():
            data = path.read_bytes().lower()
            if any(n in data for n in needles):
                found.append(path.relative_to(ws.path).as_posix())
    return found


def _points(action: str) -> list[tuple[str, int, str]]:
    rng = random.Random(f"{SEED}-{action}")
    points = POINTS[action]
    return rng.sample(points, min(KILLS, len(points)))


# --- kill -9 -----------------------------------------------------------------------------------------


def test_kills_during_erasure_and_its_completion(small, tmp_path) -> None:
    """The purge and then the request's completion, each killed at seeded points: the next open
    finishes or rolls back, the same command again completes and logs it, and nothing of the
    person is left in any file."""
    survived = 0
    for i, point in enumerate(_points("erasure")):
        ws = _copy(small["base"], tmp_path / f"erasure-{i}")
        died = _killed(ws, point, "erasure-plan", "--request", small["erasure"], "--execute", "--yes")
        _consistent(ws)
        assert _main(ws, "erasure-plan", "--request", small["erasure"], "--execute", "--yes") == 0
        _consistent(ws)
        purges = [e for e in trail.entries(ws) if e.action == "purge"]
        assert len(purges) == 1, (point, died)  # logged once, whatever the moment of the kill
        assert not (ws.path / "packages" / "earlier").exists()  # the earlier package went too
        assert _main(ws, "request", "update", small["erasure"], "--status", "completed") == 0
        assert _leaks(ws, small["person"]) == [], point
        survived += died
    for i, point in enumerate(_points("complete")):
        ws = _copy(small["purged"], tmp_path / f"complete-{i}")
        died = _killed(ws, point, "request", "update", small["erasure"], "--status", "completed")
        _consistent(ws)
        row, _, _ = requests.show(ws, small["erasure"])
        if row["status"] != "completed":
            assert _main(ws, "request", "update", small["erasure"], "--status", "completed") == 0
        _consistent(ws)
        assert _leaks(ws, small["person"]) == [], point
        survived += died
    print(f"erasure and completion: {survived} kills survived")
    assert survived >= KILLS  # the points are reached: these are real kills


def test_kills_during_import_link_and_package(small, tmp_path) -> None:
    survived = 0
    commands = {
        "import": lambda ws, i: ("import", str(small["newer"])),
        "link": lambda ws, i: ("link",),
        "package": lambda ws, i: ("package", "--request", small["access"], "--out",
                                  str(tmp_path / f"out-{i}"), "--encrypt"),
    }
    for action, command in commands.items():
        for i, point in enumerate(_points(action)):
            ws = _copy(small["base"], tmp_path / f"{action}-{i}")
            args = command(ws, i)
            died = _killed(ws, point, *args)
            survived += died
            _consistent(ws)
            if action == "package":  # a package is in place only with its audit entry
                out = tmp_path / f"out-{i}"
                logged = [e for e in trail.entries(ws) if e.action == "package"
                          and e.request_id == small["access"]]
                assert out.with_name(out.name + ".zip").exists() <= bool(logged)
                assert not list(tmp_path.glob(f".out-{i}.partial-*"))
                args = ("package", "--request", small["access"], "--out", str(tmp_path / f"again-{i}"),
                        "--encrypt")
            assert _main(ws, *args) == 0, (action, point)
            _consistent(ws)
    print(f"import, link and package: {survived} kills survived")
    assert survived >= KILLS


# --- a full disk ---------------------------------------------------------------------------------------


@pytest.fixture
def tmpfs(tmp_path: Path):
    """A 40 MB tmpfs (root only; skipped where it cannot be mounted)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if proc.returncode:
        pytest.skip(f"a tmpfs cannot be mounted here: {proc.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path, leave: int) -> Path:
    """Fill the disk but ``leave`` bytes."""
    filler = disk / "filler"
    free = shutil.disk_usage(disk).free
    with open(filler, "wb") as out:
        remaining = max(free - leave, 0)
        block = b"\0" * (1 << 20)
        while remaining > 0:
            try:
                remaining -= out.write(block[:min(len(block), remaining)])
                out.flush()
            except OSError:
                break
    return filler


def test_full_disk_names_the_disk_and_leaves_nothing_half_written(small, tmpfs) -> None:
    rng = random.Random(SEED)
    commands = [("request", "new", "--type", "access", "--email", small["person"].email),
                ("package", "--request", small["access"], "--out", str(tmpfs / "out"), "--encrypt"),
                ("erasure-plan", "--request", small["erasure"], "--execute", "--yes"),
                ("import", str(small["newer"]))]
    tries = 0
    for command in commands:
        for leave in sorted(rng.sample([0, 4096, 65536, 262144, 1 << 20], 2)):
            ws = _copy(small["base"], tmpfs / "ws")
            filler = _fill(tmpfs, leave)
            entries_before = trail.verify(ws).entries
            proc = _run(ws, *command)
            tries += 1
            assert "internal error" not in proc.stderr, (command, leave, proc.stderr)
            if proc.returncode:
                assert proc.returncode == 2 and "is full" in proc.stderr and str(tmpfs) in proc.stderr, \
                    proc.stderr
                if command[0] == "package":  # no package without its entry
                    assert not (tmpfs / "out").exists() and not (tmpfs / "out.zip").exists()
            filler.unlink()
            _consistent(ws)
            if proc.returncode and command[0] != "erasure-plan":
                assert trail.verify(ws).entries == entries_before
            shutil.rmtree(ws.path)
            shutil.rmtree(tmpfs / "out", ignore_errors=True)
            (tmpfs / "out.zip").unlink(missing_ok=True)
    assert tries == 8


def test_a_failed_append_goes_back_to_the_previous_size(small, tmpfs) -> None:
    ws = _copy(small["base"], tmpfs / "ws")
    log = trail.log_path(ws)
    size = log.stat().st_size
    filler = _fill(tmpfs, 0)
    with pytest.raises(trail.AuditError, match="is full"):
        trail.record(ws, "test", details={"padding": "x" * 20000})
    assert log.stat().st_size == size
    filler.unlink()
    assert trail.verify(ws).ok


# --- a read-only workspace, two processes --------------------------------------------------------------


@pytest.fixture
def read_only(small, tmp_path: Path):
    """The workspace through a read-only bind mount (root is not stopped by file modes)."""
    source = _copy(small["base"], tmp_path / "source")
    mount = tmp_path / "ro"
    mount.mkdir()
    steps = [["mount", "--bind", str(source.path), str(mount)],
             ["mount", "-o", "remount,ro,bind", str(mount)]]
    for step in steps:
        proc = subprocess.run(step, capture_output=True, text=True)
        if proc.returncode:
            subprocess.run(["umount", "-l", str(mount)], check=False)
            pytest.skip(f"a read-only bind mount is not possible here: {proc.stderr.strip()}")
    try:
        yield Workspace(mount)
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_read_only_workspace_still_reads(small, read_only) -> None:
    subject = linkage.find(read_only, email=small["person"].email).subject_id.iloc[0]
    for command in [("status",), ("request", "list"), ("find", "--email", small["person"].email),
                    ("show", subject), ("request", "show", small["erasure"]), ("audit", "verify")]:
        proc = _run(read_only, *command)
        assert proc.returncode == 0, (command, proc.stderr)
    for command in [("request", "new", "--type", "access", "--email", small["person"].email),
                    ("import", str(small["newer"])), ("link",)]:
        proc = _run(read_only, *command)
        assert proc.returncode == 2 and "read-only" in proc.stderr, (command, proc.stderr)
        assert "internal error" not in proc.stderr


HOLD = textwrap.dedent("""
    import sys
    from workbench.ui import cli
    with cli.Workspace(sys.argv[1]).locked():
        print("held", flush=True)
        sys.stdin.readline()  # until the test lets go
""")


def test_a_second_writer_waits_or_stops_clearly(small, tmp_path) -> None:
    ws = _copy(small["base"], tmp_path / "ws")
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(ws.path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        stopped = _run(ws, "request", "new", "--type", "access", "--email", small["person"].email,
                       env={"WORKBENCH_LOCK_WAIT": "0.5"})
        assert stopped.returncode == 2 and "busy" in stopped.stderr, stopped.stderr
        waiting = subprocess.Popen(
            [sys.executable, "-m", "workbench", "--workspace", str(ws.path), "request", "new", "--type",
             "access", "--email", small["person"].email], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env={**os.environ, "WORKBENCH_LOCK_WAIT": "120"})
        assert "waiting" in waiting.stderr.readline()
        holder.stdin.write("go\n")
        holder.stdin.flush()
        out, err = waiting.communicate(timeout=120)
        assert waiting.returncode == 0 and out.startswith("R-"), err
    finally:
        holder.kill()
        holder.wait(timeout=30)
    _consistent(ws)


def test_two_writers_at_once_both_succeed(small, tmp_path) -> None:
    ws = _copy(small["base"], tmp_path / "ws")
    args = [sys.executable, "-m", "workbench", "--workspace", str(ws.path), "request", "new", "--type",
            "access", "--email", small["person"].email]
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    ids = {out.split()[0] for out, _ in outputs}
    assert len(ids) == 2
    _consistent(ws)


def test_a_database_held_by_another_program(small, tmp_path) -> None:
    ws = _copy(small["base"], tmp_path / "ws")
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect("
                               "sys.argv[1]); print('held', flush=True); time.sleep(5)", str(ws.db_path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        proc = _run(ws, "status")
        assert proc.returncode == 2 and "held by another program" in proc.stderr, proc.stderr
    finally:
        holder.kill()
        holder.wait()

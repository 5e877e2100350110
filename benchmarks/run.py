"""The benchmark: ``python -m benchmarks.run [--scale 1.0] [--out reports/bench] [--repeat 5]
[--steps import,link,...]``.

Each step is timed ``--repeat`` times next to a baseline taken in the same run, and reported with
its median, spread and target; a missed target is reported as missed with its figure. Steps:

import     the Mollie settlement CSV through ``workbench import`` in a fresh workspace, each repeat
           a subprocess under ``/usr/bin/time -v``; baseline: DuckDB's ``read_csv`` of the same file
           into a table of a fresh database file, in the same kind of subprocess; the same for the
           web shop's variant (``import_webshop``: 800,000 distinct payers x SCALE)
link       ``linkage.link`` on the workspace of the last import plus the parties;
           baseline: reading the parties and grouping them on e-mail in DuckDB
find       ``linkage.find`` for 100 subjects by e-mail, IBAN and name (median and p95);
           baseline: an exact look-up of the same value in DuckDB
package    ``package.write_package(..., pdf=False)`` for one subject known in every system;
           baseline: reading that subject's records and writing them as CSV
annual     ``workbench report annual`` (HTML, and with PDF when the command makes one);
           baseline: nbconvert executing a one-cell notebook to HTML
dashboard  ``workbench dashboard`` served on a free port, logged in with the password it prints,
           first render in headless chromium (navigation start of the page the login leads to, to
           the first visible ``.tabulator-cell``), requests off 127.0.0.1 refused; server start-up
           (to the first page answered) reported apart; baseline: a one-table Panel page
linkage    linkage quality on FEBRL3 and FEBRL4 (``benchmarks.linkage_quality``): ``linkage.link``
           against a plain Splink pipeline and recordlinkage's ECM classifier on the same records,
           scored on every pair; below scale 1 on a share of the records (at least 5 %);
           baseline: plain Splink's time
mail       ``workbench import`` of a generated Takeout mbox (200,000 messages x SCALE): messages/s and
           peak RSS; then ``mail.find`` of 20 people by e-mail, name and phone (median); baselines:
           hashing the file, an exact look-up of the address
many_files one ``workbench import`` of 10,000 x SCALE small settlement CSVs (5 rows each), per file,
           and its peak RSS against an import of a quarter of them; baseline: DuckDB's ``read_csv``
           of the same files
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.request
from collections.abc import Callable
from datetime import datetime
from importlib import metadata
from pathlib import Path

import duckdb
import numpy as np

from benchmarks.generate import Dataset, generate
from workbench.errors import WorkbenchError
from workbench.reports.render import refuse_outside

STEPS = ("import", "link", "find", "package", "annual", "dashboard", "linkage", "mail", "many_files")
TIME = Path("/usr/bin/time")
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]
LOCAL = ("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")
FIND_SUBJECTS = 100
REPORT_YEAR = 2026  # the demo's year (workbench.demo.TODAY), which the payments end in
# (what the target is on, at most this, the target in words)
TARGETS = {"import": ("ratio", 1.5, "at most 1.5x DuckDB read_csv"),
           "import_rss": ("median", 1536.0, "at most 1.5 GB (1536 MiB)"),
           "link": ("median", 15.0, "at most 15 s"),
           "link_vs_splink": ("ratio", 1.0, "no slower than plain Splink on the same parties"),
           "find": ("median", 0.050, "median at most 50 ms"),
           "package": ("median", 2.0, "at most 2 s"), "annual": ("median", 60.0, "at most 60 s"),
           "annual_pdf": ("median", 60.0, "at most 60 s"), "dashboard": ("median", 3.0, "at most 3 s"),
           "import_webshop": ("ratio", 1.5, "at most 1.5x DuckDB read_csv"),
           "import_webshop_rss": ("median", 1536.0, "at most 1.5 GB (1536 MiB)"),
           "dashboard_start": ("median", 2.0, "first page answered within 2 s"),
           "many_files": ("median", 0.012, "at most 12 ms a file (10,000 files in 2 min)"),
           "many_files_rss": ("ratio", 1.25, "at most 1.25x that of a quarter of the files"),
           "mail_rss": ("median", 1024.0, "at most 1 GB (1024 MiB)"),
           "mail_find": ("median", 1.0, "median at most 1 s")}
MAIL_MESSAGES = 200_000  # at scale 1
MANY_FILES = 10_000  # small files in one import, at scale 1
SMALL_FILE_ROWS = 5
MAIL_FIND = 20  # people whose messages are looked up

BASELINE_IMPORT = """import sys, duckdb
con = duckdb.connect(sys.argv[1])
options = "".join(", " + option for option in sys.argv[3:])
path = sys.argv[2].replace("'", "''")
con.execute("CREATE TABLE t AS SELECT * FROM read_csv('" + path + "'" + options + ")")
con.close()
"""
# Many files are read as text: DuckDB sniffs each file's types, and a column empty in one small file
# and filled in the next (an amount refunded) makes their types disagree.
MANY_FILES_OPTIONS = ["all_varchar = true"]
BASELINE_PAGE = """import pandas as pd
import panel as pn
pn.extension("tabulator")
table = pd.DataFrame({"a": range(10), "b": list("abcdefghij")})
pn.Column("## Baseline", pn.widgets.Tabulator(table)).servable()
"""


class StepError(Exception):
    """A step could not be measured; the message holds no personal data."""


# --------------------------------------------------------------------------------------------
# figures


def summary(values: list[float]) -> dict:
    """Median, spread (min, max, interquartile range), p95 and n of some measurements."""
    ordered = sorted(values)
    q1, q3 = (np.percentile(ordered, [25, 75]).tolist() if len(ordered) > 1 else (ordered[0],) * 2)
    return {"median": statistics.median(ordered), "min": ordered[0], "max": ordered[-1],
            "iqr": q3 - q1, "p95": float(np.percentile(ordered, 95)), "n": len(ordered),
            "values": [round(v, 6) for v in values]}


def row(step: str, what: str, unit: str, measured: list[float], baseline_what: str,
        baseline: list[float], **extra) -> dict:
    """One line of the report: the step against its baseline and its target."""
    result = {"step": step, "what": what, "unit": unit, "measured": summary(measured),
              "baseline": {"what": baseline_what, **summary(baseline)}}
    result["ratio"] = result["measured"]["median"] / result["baseline"]["median"] \
        if result["baseline"]["median"] else None
    on, limit, text = TARGETS.get(step, (None, None, ""))
    value = result["ratio"] if on == "ratio" else result["measured"]["median"]
    result["target"] = {"on": on, "at_most": limit, "text": text}
    result["met"] = None if on is None or value is None else bool(value <= limit)
    result["extra"] = extra
    return result


def failed(step: str, what: str, reason: str) -> dict:
    """A step that could not run: reported, never a quiet pass."""
    on, limit, text = TARGETS.get(step, (None, None, ""))
    return {"step": step, "what": what, "unit": "", "measured": None, "baseline": None, "ratio": None,
            "target": {"on": on, "at_most": limit, "text": text}, "met": None, "error": reason,
            "extra": {}}


# --------------------------------------------------------------------------------------------
# subprocesses


# The floor of a streaming mail import: parse each message of the mbox with the standard library.
MBOX_WALK = ("import email.policy, mailbox, sys\n"
             "for message in mailbox.mbox(sys.argv[1], factory=None, create=False):\n"
             "    email.message_from_bytes(message.as_bytes(), policy=email.policy.default)")


def timed(command: list[str], cwd: Path | None = None) -> tuple[float, float | None, str]:
    """Run a command; its wall time in s, its peak RSS in MiB, and its standard output."""
    wrapped = [str(TIME), "-v", *command] if TIME.exists() else command
    started = time.perf_counter()
    done = subprocess.run(wrapped, capture_output=True, text=True, cwd=cwd)
    wall = time.perf_counter() - started
    if done.returncode != 0:  # only the workbench's own messages are sure to name no person
        own = [line for line in done.stderr.split("\tCommand being timed:")[0].strip().splitlines()
               if not line.startswith("Command exited with non-zero status")]  # GNU time's lines off
        last = (own or ["(no message)"])[-1][:200] if Path(command[0]).name == "workbench" \
            else "(message not shown)"
        raise StepError(f"{Path(command[0]).name} exited with status {done.returncode}: {last}")
    found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    if found:
        return wall, int(found.group(1)) / 1024, done.stdout
    import resource  # without GNU time: the largest child so far, an upper bound

    return wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, done.stdout


def workbench_cli() -> str:
    return str(Path(sys.executable).with_name("workbench"))


# --------------------------------------------------------------------------------------------
# the steps


class Bench:
    def __init__(self, dataset: Dataset, work: Path, repeat: int) -> None:
        self.dataset, self.work, self.repeat = dataset, work, repeat
        self.workspace_dir = work / "workspace"
        self.imported: Path | None = None  # the last import's workspace, which steps 2-6 go on with
        self.facts: dict = {}
        self.scale = 1.0

    # setup: the workspace of steps 2-6

    def prepare(self, link: bool = False) -> None:
        """Make the last import's workspace the shared one (or import once), then add the parties;
        with ``link`` link them once too, for steps that need subjects when ``link`` is not run."""
        if self.workspace_dir.exists():
            shutil.rmtree(self.workspace_dir)
        if self.imported is not None:
            self.imported.rename(self.workspace_dir)
        files = ([] if self.imported is not None else [self.dataset.payments]) + self.dataset.parties
        wall, rss, _ = timed([workbench_cli(), "--workspace", str(self.workspace_dir), "import",
                              *map(str, files)])
        self.facts["import_parties_seconds"] = round(wall, 3)
        self.facts["import_parties_peak_rss_mib"] = round(rss, 1) if rss else None
        if link:
            from workbench.datamap import linkage
            from workbench.store.workspace import Workspace

            self.facts["link_seconds"] = round(_clock(lambda: linkage.link(Workspace(self.workspace_dir))), 3)
        self.facts["workspace"] = self.counts()

    def counts(self) -> dict:
        from workbench.store.workspace import Workspace

        ws = Workspace(self.workspace_dir)
        per = ws.query("""SELECT service, export_kind, count(*) AS parties FROM parties GROUP BY ALL
                          ORDER BY ALL""")
        docs = ws.query("SELECT count(*) AS n FROM documents")["n"].iloc[0]
        return {"parties": {f"{r.service}/{r.export_kind}": int(r.parties) for r in per.itertuples()},
                "documents": int(docs), "bytes": _folder_bytes(self.workspace_dir)}

    # 1. import

    def step_import(self) -> list[dict]:
        """Both variants of the settlement CSV: the grown business (few payers, each paying often)
        and the web shop (most payers pay once), each against DuckDB's read_csv of the same file."""
        rows, self.imported = self._import_variant("import", "the Mollie settlement CSV",
                                                   self.dataset.payments)
        if self.dataset.webshop:
            webshop, last = self._import_variant(
                "import_webshop", f"the web shop's settlement CSV ({self.dataset.webshop_payers:,} payers)",
                self.dataset.webshop)
            shutil.rmtree(last)
            rows += webshop
        startup = statistics.median(timed([workbench_cli(), "--help"])[0] for _ in range(self.repeat))
        rows[0]["extra"]["cli_start_up_seconds"] = round(startup, 3)  # `workbench --help`: Python and imports
        return rows

    def _import_variant(self, step: str, what: str, path: Path) -> tuple[list[dict], Path]:
        csv_file = str(path)
        walls, rsses, base_walls, base_rsses = [], [], [], []
        last = None
        for i in range(self.repeat):
            database = self.work / f"baseline-{i}.duckdb"
            wall, rss, _ = timed([sys.executable, "-c", BASELINE_IMPORT, str(database), csv_file])
            base_walls.append(wall)
            base_rsses.append(rss)
            database.unlink()
            if last is not None:
                shutil.rmtree(last)
            last = self.work / f"{step}-{i}"
            wall, rss, _ = timed([workbench_cli(), "--workspace", str(last), "import", csv_file])
            walls.append(wall)
            rsses.append(rss)
        from workbench.store.workspace import Workspace

        imported = Workspace(last).query("SELECT rows, parties, documents FROM imports").iloc[0]
        extra = {"rows": int(imported["rows"]), "parties": int(imported["parties"]),
                 "documents": int(imported["documents"]), "file_bytes": path.stat().st_size,
                 "workspace_bytes": _folder_bytes(last)}
        rss_note = "GNU time -v" if TIME.exists() else "getrusage(RUSAGE_CHILDREN), an upper bound"
        return [row(step, f"import of {what} (workbench import, wall)", "s", walls,
                    "DuckDB CREATE TABLE AS SELECT * FROM read_csv, fresh file (wall)", base_walls, **extra),
                row(f"{step}_rss", f"peak RSS of that import ({rss_note})", "MiB", rsses,
                    "peak RSS of the DuckDB read_csv", base_rsses)], last

    # 8. many small files in one import

    def step_many_files(self) -> list[dict]:
        """One ``workbench import`` of many small settlement CSVs (10,000 at scale 1), and its peak
        memory against that of an import of a quarter of them: it should not grow with the files."""
        names = _small_files(self.dataset.payments, self.work / "small", many_files(self.scale))
        quarter = names[: max(len(names) // 4, 1)]
        walls, rsses, base, quarter_rsses = [], [], [], []
        for i in range(self.repeat):
            database = self.work / f"baseline-many-{i}.duckdb"
            base.append(timed([sys.executable, "-c", BASELINE_IMPORT, str(database),
                               str(self.work / "small" / "*.csv"), *MANY_FILES_OPTIONS])[0])
            database.unlink()
            for files, times, peaks in ((names, walls, rsses), (quarter, None, quarter_rsses)):
                folder = self.work / f"many-{i}"
                wall, rss, _ = timed([workbench_cli(), "--workspace", str(folder), "import", *files],
                                     cwd=self.work / "small")
                if times is not None:
                    times.append(wall / len(names))
                peaks.append(rss)
                shutil.rmtree(folder)
        return [row("many_files", f"one workbench import of {len(names):,} small settlement CSVs "
                    f"({SMALL_FILE_ROWS} rows each), per file (wall)", "s", walls,
                    "DuckDB read_csv (all_varchar) of the same files into one table, per file (wall)",
                    [b / len(names) for b in base], files=len(names),
                    total_seconds=round(statistics.median(walls) * len(names), 2)),
                row("many_files_rss", f"peak RSS of that import of {len(names):,} files", "MiB", rsses,
                    f"peak RSS of an import of {len(quarter):,} of them", quarter_rsses)]

    # 2. link

    def step_link(self) -> list[dict]:
        from workbench.datamap import linkage
        from workbench.store.workspace import Workspace

        ws = Workspace(self.workspace_dir)
        walls, base, report = [], [], None
        for _ in range(self.repeat):
            base.append(_clock(lambda: _group_on_email(ws)))
            started = time.perf_counter()
            report = linkage.link(ws)
            walls.append(time.perf_counter() - started)
        from benchmarks import linkage_quality

        records, _ = linkage.prepare(ws)
        plain = [linkage_quality.plain_splink(records.rename(columns={"unique_id": "position"}))[1]
                 for _ in range(self.repeat)]
        return [row("link", "linkage.link: parties into subjects", "s", walls,
                    "read the parties and group them on e-mail in DuckDB", base,
                    parties=report.parties, subjects=report.subjects, candidates=report.candidates,
                    links={str(k): int(v) for k, v in report.links.items()},
                    timings={k: round(v, 3) for k, v in report.timings.items()}),
                row("link_vs_splink", "linkage.link against plain Splink on the same parties", "s", walls,
                    "a plain Splink pipeline (names, street, postcode, city; EM) on the same parties", plain,
                    candidates_share=round(report.candidates / max(report.parties, 1), 4))]

    # 7. linkage quality

    def step_linkage(self) -> list[dict]:
        from benchmarks import linkage_quality

        share = 1.0 if self.scale >= 1 else max(self.scale, 0.05)
        rows = []
        for one in linkage_quality.measure(self.work / "linkage", share=share):
            ours, splink = one["results"][0], one["results"][1]
            what = f"{one['set'].upper()}: linkage.link against plain Splink and ECM (names and addresses)"
            rows.append(row(f"linkage_{one['set']}", what, "s", [ours["seconds"]],
                            "plain Splink on the same records", [splink["seconds"]], quality=one))
        return rows

    # 3. find

    def step_find(self) -> list[dict]:
        from workbench.datamap import linkage
        from workbench.store.workspace import Workspace

        ws = Workspace(self.workspace_dir)
        asks = _find_asks(ws, FIND_SUBJECTS)
        latencies, base, hits = [], [], 0
        with duckdb.connect(str(ws.db_path), read_only=True) as con:
            for _ in range(self.repeat):
                for kind, value in asks:
                    base.append(_clock(lambda k=kind, v=value: _lookup(con, k, v)))
        for _ in range(self.repeat):
            for kind, value in asks:
                started = time.perf_counter()
                found = linkage.find(ws, **{kind: value})
                latencies.append(time.perf_counter() - started)
                hits += not found.empty
        kinds = {k: sum(1 for a, _ in asks if a == k) for k in ("email", "iban", "name")}
        per_kind = {}
        for kind in kinds:
            mine = [t for i, t in enumerate(latencies) if asks[i % len(asks)][0] == kind]
            if mine:
                per_kind[kind] = {"median": statistics.median(mine), "p95": float(np.percentile(mine, 95))}
        return [row("find", f"linkage.find, {len(asks)} subjects x {self.repeat} (e-mail, IBAN, name)",
                    "s", latencies, "exact look-up of the same value in DuckDB (open connection)", base,
                    subjects=len(asks), asked=kinds, found_share=round(hits / max(len(latencies), 1), 3),
                    per_kind=per_kind)]

    # mail

    def step_mail(self, scale: float) -> list[dict]:
        """``workbench import`` of a generated Takeout mbox (a subprocess: wall time, peak RSS),
        then :func:`workbench.datamap.mail.find` of some people by e-mail, name and phone."""
        from workbench.datamap import mail
        from workbench.demo import gmail as demo_gmail
        from workbench.store.workspace import Workspace

        count = max(int(MAIL_MESSAGES * scale), 20)
        mbox = self.work / "mail.mbox"
        people = demo_gmail.write_many(mbox, count)
        walls, rsses, base, base_rsses = [], [], [], []
        for i in range(self.repeat):
            base.append(_clock(lambda: _sha256(mbox)))
            base_rsses.append(timed([sys.executable, "-c", MBOX_WALK, str(mbox)])[1] or 0.0)
            folder = self.work / f"mail-workspace-{i}"
            wall, rss, _ = timed([workbench_cli(), "--workspace", str(folder), "import", str(mbox)])
            walls.append(wall)
            rsses.append(rss or 0.0)
            if i < self.repeat - 1:
                shutil.rmtree(folder)
        ws = Workspace(self.work / f"mail-workspace-{self.repeat - 1}")
        asked = people[:: max(len(people) // MAIL_FIND, 1)][:MAIL_FIND]
        finds, lookups, hits = [], [], 0
        with duckdb.connect(str(ws.db_path), read_only=True) as con:
            for email, _, _ in asked:
                lookups.append(_clock(lambda e=email: con.execute(
                    "SELECT msg_no FROM mail_addresses WHERE address = ?", [e]).fetchall()))
        for email, name, phone in asked:
            started = time.perf_counter()
            found = mail.find(ws, emails=[email], names=[name], phones=[phone])
            finds.append(time.perf_counter() - started)
            hits += len(found)
        size = mbox.stat().st_size
        return [row("mail", f"workbench import of a {count:,}-message Takeout mbox ({size / 2**20:.0f} MiB)",
                    "s", walls, "reading the file and hashing it (SHA-256)", base, messages=count,
                    messages_per_second=round(count / statistics.median(walls), 1), mbox_bytes=size),
                row("mail_rss", "peak memory of that import", "MiB", rsses,
                    "the standard library's mailbox parsing every message of the file", base_rsses),
                row("mail_find", f"mail.find of {len(asked)} people by e-mail, name and phone", "s", finds,
                    "exact look-up of the e-mail address in mail_addresses (open connection)", lookups,
                    messages_found=hits)]

    # 4. package

    def step_package(self) -> list[dict]:
        from workbench.reference import register as registry
        from workbench.rights import package
        from workbench.store.workspace import Workspace

        ws = Workspace(self.workspace_dir)
        register = registry.load()
        subject, email = _rich_subject(ws)
        walls, base, records = [], [], 0
        for i in range(self.repeat):
            out = self.work / f"baseline-package-{i}"
            base.append(_clock(lambda o=out: _subject_csv(ws, subject, o)))
            out = self.work / f"package-{i}"
            started = time.perf_counter()
            result = package.write_package(ws, register, subject_ids=[subject], out=out,
                                           identities={"e-mail": email}, pdf=False)
            walls.append(time.perf_counter() - started)
            records = sum(sum(s.records.values()) for s in result.systems)
        return [row("package", "package.write_package, one subject, pdf=False", "s", walls,
                    "read the subject's records and write them as CSV", base,
                    records=records, systems=sum(1 for s in result.systems if s.records))]

    # 5. annual report

    def step_annual(self) -> list[dict]:
        cli = workbench_cli()
        helped = subprocess.run([cli, "report", "annual", "--help"], capture_output=True, text=True)
        if helped.returncode != 0:
            return [failed("annual", "workbench report annual", "not available: the command does not "
                                                                  "exist (yet) in this workbench")]
        pdf_option = "--no-pdf" in helped.stdout
        base = [timed(_nbconvert_baseline(self.work, i))[0] for i in range(self.repeat)]
        rows = []
        routes = [("annual", ["--no-pdf"] if pdf_option else [], "HTML")]
        if pdf_option:
            routes.append(("annual_pdf", [], "HTML and PDF"))
        for step, flags, what in routes:
            walls, rsses = [], []
            for i in range(self.repeat):
                out = self.work / f"{step}-{i}"
                wall, rss, _ = timed([cli, "--workspace", str(self.workspace_dir), "report", "annual",
                                      "--year", str(REPORT_YEAR), "--out", str(out), *flags])
                walls.append(wall)
                rsses.append(rss)
            rows.append(row(step, f"workbench report annual --year {REPORT_YEAR} ({what}, wall)", "s",
                            walls, "nbconvert --execute of a one-cell notebook to HTML (wall)", base,
                            peak_rss_mib=max(r for r in rsses if r is not None) if any(rsses) else None))
        return rows

    # 6. dashboard

    def step_dashboard(self) -> list[dict]:
        if not CHROMIUM.exists():
            return [failed("dashboard", "dashboard first render", "not available: /usr/bin/chromium is "
                                                                   "not installed")]
        from playwright.sync_api import sync_playwright

        app = self.work / "baseline_app.py"
        app.write_text(BASELINE_PAGE, "utf-8")
        dash = [sys.executable, "-m", "workbench", "--workspace", str(self.workspace_dir), "dashboard",
                "--reports", str(self.work / "dashboard-reports"), "--port"]
        plain = [sys.executable, "-m", "panel", "serve", str(app), "--address", "127.0.0.1"]
        renders, starts, base_renders, base_starts, outside = [], [], [], [], []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            for _ in range(self.repeat):
                start, render = _served_render(browser, plain, "baseline_app", outside, baseline=True)
                base_starts.append(start)
                base_renders.append(render)
                start, render = _served_render(browser, dash, "dashboard_app", outside)
                starts.append(start)
                renders.append(render)
            version = browser.version
            browser.close()
        self.facts["chromium"] = version
        return [row("dashboard", "dashboard first render: navigation start to the first visible "
                    ".tabulator-cell (headless chromium)", "s", renders,
                    "the same for a one-table Panel page", base_renders, requests_refused=len(outside)),
                row("dashboard_start", "dashboard server start-up: process start to the first page "
                    "answered (reported apart)", "s", starts, "the same for a one-table Panel page",
                    base_starts)]


def _clock(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def many_files(scale: float) -> int:
    """How many small files the many-files step imports at a scale (at least 20)."""
    return max(20, round(MANY_FILES * scale))


def _small_files(payments: Path, folder: Path, count: int) -> list[str]:
    """``count`` settlement CSVs of a few rows each, cut from the payments CSV (each file's rows its
    own, so no file is a copy of another); their names, relative to ``folder``."""
    folder.mkdir(parents=True)
    with payments.open(encoding="utf-8-sig", newline="") as handle:
        header = handle.readline()
        names = []
        for i in range(count):
            lines = [handle.readline() for _ in range(SMALL_FILE_ROWS)]
            if not lines[-1]:
                break  # a dataset smaller than the files asked for
            names.append(f"payments-{i:05d}.csv")
            (folder / names[-1]).write_text(header + "".join(lines), encoding="utf-8-sig", newline="")
    return names


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


def _group_on_email(ws) -> None:
    with duckdb.connect(str(ws.db_path), read_only=True) as con:
        con.sql("SELECT * FROM parties").to_arrow_table().to_pandas()
        con.execute("""SELECT lower(trim(email)) AS email, count(*) FROM parties
                       WHERE coalesce(email, '') <> '' GROUP BY 1""").fetchall()


def _find_asks(ws, n: int) -> list[tuple[str, str]]:
    """``n`` subjects in a seeded draw, asked for by e-mail, IBAN and name in turn (another of the
    three when the party lacks one)."""
    people = ws.query("""
        SELECT s.subject_id, any_value(p.email) FILTER (WHERE coalesce(p.email, '') <> '') AS email,
               any_value(p.iban) FILTER (WHERE coalesce(p.iban, '') <> '') AS iban,
               any_value(coalesce(nullif(trim(concat_ws(' ', p.given_name, p.name_prefix,
                                                         p.family_name)), ''), nullif(p.name, ''))) AS name
        FROM subjects s JOIN parties p USING (service, export_kind, party_key)
        GROUP BY s.subject_id HAVING email IS NOT NULL OR iban IS NOT NULL OR name IS NOT NULL
        ORDER BY s.subject_id""")
    chosen = people.sample(n=min(n, len(people)), random_state=7)
    asks = []
    for i, person in enumerate(chosen.itertuples(index=False)):
        order = ["email", "iban", "name"][i % 3:] + ["email", "iban", "name"][:i % 3]
        kind = next((k for k in order if isinstance(getattr(person, k), str)), None)
        if kind:
            asks.append((kind, getattr(person, kind)))
    if not asks:
        raise StepError("no subject has an e-mail address, IBAN or name to find it by")
    return asks


def _lookup(con: duckdb.DuckDBPyConnection, kind: str, value: str) -> None:
    column = {"email": "email", "iban": "iban", "name": "family_name"}[kind]
    probe = value.split()[-1] if kind == "name" else value
    con.execute(f"SELECT party_key FROM party_versions WHERE {column} = ?", [probe]).fetchall()


def _rich_subject(ws) -> tuple[str, str]:
    """The subject known in the most systems with the most records (first by id), and its e-mail."""
    found = ws.query("""
        SELECT s.subject_id, count(DISTINCT s.service) AS systems, count(*) AS parties,
               any_value(p.email) FILTER (WHERE coalesce(p.email, '') <> '') AS email
        FROM subjects s JOIN parties p USING (service, export_kind, party_key)
        GROUP BY s.subject_id HAVING email IS NOT NULL
        ORDER BY systems DESC, parties DESC, s.subject_id LIMIT 1""")
    if found.empty:
        raise StepError("no subject with an e-mail address to package")
    return found["subject_id"].iloc[0], found["email"].iloc[0]


def _subject_csv(ws, subject: str, out: Path) -> None:
    out.mkdir(parents=True)
    joined = """SELECT t.* FROM subjects s JOIN {} t USING (service, export_kind, party_key)
                WHERE s.subject_id = ?"""
    parties = ws.query(joined.format("parties"), [subject])
    documents = ws.query(joined.format("documents"), [subject])
    parties.to_csv(out / "parties.csv", index=False)
    documents.to_csv(out / "documents.csv", index=False)


def _nbconvert_baseline(work: Path, i: int) -> list[str]:
    notebook = work / f"baseline-{i}.ipynb"
    notebook.write_text(json.dumps({
        "cells": [{"cell_type": "code", "execution_count": None, "id": "c1", "metadata": {},
                   "outputs": [], "source": ["print(1)"]}],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
        "nbformat": 4, "nbformat_minor": 5}), "utf-8")
    return [str(Path(sys.executable).with_name("jupyter")), "nbconvert", "--to", "html", "--execute",
            "--HTMLExporter.require_js_url=", "--HTMLExporter.mathjax_url=", str(notebook)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _served_render(browser, command: list[str], app: str, outside: list[str],
                   baseline: bool = False) -> tuple[float, float]:
    """Start a server, wait for its first answer (start-up), then time a first render in a new
    browser context: performance.now() when the first .tabulator-cell is visible. The dashboard
    asks for a login (its user and one-run password are printed at start): the browser logs in
    first, and the render is timed in the page the login leads to."""
    port = _free_port()
    full = [*command, str(port)] if not baseline else \
        [*command, "--port", str(port), "--allow-websocket-origin", f"127.0.0.1:{port}"]
    url = f"http://127.0.0.1:{port}/{app}"
    started = time.perf_counter()
    server = subprocess.Popen(full, stdout=subprocess.DEVNULL if baseline else subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    login = None if baseline else _login_reader(server)
    try:
        while True:
            try:
                with urllib.request.urlopen(url, timeout=60) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                if server.poll() is not None:
                    raise StepError(f"the {app} server exited with status {server.returncode}") from None
                if time.perf_counter() - started > 600:
                    raise StepError(f"the {app} server did not answer within 600 s") from None
                time.sleep(0.2)
        start_up = time.perf_counter() - started
        context = browser.new_context(viewport={"width": 1500, "height": 1100})
        page = context.new_page()
        page.route("**/*", refuse_outside(LOCAL, outside))
        page.goto(url, wait_until="commit", timeout=120000)
        if login is not None:
            if not login["told"].wait(timeout=60) or "user" not in login:
                raise StepError(f"the {app} server printed no login")
            page.locator("input[name='username']").fill(login["user"])
            page.locator("input[name='password']").fill(login["password"])
            page.locator("button[type='submit'], input[type='submit']").first.click()
        page.locator(".tabulator-cell:visible").first.wait_for(timeout=120000)
        render = page.evaluate("() => performance.now()") / 1000
        context.close()
        return start_up, render
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _login_reader(server: subprocess.Popen) -> dict:
    """The user and password the dashboard prints at start, read by a thread that keeps reading
    its output afterwards (a full pipe would stop the server); ``told`` is set once they are known
    or the output ended."""
    login: dict = {"told": threading.Event()}

    def read() -> None:
        for line in server.stdout:
            found = re.search(r"log in as '([^']+)' with the password (\S+)", line)
            if found:
                login.update(user=found.group(1), password=found.group(2))
                login["told"].set()
        login["told"].set()

    threading.Thread(target=read, daemon=True).start()
    return login


# --------------------------------------------------------------------------------------------
# the run and its report


def machine() -> dict:
    """Cores, memory, processor and the versions that decide the figures."""
    memory = re.search(r"MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text()) \
        if Path("/proc/meminfo").exists() else None
    cpu = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text()) \
        if Path("/proc/cpuinfo").exists() else None
    versions = {}
    for name in ("duckdb", "pandas", "pyarrow", "splink", "panel", "bokeh", "nbconvert", "playwright"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {"cores": os.cpu_count(), "ram_gib": round(int(memory.group(1)) / 1024**2, 1) if memory else None,
            "cpu": cpu.group(1).strip() if cpu else platform.processor(), "python": platform.python_version(),
            "platform": platform.platform(), "gnu_time": TIME.exists(), "versions": versions}


def run(scale: float, out: Path, repeat: int, steps: list[str], data: Path | None = None,
        work: Path | None = None, keep: bool = False) -> dict:
    """Generate (or reuse) the dataset, measure the steps and write the JSON and Markdown."""
    started = datetime.now().astimezone()
    load = os.getloadavg()  # other work on the machine shows in the figures
    if work is None:
        work = Path(tempfile.mkdtemp(prefix="workbench-bench-"))
    else:  # a folder of its own in the one given: earlier runs' workspaces would change the figures
        work = Path(work) / f"run-{started:%Y%m%d-%H%M%S}"
        work.mkdir(parents=True)
    try:
        dataset = generate(Path(data or work / "data"), scale)
        bench = Bench(dataset, work, repeat)
        rows: list[dict] = []
        if "import" in steps:
            rows += _guarded("import", "import of the Mollie settlement CSV", bench.step_import)
        if "mail" in steps:  # a mailbox of its own: needs none of the other steps' workspace
            rows += _guarded("mail", "import of a Takeout mbox", lambda: bench.step_mail(scale))
        bench.scale = scale
        if "many_files" in steps:  # files of its own too
            rows += _guarded("many_files", "import of many small files", bench.step_many_files)
        later = [step for step in steps if step not in ("import", "mail", "many_files")]
        needs_link = "link" not in later and bool(set(later) & {"find", "package", "annual", "dashboard"})
        unprepared = _guarded("setup", "setup", lambda: bench.prepare(needs_link) or []) if later else []
        for step in later:
            rows += [failed(step, step, f"no workspace: {r['error']}") for r in unprepared] or \
                _guarded(step, step, getattr(bench, f"step_{step}"))
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    finished = datetime.now().astimezone()
    result = {"started": started.isoformat(timespec="seconds"),
              "finished": finished.isoformat(timespec="seconds"),
              "seconds": round((finished - started).total_seconds(), 1), "scale": scale, "repeat": repeat,
              "steps": steps, "machine": machine() | {
                  "chromium": bench.facts.get("chromium"), "load_average_start": [round(x, 2) for x in load],
                  "load_average_end": [round(x, 2) for x in os.getloadavg()]},
              "dataset": dataset.facts() | {"generation_seconds": round(dataset.seconds, 2)},
              "setup": {k: v for k, v in bench.facts.items() if k != "chromium"}, "results": rows}
    write_report(result, out, started)
    return result


def _guarded(step: str, what: str, measure: Callable[[], list[dict]]) -> list[dict]:
    """A step's rows, or one row saying why it could not be measured (the error's kind and the
    workbench's own message, which names no person)."""
    try:
        return measure()
    except (StepError, WorkbenchError) as error:  # their messages name no person
        return [failed(step, what, str(error))]
    except Exception as error:  # noqa: BLE001 - reported in the figures, the run goes on
        frame = traceback.extract_tb(error.__traceback__)[-1]
        where = f"{Path(frame.filename).name}:{frame.lineno}"
        return [failed(step, what, f"failed: {type(error).__name__} at {where}")]


def write_report(result: dict, out: Path, started: datetime) -> list[Path]:
    """``bench-<timestamp>.json`` and ``.md`` in ``out``, copied to ``latest.json`` and ``latest.md``."""
    out.mkdir(parents=True, exist_ok=True)
    stem = f"bench-{started:%Y%m%d-%H%M%S}"
    paths = [out / f"{stem}.json", out / f"{stem}.md"]
    paths[0].write_text(json.dumps(result, indent=2) + "\n", "utf-8")
    paths[1].write_text(markdown(result), "utf-8")
    for path in paths:
        shutil.copyfile(path, out / f"latest{path.suffix}")
    return paths


def _figure(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    if unit == "s" and value < 1:
        return f"{value * 1000:.1f} ms"
    return f"{value:.2f} s" if unit == "s" else f"{value:.0f} {unit}"


def markdown(result: dict) -> str:
    """The figures as a Markdown table, with the machine and the dataset."""
    data, host = result["dataset"], result["machine"]
    lines = [f"# Benchmark {result['started']} (scale {result['scale']}, {result['repeat']} repeats)", "",
             f"Machine: {host['cores']} cores, {host['ram_gib']} GiB RAM, {host['cpu']}, Python "
             f"{host['python']}; load average {host['load_average_start'][0]} at the start, "
             f"{host['load_average_end'][0]} at the end; "
             + ", ".join(f"{k} {v}" for k, v in host["versions"].items() if v) + ".",
             f"Dataset: {data['payment_rows']:,} payment rows ({data['bytes'].get(data['payments'], 0):,} "
             f"bytes), {sum(data['party_rows'].values()):,} parties "
             f"({', '.join(f'{k} {v:,}' for k, v in data['party_rows'].items())}), {data['people']:,} "
             f"people, {data['payers']:,} payers; web shop variant {data.get('webshop_rows', 0):,} rows "
             f"from {data.get('webshop_payers', 0):,} payers; written in {data['generation_seconds']} s"
             + (" (reused)" if data["reused"] else "") + ".", "",
             "| step | measured (median) | spread (min–max) | n | baseline (median) | ratio | target | met |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in result["results"]:
        if r.get("error"):
            lines.append(f"| {r['what']} | {r['error']} | – | 0 | – | – | {r['target']['text'] or '–'} "
                         "| not measured |")
            continue
        m, b, unit = r["measured"], r["baseline"], r["unit"]
        p95 = f", p95 {_figure(m['p95'], unit)}" if r["step"] == "find" else ""
        met = {True: "yes", False: "**no**", None: "–"}[r["met"]]
        ratio = f"{r['ratio']:.2f}x" if r["ratio"] is not None else "–"
        lines.append(f"| {r['what']} | {_figure(m['median'], unit)}{p95} | {_figure(m['min'], unit)} – "
                     f"{_figure(m['max'], unit)} | {m['n']} | {_figure(b['median'], unit)} ({b['what']}) | "
                     f"{ratio} | {r['target']['text'] or '–'} | {met} |")
    setup = result["setup"]
    if setup:
        linked = f"; linked once in {setup['link_seconds']} s" if "link_seconds" in setup else ""
        lines += ["", "Setup (not a step): parties imported in "
                  f"{setup.get('import_parties_seconds')} s{linked}; workspace: "
                  f"{json.dumps(setup.get('workspace', {}))}."]
    quality = [r["extra"]["quality"] for r in result["results"] if "quality" in r.get("extra", {})]
    if quality:
        from benchmarks import linkage_quality

        lines += ["", linkage_quality.markdown(quality).rstrip()]
    lines += ["", f"Run took {result['seconds']} s, {result['started']} to {result['finished']}.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiplies 1,000,000 payment rows and 200,000 parties (default 1.0)")
    parser.add_argument("--out", type=Path, default=Path("reports/bench"), help="folder for the figures")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each step (default 5)")
    parser.add_argument("--steps", default=",".join(STEPS), help=f"comma-separated, of {', '.join(STEPS)}")
    parser.add_argument("--data", type=Path, help="folder of the dataset, reused when it matches the scale")
    parser.add_argument("--work", type=Path, help="folder for the workspaces (default: a temporary one); "
                        "each run makes a run-<timestamp> folder of its own in it")
    parser.add_argument("--keep", action="store_true", help="keep the run's workspaces and packages")
    args = parser.parse_args(argv)
    steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    unknown = sorted(set(steps) - set(STEPS))
    if unknown or args.repeat < 1 or args.scale <= 0:
        parser.error(f"unknown steps {unknown}" if unknown else "--repeat and --scale must be positive")
    result = run(args.scale, args.out, args.repeat, steps, args.data, args.work, args.keep)
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

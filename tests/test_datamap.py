"""The data map end to end on the demo business: inventory, undeclared categories, the XLSX/CSV
export, one subject's map, and the command line that shows them."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from conftest import payments_csv

from workbench import datamap, demo, inventory, linkage, pipeline
from workbench import register as registry
from workbench.workspace import Workspace


@pytest.fixture(scope="module")
def run(demo_run: pipeline.Run) -> pipeline.Run:
    return demo_run


@pytest.fixture(scope="module")
def register() -> registry.Register:
    return registry.load()


@pytest.fixture(scope="module")
def fields(run: pipeline.Run, register: registry.Register):
    return inventory.build(run.workspace, register)


def test_inventory_has_every_column_of_every_export(run: pipeline.Run, fields) -> None:
    imported = run.workspace.query("""
        SELECT count(*) AS n FROM columns WHERE import_id IN
            (SELECT max(import_id) FROM imports GROUP BY service, export_kind)""").n[0]
    assert len(fields) == imported
    assert fields.fill_rate.between(0, 1).all()
    personal = fields[fields.personal.eq(True)]
    assert personal.category.notna().all(), personal[personal.category.isna()]
    assert {"mapping"} <= set(fields.classified_by)


def test_bsn_is_flagged_and_examples_are_masked(run: pipeline.Run, fields) -> None:
    bsn = fields[fields.field.eq("bsn") & fields.service.eq("exact")]
    assert not bsn.empty and bsn.special_or_national_id.all()
    emails = run.workspace.query("SELECT DISTINCT raw_value FROM identifiers WHERE kind = 'email'")
    shown = " ".join(fields.examples.fillna(""))
    assert not any(e in shown for e in emails.raw_value), "an e-mail address shown unmasked"


def test_undeclared_category_is_listed(tmp_path: Path, register: registry.Register) -> None:
    path = tmp_path / "p.csv"
    lines = payments_csv(path).read_text(encoding="utf-8-sig").splitlines()
    ips = ["83.160.12.7", "2001:db8::1", "145.53.1.20", "31.151.9.4"]
    path.write_text("\n".join([lines[0] + ",IP-adres"] + [f"{line},{ip}" for line, ip in
                                                          zip(lines[1:], ips, strict=True)]))
    ws = Workspace(tmp_path / "ws")
    ws.import_files([path])
    missing = inventory.undeclared(inventory.build(ws, register))
    assert ("mollie", "user.device.ip_address") in set(zip(missing.service, missing.category,
                                                           strict=True))


def test_datamap_files(run: pipeline.Run) -> None:
    xlsx, *csvs = run.datamap
    assert stat.S_IMODE(xlsx.stat().st_mode) == 0o600
    book = openpyxl.load_workbook(xlsx, read_only=True)
    assert book.sheetnames == ["Register (Art. 30)", "Processors", "Field inventory",
                               "Undeclared categories", "Checks"]
    assert len(csvs) == 5 and all(p.stat().st_size > 0 for p in csvs)


def test_subject_map_holds_one_person_across_systems(run: pipeline.Run,
                                                     register: registry.Register) -> None:
    business = demo.build()
    client = next(c for c in business.clients if c.kind == "consumer" and not c.flags
                  and {"mollie", "moneybird", "exact"} <= c.services)
    found = linkage.find(run.workspace, email=client.person.email)
    assert not found.empty
    cells = datamap.subject_map(run.workspace, register, found.subject_id.iloc[0])
    assert {"mollie", "moneybird", "exact"} <= set(cells.service)
    assert cells.processor.notna().all() and cells.purpose.ne("").all()
    others = [c.person.email.lower() for c in business.clients if c.number != client.number]
    values = set(cells.value.str.lower())
    assert not values & set(others), "another client's e-mail address is in this subject's map"


def test_cli_find_show_datamap(run: pipeline.Run, tmp_path: Path) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "workbench", "--workspace",
                               str(run.workspace.path), *args], capture_output=True, text=True,
                              env={**os.environ})

    email = run.workspace.query(
        "SELECT value FROM identifiers WHERE kind = 'email' AND valid LIMIT 1").value[0]
    found = cli("find", "--email", email)
    assert found.returncode == 0, found.stderr
    match = re.search(r"\bS-[0-9A-Za-z]+", found.stdout)
    assert match, found.stdout
    subject = match.group(0)
    shown = cli("show", subject)
    assert shown.returncode == 0 and "processor" in shown.stdout and email in shown.stdout.lower()
    out = tmp_path / "map.xlsx"
    assert cli("datamap", "--out", str(out)).returncode == 0 and out.exists()
    assert cli("show", "S-does-not-exist").returncode == 2

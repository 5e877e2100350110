"""The data map end to end on the demo business: inventory, undeclared categories, the XLSX/CSV
export, one subject's map, and the command line that shows them."""

from __future__ import annotations

import html
import os
import re
import shutil
import stat
import subprocess
import sys
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from conftest import payments_csv
from pypdf import PdfReader

from workbench import demo, pipeline
from workbench.configuration import ConfigError
from workbench.datamap import export, inventory, linkage
from workbench.demo import story
from workbench.reference import register as registry
from workbench.store.workspace import Workspace


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
    xlsx, *rest = run.datamap
    assert stat.S_IMODE(xlsx.stat().st_mode) == 0o600
    book = openpyxl.load_workbook(xlsx, read_only=True)
    assert book.sheetnames == ["Register (Art. 30)", "Processors", "Field inventory",
                               "Undeclared categories", "Checks"]
    csvs = [p for p in rest if p.suffix == ".csv"]
    assert len(csvs) == 5 and all(p.stat().st_size > 0 for p in csvs)
    year = date.today().year
    assert [p.name for p in rest if p.suffix != ".csv"] == [f"ropa-{year}.html", f"ropa-{year}.pdf"]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in rest)


def test_ropa_of_the_year_is_dated_with_its_review(run: pipeline.Run, register: registry.Register,
                                                   tmp_path: Path) -> None:
    written = export.write(run.workspace, register, tmp_path / "datamap.xlsx", year=2025,
                            today=date(2026, 1, 15))
    page = html.unescape((tmp_path / "ropa-2025.html").read_text("utf-8"))
    assert tmp_path / "ropa-2025.pdf" in written
    assert "(Art. 30 GDPR) 2025" in page and "drawn up on 2026-01-15" in page
    # nobody has reviewed the shipped register yet: shown as a gap, not left blank
    assert "GAP: nobody has reviewed this register" in page and "GAP: no review date" in page
    assert len(export.review_gaps(register)) == 2
    for activity in register.activities.values():
        assert activity.purpose_en in page
    reader = PdfReader(tmp_path / "ropa-2025.pdf")
    root = reader.trailer["/Root"]
    assert "/StructTreeRoot" in root and root["/Lang"] == "en"
    assert reader.metadata.title.startswith("Record of processing activities")


def test_review_fields_are_validated(tmp_path: Path) -> None:
    folder = tmp_path / "register"
    shutil.copytree(Path(registry.__file__).parents[1] / "config" / "register", folder)
    path = folder / "controller.toml"
    text = path.read_text("utf-8")
    path.write_text(text.replace('reviewed_on = ""', 'reviewed_on = "15 januari"'), "utf-8")
    with pytest.raises(ConfigError, match="reviewed_on: must be a date YYYY-MM-DD"):
        registry.load(folder)
    path.write_text(text.replace('reviewed_on = ""', 'reviewed_on = "2026-01-15"'), "utf-8")
    with pytest.raises(ConfigError, match="reviewed_by: the reviewer and the review date go"):
        registry.load(folder)
    path.write_text(text.replace('reviewed_on = ""', 'reviewed_on = "2026-01-15"')
                    .replace('reviewed_by = ""', 'reviewed_by = "J. de Kale"'), "utf-8")
    reviewed = registry.load(folder)
    assert export.review_gaps(reviewed) == []
    assert "2026-01-15 by J. de Kale" in set(registry.ropa(reviewed)["last reviewed"])


def test_undeclared_data_of_a_subject_is_listed_for_the_officer(run: pipeline.Run,
                                                               register: registry.Register) -> None:
    client = next(c for c in demo.build().clients if "bsn_in_exact" in c.flags)
    found = linkage.find(run.workspace, email=client.person.email)
    subjects = list(found.subject_id.unique())
    flagged = export.undeclared_for_subject(run.workspace, register, subjects)
    assert {"bsn", "birth_date"} <= set(flagged.field)
    assert set(flagged.loc[flagged.field.isin(["bsn", "birth_date"]), "service"]) == {"exact"}
    assert (flagged.records > 0).all()
    # column and category names only: no value of the subject's
    assert set(flagged.columns) == {"service", "export_kind", "column", "field", "category", "records"}
    ordinary = story.demo_client()
    plain = linkage.find(run.workspace, email=ordinary.person.email).subject_id.unique()
    assert not {"bsn", "birth_date"} & set(export.undeclared_for_subject(run.workspace, register,
                                                                           list(plain)).field)


def test_subject_map_holds_one_person_across_systems(run: pipeline.Run,
                                                     register: registry.Register) -> None:
    business = demo.build()
    client = next(c for c in business.clients if c.kind == "consumer" and not c.flags
                  and {"mollie", "moneybird", "exact"} <= c.services)
    found = linkage.find(run.workspace, email=client.person.email)
    assert not found.empty
    cells = export.subject_map(run.workspace, register, found.subject_id.iloc[0])
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
    done = cli("datamap", "--out", str(out), "--year", "2025", "--no-pdf")
    assert done.returncode == 0 and out.exists() and (tmp_path / "ropa-2025.html").exists()
    assert not (tmp_path / "ropa-2025.pdf").exists() and "gap: controller.toml: reviewed_by" in done.stdout
    assert cli("show", "S-does-not-exist").returncode == 2

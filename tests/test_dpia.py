"""The DPIA-style report on the demo business: every checklist item D35-01..D35-12 in the HTML and
the JSON, the computed findings against direct workspace queries, the PDF, the files, the
activity filter, the command line and the validation of the reviewed TOML files."""

from __future__ import annotations

import json
import re
import shutil
import stat
from datetime import date
from pathlib import Path

import pytest
from conftest import payments_csv
from pypdf import PdfReader

from workbench import pipeline
from workbench.audit import policy_audit
from workbench.configuration import ConfigError
from workbench.errors import WorkbenchError
from workbench.reference import register as registry
from workbench.reports import dpia
from workbench.rights import requests
from workbench.store.workspace import Workspace
from workbench.ui import cli

TODAY = date(2026, 11, 25)


@pytest.fixture(scope="module")
def demo(demo_run: pipeline.Run) -> pipeline.Run:
    run = demo_run
    ws = run.workspace
    requests.new(ws, type="access", email="late@example.nl", received=date(2026, 9, 1), today=TODAY)
    requests.new(ws, type="rectification", email="new@example.nl", received=date(2026, 11, 20), today=TODAY)
    return run


@pytest.fixture(scope="module")
def reg():
    return registry.load()


@pytest.fixture(scope="module")
def assessment(demo, reg):
    return dpia.assess(demo.workspace, reg, today=TODAY, lang="en")


@pytest.fixture(scope="module")
def report(assessment, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "dpia"
    written = dpia.write(assessment, out)
    html = (out / "dpia.html").read_text("utf-8")
    return {"out": out, "written": written, "html": html,
            "json": json.loads((out / "dpia.json").read_text("utf-8"))}


def section(html: str, item: str) -> str:
    match = re.search(rf'<section id="{item}">(.*?)</section>', html, re.S)
    assert match, f"no section {item}"
    return match.group(1)


def text(fragment: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment))


# --- the checklist ---------------------------------------------------------------------------------

@pytest.mark.parametrize("item", list(dpia.CHECKLIST))
def test_checklist_item_has_a_section_and_a_json_key(report, item) -> None:
    title, key = dpia.CHECKLIST[item]
    body = section(report["html"], item)
    assert item in body and title.split()[0] in body
    assert len(text(body)) > 100
    assert report["json"]["checklist"][item] == {"section": title, "key": key}
    assert report["json"][key]


def test_d35_01_systematic_description(assessment, report, reg) -> None:
    d = assessment.description
    assert [a["key"] for a in d["activities"]] == list(reg.activities)
    assert {"category → system", "system → processor", "processor → location", "processor → sub-processor"} \
        == {f["stage"] for f in d["flows"]}
    assert any(t["outside_eea"] and "adequacy" in t["safeguard"] for t in d["transfers"])
    assert {r["rule"] for r in d["retention"]} == {a.retention for a in reg.activities.values()}
    assert {li["activity"] for li in d["legitimate_interests"]} == {"Website hosting", "Website analytics"}
    body = text(section(report["html"], "D35-01"))
    for heading in ("Purposes", "Data categories", "Systems", "Data flows", "Recipients",
                    "transfers outside the EEA", "Retention", "Legitimate interests"):
        assert heading in body


def test_d35_01_subjects_and_records_match_the_workspace(assessment, demo) -> None:
    ws, d = demo.workspace, assessment.description
    assert d["subjects"] == int(ws.query("SELECT count(DISTINCT subject_id) AS n FROM subjects").n[0])
    newest = ws.query("""SELECT sum(rows) AS n FROM imports WHERE import_id IN
                         (SELECT max(import_id) FROM imports GROUP BY service, export_kind)""")
    assert d["records"] == int(newest.n[0])
    email = next(c for c in d["categories"] if c["category"] == "user.contact.email")
    assert 0 < email["subjects"] <= d["subjects"] and email["records"] > email["subjects"] / 2
    mollie = next(s for s in d["systems"] if s["key"] == "mollie")
    direct = ws.query("SELECT count(DISTINCT subject_id) AS n FROM subjects WHERE service = 'mollie'")
    assert mollie["subjects"] == int(direct.n[0]) > 0


def test_d35_02_legal_basis_per_purpose(assessment, reg) -> None:
    frame = assessment.necessity
    assert list(frame.activity) == list(reg.activities)
    assert frame.legal_basis.str.startswith("Art. 6(1)").all()
    assert not frame.minimisation.str.startswith("not reviewed").any()


def test_d35_02_bsn_in_exact_counted_from_the_data(assessment, demo) -> None:
    national = assessment.findings[assessment.findings.kind == "national_identifier"]
    assert set(national.system) == {"exact"}
    for row in national.itertuples():
        direct = demo.workspace.query(f"""
            SELECT count(*) AS n FROM raw_records WHERE import_id = (SELECT max(import_id) FROM imports
                WHERE service = 'exact' AND export_kind = '{row.export_kind}')
            AND coalesce(json_extract_string(record, '$."{row.column}"'), '') <> ''""")
        assert row.count == int(direct.n[0]) > 0
    assert (assessment.findings.kind == "birth_date").any()


def test_d35_02_examples_are_masked(assessment, demo, report) -> None:
    bsns = demo.workspace.query("SELECT DISTINCT bsn FROM parties WHERE coalesce(bsn, '') <> ''").bsn
    assert len(bsns)
    for value in bsns:
        assert value not in report["html"] and value not in json.dumps(report["json"])


def test_d35_02_invalid_identifiers_match_the_identifiers_view(assessment, demo) -> None:
    invalid = assessment.findings[assessment.findings.kind == "invalid_identifier"]
    direct = demo.workspace.query("""SELECT service, kind, count(*) AS n FROM identifiers WHERE NOT valid
                                     GROUP BY ALL""")
    assert len(invalid) == len(direct) > 0
    expected = {(r.service, r.kind): r.n for r in direct.itertuples()}
    assert {(r.system, r.category): r.count for r in invalid.itertuples()} == expected


def test_d35_02_past_retention_matches_the_documents(assessment, demo, reg) -> None:
    late = assessment.findings[assessment.findings.kind == "past_retention"]
    assert late["count"].sum() > 0
    assert late["count"].sum() == policy_audit.past_retention(demo.workspace, reg, TODAY).records.sum()
    for row in late.itertuples():
        year = int(row.category.split()[-1])
        direct = demo.workspace.query(f"""SELECT count(*) AS n FROM documents WHERE service = '{row.system}'
                                          AND export_kind = '{row.export_kind}' AND year(date) = {year}""")
        if "(0.25 years)" in row.detail:  # a rule of months counts each record from its own date
            assert 0 < row.count <= int(direct.n[0])
        else:
            assert row.count == int(direct.n[0])


def test_d35_02_sparse_fields(assessment) -> None:
    sparse = assessment.findings[assessment.findings.kind == "sparse_field"]
    assert len(sparse) and (sparse["count"] == 0).any()
    assert sparse.detail.str.contains("below 5%").all()


def test_d35_03_rights_with_request_figures(assessment, demo, report) -> None:
    rights = assessment.rights.set_index("right")
    assert set(dpia.RIGHTS) <= set(rights.index)
    direct = demo.workspace.query("""
        SELECT type, count(*) AS received, count(*) FILTER (WHERE status = 'completed') AS completed,
               count(*) FILTER (WHERE status NOT IN ('completed', 'refused')) AS open,
               count(*) FILTER (WHERE status NOT IN ('completed', 'refused')
                                AND coalesce(extended_due, due) < DATE '2026-11-25') AS overdue
        FROM requests GROUP BY type""").set_index("type")
    for kind in requests.TYPES:
        figures = rights.loc[kind, ["received", "completed", "open", "overdue"]].tolist()
        assert figures == (direct.loc[kind].tolist() if kind in direct.index else [0, 0, 0, 0]), kind
    assert rights.loc["access", "overdue"] >= 1  # the one registered in September
    body = text(section(report["html"], "D35-03"))
    assert "Vergeetverzoek" in body and "Processor agreement" in body


def test_d35_04_three_risks_each_level_justified(assessment) -> None:
    risks = assessment.risks.set_index("risk")
    assert set(dpia.CNIL_RISKS) <= set(risks.index)
    for axis in ("severity", "likelihood"):
        for phase in ("before", "after"):
            assert risks[f"{axis}_{phase}"].between(1, 4).all()
            assert (risks[f"{axis}_{phase}_why"].str.len() > 20).all()
    names = [s["nl"] for s in assessment.meta["scale"]]
    assert names == ["Verwaarloosbaar", "Beperkt", "Aanzienlijk", "Maximaal"]


def test_d35_05_every_risk_links_catalogue_measures(assessment, report) -> None:
    catalogue = set(assessment.actions.measure)
    for ids in assessment.risks.measure_ids:
        assert ids and set(ids.split(", ")) <= catalogue
    body = text(section(report["html"], "D35-05"))
    assert all(family in body for family in dpia.FAMILIES.values())


def test_d35_06_action_plan_flags_overdue(assessment, report) -> None:
    open_ = assessment.actions[assessment.actions.open]
    assert len(open_) and open_.owner.str.len().gt(0).all()
    assert (open_.due.notna() | open_.frequency.ne("")).all()
    overdue = open_[open_.overdue]
    assert list(overdue.measure) == ["retention_purge"]
    assert "OVERDUE" in section(report["html"], "D35-06")


def test_d35_07_no_prior_consultation_on_the_demo(assessment, report) -> None:
    assert assessment.prior_consultation["required"] is False
    assert "Art. 36" in assessment.prior_consultation["reference"]
    assert "Prior consultation not required" in section(report["html"], "D35-07")


def test_d35_08_no_dpo_with_reason(report) -> None:
    body = text(section(report["html"], "D35-08"))
    assert "No DPO appointed" in body and "Art. 37" in body and "Not sought" in body


def test_d35_09_sign_off_version_status_dates(report) -> None:
    body = text(section(report["html"], "D35-09"))
    for label in ("Version", "Status", "Date", "Next review", "Sign-off: name", "2027-11-25"):
        assert label in body


def test_d35_10_screening(assessment, report) -> None:
    s = assessment.screening
    ap = [c for c in s["criteria"] if c["id"].startswith("ap.")]
    assert len(ap) == 17 and any("Financiële situatie" in c["text"] for c in ap)
    assert len([c for c in s["criteria"] if c["id"].startswith("edpb.")]) == 9
    # WP248 criterion 4 counts financial data (IBANs, card numbers): with criterion 6 that is two
    sensitive = next(c for c in s["criteria"] if c["id"] == "edpb.sensitive_data")
    assert sensitive["met"] and "records hold financial data" in sensitive["fact"]
    assert s["met"]["edpb"] == 2 and s["mandatory"] is True and s["label"] == "DPIA mandatory (Art. 35)"
    assert "Profilering" in section(report["html"], "D35-10")


def test_d35_11_summary_first_and_computed(assessment, report) -> None:
    html = report["html"]
    first = html.index('<section id="D35-11">')
    assert all(first < html.index(f'<section id="{item}">') for item in dpia.CHECKLIST if item != "D35-11")
    summary = " ".join(assessment.summary)
    assert f"{assessment.description['subjects']} linked data subjects" in summary
    assert "DPIA mandatory (Art. 35)" in summary and "1 of them overdue" in summary


def test_d35_12_csv_and_json_companions(assessment, report) -> None:
    out = report["out"]
    risks = (out / "risks.csv").read_text("utf-8").splitlines()
    measures = (out / "measures.csv").read_text("utf-8").splitlines()
    assert len(risks) == len(assessment.risks) + 1 and "severity_after_why" in risks[0]
    assert len(measures) == len(assessment.actions) + 1 and "owner" in measures[0]
    assert len(report["json"]["risks"]) == 3 and report["json"]["actions"]


def test_policy_findings_fails_first(assessment, report) -> None:
    verdicts = [f.verdict for f in assessment.policy_findings]
    assert verdicts[0] == policy_audit.FAILS
    last_fail = max(i for i, v in enumerate(verdicts) if v == policy_audit.FAILS)
    assert verdicts.index(policy_audit.HOLDS) > last_fail
    assert ">fails<" in section(report["html"], "policy-audit")


# --- the files -----------------------------------------------------------------------------------

def test_pdf_has_pages_with_text(report) -> None:
    reader = PdfReader(report["out"] / "dpia.pdf")
    assert len(reader.pages) > 3
    first = reader.pages[0].extract_text()
    assert "Management summary" in first and "linked data subjects" in first
    assert "Machine-readable companions" in "".join(p.extract_text() for p in reader.pages[-3:])


def test_html_has_no_external_references(report) -> None:
    html = report["html"]
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.I)
    assert not re.search(r"@import|url\(\s*['\"]?https?:", html, re.I)
    assert "<script" not in html and "<link" not in html


def test_files_are_owner_only(report) -> None:
    assert {p.name for p in report["written"]} == {"dpia.html", "dpia.pdf", "risks.csv", "measures.csv",
                                                   "dpia.json"}
    assert stat.S_IMODE(report["out"].stat().st_mode) == 0o700
    for path in report["written"]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


# --- scope, command line, configuration -------------------------------------------------------------

def test_one_activity(demo, reg) -> None:
    one = dpia.assess(demo.workspace, reg, activity="client_administration", today=TODAY)
    assert [a["key"] for a in one.description["activities"]] == ["client_administration"]
    assert {s["key"] for s in one.description["systems"]} == {"moneybird", "factuursturen", "exact"}
    assert set(one.findings.system) <= {"moneybird", "factuursturen", "exact"}
    assert list(one.necessity.activity) == ["client_administration"]
    assert one.meta["title"].endswith(": Klantadministratie")  # Dutch, the firm's default


def test_unknown_activity_lists_the_known_ones(demo, reg) -> None:
    with pytest.raises(WorkbenchError, match="known: payments, client_administration"):
        dpia.assess(demo.workspace, reg, activity="marketing", today=TODAY)


def test_cli_writes_the_report_and_exits_2_on_errors(demo, tmp_path, capsys) -> None:
    ws = str(demo.workspace.path)
    out = tmp_path / "cli"
    assert cli.main(["--workspace", ws, "report", "dpia", "--activity", "website_analytics", "--no-pdf",
                     "--today", "2026-11-25", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Reikwijdte: verwerking website_analytics" in printed and str(out / "dpia.html") in printed
    assert sorted(p.name for p in out.iterdir()) == ["dpia.html", "dpia.json", "measures.csv", "risks.csv"]
    assert cli.main(["--workspace", ws, "report", "dpia", "--activity", "nope",
                     "--out", str(tmp_path / "x")]) == 2
    assert "not a processing activity" in capsys.readouterr().err
    empty = str(tmp_path / "empty")
    assert cli.main(["--workspace", empty, "report", "dpia", "--out", str(tmp_path / "y")]) == 2


def config_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "dpia-config"
    shutil.copytree(dpia.default_config(), folder)
    return folder


def edit(path: Path, old: str, new: str) -> None:
    content = path.read_text("utf-8")
    assert old in content
    path.write_text(content.replace(old, new, 1), "utf-8")


def test_shipped_config_loads() -> None:
    cfg = dpia.load_config()
    assert len(cfg.screening.ap) == 17 and set(dpia.CNIL_RISKS) <= set(cfg.risks.risk)


@pytest.mark.parametrize(("file", "old", "new", "expected"), [
    ("risks", 'measures = ["backups"]', 'measures = ["backups", "teleportation"]',
     r"risks\.toml: risk\.disappearance\.measures: .*'teleportation' not a measure of measures\.toml"),
    ("risks", "likelihood_after = 1", "likelihood_after = 5",
     r"risks\.toml: risk\.disappearance\.likelihood_after: Input should be less than or equal to 4"),
    ("risks", 'severity_after_why = "Unchanged: the consequence of a loss for the client is the same."', "",
     r"risks\.toml: risk\.disappearance\.severity_after_why: Field required"),
    ("measures", 'cost = "low"', 'cost = "cheap"',
     r"measures\.toml: encryption_at_rest\.cost: Input should be 'low', 'medium' or 'high'"),
    ("screening", "[ap.biometrische_gegevens]", "[other.biometrische_gegevens]",
     r"screening\.toml: ap: .*16 processing types; the AP's list has 17"),
    ("assessment", "appointed = false", 'appointed = "no"',
     r"assessment\.toml: dpo\.appointed: Input should be a valid boolean"),
])
def test_bad_config_names_file_and_key(tmp_path, file, old, new, expected) -> None:
    folder = config_copy(tmp_path)
    edit(folder / f"{file}.toml", old, new)
    with pytest.raises(ConfigError, match=expected) as error:
        dpia.load_config(folder)
    assert str(folder) in str(error.value)


def test_every_problem_of_a_file_in_one_error(tmp_path) -> None:
    """Several mistakes across the keys of one file, and in two other files, come back together,
    each as file: key: message; a table's own check (the three CNIL risks) is reported beside its
    entries' problems."""
    folder = config_copy(tmp_path)
    measures = folder / "measures.toml"
    edit(measures, 'cost = "low"', 'cost = "cheap"')
    edit(measures, "progress = 100", "progress = 101")
    edit(measures, 'family = "organisational"', 'family = "legal"')
    edit(measures, "[dpia_review]\n", "[dpia_review]\ncolour = \"red\"\n")
    edit(folder / "screening.toml", "edpb_threshold = 2", "edpb_threshold = 0")
    edit(folder / "risks.toml", "[risk.disappearance]", "[risk.vanishing]")
    edit(folder / "risks.toml", "likelihood_after = 1", "likelihood_after = 5")
    with pytest.raises(ConfigError) as error:
        dpia.load_config(folder)
    found = error.value.problems
    file = f"{folder}/measures.toml"
    assert f"{file}: encryption_at_rest.cost: Input should be 'low', 'medium' or 'high'" in found
    assert f"{file}: owner_only_files.progress: Input should be less than or equal to 100" in found
    assert any(p.startswith(f"{file}: breach_procedure.family: Input should be") for p in found)
    assert f"{file}: dpia_review.colour: Extra inputs are not permitted" in found
    assert any(p.startswith(f"{folder}/screening.toml: edpb_threshold: ") for p in found)
    risks = f"{folder}/risks.toml"
    assert f"{risks}: risk.vanishing.likelihood_after: Input should be less than or equal to 4" in found
    assert any(p.startswith(f"{risks}: risk.disappearance: missing; the CNIL method") for p in found)
    assert len(found) == 7


def test_necessity_of_an_unknown_activity(demo, reg, tmp_path) -> None:
    folder = config_copy(tmp_path)
    edit(folder / "assessment.toml", "[necessity.payments]", "[necessity.marketing]")
    expected = r"assessment\.toml: necessity\.marketing: not an activity"
    with pytest.raises(ConfigError, match=expected):
        dpia.assess(demo.workspace, reg, config=folder)


def test_unlinked_workspace_is_refused(reg, tmp_path) -> None:
    ws = Workspace(tmp_path / "ws")
    ws.import_files([payments_csv(tmp_path / "settlement.csv")])
    with pytest.raises(WorkbenchError, match="run 'workbench link' first"):
        dpia.assess(ws, reg)


def test_bad_config_on_the_command_line(demo, tmp_path, capsys) -> None:
    folder = config_copy(tmp_path)
    edit(folder / "risks.toml", "likelihood_after = 1", "likelihood_after = 5")
    assert cli.main(["--workspace", str(demo.workspace.path), "report", "dpia", "--config", str(folder),
                     "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "risk.disappearance.likelihood_after: Input should be less than or equal to 4" in err


def test_residual_level_4_requires_prior_consultation(demo, reg, tmp_path) -> None:
    folder = config_copy(tmp_path)
    risks = folder / "risks.toml"
    content = risks.read_text("utf-8")
    start = content.index("[risk.illegitimate_access]")
    head, tail = content[:start], content[start:]
    tail = tail.replace("severity_after = 2", "severity_after = 4", 1).replace("likelihood_after = 2",
                                                                                "likelihood_after = 4", 1)
    risks.write_text(head + tail, "utf-8")
    high = dpia.assess(demo.workspace, reg, activity="payments", today=TODAY, config=folder, lang="en")
    assert high.prior_consultation["required"] is True
    assert high.prior_consultation["risks"] == ["illegitimate_access"]
    assert any("Prior consultation of the AP (Art. 36) is required" in line for line in high.summary)
    html = dpia.render_html(high)
    assert "Prior consultation of the AP required" in section(html, "D35-07")


# --- current and target risk, the Dutch report, sign-off and history, accessibility ---------------

def test_a_planned_measure_does_not_lower_the_current_level(assessment) -> None:
    risks = assessment.risks.set_index("risk")
    access = risks.loc["illegitimate_access"]
    assert access.level_now == access.level_before == 3 and access.level_after == 2
    assert "Full-disk encryption" in access.now_why and "(planned, 0%)" in access.now_why
    assert "3 (Significant / Aanzienlijk) now (current)" in " ".join(assessment.summary)


def test_the_current_level_drops_once_every_measure_is_done(demo, reg, tmp_path) -> None:
    folder = tmp_path / "dpia"
    shutil.copytree(dpia.default_config(), folder)
    path = folder / "measures.toml"
    path.write_text(re.sub(r'status = "(planned|in_progress)"', 'status = "done"',
                           path.read_text("utf-8")).replace("progress = 0", "progress = 100")
                    .replace("progress = 50", "progress = 100"), "utf-8")
    done = dpia.assess(demo.workspace, reg, today=TODAY, config=folder, lang="en").risks.set_index("risk")
    assert (done.level_now == done.level_after).all()


def test_dutch_is_the_default_language(demo, reg, tmp_path) -> None:
    dutch = dpia.assess(demo.workspace, reg, today=TODAY)
    out = tmp_path / "nl"
    dpia.write(dutch, out)
    html = (out / "dpia.html").read_text("utf-8")
    assert '<html lang="nl">' in html
    for heading in ("Managementsamenvatting", "Systematische beschrijving", "Actieplan", "Versiegeschiedenis",
                    "Huidig restrisico", "Beoogd restrisico"):
        assert heading in html, heading
    assert "DPIA verplicht" in dutch.summary[2]
    reader = PdfReader(out / "dpia.pdf")
    root = reader.trailer["/Root"]
    assert "/StructTreeRoot" in root and root["/Lang"] == "nl"
    assert reader.metadata.title == dutch.meta["title"]


def test_sign_off_and_version_history(report) -> None:
    body = text(section(report["html"], "D35-09"))
    assert "Version history" in body and "0.1" in body and "First draft" in body
    assert report["json"]["validation"]["history"][-1]["version"] == report["json"]["validation"]["version"]


def test_history_must_end_with_the_current_version(tmp_path) -> None:
    folder = tmp_path / "dpia"
    shutil.copytree(dpia.default_config(), folder)
    path = folder / "assessment.toml"
    text = path.read_text("utf-8")
    path.write_text(text.replace('version = "0.1"\nstatus', 'version = "0.2"\nstatus'), "utf-8")
    with pytest.raises(ConfigError, match="not the current version '0.2'"):
        dpia.load_config(folder)


def test_tables_fit_the_a4_page(report, tmp_path) -> None:
    """Every page's text lies inside the A4 page: no table runs off its right edge."""
    reader = PdfReader(report["out"] / "dpia.pdf")
    for number, page in enumerate(reader.pages, 1):
        width = float(page.mediabox.width)
        xs: list[float] = []

        def visit(text, cm, tm, font, size, xs=xs):
            if text.strip():
                xs.append(tm[4] * cm[0] + cm[4])

        page.extract_text(visitor_text=visit)
        assert width == pytest.approx(595.3, abs=1) and all(0 <= x < width - 20 for x in xs), number

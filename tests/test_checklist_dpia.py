"""The checklists of docs/checklists.md, item by item, on what the demo writes: the Art. 30
record (R30-01..R30-11) as XLSX, CSV and the dated HTML and PDF of the year; the DPIA-style report
(D35-01..D35-12) in Dutch, its JSON and CSV companions; and the Dutch specifics of retention,
erasure and screening (NL-01, NL-02, NL-04). Each test is named by its check id and reads the
written files, not the functions' return values, where a file holds the answer."""

from __future__ import annotations

import csv
import json
import re
import tomllib
from datetime import date
from importlib import resources

import openpyxl
import pytest
from pypdf import PdfReader

from workbench import demo, pipeline
from workbench.audit import policy_audit
from workbench.datamap import export, linkage
from workbench.reference import register as registry
from workbench.reports import dpia
from workbench.rights import erasure

TODAY = date(2026, 12, 3)
YEAR = 2026


@pytest.fixture(scope="module")
def reg() -> registry.Register:
    return registry.load()


@pytest.fixture(scope="module")
def ropa_out(demo_run: pipeline.Run, reg, tmp_path_factory) -> dict:
    """The data map of the demo as ``workbench datamap --year`` writes it."""
    out = tmp_path_factory.mktemp("datamap")
    written = export.write(demo_run.workspace, reg, out / "datamap.xlsx", year=YEAR, today=TODAY)
    folder = out / "datamap"

    def rows(name: str) -> list[dict]:
        with (folder / name).open(encoding="utf-8") as handle:
            return list(csv.DictReader(handle))

    return {"written": written, "ropa": rows("register__art__30.csv"), "processors": rows("processors.csv"),
            "undeclared": rows("undeclared_categories.csv"),
            "checks": {r["id"]: r for r in rows("checks.csv")},
            "html": (out / f"ropa-{YEAR}.html").read_text("utf-8"), "pdf": out / f"ropa-{YEAR}.pdf",
            "xlsx": out / "datamap.xlsx"}


@pytest.fixture(scope="module")
def dpia_out(demo_run: pipeline.Run, reg, tmp_path_factory) -> dict:
    """The DPIA-style report of the demo in the firm's language (Dutch), as written."""
    out = tmp_path_factory.mktemp("dpia") / "dpia"
    assessment = dpia.assess(demo_run.workspace, reg, today=TODAY)
    dpia.write(assessment, out)
    return {"out": out, "json": json.loads((out / "dpia.json").read_text("utf-8")),
            "html": (out / "dpia.html").read_text("utf-8"), "assessment": assessment}


def _subjects(run: pipeline.Run, email: str) -> list[str]:
    """Every subject whose records hold exactly this e-mail address (the BSN client's Exact contact
    person may be a subject of its own)."""
    found = linkage.find(run.workspace, email=email)
    return sorted(found[found.score >= 1.0].subject_id.unique())


def _section(html: str, item: str) -> str:
    match = re.search(rf'<section id="{item}">(.*?)</section>', html, re.S)
    assert match, f"no section {item}"
    return re.sub(r"<[^>]+>", " ", match.group(1))


# --- R30: the record of processing activities -----------------------------------------------------

def test_r30_01_controller_and_contacts(ropa_out, reg) -> None:
    c = reg.controller
    for row in ropa_out["ropa"]:
        text = row["(a) controller"]
        assert c.name in text and c.address in text and c.email in text and c.phone in text
        for role in ("DPO: n/a (", "representative: n/a (", "joint controllers: n/a ("):
            assert role in text, role
        # the privacy contact the policy promises but does not name is a visible gap, not a blank
        assert "privacy contact: missing (" in text
    assert ropa_out["checks"]["R30-01"]["passed"] == "False"
    assert "privacy_contact" in ropa_out["checks"]["R30-01"]["detail"]


def test_r30_02_purposes_specific(ropa_out) -> None:
    for row in ropa_out["ropa"]:
        for lang in ("nl", "en"):
            purpose = row[f"(b) purpose_{lang}"]
            assert len(purpose.split()) >= 8
            assert purpose.lower() not in ("business operations", "bedrijfsvoering")
    assert ropa_out["checks"]["R30-02"]["passed"] == "True"


def test_r30_03_data_subjects(ropa_out, reg) -> None:
    for row in ropa_out["ropa"]:
        keys = re.findall(r"\(([a-z_]+)\)", row["(c) data subjects"])
        assert keys and set(keys) <= set(reg.subjects)


def test_r30_04_categories_valid_and_special_flagged(ropa_out) -> None:
    vocab = tomllib.loads((resources.files("workbench") / "config" / "register" / "fideslang.toml")
                          .read_text("utf-8"))
    for row in ropa_out["ropa"]:
        keys = re.findall(r"\((user\.[a-z_.]+)\)", row["(c) data categories"])
        assert keys and set(keys) <= set(vocab["data_categories"])
        assert row["special categories"]  # "none" said explicitly, or the keys
    assert "special-category" in ropa_out["checks"]["R30-04"]["detail"]


def test_r30_05_recipients_cover_every_processor(ropa_out) -> None:
    named = " ".join(row["(d) recipients"] for row in ropa_out["ropa"])
    assert all(row["(d) recipients"] for row in ropa_out["ropa"])
    for processor in ropa_out["processors"]:
        assert processor["name"] in named, processor["key"]


def test_r30_06_transfers_country_and_safeguard(ropa_out, reg) -> None:
    abroad = {p.name: p for p in reg.processors.values() if p.outside_eea}
    for row in ropa_out["ropa"]:
        text = row["(e) third-country transfers"]
        if text.startswith("none"):
            continue
        for name, p in abroad.items():
            if name in text:
                assert f"{name}: {p.country}, " in text
    # a transfer without a known safeguard is flagged, never passed
    assert ropa_out["checks"]["R30-06"]["passed"] == "False"
    assert "safeguard unknown" in ropa_out["checks"]["R30-06"]["detail"]


def test_r30_07_erasure_time_limits(ropa_out, reg) -> None:
    for row in ropa_out["ropa"]:
        retention = row["(f) retention"]
        assert not re.search(r"as long as (necessary|needed)", retention, re.I)
        rule = reg.retention_rules[reg.activities[row["activity"]].retention]
        assert rule.period_text in retention and rule.years is not None and rule.after
    assert ropa_out["checks"]["R30-07"]["passed"] == "True"


def test_r30_08_security_measures(ropa_out) -> None:
    assert all(len(row["(g) security measures"]) > 20 for row in ropa_out["ropa"])
    assert ropa_out["checks"]["R30-08"]["passed"] == "True"


def test_r30_09_extras_present_or_na(ropa_out) -> None:
    for row in ropa_out["ropa"]:
        for column in ("legal basis", "legitimate interests assessment", "Art. 9 condition", "source",
                       "automated decisions", "DPIA", "processor agreements", "privacy notice"):
            assert row[column].strip(), (row["activity"], column)
    # nobody has reviewed the register yet: the dated record says so where reviewer and date go
    assert "GAP: nobody has reviewed this register" in ropa_out["html"]
    assert "last-reviewed date and reviewer missing" in ropa_out["checks"]["R30-09"]["detail"]


def test_r30_10_dated_record_per_year(ropa_out) -> None:
    names = {p.name for p in ropa_out["written"]}
    assert {"datamap.xlsx", f"ropa-{YEAR}.html", f"ropa-{YEAR}.pdf"} <= names
    assert f"(Art. 30 GDPR) {YEAR}" in ropa_out["html"] and f"drawn up on {TODAY}" in ropa_out["html"]
    book = openpyxl.load_workbook(ropa_out["xlsx"], read_only=True)
    assert "Register (Art. 30)" in book.sheetnames
    reader = PdfReader(ropa_out["pdf"])
    assert "/StructTreeRoot" in reader.trailer["/Root"] and reader.trailer["/Root"]["/Lang"] == "en"
    assert f"{YEAR}" in reader.pages[0].extract_text()


def test_r30_11_undeclared_categories_listed(ropa_out, demo_run: pipeline.Run, reg) -> None:
    undeclared = {(r["service"], r["category"]) for r in ropa_out["undeclared"]}
    assert ("exact", "user.government_id.national_identification_number") in undeclared
    assert ("exact", "user.demographic.date_of_birth") in undeclared
    assert ropa_out["checks"]["R30-11"]["passed"] == "False"
    # and for one person when a package is prepared: the BSN client's undeclared data
    client = next(c for c in demo.build().clients if "bsn_in_exact" in c.flags)
    subjects = _subjects(demo_run, client.person.email)
    flagged = export.undeclared_for_subject(demo_run.workspace, reg, subjects)
    assert "bsn" in set(flagged.field)


# --- D35: the DPIA-style report -----------------------------------------------------------------------

def test_d35_01_systematic_description(dpia_out, reg) -> None:
    d = dpia_out["json"]["description"]
    assert [a["key"] for a in d["activities"]] == list(reg.activities)
    for a in d["activities"]:
        for key in ("purpose_nl", "legal_basis", "data_subjects", "data_categories", "systems", "recipients",
                    "retention"):
            assert a[key], (a["key"], key)
    assert d["categories"] and d["systems"] and d["flows"] and d["recipients"] and d["retention"]
    assert d["legitimate_interests"] and d["context"]
    assert "Systematische beschrijving" in _section(dpia_out["html"], "D35-01")


def test_d35_02_necessity_per_purpose(dpia_out, reg) -> None:
    purposes = dpia_out["json"]["necessity"]["purposes"]
    assert [p["activity"] for p in purposes] == list(reg.activities)
    for p in purposes:
        assert p["legal_basis"].startswith("Art. 6(1)")
        for key in ("minimisation", "accuracy", "storage"):
            assert p[key] and not p[key].startswith("not reviewed"), (p["activity"], key)
    kinds = {f["kind"] for f in dpia_out["json"]["necessity"]["findings"]}
    assert {"national_identifier", "birth_date"} <= kinds


def test_d35_03_rights_controls(dpia_out) -> None:
    rights = {r["right"]: r for r in dpia_out["json"]["rights"]}
    assert set(dpia.RIGHTS) <= set(rights)
    assert all(r["how"] for r in rights.values())
    body = _section(dpia_out["html"], "D35-03")
    assert "Verwerkersovereenkomst" in body and "Waarborg" in body


def test_d35_04_three_risks_scored_and_justified(dpia_out) -> None:
    risks = {r["risk"]: r for r in dpia_out["json"]["risks"]}
    assert set(dpia.CNIL_RISKS) <= set(risks)
    for r in risks.values():
        for key in ("impacts", "threats", "sources"):
            assert r[key]
        for axis in ("severity", "likelihood"):
            for phase in ("before", "after"):
                assert 1 <= r[f"{axis}_{phase}"] <= 4 and len(r[f"{axis}_{phase}_why"]) > 20
    assert [s["nl"] for s in dpia_out["json"]["scale"]] == ["Verwaarloosbaar", "Beperkt", "Aanzienlijk",
                                                            "Maximaal"]


def test_d35_05_measures_and_residual_risk(dpia_out) -> None:
    catalogue = {m["measure"]: m for m in dpia_out["json"]["measures"]}
    for r in dpia_out["json"]["risks"]:
        linked = r["measure_ids"].split(", ")
        assert linked and set(linked) <= set(catalogue)
        # the current level counts only measures that are done; the target assumes them all
        pending = [m for m in linked
                   if catalogue[m]["status"] not in dpia.DONE or catalogue[m]["progress"] < 100]
        if pending:
            assert r["level_now"] == r["level_before"]
            assert all(catalogue[m]["title"] in r["now_why"] for m in pending)
        else:
            assert r["level_now"] == r["level_after"]
        assert r["level_after"] <= r["level_before"]
    assert "Beoogd restrisico" in _section(dpia_out["html"], "D35-04")


def test_d35_06_action_plan(dpia_out) -> None:
    actions = dpia_out["json"]["actions"]
    assert actions
    for a in actions:
        assert a["owner"] and (a["due"] or a["frequency"]) and a["cost"] and a["difficulty"]
        assert 0 <= a["progress"] < 100 or a["status"] == "in_progress"
    with (dpia_out["out"] / "measures.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert {"owner", "due", "frequency", "cost", "difficulty", "progress"} <= set(rows[0])


def test_d35_07_prior_consultation_recorded(dpia_out) -> None:
    prior = dpia_out["json"]["prior_consultation"]
    assert isinstance(prior["required"], bool) and "Art. 36" in prior["reference"] and prior["why"]
    high = [r for r in dpia_out["json"]["risks"]
            if r["level_after"] >= 4 or (r["severity_after"] >= 3 and r["likelihood_after"] >= 3)]
    assert prior["required"] == bool(high)
    assert "Voorafgaande raadpleging" in _section(dpia_out["html"], "D35-07")


def test_d35_08_dpo_and_views(dpia_out) -> None:
    advice = dpia_out["json"]["advice"]
    assert advice["dpo"]["appointed"] is False and "Art. 37" in advice["dpo"]["reason"]
    assert advice["data_subjects"]["sought"] is False and advice["data_subjects"]["why_not"]
    body = _section(dpia_out["html"], "D35-08")
    assert "Geen FG aangesteld" in body and "Niet gevraagd" in body


def test_d35_09_sign_off_version_history(dpia_out) -> None:
    v = dpia_out["json"]["validation"]
    assert v["version"] and v["status"] in dpia.STATUSES and v["date"] and v["next_review"] > v["date"]
    assert set(dpia.SIGN_OFF) <= set(v["sign_off"])
    assert v["history"] and v["history"][-1]["version"] == v["version"]
    body = _section(dpia_out["html"], "D35-09")
    assert "Versiegeschiedenis" in body and "Ondertekening: naam" in body and "(nog te doen)" in body


def test_d35_10_screening_follows_wp248(dpia_out) -> None:
    s = dpia_out["json"]["screening"]
    criteria = {c["id"]: c for c in s["criteria"]}
    sensitive = criteria["edpb.sensitive_data"]
    assert sensitive["met"] and "financial data" in sensitive["fact"]
    met = sum(c["met"] for k, c in criteria.items() if k.startswith("edpb."))
    threshold = tomllib.loads((dpia.default_config() / "screening.toml").read_text("utf-8"))["edpb_threshold"]
    assert s["mandatory"] == (met >= threshold or any(c["met"] for k, c in criteria.items()
                                                      if k.startswith(("art35_3.", "ap."))))
    assert s["mandatory"] and s["label"] == "DPIA verplicht (art. 35 AVG)"


def test_d35_11_management_summary_first(dpia_out) -> None:
    html = dpia_out["html"]
    first = html.index('<section id="D35-11">')
    assert all(first < html.index(f'<section id="{item}">') for item in dpia.CHECKLIST if item != "D35-11")
    assert "Managementsamenvatting" in _section(html, "D35-11") and len(dpia_out["json"]["summary"]) >= 8


def test_d35_12_machine_readable_companions(dpia_out) -> None:
    out = dpia_out["out"]
    with (out / "risks.csv").open(encoding="utf-8") as handle:
        risks = list(csv.DictReader(handle))
    assert len(risks) == len(dpia_out["json"]["risks"]) and "level_now" in risks[0]
    assert dpia_out["json"]["checklist"]["D35-12"]["key"] == "companions"
    reader = PdfReader(out / "dpia.pdf")
    assert "/StructTreeRoot" in reader.trailer["/Root"] and reader.trailer["/Root"]["/Lang"] == "nl"


def test_d35_policy_findings_agree_with_the_annual_report(dpia_out, demo_run: pipeline.Run, reg) -> None:
    from workbench.reports import annual

    fig = annual.figures(demo_run.workspace, reg, YEAR, today=TODAY)
    mine = policy_audit.counts(dpia_out["assessment"].policy_findings)
    assert fig.policy["counts"].to_dict("records") == mine.to_dict("records")
    assert fig.dpia["policy_counts"].to_dict("records") == mine.to_dict("records")


# --- NL: Dutch specifics --------------------------------------------------------------------------------

def test_nl_01_fiscal_retention_seven_years(ropa_out, reg) -> None:
    for key in ("fiscal_records", "payment_records"):
        rule = reg.retention_rules[key]
        assert rule.years == 7 and "art. 52" in rule.legal_reference and rule.keeps
    invoicing = next(r for r in ropa_out["ropa"] if r["activity"] == "invoicing_bookkeeping")
    assert "7 years" in invoicing["(f) retention"] and "art. 52" in invoicing["(f) retention"]


def test_nl_02_erasure_retains_minimised_under_17_3_b(demo_run: pipeline.Run, reg) -> None:
    client = next(c for c in demo.build().clients if "bsn_in_exact" in c.flags)
    subjects = _subjects(demo_run, client.person.email)
    plan = erasure.plan(demo_run.workspace, reg, subject_ids=subjects, today=TODAY)
    kept = plan[plan["action"].eq("retain")]
    assert len(kept) and kept["legal_reference"].str.startswith("Art. 17(3)(b) GDPR").all()
    assert kept["final_deletion"].notna().all()
    fields = erasure.field_plan(demo_run.workspace, reg, plan, today=TODAY)
    assert set(fields.loc[fields["field"].isin(["bsn", "birth_date", "gender"]), "action"]) == {"delete_now"}
    assert (fields["action"] == "keep_restricted").any()


def test_nl_04_screening_references_the_ap_list(dpia_out) -> None:
    ap = [c for c in dpia_out["json"]["screening"]["criteria"] if c["id"].startswith("ap.")]
    assert len(ap) == 17 and all(c["source"].startswith("AP DPIA list") for c in ap)
    assert "Financiële situatie" in _section(dpia_out["html"], "D35-10")

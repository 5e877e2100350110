"""The annual compliance report's figures: each section on the demo business (with its request
history) against direct queries of the workspace, the register and the audit log; the year filter;
an empty workspace."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from workbench import demo, pipeline
from workbench.audit import policy_audit, trail
from workbench.datamap import inventory, mail
from workbench.errors import WorkbenchError
from workbench.reference import register as registry
from workbench.reports import annual, dpia
from workbench.store.workspace import Workspace

YEAR = demo.TODAY.year
TODAY = date.today()  # the demo's answered request is received today


@pytest.fixture(scope="module")
def ws(demo_run: pipeline.Run) -> Workspace:
    return demo_run.workspace


@pytest.fixture(scope="module")
def reg():
    return registry.load()


@pytest.fixture(scope="module")
def fig(ws, reg) -> annual.Figures:
    return annual.figures(ws, reg, YEAR, today=TODAY)


def _register(ws: Workspace, year: int) -> pd.DataFrame:
    frame = ws.query("SELECT * FROM requests WHERE year(received) = ? ORDER BY request_id", [year])
    for column in ("received", "due", "extended_due", "responded"):
        frame[column] = pd.to_datetime(frame[column]).dt.date
    frame["binding"] = [e if pd.notna(e) else d for e, d in zip(frame.extended_due, frame.due, strict=True)]
    return frame


def test_requests_per_type_and_response_times_match_the_register(ws, fig) -> None:
    direct = _register(ws, YEAR)
    per_type = fig.requests["per_type"].set_index("type")
    assert per_type.loc["total", "received"] == len(direct)
    assert per_type.drop("total").received.to_dict() == direct.type.value_counts().to_dict()
    closed = direct[direct.status.isin(["completed", "refused"])]
    days = [(r - g).days for r, g in zip(closed.responded, closed.received, strict=True)]
    late = [r > b for r, b in zip(closed.responded, closed.binding, strict=True)]
    total = per_type.loc["total"]
    assert (total.answered, total.late, total.on_time) == (len(closed), sum(late), len(late) - sum(late))
    assert total.max_days == max(days) and total.median_days == pd.Series(days).median()
    response = fig.requests["response"].set_index("request_id")
    assert set(response.index) == set(direct.request_id)
    answered = response.dropna(subset=["days"])
    assert sorted(answered.days.astype(int)) == sorted(days)
    # the demo history: one answered late, one overdue, one extended (see workbench.demo.story.DEMO_HISTORY)
    assert total.late == 1 and response.state.eq("late").sum() == 1


def test_overdue_and_extended_requests(ws, fig) -> None:
    direct = _register(ws, YEAR)
    open_ = direct[~direct.status.isin(["completed", "refused"])]
    overdue = sorted(open_[[b < TODAY for b in open_.binding]].request_id)
    assert fig.requests["overdue"].request_id.tolist() == overdue and overdue
    extended = fig.requests["extended"]
    assert extended.request_id.tolist() == direct[direct.extension_months > 0].request_id.tolist()
    assert len(extended) == 1 and extended.extension_months.iloc[0] == 2
    assert extended.extended_due.iloc[0] > extended.first_due.iloc[0]


def test_completed_erasures_are_anonymised_and_logged(ws, fig) -> None:
    erasures = fig.requests["erasures"]
    done = ws.query("SELECT request_id, email, name, anonymised_on FROM requests "
                    "WHERE type = 'erasure' AND status = 'completed' AND year(received) = ?", [YEAR])
    assert erasures.request_id.tolist() == done.request_id.tolist() and not done.empty
    assert done.email.isna().all() and done.name.isna().all()
    assert erasures.anonymised.all() and erasures.plan_logged.all() and erasures.purge_logged.all()
    purge = next(e for e in trail.entries(ws) if e.action == "purge" and e.request_id == done.request_id[0])
    assert erasures.records_held.iloc[0] == purge.details["held"]
    assert erasures.records_removed.iloc[0] == purge.details["removed"]["party_versions"] + \
        purge.details["removed"]["document_versions"]


def test_requests_per_month_add_up(fig) -> None:
    per_month = fig.requests["per_month"]
    assert list(per_month.index) == list(range(1, 13))
    assert per_month.to_numpy().sum() == fig.requests["per_type"].set_index("type").loc["total", "received"]
    assert fig.charts["requests_per_month"].lstrip().startswith("<?xml") and "<svg" in fig.charts[
        "requests_per_month"]


def test_year_filter(ws) -> None:
    earlier = annual.requests_section(ws, YEAR - 1, TODAY)
    direct = _register(ws, YEAR - 1)
    assert earlier["response"].request_id.tolist() == direct.request_id.tolist() and len(direct) == 1
    assert earlier["erasures"].empty and earlier["overdue"].empty
    assert earlier["per_type"].set_index("type").loc["total", "received"] == 1
    later = annual.requests_section(ws, YEAR + 1, TODAY)
    assert later["response"].empty and later["per_type"].set_index("type").loc["total", "received"] == 0


def test_inventory_section_against_the_workspace(ws, reg, fig) -> None:
    section = fig.inventory
    imports = ws.status()
    assert set(section["systems"].service) == set(imports.service)
    assert section["exports"].imports.sum() == len(imports)
    fields = inventory.build(ws, reg)
    personal = fields[fields.personal.eq(True)].groupby("service").size().to_dict()
    counted = section["systems"].set_index("service").personal_fields
    assert counted[counted > 0].to_dict() == personal
    assert section["undeclared"].equals(inventory.undeclared(fields))
    this_year = pd.to_datetime(imports.imported_at).dt.year.eq(TODAY.year).all()
    assert section["exports"].since.eq(f"new in {YEAR}").all() == (this_year and TODAY.year == YEAR)
    assert section["new_columns"].empty  # every export is imported at once in the demo
    assert section["previous_diff"].empty
    records = section["records"]
    assert records.records.gt(0).all() and set(records.service) <= set(imports.service)


def test_inventory_diff_against_an_earlier_report(fig, tmp_path: Path) -> None:
    fields = fig.inventory["fields"]
    key = ["service", "export_kind", "column"]
    earlier = fields.iloc[1:].copy()  # the first column was not there last year
    earlier.loc[earlier.index[0], "category"] = "user.contact"  # and one column was judged differently
    earlier = pd.concat([earlier, pd.DataFrame([{**earlier.iloc[0].to_dict(), "column": "Oud veld"}])])
    earlier.to_csv(tmp_path / annual.INVENTORY_CSV, index=False)
    diff = annual.diff_inventory(fields, tmp_path)
    changes = {tuple(r[:3]): r[3] for r in diff[[*key, "change"]].itertuples(index=False)}
    first, second = tuple(fields[key].iloc[0]), tuple(fields[key].iloc[1])
    assert changes == {first: "added", (*second[:2], "Oud veld"): "removed", second: "category changed"}
    with pytest.raises(WorkbenchError, match="inventory.csv"):
        annual.diff_inventory(fields, tmp_path / "nothing-here")


def test_processors_and_transfers(reg, fig) -> None:
    processors = fig.processors["processors"]
    assert len(processors) == len(reg.processors)
    assert set(fig.processors["transfers"].processor) == {p.name for p in reg.processors.values()
                                                          if p.outside_eea}
    assert processors.agreement_on_file.tolist() == [p.agreement_status in ("signed", "accepted_terms")
                                                     for p in reg.processors.values()]


def test_retention_section_per_system(ws, reg, fig) -> None:
    # the exports' records, and the mail conversations counted from their last message
    past = pd.concat([policy_audit.past_retention(ws, reg, TODAY), mail.past_retention_rows(ws, reg, TODAY)])
    per_system = fig.retention["per_system"]
    assert per_system.records.sum() == past.records.sum() > 0
    per_service = past.groupby("service").records.sum().to_dict()
    assert per_system.set_index("service").records.to_dict() == per_service
    for row in per_system.itertuples():
        assert row.action.startswith(row.system) and ("delete" in row.action or "decide" in row.action)


def test_quality_section_against_identifiers_and_subjects(ws, fig) -> None:
    quality = fig.quality
    direct = ws.query("SELECT service, kind, count(*) FILTER (WHERE NOT valid) AS invalid, "
                      "count(*) AS checked FROM identifiers WHERE kind IN ('iban', 'email', 'phone') "
                      "GROUP BY ALL")
    invalid = quality["invalid"].set_index("service")
    for row in direct.itertuples():
        assert invalid.loc[row.service, f"{row.kind}_invalid"] == row.invalid
        assert invalid.loc[row.service, f"{row.kind}_checked"] == row.checked
    subjects = ws.query("SELECT count(DISTINCT subject_id) AS n FROM subjects").n[0]
    spread = quality["subjects_by_systems"]
    assert spread.subjects.sum() == subjects and spread.systems.max() > 1
    pending = ws.query("SELECT count(*) AS n FROM link_candidates").n[0]
    assert quality["pending_links"].candidates.sum() == pending


def test_dpia_section_matches_the_assessment(ws, reg, fig) -> None:
    assessment = dpia.assess(ws, reg, today=TODAY)
    section = fig.dpia
    assert section["meta"]["status"] == assessment.meta["status"]
    assert section["meta"]["next_review"] == assessment.meta["next_review"]
    assert len(section["risks"]) == len(assessment.risks)
    assert section["risks"].level_after.tolist() == assessment.risks.level_after.tolist()
    assert len(section["open_actions"]) == int(assessment.actions.open.sum()) > 0
    assert section["prior_consultation"]["required"] == assessment.prior_consultation["required"]


def test_dpia_and_policy_sections_count_the_same_findings(ws, reg, fig) -> None:
    """One set of figures: the DPIA's policy findings and the report's policy section come from
    policy_audit.findings, and a DPIA written on its own counts the same."""
    own = dpia.assess(ws, reg, today=TODAY, lang="en").policy_findings
    expected = policy_audit.counts(own).to_dict("records")
    assert fig.dpia["policy_counts"].to_dict("records") == expected
    assert fig.policy["counts"].to_dict("records") == expected
    assert list(fig.policy["findings"].claim_id) == [f.claim_id for f in own]


def test_dpia_section_keeps_current_and_target_levels_apart(fig) -> None:
    risks = fig.dpia["risks"].set_index("name")
    access = risks.loc["Illegitimate access to data"]
    assert access.level_now == access.level_before > access.level_after


def test_policy_findings_fail_first_by_severity(ws, reg, fig) -> None:
    findings = fig.policy["findings"]
    assert len(findings) == len(policy_audit.run(ws, reg, today=TODAY))
    order = findings.verdict.map(annual.VERDICT_ORDER).tolist()
    assert order == sorted(order) and findings.verdict.iloc[0] == policy_audit.FAILS
    fails = findings[findings.verdict.eq(policy_audit.FAILS)].severity.map(annual.SEVERITY_ORDER).tolist()
    assert fails == sorted(fails)
    assert fig.policy["counts"].findings.sum() == len(findings)


def test_summary_is_computed_from_the_sections(fig) -> None:
    summary = fig.summary.set_index("figure").value
    total = fig.requests["per_type"].set_index("type").loc["total"]
    assert summary["received"] == str(int(total.received))
    assert summary["answered late"] == str(int(total.late))
    assert summary["open and overdue"] == str(len(fig.requests["overdue"]))
    assert summary["records past every retention rule"] == str(fig.retention["per_system"].records.sum())
    assert summary["processors"] == str(len(fig.processors["processors"]))
    assert "<svg" in fig.charts["records_per_system"]


def test_tables_hold_no_client_data(fig, business: demo.Business, tmp_path: Path) -> None:
    written = annual.write_tables(fig, tmp_path)
    assert (tmp_path / annual.INVENTORY_CSV) in written and len(written) > 10
    text = "\n".join(p.read_text("utf-8") for p in written)
    for path in written:
        assert path.stat().st_mode & 0o077 == 0, path
    emails = {c.person.email.lower() for c in business.clients}
    found = {m.lower() for m in re.findall(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", text)}
    assert not found & emails
    ibans = set(re.findall(r"NL\d\d[A-Z]{4}\d{10}", text))
    assert not {c.person.iban for c in business.clients if c.person.iban} & ibans


def test_empty_workspace_is_refused_clearly(reg, tmp_path: Path) -> None:
    empty = Workspace(tmp_path / "nothing")
    with pytest.raises(WorkbenchError, match="no imported exports"):
        annual.figures(empty, reg, YEAR, today=TODAY)
    with pytest.raises(WorkbenchError, match="has not begun"):
        annual.figures(empty, reg, TODAY.year + 1, today=TODAY)
    assert annual.register_rows(empty).empty
    section = annual.requests_section(empty, YEAR, TODAY)
    assert section["per_type"].set_index("type").loc["total", "received"] == 0
    assert section["per_month"].to_numpy().sum() == 0 and section["erasures"].empty


def test_a_workspace_without_requests_has_empty_request_sections(reg, tmp_path: Path, payments) -> None:
    ws = Workspace(tmp_path / "ws")
    ws.import_files([payments])
    section = annual.requests_section(ws, 2026, TODAY)
    assert section["response"].empty and section["overdue"].empty and section["extended"].empty
    quality = annual.quality_section(ws)
    assert quality["subjects_by_systems"].empty and quality["pending_links"].empty

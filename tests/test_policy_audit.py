"""The privacy-policy audit: each claim type built to pass and to fail, the claims file's
validation, and the written report."""

from __future__ import annotations

import csv
import dataclasses
import json
import stat
from datetime import date
from pathlib import Path

import pytest

from tests.conftest import shared_file
from workbench import pipeline
from workbench.audit import policy_audit as pa
from workbench.configuration import ConfigError
from workbench.reference import register as registry
from workbench.rights import requests
from workbench.store.workspace import Workspace
from workbench.ui import cli

POLICY = "seed/privacybeleid-de-kale-ict.md"
TODAY = date(2026, 11, 25)
GOOD_POLICY = """# Privacybeleid Voorbeeld

Versie 2.1, ingangsdatum 2026-01-01.

## Gmail

Wij gebruiken Gmail. Google verwerkt gegevens in de Verenigde Staten; de doorgifte is gebaseerd op
het EU-VS Data Privacy Framework.

## Google Analytics

Google Analytics verwerkt gegevens in de Verenigde Staten op grond van het Data Privacy Framework.

## DNN Consulting / Managed.com / SMTP.com

Deze hostingpartij verwerkt gegevens in de Verenigde Staten; wij hebben de standaardcontractbepalingen
van de Europese Commissie met haar gesloten.

## Contactpersoon voor privacyzaken

J. de Vries, privacy@example.nl, 085 000 0000
"""


@pytest.fixture(scope="module")
def demo(demo_run: pipeline.Run) -> Workspace:
    return demo_run.workspace


@pytest.fixture(scope="module")
def claims() -> pa.Claims:
    return pa.load_claims()


@pytest.fixture(scope="module")
def reg() -> registry.Register:
    return registry.load()


def only(claims: pa.Claims, claim_id: str, **params) -> pa.Claims:
    """The claims file reduced to one claim, with parameters changed."""
    claim = next(c for c in claims.claims if c.id == claim_id)
    claim = dataclasses.replace(claim, params={**claim.params, **params})
    return dataclasses.replace(claims, claims=[claim])


def verdicts(findings: list[pa.Finding]) -> dict[str, str]:
    return {f.claim_id: f.verdict for f in findings}


def policy_file(tmp_path: Path, text: str = GOOD_POLICY) -> Path:
    path = tmp_path / "policy.md"
    path.write_text(text, "utf-8")
    return path


# --- the claims file ----------------------------------------------------------------------------


def test_shipped_claims_cover_every_claim_type_of_the_issue(claims):
    checks = {c.check for c in claims.claims}
    assert checks == set(pa.CHECKS)
    # the policy names every processor; a controller of its own (the house bank) is no processor
    processors = {k for k, p in registry.load().processors.items() if p.role == "processor"}
    assert set(claims.processors) == processors


def test_every_quote_is_verbatim_in_the_policy(demo, reg, claims):
    findings = pa.run(demo, reg, claims=claims, policy=shared_file(POLICY), today=TODAY)
    assert {f.claim_id: f.quote_in_policy for f in findings if f.quote_in_policy is not True} == {}


def test_a_bad_claims_file_names_the_file_and_every_key(tmp_path):
    path = tmp_path / "claims.toml"
    path.write_text("""
[processors]
gmail = "Gmail"

[claim.a]
quote = "x"
asserts = "y"
check = "no_such_check"
severity = "high"
source = "Art. 13"
suggestion = "z"

[claim.b]
quote = "x"
asserts = "y"
check = "response_times"
severity = "urgent"
source = "Art. 12"
suggestion = "z"
colour = "red"

[claim.c]
quote = "x"
asserts = "y"
check = "transfers_named"
severity = "low"
source = "Art. 13"
suggestion = "z"
transfer_patterns = ["(unclosed"]
safeguard_patterns = ["SCC"]
""", "utf-8")
    with pytest.raises(ConfigError) as err:
        pa.load_claims(path)
    text = str(err.value)
    assert f"{path}: claim.a: Input tag 'no_such_check' found using 'check' does not match" in text
    assert f"{path}: claim.b.response_times.severity: Input should be 'low', 'medium' or 'high'" in text
    assert f"{path}: claim.b.response_times.days: Field required" in text
    assert f"{path}: claim.b.response_times.colour: Extra inputs are not permitted" in text
    assert f"{path}: claim.c.transfers_named.transfer_patterns.0: Value error, '(unclosed' is not a " \
           "valid regular expression" in text
    assert len(err.value.problems) == 5
    with pytest.raises(ConfigError, match="file is missing"):
        pa.load_claims(tmp_path / "absent.toml")


def test_an_unknown_key_of_the_claims_file_names_file_and_key(tmp_path):
    path = tmp_path / "claims.toml"
    text = pa.default_claims().read_text("utf-8")
    path.write_text(text.replace("\n[processors]\n", "\n[processor]\n", 1), "utf-8")
    with pytest.raises(ConfigError) as err:
        pa.load_claims(path)
    assert err.value.problems == [f"{path}: processor: Extra inputs are not permitted"]


# --- processors ---------------------------------------------------------------------------------


def with_bank(claims: pa.Claims) -> pa.Claims:
    """The claims of a policy that also names the house bank (the demo firm's policy names none)."""
    return dataclasses.replace(claims, processors={**claims.processors, "house_bank": "de huisbank"})


def test_every_system_with_personal_data_is_run_by_a_named_processor(demo, reg, claims):
    [finding] = pa.run(demo, reg, claims=with_bank(only(claims, "processors_named")), today=TODAY)
    assert finding.verdict == pa.HOLDS
    assert finding.counts["in_imported_data"] >= 4 and finding.counts["unnamed"] == 0


def test_the_house_bank_the_policy_does_not_name_is_a_finding(demo, reg, claims):
    [finding] = pa.run(demo, reg, claims=only(claims, "processors_named"), today=TODAY)
    assert finding.verdict == pa.FAILS and finding.counts["unnamed"] == 1
    assert any("(bank)" in e and "house_bank" in e for e in finding.examples)


def test_a_system_whose_processor_the_policy_does_not_name_is_a_finding(demo, reg, claims):
    unnamed = {k: v for k, v in with_bank(claims).processors.items() if k != "exact_online"}
    reduced = dataclasses.replace(only(claims, "processors_named"), processors=unnamed)
    [finding] = pa.run(demo, reg, claims=reduced, today=TODAY)
    assert finding.verdict == pa.FAILS and finding.severity == "high"
    assert finding.counts["unnamed"] == 1
    assert any("Exact Online (exact)" in e for e in finding.examples)


def test_a_named_processor_without_an_agreement_is_a_finding(demo, reg, claims):
    [finding] = pa.run(demo, reg, claims=only(claims, "processor_agreements"), today=TODAY)
    assert finding.verdict == pa.FAILS
    assert finding.counts["without_agreement"] == len(claims.processors)
    signed = {k: p.model_copy(update={"agreement_status": "signed"}) for k, p in reg.processors.items()}
    [finding] = pa.run(demo, dataclasses.replace(reg, processors=signed),
                       claims=only(claims, "processor_agreements"), today=TODAY)
    assert finding.verdict == pa.HOLDS


# --- retention ----------------------------------------------------------------------------------


def test_records_within_every_retention_rule_hold(demo, reg, claims):
    [finding] = pa.run(demo, reg, claims=only(claims, "retention_as_long_as_client"), today=date(2024, 1, 1))
    assert finding.verdict == pa.HOLDS
    assert finding.counts["records_past_every_rule"] == 0


def test_records_past_every_retention_rule_fail_per_system(demo, reg, claims):
    [finding] = pa.run(demo, reg, claims=only(claims, "retention_as_long_as_client"), today=date(2040, 1, 1))
    assert finding.verdict == pa.FAILS
    assert finding.counts["records_past_every_rule"] == finding.counts["dated_records"] > 0
    systems = {"mollie", "moneybird", "factuursturen", "exact", "hosting", "analytics", "smtpcom"}
    assert {e.split("/")[0] for e in finding.examples} <= systems
    per_system = {k: v for k, v in finding.counts.items() if k.startswith("past_every_rule.")}
    assert set(per_system) == {f"past_every_rule.{s}" for s in systems}
    assert sum(per_system.values()) == finding.counts["records_past_every_rule"]
    assert finding.counts["clients_inactive"] == finding.counts["clients_with_records"]


# --- requests -----------------------------------------------------------------------------------


def _answered(ws: Workspace, received: date, responded: date, type: str = "access",
              email: str = "piet@example.nl") -> str:
    request_id = requests.new(ws, type=type, email=email, name="Piet Pieters", received=received,
                              today=responded).request_id
    requests.update(ws, request_id, verify="known_email:passed", verified=received, status="completed",
                    responded=responded, outcome="granted", today=responded)
    return request_id


def test_requests_answered_within_30_days_hold_and_late_ones_fail(tmp_path, reg, claims):
    ws = Workspace(tmp_path / "ws")
    one = only(claims, "answer_within_30_days")
    [finding] = pa.run(ws, reg, claims=one, today=TODAY)
    assert finding.verdict == pa.NOT_CHECKABLE and finding.reason
    _answered(ws, date(2026, 1, 5), date(2026, 1, 20))
    [finding] = pa.run(ws, reg, claims=one, today=TODAY)
    assert finding.verdict == pa.HOLDS
    late = _answered(ws, date(2026, 2, 1), date(2026, 3, 20), email="kees@example.nl")
    requests.new(ws, type="access", email="anna@example.nl", received=date(2026, 9, 1), today=TODAY)
    [finding] = pa.run(ws, reg, claims=one, today=TODAY)
    assert finding.verdict == pa.FAILS
    assert finding.counts["answered_late"] == 1 and finding.counts["open_overdue"] == 1
    assert finding.counts["max_days_to_answer"] == 47
    assert any(e.startswith(late) for e in finding.examples)
    assert not any("@" in e for e in finding.examples)


def test_completed_erasure_requests_keep_no_readable_identifiers(tmp_path, reg, claims):
    ws = Workspace(tmp_path / "ws")
    one = only(claims, "erasure_log_anonymised")
    [finding] = pa.run(ws, reg, claims=one, today=TODAY)
    assert finding.verdict == pa.NOT_CHECKABLE
    request_id = _answered(ws, date(2026, 3, 1), date(2026, 3, 10), type="erasure")
    [finding] = pa.run(ws, reg, claims=one, today=TODAY)
    assert finding.verdict == pa.HOLDS and finding.counts["completed_erasures"] == 1
    with ws.connect() as con:  # a register that kept the person after all
        con.execute("UPDATE requests SET email = 'piet@example.nl', name = 'Piet Pieters' "
                    "WHERE request_id = ?", [request_id])
    [finding] = pa.run(ws, reg, claims=one, today=TODAY)
    assert finding.verdict == pa.FAILS and finding.counts["not_anonymised"] == 1
    assert "p***@e***.nl" in finding.examples[0]
    assert "piet@example.nl" not in json.dumps(dataclasses.asdict(finding))
    assert "Pieters" not in json.dumps(dataclasses.asdict(finding))


# --- data uses and legal statements -------------------------------------------------------------


def test_marketing_or_third_party_uses_contradict_the_policy(tmp_path, reg, claims):
    ws = Workspace(tmp_path / "ws")
    for claim_id in ("no_marketing", "only_for_services"):
        [finding] = pa.run(ws, reg, claims=only(claims, claim_id), today=TODAY)
        assert finding.verdict == pa.HOLDS
    mail = reg.activities["email_contact"]
    changed = {**reg.activities, "email_contact": mail.model_copy(
        update={"data_uses": (*mail.data_uses, "marketing.communications.email")})}
    marketing = dataclasses.replace(reg, activities=changed)
    [finding] = pa.run(ws, marketing, claims=only(claims, "no_marketing"), today=TODAY)
    assert finding.verdict == pa.FAILS
    assert finding.examples == ["email_contact (E-mail contact): marketing.communications.email"]
    sharing = {**reg.activities, "email_contact": mail.model_copy(
        update={"data_uses": (*mail.data_uses, "third_party_sharing")})}
    shared = dataclasses.replace(reg, activities=sharing)
    assert verdicts(pa.run(ws, shared, claims=only(claims, "no_marketing"), today=TODAY)) == \
        {"no_marketing": pa.HOLDS}
    assert verdicts(pa.run(ws, shared, claims=only(claims, "only_for_services"), today=TODAY)) == \
        {"only_for_services": pa.FAILS}


def test_ip_address_not_personal_is_a_legal_finding_with_its_reasoning(tmp_path, reg, claims):
    ws = Workspace(tmp_path / "ws")
    [finding] = pa.run(ws, reg, claims=only(claims, "ip_not_personal"), today=TODAY)
    assert finding.verdict == pa.FAILS
    assert "C-582/14" in finding.source and "Art. 4(1)" in finding.source and "recital 30" in finding.source
    assert "Breyer" in finding.evidence and "online identifier" in finding.evidence
    assert "website_hosting: user.device.ip_address" in finding.examples
    [finding] = pa.run(ws, reg, claims=only(claims, "ip_not_personal", policy_says="personal"), today=TODAY)
    assert finding.verdict == pa.HOLDS
    technical = only(claims, "ip_not_personal", categories=["system.operations"])
    assert verdicts(pa.run(ws, reg, claims=technical, today=TODAY)) == {"ip_not_personal": pa.HOLDS}


# --- the policy's text --------------------------------------------------------------------------


def test_transfers_outside_the_eea_need_the_transfer_and_safeguard_named(tmp_path, reg, claims):
    ws = Workspace(tmp_path / "ws")
    one = only(claims, "transfers_named")
    [finding] = pa.run(ws, reg, claims=one, today=TODAY)
    assert finding.verdict == pa.NOT_CHECKABLE and "--policy" in finding.reason
    [finding] = pa.run(ws, reg, claims=one, policy=policy_file(tmp_path), today=TODAY)
    assert finding.verdict == pa.HOLDS, finding.examples
    [finding] = pa.run(ws, reg, claims=one, policy=shared_file(POLICY), today=TODAY)
    assert finding.verdict == pa.FAILS and finding.counts["transfer_or_safeguard_missing"] == 3
    gmail = next(e for e in finding.examples if e.startswith("Gmail"))
    assert "the transfer or the safeguard" in gmail
    analytics = next(e for e in finding.examples if e.startswith("Google Analytics"))
    assert analytics.endswith("does not name the safeguard")  # "het Amerikaanse bedrijf Google"


def test_completeness_of_the_real_policy_against_art_13(tmp_path, reg, claims):
    ws = Workspace(tmp_path / "ws")
    found = verdicts(pa.run(ws, reg, claims=only(claims, "art13_complete"), policy=shared_file(POLICY),
                            today=TODAY))
    assert found["art13_complete.privacy_contact"] == pa.FAILS  # the closing heading names nobody
    assert found["art13_complete.legal_bases"] == pa.FAILS
    assert found["art13_complete.transfers"] == pa.FAILS
    assert found["art13_complete.version"] == pa.FAILS
    for holds in ("controller_identity", "controller_contact", "purposes", "rights", "complaint_ap",
                  "retention", "date", "recipients"):
        assert found[f"art13_complete.{holds}"] == pa.HOLDS, holds


def test_completeness_holds_where_the_text_gives_the_element(tmp_path, reg, claims):
    ws = Workspace(tmp_path / "ws")
    found = verdicts(pa.run(ws, reg, claims=only(claims, "art13_complete"), policy=policy_file(tmp_path),
                            today=TODAY))
    assert found["art13_complete.privacy_contact"] == pa.HOLDS
    assert found["art13_complete.version"] == pa.HOLDS
    assert found["art13_complete.complaint_ap"] == pa.FAILS
    nothing = verdicts(pa.run(ws, reg, claims=only(claims, "art13_complete"), today=TODAY))
    assert set(nothing.values()) == {pa.NOT_CHECKABLE}


# --- the report ---------------------------------------------------------------------------------


def test_the_report_in_html_csv_and_json(demo, reg, claims, tmp_path):
    findings = pa.run(demo, reg, claims=claims, policy=policy_file(tmp_path), today=TODAY)
    findings[0].evidence = "=HYPERLINK(\"http://x\")"
    written = pa.write(findings, tmp_path / "out")
    assert [p.name for p in written] == ["findings.html", "findings.csv", "findings.json"]
    for path in written:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    page = written[0].read_text("utf-8")
    assert "id='summary'" in page
    for finding in findings:
        assert f"<section id='{finding.claim_id}'>" in page
    for label in ("Bewijs / evidence", "Bron / source", "Voorstel / suggestion", "klopt niet / fails"):
        assert label in page
    assert "<script" not in page and "http://x" in page and "=HYPERLINK(&quot;" in page
    with written[1].open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(findings)
    assert rows[0]["evidence"].startswith("'=HYPERLINK")
    assert {"claim_id", "quote", "verdict", "evidence", "severity", "source", "suggestion"} <= set(rows[0])
    document = json.loads(written[2].read_text("utf-8"))
    assert document["summary"] == pa.summary(findings)
    assert len(document["findings"]) == len(findings)


def test_cli_audit_policy_writes_the_findings(demo, tmp_path, capsys):
    out = tmp_path / "audit"
    code = cli.main(["--workspace", str(demo.path), "audit", "policy", "--policy",
                     str(policy_file(tmp_path)), "--out", str(out), "--today", "2026-11-25"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "fail," in printed and "processor_agreements" in printed
    assert sorted(p.name for p in out.iterdir()) == ["findings.csv", "findings.html", "findings.json"]
    assert cli.main(["--workspace", str(demo.path), "audit", "policy", "--policy",
                     str(tmp_path / "absent.md"), "--out", str(out)]) == 2


def test_real_policy_on_the_demo(demo, reg, claims):
    findings = pa.run(demo, reg, claims=claims, policy=shared_file(POLICY), today=TODAY)
    found = verdicts(findings)
    assert found["processors_named"] == pa.FAILS  # the policy names no bank
    assert found["processor_agreements"] == pa.FAILS
    assert found["ip_not_personal"] == pa.FAILS
    assert found["transfers_named"] == pa.FAILS
    assert found["erasure_log_anonymised"] == pa.HOLDS  # the demo's history completes one erasure
    for finding in findings:
        assert finding.evidence and finding.source and finding.suggestion
        assert finding.verdict != pa.NOT_CHECKABLE or finding.reason


@pytest.mark.slow
def test_past_retention_table_names_systems_and_years(tmp_path: Path) -> None:
    from datetime import date

    from workbench import pipeline
    from workbench.audit.policy_audit import past_retention
    from workbench.reference import register as registry

    run = pipeline.demo_workspace(tmp_path / "demo")
    register = registry.load()
    none_yet = past_retention(run.workspace, register, date(2024, 1, 1))
    later = past_retention(run.workspace, register, date(2040, 1, 1))
    assert none_yet.empty
    assert set(later.service) == {"mollie", "moneybird", "factuursturen", "exact", "hosting", "smtpcom",
                                  "analytics"}
    assert (later.kept_until < date(2040, 1, 1)).all() and later.records.gt(0).all()

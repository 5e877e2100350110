"""Erasure and the other rights: the plan per system and record (invoices kept until 31 December of
the year + 7, the client profile deleted), the purge of the workspace (retained records held, the
namesake untouched, the e-mail address gone from the database file but for held records), the
audit trail, and the command line."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from workbench import demo, pipeline
from workbench.audit import trail
from workbench.configuration import ConfigError
from workbench.datamap import linkage
from workbench.reference import register as registry
from workbench.rights import erasure, letters, package, requests
from workbench.store.workspace import Workspace

TODAY = date(2026, 11, 25)


@pytest.fixture(scope="module")
def built(demo_run: pipeline.Run):
    run = demo_run
    first, second = [c for c in demo.build().clients if "namesake" in c.flags][:2]
    return run.workspace, registry.load(), first, second


def _copy(ws: Workspace, target: Path) -> Workspace:
    shutil.copytree(ws.path, target)
    return Workspace(target)


def _subject(ws: Workspace, email: str) -> str:
    subjects = package.subjects_for(ws, email)
    assert len(subjects) == 1
    return subjects[0]


def _members(ws: Workspace, subject_id: str):
    return linkage.subject_parties(ws, subject_id)[["service", "export_kind", "party_key"]]


def _rows(ws: Workspace, members) -> dict[str, list]:
    """Every row of these parties in the version tables and their raw records."""
    out = {}
    for table in ("party_versions", "document_versions", "identifier_versions"):
        out[table] = sorted(map(repr, ws.query(
            f"SELECT t.* FROM {table} t JOIN m USING (service, export_kind, party_key)",
            frames={"m": members}).itertuples(index=False)))
    out["raw_records"] = sorted(map(repr, ws.query("""
        SELECT r.import_id, r.source_row, r.record::VARCHAR FROM raw_records r WHERE EXISTS (
            SELECT 1 FROM party_versions p JOIN m USING (service, export_kind, party_key)
            WHERE p.import_id = r.import_id AND p.source_row = r.source_row)""",
        frames={"m": members}).itertuples(index=False)))
    return out


def _occurrences(ws: Workspace, text: str) -> int:
    return ws.db_path.read_bytes().lower().count(text.lower().encode())


# --------------------------------------------------------------------------------------------
# the plan


def test_retention_date_is_the_end_of_the_financial_year_plus_seven(built) -> None:
    _, register, _, _ = built
    rule = register.retention_rules["fiscal_records"]
    assert erasure.retention_until(rule, date(2024, 11, 29)) == date(2031, 12, 31)
    assert erasure.retention_until(rule, date(2023, 1, 1)) == date(2030, 12, 31)
    assert erasure.retention_until(register.retention_rules["payment_records"],
                                   date(2020, 12, 31)) == date(2027, 12, 31)


def test_plan_keeps_invoices_until_their_date_and_deletes_the_profile(built) -> None:
    ws, register, first, _ = built
    subject = _subject(ws, first.person.email)
    plan = erasure.plan(ws, register, "R-2026-0001", subject_ids=[subject], today=TODAY)
    records = plan[plan["action"].ne("check")]
    assert set(records["action"]) <= {"delete", "retain", "anonymise"}

    invoices = records[records["record"].str.contains("invoice")]
    assert not invoices.empty
    assert set(invoices["action"]) == {"retain"}
    assert set(invoices["rule"]) == {"fiscal_records"}
    for row in invoices.itertuples():
        assert row.until == date(row.document_date.year + 7, 12, 31)
        assert row.legal_reference.startswith("Art. 17(3)(b) GDPR; art. 52")

    payments = records[records["record"].str.contains("payment")]
    assert set(payments["action"]) == {"retain"} and set(payments["rule"]) == {"payment_records"}

    profiles = records[records["record"].eq("party")]
    assert not profiles.empty
    assert set(profiles["action"]) == {"delete"} and set(profiles["rule"]) == {"client_profile"}
    assert set(profiles["workspace"]) == {"removed by the purge"}

    steps = " | ".join(plan["step"])
    assert "MoneyBird: Contacten > contact > Archiveren (invoices stay, 7 years)" in steps
    assert "Mollie Dashboard: Customers > customer > Delete customer; payments stay under the fiscal rule" \
        in steps
    assert "FactuurSturen: Klanten > klant > Verwijderen / Inactief" in steps
    # systems without an export are not skipped silently
    imported = set(ws.query("SELECT DISTINCT service FROM imports")["service"])
    unexported = {s for s in letters.client_systems(register) if s not in imported}
    assert unexported and unexported <= set(plan.loc[plan["action"].eq("check"), "service"])
    # every source record of the subject appears once, with its file and row
    assert not records.duplicated(["import_id", "source_row"]).any()
    assert records["file_name"].ne("").all() and records["source_row"].notna().all()


def test_documents_past_their_retention_are_deleted(built) -> None:
    ws, register, first, _ = built
    subject = _subject(ws, first.person.email)
    plan = erasure.plan(ws, register, subject_ids=[subject], today=date(2040, 1, 1))
    assert "retain" not in set(plan["action"])
    assert plan.loc[plan["record"].str.contains("invoice"), "step"].str.contains("retention ended").all()


def test_plan_csv_is_owner_only_and_formula_safe(built, tmp_path: Path) -> None:
    ws, register, first, _ = built
    plan = erasure.plan(ws, register, subject_ids=[_subject(ws, first.person.email)], today=TODAY)
    plan.loc[0, "reference"] = "=HYPERLINK(\"x\")"
    out = erasure.write_plan(plan, tmp_path / "plan.csv")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert "'=HYPERLINK" in out.read_text("utf-8")


def test_exact_relation_with_kept_bookings_is_anonymised_after_the_retention_date(built) -> None:
    ws, register, _, _ = built
    with_exact = ws.query("""SELECT s.subject_id FROM subjects s JOIN documents d USING (service,
                                 export_kind, party_key)
                             WHERE s.service = 'exact' ORDER BY s.subject_id LIMIT 1""")["subject_id"]
    plan = erasure.plan(ws, register, subject_ids=[with_exact.iloc[0]], today=TODAY)
    exact = plan[plan["service"].eq("exact")]
    relations = exact[exact["record"].eq("party")]
    kept = exact.loc[exact["action"].eq("retain"), "until"]
    assert not relations.empty and not kept.empty
    assert set(relations["action"]) == {"anonymise"}
    assert set(relations["until"]) == {max(kept)}
    assert relations["step"].str.contains(r"Relaties > relatie > Anonimiseren \(Exact's GDPR").all()


def _register_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "register"
    shutil.copytree(Path(registry.__file__).parents[1] / "config" / "register", folder)
    (folder / "fideslang.toml").unlink()  # the vocabulary always comes from the workbench
    return folder


def test_another_registers_steps_file_words_the_plan_and_the_to_do_lists(built, tmp_path: Path) -> None:
    ws, _, first, _ = built
    subject = _subject(ws, first.person.email)
    folder = _register_copy(tmp_path)
    steps = folder / "steps.toml"
    text = steps.read_text("utf-8")
    old = "MoneyBird: Contacten > contact > Archiveren (invoices stay, 7 years)"
    assert old in text
    steps.write_text(text.replace(old, "MoneyBird: Relaties > relatie > Opruimen (our own wording)")
                     .replace("no new invoices, reminders or mailings to the contact", "no more letters"),
                     "utf-8")
    other = registry.load(folder)
    assert other.steps.step("moneybird", "profile").evidence.startswith("inferred:")
    plan = erasure.plan(ws, other, subject_ids=[subject], today=TODAY)
    moneybird = " | ".join(plan.loc[plan["service"].eq("moneybird"), "step"])
    assert "Opruimen (our own wording)" in moneybird and old not in moneybird
    restrict = erasure.rights_todo(ws, other, "restriction", subject_ids=[subject])
    assert restrict["step"].str.endswith("no more letters").any()


def test_a_register_without_steps_gets_the_generic_wording(built, tmp_path: Path) -> None:
    ws, register, _, _ = built
    with_exact = ws.query("""SELECT s.subject_id FROM subjects s JOIN documents d USING (service,
                                 export_kind, party_key)
                             WHERE s.service = 'exact' ORDER BY s.subject_id LIMIT 1""")["subject_id"]
    folder = _register_copy(tmp_path)
    (folder / "steps.toml").unlink()
    generic = registry.load(folder)
    assert generic.steps.generic == register.steps.generic and not generic.steps.systems
    plan = erasure.plan(ws, generic, subject_ids=[with_exact.iloc[0]], today=TODAY)
    relations = plan[plan["service"].eq("exact") & plan["record"].eq("party")]
    # no system is known to keep a relation on its bookings: the relation goes like any profile
    assert not relations.empty and set(relations["action"]) == {"delete"}
    assert set(relations["step"]) == {"Exact Online: delete the client's profile (contact/customer record) "
                                      "in the service"}


def test_a_step_that_fills_in_an_unknown_field_is_a_config_error(tmp_path: Path) -> None:
    folder = _register_copy(tmp_path)
    steps = folder / "steps.toml"
    text = steps.read_text("utf-8")
    steps.write_text(text.replace("keep the invoice until {until}", "keep the invoice until {untill}", 1)
                     .replace("[generic.expired]", "[generic.expiredd]"), "utf-8")
    with pytest.raises(ConfigError) as caught:
        registry.load(folder)
    assert sorted(p.removeprefix(f"{folder}/") for p in caught.value.problems) == [
        "steps.toml: generic.expiredd.[key]: Input should be 'profile', 'document', 'anonymise', 'expired', "
        "'erase', 'unimported', 'record_where', 'rectify_profile', 'rectify_document', 'restrict_profile', "
        "'restrict_document', 'mailbox', 'mailbox_none' or 'log_lines'",
        "steps.toml: systems.factuursturen.document.text: fills in untill; a step knows only period, "
        "system, until, where",
    ]


# --------------------------------------------------------------------------------------------
# the purge


@pytest.fixture(scope="module")
def purged(built, tmp_path_factory: pytest.TempPathFactory):
    source, register, first, second = built
    ws = _copy(source, tmp_path_factory.mktemp("purge") / "workspace")
    email = first.person.email
    subject = _subject(ws, email)
    namesake = _subject(ws, second.person.email)
    assert subject != namesake
    members = _members(ws, subject)
    namesake_members = _members(ws, namesake)
    namesake_before = _rows(ws, namesake_members)
    namesake_links = ws.query("SELECT * FROM subjects WHERE subject_id = ? ORDER BY ALL", [namesake])
    ws.compact()
    assert _occurrences(ws, email) > 0  # the control: the byte search does find the address

    created = requests.new(ws, type="erasure", email=email, received="2026-11-20", today=TODAY)
    plan = erasure.plan(ws, register, created.request_id, subject_ids=[subject], today=TODAY)
    erasure.log_plan(ws, plan, created.request_id)
    result = erasure.purge(ws, register, [subject], created.request_id, today=TODAY)
    requests.update(ws, created.request_id, verify="known_email:passed", status="completed",
                    responded="2026-11-25", today=TODAY)
    return {"ws": ws, "register": register, "email": email, "subject": subject, "members": members,
            "plan": plan, "result": result, "namesake": namesake, "namesake_members": namesake_members,
            "namesake_before": namesake_before, "namesake_links": namesake_links,
            "request_id": created.request_id}


def test_purge_removes_what_need_not_be_kept(purged) -> None:
    ws, plan, result = purged["ws"], purged["plan"], purged["result"]
    gone = plan[plan["action"].isin(["delete", "anonymise"])]
    assert len(gone) > 0 and result.removed["party_versions"] > 0 and result.removed["raw_records"] > 0
    left = ws.query("""SELECT count(*) AS n FROM raw_records r JOIN g USING (import_id, source_row)""",
                    frames={"g": gone[["import_id", "source_row"]].astype("int64")})["n"].iloc[0]
    assert left == 0
    profiles = ws.query("""SELECT count(*) AS n FROM party_versions p JOIN g USING (import_id, source_row)""",
                        frames={"g": gone[["import_id", "source_row"]].astype("int64")})["n"].iloc[0]
    assert profiles == 0
    assert ws.query("SELECT count(*) AS n FROM subjects WHERE subject_id = ?",
                    [purged["subject"]])["n"].iloc[0] == 0
    assert linkage.find(ws, email=purged["email"]).empty
    erased = ws.query("SELECT * FROM erased_raw_rows WHERE request_id = ?", [purged["request_id"]])
    restored = ws.query("SELECT * FROM raw_restored WHERE request_id = ?", [purged["request_id"]])
    assert len(restored) == result.restored > 0
    assert len(erased) == result.removed["raw_records"] == (
        restored["rows_removed"].sum() + sum(result.raw_files.values()))
    others = ws.query("SELECT DISTINCT request_id FROM erased_raw_rows WHERE request_id <> ?",
                      [purged["request_id"]])  # the demo history's completed erasure
    assert set(others["request_id"]) <= set(ws.query(
        "SELECT request_id FROM requests WHERE type = 'erasure' AND status = 'completed'")["request_id"])
    # each raw file that held her rows is re-stored without them: the old bytes are gone, the
    # import points at the new file, and the provenance keeps the old hash and the reason
    for row in restored.itertuples():
        assert not (ws.raw_dir / row.old_sha256).exists() and (ws.raw_dir / row.new_sha256).exists()
        assert "Art. 17" in row.reason
        stored = ws.query("SELECT stored_sha256 FROM imports WHERE import_id = ?", [row.import_id])
        assert stored["stored_sha256"].iloc[0] == row.new_sha256


def test_purge_keeps_retained_records_with_holds(purged) -> None:
    ws, plan, result = purged["ws"], purged["plan"], purged["result"]
    kept = plan[plan["action"].eq("retain")]
    every = erasure.holds(ws)  # also the holds of the demo history's completed erasure
    holds = every[every["request_id"].eq(purged["request_id"])].reset_index(drop=True)
    assert result.held == len(kept) == len(holds) > 0
    assert set(every["request_id"]) - {purged["request_id"]} <= set(ws.query(
        "SELECT request_id FROM requests WHERE type = 'erasure' AND status = 'completed'")["request_id"])
    assert set(holds["rule"]) <= {"fiscal_records", "payment_records"}
    held = set(zip(holds["import_id"], holds["source_row"], strict=True))
    assert held == set(zip(kept["import_id"].astype(int), kept["source_row"].astype(int), strict=True))
    # the kept records are all still there: raw record and document
    still = ws.query("""SELECT count(*) AS n FROM raw_records r JOIN h USING (import_id, source_row)""",
                     frames={"h": holds})["n"].iloc[0]
    assert still == len(holds)
    assert result.held_until == max(holds["until"]).date()


def test_purge_leaves_the_namesake_untouched(purged) -> None:
    ws = purged["ws"]
    assert _rows(ws, purged["namesake_members"]) == purged["namesake_before"]
    after = ws.query("SELECT * FROM subjects WHERE subject_id = ? ORDER BY ALL", [purged["namesake"]])
    assert after.equals(purged["namesake_links"])
    assert linkage.find(ws, email=demo_email(purged))["subject_id"].tolist() == [purged["namesake"]]


def demo_email(purged) -> str:
    members = purged["namesake_members"]
    return purged["ws"].query("""SELECT i.value FROM identifier_versions i JOIN m USING (service,
                                     export_kind, party_key) WHERE i.kind = 'email' AND i.valid LIMIT 1""",
                              frames={"m": members})["value"].iloc[0]


def test_email_is_gone_from_the_database_file_except_in_held_records(purged, tmp_path: Path) -> None:
    ws, email = purged["ws"], purged["email"]
    # the request register kept the address until the request was completed; now it is anonymised
    assert requests.show(ws, purged["request_id"])[0]["email"] is None
    holds = erasure.holds(ws)
    holding = ws.query("""SELECT r.import_id, r.source_row FROM raw_records r
                          WHERE contains(lower(r.record::VARCHAR), ?)""", [email.lower()])
    held = set(zip(holds["import_id"], holds["source_row"], strict=True))
    assert set(zip(holding["import_id"], holding["source_row"], strict=True)) <= held
    if _occurrences(ws, email):
        # every byte of the address left belongs to a held record: drop those, and it is gone
        copy = _copy(ws, tmp_path / "without-holds")
        with duckdb.connect(str(copy.db_path)) as con:
            con.register("h", holds)
            for table in ("identifier_versions", "party_versions", "document_versions", "raw_rows"):
                con.execute(f"DELETE FROM {table} t USING h WHERE t.import_id = h.import_id "
                            "AND t.source_row = h.source_row")
        copy.compact()
        assert _occurrences(copy, email) == 0
    leftovers = [p for p in ws.path.iterdir() if p.name.startswith(".compact-") or p.suffix == ".wal"]
    assert leftovers == []


def test_audit_log_verifies_with_counts_only(purged) -> None:
    ws, email = purged["ws"], purged["email"]
    check = trail.verify(ws)
    assert check.ok, str(check)
    actions = [e.action for e in trail.entries(ws)]
    assert actions[-2:] == ["plan", "purge"]
    text = trail.log_path(ws).read_text().lower()
    assert email.lower() not in text and email.split("@")[0].lower() not in text
    purge_entry = list(trail.entries(ws))[-1]
    assert purge_entry.request_id == purged["request_id"]
    assert purge_entry.details["held"] == purged["result"].held


# --------------------------------------------------------------------------------------------
# rectification, restriction, objection


def test_objection_stops_only_legitimate_interests(built) -> None:
    ws, register, first, _ = built
    todo = erasure.rights_todo(ws, register, "objection", subject_ids=[_subject(ws, first.person.email)])
    stop = todo[todo["action"].eq("stop processing")]
    assert not stop.empty and stop["legal_basis"].str.contains("legitimate interests").all()
    others = todo[todo["action"].ne("stop processing")]
    assert not others.empty and not others["legal_basis"].str.contains("legitimate interests").any()
    assert others["step"].str.contains(r"Art. 21\(1\)\) does not apply").all()


def test_rectification_and_restriction_give_a_step_per_system(built) -> None:
    ws, register, first, _ = built
    subject = _subject(ws, first.person.email)
    systems = set(erasure.plan(ws, register, subject_ids=[subject], today=TODAY)
                  .query("action != 'check'")["system"])
    for kind, action in (("rectification", "rectify"), ("restriction", "restrict")):
        todo = erasure.rights_todo(ws, register, kind, subject_ids=[subject])
        assert set(todo["system"]) == systems and set(todo["action"]) == {action}
    rectify = erasure.rights_todo(ws, register, "rectification", subject_ids=[subject])
    assert rectify["step"].str.contains("credit invoice").any()
    with pytest.raises(Exception, match="erasure-plan"):
        erasure.rights_todo(ws, register, "erasure", subject_ids=[subject])


# --------------------------------------------------------------------------------------------
# the command line


def cli(workspace: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workbench", "--workspace", str(workspace), *args],
                          capture_output=True, text=True, env={**os.environ}, stdin=subprocess.DEVNULL)


def test_cli_round_trip(built, tmp_path: Path) -> None:
    source, _, first, second = built
    ws = _copy(source, tmp_path / "workspace")
    new = cli(ws.path, "request", "new", "--type", "erasure", "--email", first.person.email,
              "--received", "2026-11-20", "--today", "2026-11-25")
    assert new.returncode == 0, new.stderr
    request_id = new.stdout.split()[0]

    out = tmp_path / "plan.csv"
    plan = cli(ws.path, "erasure-plan", "--request", request_id, "--today", "2026-11-25", "--out", str(out))
    assert plan.returncode == 0, plan.stderr
    assert "== MoneyBird (moneybird)" in plan.stdout and "retain until 20" in plan.stdout
    assert "Contacten > contact > Archiveren" in plan.stdout
    assert first.person.email not in plan.stdout
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert out.read_text("utf-8").startswith("subject_id,service,system,export_kind")

    refused = cli(ws.path, "erasure-plan", "--request", request_id, "--execute")
    assert refused.returncode == 2 and "--yes" in refused.stderr

    done = cli(ws.path, "erasure-plan", "--request", request_id, "--today", "2026-11-25",
               "--execute", "--yes")
    assert done.returncode == 0, done.stderr
    assert "retention_holds" in done.stdout and "re-stored without the subject's rows" in done.stdout
    again = cli(ws.path, "erasure-plan", "--request", request_id, "--today", "2026-11-25",
                "--execute", "--yes")  # running it again reports the purge, and logs it once
    assert again.returncode == 0 and "carried out before" in again.stdout, again.stderr
    assert "recorded in the history" in done.stdout
    assert cli(ws.path, "find", "--email", first.person.email).stdout.strip() == "no subject found"

    rect = cli(ws.path, "request", "new", "--type", "rectification", "--email", second.person.email,
               "--received", "2026-11-21", "--today", "2026-11-25")
    rect_id = rect.stdout.split()[0]
    todo = cli(ws.path, "rights-todo", "--request", rect_id)
    assert todo.returncode == 0, todo.stderr
    assert "rectify:" in todo.stdout and "recorded in the history" in todo.stdout
    shown = cli(ws.path, "request", "show", rect_id)
    assert "rectification to-do list made" in shown.stdout
    wrong = cli(ws.path, "rights-todo", "--request", request_id)
    assert wrong.returncode == 2 and "erasure request" in wrong.stderr

    verify = cli(ws.path, "audit", "verify")
    assert verify.returncode == 0, verify.stdout
    actions = [e.action for e in trail.entries(ws)]
    assert actions[-4:] == ["plan", "plan", "purge", "rights-todo"]


# --------------------------------------------------------------------------------------------
# the plan per field: minimise what is kept


@pytest.fixture(scope="module")
def bsn_plan(built):
    """The plan for the demo client whose Exact Online contact holds a BSN and a birth date."""
    ws, register, _, _ = built
    client = next(c for c in demo.build().clients if "bsn_in_exact" in c.flags)
    found = linkage.find(ws, email=client.person.email)
    subjects = sorted(found[found.score >= 1.0].subject_id.unique())
    plan = erasure.plan(ws, register, subject_ids=subjects, today=TODAY)
    return plan, erasure.field_plan(ws, register, plan, today=TODAY), register


def test_bsn_birth_date_and_gender_are_deleted_now(bsn_plan) -> None:
    plan, fields, _ = bsn_plan
    exact = fields[fields["service"].eq("exact")]
    for name in ("bsn", "birth_date", "gender", "email"):
        rows = exact[exact["field"].eq(name)]
        assert len(rows), name
        assert set(rows["action"]) == {"delete_now"}, name
        assert rows["until"].isna().all() and set(rows["final_deletion"]) == {TODAY}
    # the kept relation itself says so: the step names what goes now and the date the rest goes
    relations = plan[plan["service"].eq("exact") & plan["record"].eq("party")]
    with_bsn = relations[relations["delete_now"].str.contains("BSN|SocialSecurityNumber")]
    assert len(with_bsn)
    for row in with_bsn.itertuples():
        assert "BSN" not in row.kept_fields and "SocialSecurityNumber" not in row.kept_fields
        assert row.final_deletion == row.until and f"delete it on {row.until}" in row.step


def test_invoice_fields_are_kept_restricted_until_a_dated_end(bsn_plan) -> None:
    plan, fields, register = bsn_plan
    kept = fields[fields["action"].eq("keep_restricted")]
    assert len(kept) and kept["until"].notna().all()
    assert set(kept["field"]) <= set(register.retention_rules["fiscal_records"].keeps) \
        | set(register.retention_rules["payment_records"].keeps)
    assert kept["reason"].str.contains("blocked").all()
    invoices = plan[plan["record"].str.contains("invoice") & plan["action"].eq("retain")]
    assert len(invoices)
    for row in invoices.itertuples():
        assert row.final_deletion == row.until == date(row.document_date.year + 7, 12, 31)
        assert "name" in {f for f in fields.loc[(fields["import_id"] == row.import_id)
                                               & (fields["source_row"] == row.source_row), "field"]}


def test_plan_lists_the_final_deletion_date_of_every_record(bsn_plan) -> None:
    plan, _, _ = bsn_plan
    records = plan[plan["action"].ne("check")]
    assert records["final_deletion"].notna().all()
    assert (records.loc[records["action"].eq("delete"), "final_deletion"] == TODAY).all()
    held = records[records["action"].isin(["retain", "anonymise"]) & records["until"].notna()]
    assert len(held) and (held["final_deletion"] == held["until"]).all()
    assert "final_deletion" in erasure.write_plan(plan, Path(os.environ.get("TMPDIR", "/tmp")) / "p.csv") \
        .read_text("utf-8").splitlines()[0]


def test_a_retaining_rule_must_say_which_fields_it_keeps(tmp_path: Path) -> None:
    folder = tmp_path / "register"
    shutil.copytree(Path(registry.__file__).parents[1] / "config" / "register", folder)
    path = folder / "retention.toml"
    text = path.read_text("utf-8")
    start = text.index("keeps = [\n")
    path.write_text(text[:start] + text[text.index("]\n", start) + 2:], "utf-8")
    with pytest.raises(ConfigError, match=r"retention.toml: fiscal_records.keeps: missing"):
        registry.load(folder)
    path.write_text(text.replace('"party_key", "customer_number", "name", "account_holder"',
                                 '"party_key", "shoe_size", "name", "account_holder"'), "utf-8")
    with pytest.raises(ConfigError, match="'shoe_size' is not a canonical field"):
        registry.load(folder)

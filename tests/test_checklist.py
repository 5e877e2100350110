"""The checklists of docs/checklists.md, item by item, on what the demo writes: the answered
access request (A15-01..A15-19) with its letter, annex and files, the request register's timing
(A12-01..A12-05), a portability package (A20-01..A20-08) and the Dutch specifics of the response
process and detection (NL-03, NL-05). The Art. 30 record, the DPIA and the erasure specifics are
in test_checklist_dpia.py. Each test is named by its check id and reads the written files and the
register, not the functions' return values, where a file holds the answer."""

from __future__ import annotations

import csv
import html
import json
import re
import zipfile
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from pypdf import PdfReader

from tests.test_letters import no_codes, visible
from workbench import pipeline
from workbench.audit import trail
from workbench.datamap import linkage
from workbench.demo.story import demo_client
from workbench.ingest.model import FIELDS
from workbench.reference import register as registry
from workbench.rights import answers, letters, package, requests


@pytest.fixture(scope="module")
def reg():
    return registry.load()


@pytest.fixture(scope="module")
def story(demo_run: pipeline.Run) -> dict[str, dict]:
    """The demo's requests of today: kind of request -> id, its letters (kind -> HTML file)."""
    found: dict[str, dict] = {}
    for request_id, kind, path in demo_run.story:
        row, _, _ = requests.show(demo_run.workspace, request_id)
        label = "refused" if row["status"] == "refused" else row["type"]
        found.setdefault(label, {"id": request_id, "letters": {}})["letters"][kind] = Path(path)
    assert set(found) == {"access", "erasure", "refused"}
    return found


@pytest.fixture(scope="module")
def access(story) -> dict:
    folder = story["access"]["letters"]["access"].parent
    html = (folder / "index.html").read_text("utf-8")
    letter, annex = html.split('id="annex"')
    return {"id": story["access"]["id"], "folder": folder, "html": html, "text": visible(letter),
            "annex": visible(annex), "manifest": json.loads((folder / "manifest.json").read_text("utf-8"))}


@pytest.fixture(scope="module")
def portable(demo_run: pipeline.Run, reg, tmp_path_factory) -> dict:
    """A portability request answered and sent on the demo, through the gates."""
    ws = demo_run.workspace
    email = demo_client(nth=2).person.email
    rid = requests.new(ws, type="portability", email=email).request_id
    requests.verify(ws, rid, method="known_email", outcome="passed")
    imported = set(ws.query("SELECT DISTINCT service FROM imports")["service"])
    for system in letters.client_systems(reg):
        if system not in imported:
            requests.record_search(ws, rid, system=system, result="niets gevonden")
    out = tmp_path_factory.mktemp("portability") / "package"
    answer = answers.answer_request(ws, reg, request_id=rid, out=out, pdf=False)
    for item in package.redaction_todo(out):
        package.redact(out, item["table"], int(item["row"]), item["column"], "someone else's data")
    zipped, _ = package.archive(out)
    letters.send(ws, reg, rid, out)
    return {"id": rid, "out": out, "answer": answer, "zip": zipped, "subjects": answer.subjects,
            "described": json.loads((out / "datapackage.json").read_text("utf-8"))}


# --------------------------------------------------------------------------------------------
# A15: the access response


def test_a15_01_confirmation(access) -> None:
    assert access["manifest"]["confirmation"] is True
    assert 'data-confirmation="true"' in access["html"]
    assert "Ja, wij verwerken persoonsgegevens over u." in access["text"]


def test_a15_02_actual_values_per_system(access, demo_run) -> None:
    client = demo_client()
    assert "Dit weten wij over u" in access["annex"] and client.person.email in access["annex"]
    for system in access["manifest"]["searches"]:
        if access["manifest"]["searches"][system] == "found":
            assert demo_run.workspace and (access["folder"] / "data" / system).is_dir()
            assert registry.load().systems[system].name in access["annex"]


def test_a15_03_every_system_has_a_status(access, demo_run, reg) -> None:
    searches = access["manifest"]["searches"]
    assert set(letters.client_systems(reg)) <= set(searches)
    assert set(searches.values()) <= {"found", "not_found"}  # nothing left unsearched
    recorded = requests.searches(demo_run.workspace, access["id"])
    assert set(letters.client_systems(reg)) <= set(recorded)
    assert recorded["mail"]["method"] == "automatic"  # the demo's mailbox is imported
    automatic = {k: v["query"] for k, v in recorded.items() if v["method"] == "automatic"}
    assert automatic and all(automatic.values()), "every automatic search says what it searched with"
    assert "@" not in " ".join(automatic.values())  # the kinds of identifier, never the values
    for system in letters.client_systems(reg):
        assert reg.systems[system].name in access["text"]
    assert "niets gevonden (met de hand doorzocht)" in access["text"]


def test_a15_04_purposes_in_words(access, reg) -> None:
    for key in ("payments", "client_administration"):
        activity = reg.activities[key]
        assert activity.name_nl in access["text"] and activity.purpose_nl.split()[0] in access["text"]
    assert "client_administration" not in access["text"]


def test_a15_05_every_field_categorised(access, reg) -> None:
    described = json.loads((access["folder"] / "datapackage.json").read_text("utf-8"))
    for resource in described["resources"]:
        for item in resource["schema"]["fields"]:
            canonical = item.get("field")
            if canonical in FIELDS and FIELDS[canonical].personal and canonical != "party_key":
                assert item["category"], (resource["path"], item["name"])
    assert "e-mailadres" in access["text"] and "naam" in access["text"]


def test_a15_06_recipients_per_system_truthfully(access, reg) -> None:
    letter = access["html"].split('id="annex"')[0]
    rows = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td></tr>", letter)
    by_system = {system: (keeper, result) for system, keeper, result in rows}
    for key, result in access["manifest"]["searches"].items():
        system = reg.systems[key]
        keeper, said = (html.unescape(cell) for cell in by_system[system.name])
        assert reg.processors[system.processor].name in keeper
        assert f"({reg.processors[system.processor].country}" in keeper
        if result == "not_found":  # a system where nothing was found lists nothing
            assert said.startswith("niets gevonden"), (system.name, said)
        else:
            assert "gevonden" not in said and said


def test_a15_07_retention_per_category(access) -> None:
    section = access["text"].split("Hoe lang wij uw gegevens bewaren")[1].split("Waar uw gegevens vandaan")[0]
    assert "7 jaar na het einde van het boekjaar" in section and "e-mailadres" in section.lower()


def test_a15_08_rights(access) -> None:
    for article in ("artikel 16", "artikel 17", "artikel 18", "artikel 21"):
        assert article in access["text"]


def test_a15_09_complaint_to_the_ap(access) -> None:
    assert "Autoriteit Persoonsgegevens" in access["text"] and "klacht" in access["text"]


def test_a15_10_sources_in_the_letters_language(access, reg) -> None:
    section = access["text"].split("Waar uw gegevens vandaan komen")[1]
    assert letters.texts("nl")["sources"]["payments"] in section
    assert reg.activities["payments"].source not in access["text"]  # not the register's English


def test_a15_11_automated_decisions(access) -> None:
    assert "Geen automatische besluiten" in access["text"] and "artikel 22" in access["text"]


def test_a15_12_transfers_and_safeguards(access, reg) -> None:
    found = [k for k, v in access["manifest"]["searches"].items() if v == "found"]
    abroad = [reg.processors[reg.systems[k].processor] for k in found
              if reg.processors[reg.systems[k].processor].outside_eea]
    if abroad:
        for processor in abroad:
            assert letters.texts("nl")["safeguards"][processor.transfer_safeguard] in access["text"]
    else:
        assert letters.texts("nl")["access"]["transfers_none"] in access["text"]


def test_a15_13_free_and_electronic(access) -> None:
    assert "gratis" in access["text"] and "artikel 15 lid 3" in access["text"]
    names = {f["path"] for f in access["manifest"]["files"]}
    assert {"index.html", "index.pdf", "datapackage.json", "data.xlsx"} <= names
    assert any(n.endswith(".csv") for n in names) and any(n.endswith(".json") for n in names)


def test_a15_14_redaction_log_without_values(access) -> None:
    folder = access["folder"]
    assert not (folder / "redactions_todo.csv").exists() and package.todo_path(folder).exists()
    assert package.redaction_todo(folder) == []  # every listed cell decided before sending
    with package.todo_path(folder).open(encoding="utf-8", newline="") as handle:
        listed = list(csv.DictReader(handle))
    log = folder / package.REDACTION_LOG
    if listed:
        entries = [json.loads(line) for line in log.read_text("utf-8").splitlines()]
        assert {(e["table"], e["row"], e["column"]) for e in entries} == {
            (i["table"], int(i["row"]), i["column"]) for i in listed}
        assert all(e["reason"] and "value" not in e for e in entries)
        manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
        assert "redactions.log" in {f["path"] for f in manifest["files"]}


def test_a15_15_metadata(access, demo_run) -> None:
    manifest = access["manifest"]
    row, _, _ = requests.show(demo_run.workspace, access["id"])
    assert manifest["request_id"] == access["id"] and manifest["request_type"] == "access"
    assert manifest["identities"] and manifest["language"] == "nl" and manifest["draft"] is False
    assert manifest["received"] == str(row["received"])
    assert manifest["letter_date"] == str(row["responded"])  # sent-at: the register agrees
    assert letters.long_date(row["responded"], "nl") in access["text"]


def test_a15_16_layers_described(access) -> None:
    assert "Dit weten wij over u" in access["text"] and "CSV, JSON en Excel" in access["text"]
    assert "geen nieuw verzoek" in access["text"]
    assert 'class="annex"' in access["html"]


def test_a15_17_refusal_reasons_and_remedies(story, demo_run) -> None:
    text = visible(story["refused"]["letters"]["refusal"].read_text("utf-8"))
    for phrase in ("Waarom niet", "artikel 12 lid 2", "Autoriteit Persoonsgegevens", "rechter", "artikel 79",
                   "artikel 12 lid 4"):
        assert phrase in text, phrase
    row, _, _ = requests.show(demo_run.workspace, story["refused"]["id"])
    assert row["status"] == "refused" and row["refusal_reason"]


def test_a15_18_identity_verification_recorded(story, demo_run) -> None:
    row, events, _ = requests.show(demo_run.workspace, story["access"]["id"])
    assert (row["verify_method"], row["verify_outcome"]) == ("known_email", "passed") and row["verified_on"]
    refused, _, _ = requests.show(demo_run.workspace, story["refused"]["id"])
    assert (refused["verify_method"], refused["verify_outcome"]) == ("id_document", "failed")
    assert "verified" in set(events.action)


def test_a15_19_plain_language_without_codes(access, story) -> None:
    pages = PdfReader(access["folder"] / "index.pdf").pages
    texts = [p.extract_text() for p in pages]
    annex_page = next(i for i, t in enumerate(texts) if "Bijlage: Dit weten wij over u" in t)
    assert annex_page <= 2  # the letter fits on two A4 pages
    assert not no_codes(access["text"]) and not no_codes(access["annex"])
    assert not no_codes(" ".join(texts[:annex_page]))
    assert not re.search(r"\b(found|record|records|exception)\b", access["text"])  # no English words
    for request in story.values():
        for path in request["letters"].values():
            assert not no_codes(visible(path.read_text("utf-8"))), path
            if path.with_suffix(".pdf").exists():
                text = " ".join(p.extract_text() for p in PdfReader(path.with_suffix(".pdf")).pages)
                assert not no_codes(text), path


# --------------------------------------------------------------------------------------------
# A12: timing


def test_a12_01_received_and_due_by_calendar_month(demo_run) -> None:
    every = requests.listing(demo_run.workspace, include_closed=True)
    for request_id in every.request_id:
        row, _, _ = requests.show(demo_run.workspace, request_id)
        assert row["law_due"] == requests.add_months(row["received"], 1)
        assert row["due"] == min(row["law_due"], row["received"] + timedelta(days=30))


def test_a12_02_extension_told_in_time_with_reason(demo_run, reg, tmp_path) -> None:
    every = requests.listing(demo_run.workspace, include_closed=True)
    extended = [r for r in every.request_id if requests.show(demo_run.workspace, r)[0]["extension_months"]]
    assert extended
    for request_id in extended:
        row, _, _ = requests.show(demo_run.workspace, request_id)
        assert row["extension_told"] <= row["due"] and row["extension_reason"]
        assert row["extended_due"] <= requests.add_months(row["received"], 3)
        written = letters.write(demo_run.workspace, reg, request_id, "extension", tmp_path)
        text = visible(written.html.read_text("utf-8"))
        assert letters.long_date(row["extended_due"], "nl") in text and "artikel 12 lid 3" in text


def test_a12_03_answered_by_the_due_date(story, demo_run) -> None:
    for request in story.values():
        row, _, _ = requests.show(demo_run.workspace, request["id"])
        assert row["responded"] and row["responded"] <= requests.current_due(row)
        sent = requests.letters(demo_run.workspace, request["id"])
        assert pd.Timestamp(sent.sent.iloc[-1]).date() == row["responded"]
    flagged = requests.listing(demo_run.workspace, today=pipeline.demo.TODAY + timedelta(days=400))
    assert (flagged.flag.str.contains("OVERDUE")).all()


def test_a12_04_electronic_request_electronic_answer(story, demo_run, access) -> None:
    row, _, _ = requests.show(demo_run.workspace, story["access"]["id"])
    assert row["channel"] == "email"
    assert (access["folder"] / "index.html").exists() and (access["folder"] / "index.pdf").exists()


def test_a12_05_refusal_justified(story, demo_run) -> None:
    row, events, _ = requests.show(demo_run.workspace, story["refused"]["id"])
    assert row["outcome"] == "refused" and "12(2)" in row["refusal_reason"]
    with pytest.raises(requests.WorkbenchError, match="refuse_reason"):
        other = requests.new(demo_run.workspace, type="access", email="x@example.org").request_id
        requests.update(demo_run.workspace, other, status="refused")


# --------------------------------------------------------------------------------------------
# A20: portability


def test_a20_01_only_consent_or_contract(portable, reg) -> None:
    kinds, _ = package.portability_rules()
    for resource in portable["described"]["resources"]:
        export_kind = next(k for k in kinds if k.startswith(resource["system"] + "/")
                           and Path(resource["path"]).stem.startswith(k.split("/")[1]))
        assert reg.activities[kinds[export_kind]].legal_basis in ("consent", "contract"), resource["path"]
    text = visible((portable["out"] / "index.html").read_text("utf-8"))
    assert "de overeenkomst met u (artikel 6 lid 1 onder b AVG)" in text
    assert "wettelijke plicht" not in text


def test_a20_02_provided_data_only(portable) -> None:
    _, provided = package.portability_rules()
    resources = portable["described"]["resources"]
    fields = {f.get("field") for r in resources for f in r["schema"]["fields"]} - {None}
    assert fields and fields <= provided
    assert not list(portable["out"].rglob("xaf*")) and not list(portable["out"].rglob("*invoices*"))


def test_a20_03_structured_formats(portable) -> None:
    for path in (portable["out"] / "data").rglob("*.csv"):
        with path.open(encoding="utf-8", newline="") as handle:
            header = next(csv.reader(handle))
        assert header[:2] == list(package.SOURCE_COLUMNS)
    assert list((portable["out"] / "data").rglob("*.json"))


def test_a20_04_metadata_per_field(portable) -> None:
    frictionless = pytest.importorskip("frictionless")
    described = portable["described"]
    assert described["language"] == "nl" and described["title"].startswith("Persoonsgegevens")
    for resource in described["resources"]:
        assert resource["system"] and resource["title"]
        for item in resource["schema"]["fields"]:
            assert {"name", "type", "description", "category", "unit", "format", "timezone"} <= item.keys()
            if item.get("field") and FIELDS[item["field"]].type == "amount":
                assert item["type"] == "number" and item["unit"]
    report = frictionless.validate(portable["out"] / "datapackage.json")
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])[:5]


def test_a20_05_loads_cleanly_with_checksums(portable) -> None:
    manifest = json.loads((portable["out"] / "manifest.json").read_text("utf-8"))
    listed = {f["path"] for f in manifest["files"]}
    for path in portable["out"].rglob("*"):
        if path.is_file() and path.name != "manifest.json":
            assert path.relative_to(portable["out"]).as_posix() in listed
        if path.suffix == ".json":
            json.loads(path.read_text("utf-8"))
        if path.suffix == ".csv":
            with path.open(encoding="utf-8", newline="") as handle:
                assert len({len(r) for r in csv.reader(handle)}) == 1


def test_a20_06_one_downloadable_archive(portable) -> None:
    with zipfile.ZipFile(portable["zip"]) as archive:
        names = set(archive.namelist())
    assert {"index.html", "datapackage.json", "manifest.json"} <= names


def test_a20_07_no_data_of_others(portable) -> None:
    fields = {f.get("field") for r in portable["described"]["resources"] for f in r["schema"]["fields"]}
    assert not fields & {"other_name", "other_address", "notes"}
    assert package.redaction_todo(portable["out"]) == []


def test_a20_08_portability_erases_nothing(portable, demo_run) -> None:
    row, _, _ = requests.show(demo_run.workspace, portable["id"])
    assert row["status"] == "completed"
    for subject in portable["subjects"]:
        assert not linkage.subject_parties(demo_run.workspace, subject).empty
    logged = trail.entries(demo_run.workspace)
    assert not any(e.action == "purge" and e.request_id == portable["id"] for e in logged)


# --------------------------------------------------------------------------------------------
# Dutch specifics


def test_nl_03_the_aps_five_steps(story, demo_run) -> None:
    _, events, _ = requests.show(demo_run.workspace, story["access"]["id"])
    actions = events.action.tolist()
    order = [actions.index("created"), actions.index("letter"), actions.index("verified"),
             actions.index("searched"), actions.index("closed")]
    assert order == sorted(order)  # scope, receipt, identity, search, answer
    row, _, _ = requests.show(demo_run.workspace, story["access"]["id"])
    assert row["responded"] <= requests.add_months(row["received"], 1)


def test_nl_05_dutch_identifiers_detected(demo_run) -> None:
    inventory = next((p for p in demo_run.datamap if p.suffix == ".csv" and "inventory" in p.name), None)
    if inventory is None:
        pytest.skip("the data map wrote no inventory CSV")
    with inventory.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    detected = {r["field"] for r in rows if r["personal"] == "True"}
    assert {"bsn", "iban", "postcode", "phone", "vat_number", "kvk_number"} <= detected
    assert all(r["special_or_national_id"] == "True" for r in rows if r["field"] == "bsn")

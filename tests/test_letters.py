"""Letters for every outcome of a request: texts as validated data, Dutch dates, the gates that
stop a letter from being written as final or sent, drafts, and the register agreeing with the
letter. No demo business: a small workspace with requests only."""

from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from pypdf import PdfReader

from workbench.configuration import ConfigError
from workbench.reference import register as registry
from workbench.rights import letters, requests
from workbench.store.workspace import Workspace

TODAY = date(2026, 12, 3)
EMAIL = "jan.devries@example.nl"
SHIPPED = Path(letters.__file__).parents[1] / "config" / "letters"


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "workspace")


@pytest.fixture(scope="module")
def register():
    return registry.load()


def _request(ws: Workspace, type: str = "access", verified: bool = True) -> str:
    rid = requests.new(ws, type=type, email=EMAIL, name="Jan de Vries", received="2026-11-20",
                       today=TODAY).request_id
    if verified:
        requests.verify(ws, rid, method="known_email", outcome="passed", on="2026-11-21", today=TODAY)
    return rid


def visible(html: str) -> str:
    """The text a reader sees: no style, no tags, no attributes."""
    html = re.sub(r"<style.*?</style>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def no_codes(text: str) -> list[str]:
    """Codes, keys, paths, hashes and status words a client must not read."""
    text = re.sub(r"\S+@\S+", " ", text)  # e-mail addresses may hold anything
    patterns = [r"\bnot_found\b", r"\bexception\b", r"(?i)workbench", r"\b[a-z]+_[a-z_]+\b",
                r"\buser\.[a-z]", r"\b[0-9a-f]{32,}\b", r"\b[\w-]+/[\w-]+\.(csv|json|xlsx)\b",
                r"\brecord\(s\)"]
    return [p for p in patterns if re.search(p, text)]


def test_texts_are_validated_data(tmp_path: Path) -> None:
    nl, en = letters.texts("nl"), letters.texts("en")
    assert nl["meta"]["locale"] == "nl_NL" and en["meta"]["locale"] == "en_GB"
    assert set(nl["refusal"]["grounds"]) == set(letters.REFUSAL_GROUNDS)
    with pytest.raises(letters.LetterError, match="lang 'de'"):
        letters.texts("de")
    broken = tmp_path / "letters"
    shutil.copytree(SHIPPED, broken)
    text = (broken / "en.toml").read_text("utf-8").replace('\nclosing = "Yours sincerely,"', "")
    (broken / "en.toml").write_text(text, "utf-8")
    with pytest.raises(ConfigError, match=r"en\.toml: common\.closing: missing \(nl\.toml has it\)"):
        letters.texts("en", broken)
    (broken / "en.toml").write_text(text + '\n[extra]\nword = "x"\n', "utf-8")
    with pytest.raises(ConfigError) as error:
        letters.texts("en", broken)
    assert error.value.problems == [f"{broken}/en.toml: common.closing: missing (nl.toml has it)",
                                    f"{broken}/en.toml: extra.word: not in nl.toml"]
    (broken / "en.toml").write_text(text.replace("[receipt]\n", "[receipt]\nnote = [1]\n"), "utf-8")
    with pytest.raises(ConfigError, match=r"en\.toml: receipt\.note\.list\.0: Input should be a valid str"):
        letters.texts("en", broken)


def test_dates_are_written_out_in_the_letters_language() -> None:
    assert letters.long_date(date(2026, 12, 3), "nl") == "3 december 2026"
    assert letters.long_date("2026-03-01", "nl") == "1 maart 2026"
    assert letters.long_date(date(2026, 12, 3), "en") == "3 December 2026"


KINDS = {
    "receipt": {}, "clarification": {"questions": ["Welke periode bedoelt u?"], "identity": True},
    "extension": {}, "refusal": {"grounds": ["excessive"], "explanation": "Vijfde verzoek deze maand."},
    "no_data": {}, "rectification": {"changes": ["Uw adres is aangepast."]}, "restriction": {},
    "objection": {}, "restriction_lift": {"lift_on": date(2027, 1, 15), "reasons": ["De controle is klaar."]},
    "recipient_notice": {"recipient": "moneybird", "action": "erasure", "client": ["Klantnummer 1002"]},
}


@pytest.mark.parametrize("lang", ["nl", "en"])
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_outcome_has_a_letter_a_client_can_read(ws, register, tmp_path, kind, lang) -> None:
    rid = _request(ws, "restriction" if kind == "restriction_lift" else "access")
    if kind == "extension":
        requests.extend(ws, rid, reason="records in four systems", told=TODAY, today=TODAY)
    if kind == "no_data":  # nothing imported: every client system searched by hand
        for system in letters.client_systems(register):
            requests.record_search(ws, rid, system=system, result="niets gevonden", today=TODAY)
    written = letters.write(ws, register, rid, kind, tmp_path / "out", lang=lang, today=TODAY, **KINDS[kind])
    html = written.html.read_text("utf-8")
    text = visible(html)
    assert not no_codes(text), no_codes(text)
    wanted = {"nl": ["3 december 2026", "Met vriendelijke groet", "Contactpersoon voor privacyzaken"],
              "en": ["3 December 2026", "Yours sincerely", "Privacy contact"]}[lang]
    assert all(w in text for w in wanted), text
    assert rid in text and "de Kale ICT" in text
    if kind != "recipient_notice":
        assert {"nl": "Jan de Vries", "en": "Jan de Vries"}[lang] in text
    pages = PdfReader(written.files[1]).pages
    assert len(pages) <= 2
    registered = requests.letters(ws, rid)
    assert registered.kind.tolist() == [kind] and registered.sha256.iloc[0] == written.sha256


def test_letter_contents_per_outcome(ws, register, tmp_path) -> None:
    rid = _request(ws)
    requests.extend(ws, rid, reason="records in four systems", told=TODAY, today=TODAY)
    written = letters.write(ws, register, rid, "extension", tmp_path, today=TODAY)
    text = visible(written.html.read_text("utf-8"))
    assert "20 december 2026" in text and "20 februari 2027" in text and "artikel 12 lid 3" in text
    assert "records in four systems" in text  # the reason as recorded
    refusal = visible(letters.write(ws, register, rid, "refusal", tmp_path, today=TODAY, partial=True,
                                    grounds=["others"], granted=["Inzage in uw eigen gegevens."],
                                    refused=["De namen van andere klanten."]).html.read_text("utf-8"))
    for phrase in ("niet helemaal", "Inzage in uw eigen gegevens", "artikel 15 lid 4",
                   "Autoriteit Persoonsgegevens", "rechter", "artikel 79", "artikel 12 lid 4"):
        assert phrase in refusal, phrase
    written = letters.write(ws, register, rid, "objection", tmp_path, today=TODAY)
    objection = visible(written.html.read_text("utf-8"))
    stopped = [a.name_nl for a in register.activities.values() if a.legal_basis == "legitimate_interests"]
    assert "direct gestopt" in objection and stopped and all(name in objection for name in stopped)


def test_gates_stop_and_a_draft_is_watermarked_and_never_sent(ws, register, tmp_path) -> None:
    rid = _request(ws, verified=False)
    with pytest.raises(letters.LetterError, match="identity is not verified"):
        letters.write(ws, register, rid, "refusal", tmp_path, today=TODAY, grounds=["excessive"])
    draft = letters.write(ws, register, rid, "refusal", tmp_path, today=TODAY, grounds=["excessive"],
                          draft=True)
    assert "CONCEPT" in draft.html.read_text("utf-8") and "-draft" in draft.html.name
    assert "Nog in te vullen" in draft.html.read_text("utf-8")  # the register names no privacy contact
    with pytest.raises(WorkbenchErrorLike, match="draft"):
        letters.send(ws, register, rid, draft.html, today=TODAY)
    receipt = letters.write(ws, register, rid, "receipt", tmp_path, today=TODAY)  # no identity needed
    assert "CONCEPT" not in receipt.html.read_text("utf-8")
    letters.send(ws, register, rid, receipt.html, today=TODAY)
    with pytest.raises(WorkbenchErrorLike, match="sent on 2026-12-03 already"):
        letters.send(ws, register, rid, receipt.html, today=TODAY)
    # no_data: every client system needs a recorded search
    requests.verify(ws, rid, method="known_email", outcome="passed", today=TODAY)
    with pytest.raises(letters.LetterError, match="not searched for this request: .*E-mail"):
        letters.write(ws, register, rid, "no_data", tmp_path, today=TODAY)
    for system in letters.client_systems(register):
        requests.record_search(ws, rid, system=system, result="nothing found", today=TODAY)
    answer = letters.write(ws, register, rid, "no_data", tmp_path, today=TODAY)
    with pytest.raises(WorkbenchErrorLike, match="dated 2026-12-03, not today"):
        letters.send(ws, register, rid, answer.html, today=date(2026, 12, 4))
    answer.html.write_text(answer.html.read_text("utf-8") + " ", "utf-8")  # changed after writing
    with pytest.raises(letters.LetterError, match="not registered"):
        letters.send(ws, register, rid, answer.html, today=TODAY)


WorkbenchErrorLike = requests.WorkbenchError


def test_sending_an_answer_closes_the_request_on_the_letters_date(ws, register, tmp_path) -> None:
    rid = _request(ws)
    for system in letters.client_systems(register):
        requests.record_search(ws, rid, system=system, result="niets gevonden", today=TODAY)
    answer = letters.write(ws, register, rid, "no_data", tmp_path, today=TODAY)
    done = letters.send(ws, register, rid, answer.html, today=TODAY)
    assert any("completed on 2026-12-03" in line for line in done)
    row, events, _ = requests.show(ws, rid)
    assert (row["status"], row["outcome"], row["responded"]) == ("completed", "no_data", TODAY)
    sent = requests.letters(ws, rid)
    assert pd.Timestamp(sent.sent.iloc[-1]).date() == TODAY == pd.Timestamp(sent.dated.iloc[-1]).date()
    assert {"letter", "sent", "closed", "searched"} <= set(events.action)
    with pytest.raises(requests.WorkbenchError, match="closed"):
        requests.note(ws, rid, "too late")


def test_refusal_for_identity_goes_without_verification_and_is_recorded(ws, register, tmp_path) -> None:
    rid = _request(ws, verified=False)
    requests.verify(ws, rid, method="id_document", outcome="failed", today=TODAY)
    refusal = letters.write(ws, register, rid, "refusal", tmp_path, today=TODAY, grounds=["identity"])
    letters.send(ws, register, rid, refusal.html, today=TODAY)
    row, _, _ = requests.show(ws, rid)
    assert row["status"] == "refused" and "Article 12(2)" in row["refusal_reason"]


def test_manual_search_results_are_words_of_either_language(ws) -> None:
    rid = _request(ws)
    found = requests.record_search(ws, rid, system="mail", result="Niets  gevonden", today=TODAY)
    assert found == "not_found"
    assert requests.record_search(ws, rid, system="hosting", result="found", today=TODAY,
                                  query="log lines of her login name") == "found"
    with pytest.raises(requests.WorkbenchError, match="not a search result"):
        requests.record_search(ws, rid, system="mail", result="looked a bit", today=TODAY)
    done = requests.searches(ws, rid)
    assert {k: v["result"] for k, v in done.items()} == {"mail": "not_found", "hosting": "found"}
    assert (done["hosting"]["query"], done["mail"]["query"]) == ("log lines of her login name", "")


def test_a_register_without_the_query_column_gains_it(ws) -> None:
    rid = _request(ws)
    with ws.connect() as con:
        con.execute("ALTER TABLE request_searches DROP COLUMN query")  # as a register of before
        con.execute("DELETE FROM schema_version")  # ... which had no schema version either
    requests.record_search(ws, rid, system="mail", result="found", today=TODAY, query="all folders")
    assert requests.searches(ws, rid)["mail"]["query"] == "all folders"


def test_command_line_round_trip(tmp_path: Path, capsys, register) -> None:
    from workbench.ui import cli

    base = ["--workspace", str(tmp_path / "ws")]

    def run(*args: str) -> tuple[int, str]:
        code = cli.main([*base, *args])
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    assert run("request", "new", "--type", "access", "--email", EMAIL, "--received", "2026-11-20",
               "--today", "2026-12-03")[0] == 0
    rid = "R-2026-0001"
    out = tmp_path / "letters"
    code, text = run("request", "letter", "--request", rid, "--kind", "receipt", "--out", str(out),
                     "--today", "2026-12-03")
    assert code == 0 and "gap:" in text
    code, text = run("request", "send", "--request", rid, "--letter", str(out / f"{rid}-receipt.html"),
                     "--today", "2026-12-03")
    assert code == 0 and "receipt letter sent on 2026-12-03" in text
    code, text = run("request", "letter", "--request", rid, "--kind", "no_data", "--out", str(out),
                     "--today", "2026-12-03")
    assert code == 2 and "identity is not verified" in text and "--" not in text.split("error")[-1]
    assert run("request", "verify", rid, "--method", "known_email", "--outcome", "passed")[0] == 0
    for system in letters.client_systems(register):
        code, text = run("request", "search", "--request", rid, "--system", system, "--result",
                         "niets gevonden", "--today", "2026-12-03")
        assert code == 0 and "not_found" in text
    assert run("request", "letter", "--request", rid, "--kind", "no_data", "--out", str(out),
               "--today", "2026-12-03")[0] == 0
    code, text = run("request", "send", "--request", rid, "--letter", str(out / f"{rid}-no-data.html"),
                     "--today", "2026-12-03")
    assert code == 0 and "completed on 2026-12-03" in text
    code, text = run("request", "note", rid, "after the answer")
    assert code == 2 and "closed" in text

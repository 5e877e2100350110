"""SMTP.com's message log: read by its header (API field names and the portal's captions), each
recipient a party, each message a document; per subject through the recipient's address; the
searches of the imported systems recorded on the request by the package."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import payments_csv
from workbench.datamap import linkage
from workbench.errors import InputError
from workbench.ingest.sources import _common, smtpcom
from workbench.ingest.sources import read as read_any
from workbench.reference import register
from workbench.rights import answers, letters, package, requests
from workbench.store.workspace import Workspace

API = [
    "rcpt_to,mail_from,subject,time_started,time_finished,status,resp_code,resp_msg,tries,tracking_id,sender_id",
    "Eva.Mulder@Example.com,webwinkel@dekaleict.nl,Bevestiging van uw bestelling 1002,2026-10-02 11:00:31,"
    "2026-10-02 11:00:33,delivered,250,2.0.0 OK queued,1,4be1c0ffee0000000000a001,40213",
    "jan@@example.nl,webwinkel@dekaleict.nl,Bevestiging van uw bestelling 1001,2026-10-01 10:12:40,"
    "2026-10-01 10:12:41,bounced,550,5.1.1 mailbox unavailable,1,4be1c0ffee0000000000a002,40213",
    "eva.mulder@example.com,webwinkel@dekaleict.nl,Wachtwoord opnieuw instellen,2026-10-20 08:00:00,"
    "2026-10-20 08:00:02,delivered,250,2.0.0 OK queued,1,4be1c0ffee0000000000a003,40213",
]
PORTAL = [
    "Recipient;Subject;Time;Status;Response message;Message ID",
    "piet@example.org;Uw wachtwoord;15-10-2026 09:30;Delivered;250 OK;m-1",
]


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _read(path: Path):
    _common.release()
    return read_any(path)


def test_the_api_message_log(tmp_path: Path) -> None:
    extract = _read(_write(tmp_path / "messages.csv", API))
    assert extract.kind.key == "smtpcom/message_log" and extract.unmapped == []
    assert list(extract.raw.columns) == API[0].split(",")
    docs = extract.documents.set_index("doc_key")
    assert docs.loc["4be1c0ffee0000000000a001", "date"] == pd.Timestamp("2026-10-02 11:00:31")
    assert docs.loc["4be1c0ffee0000000000a002", "status"] == "bounced"
    assert docs.loc["4be1c0ffee0000000000a001", "description"] == "Bevestiging van uw bestelling 1002"
    assert set(docs.doc_type) == {smtpcom.DOC_TYPE}
    emails = extract.identifiers[extract.identifiers.kind.eq("email")]
    assert set(emails[emails.valid].value) == {"eva.mulder@example.com"}
    assert not emails[emails.raw_value.eq("jan@@example.nl")].valid.any()  # kept, flagged


def test_the_portal_export_with_its_captions(tmp_path: Path) -> None:
    extract = _read(_write(tmp_path / "export.csv", PORTAL))
    assert extract.kind.key == "smtpcom/message_log"
    assert extract.documents.date.iloc[0] == pd.Timestamp("2026-10-15 09:30")
    assert extract.parties.email.tolist() == ["piet@example.org"]


def test_detected_by_content(tmp_path: Path) -> None:
    assert smtpcom.detect(_write(tmp_path / "settlement.csv", API)) is not None
    assert smtpcom.detect(payments_csv(tmp_path / "smtpcom.csv")) is None


def test_a_bad_time_names_row_and_column_without_the_address(tmp_path: Path) -> None:
    bad = [API[0], API[1].replace("2026-10-02 11:00:31", "gisteren")]
    with pytest.raises(InputError) as caught:
        _read(_write(tmp_path / "messages.csv", bad))
    message = str(caught.value)
    assert "time_started" in message and "row 2" in message
    assert "Eva.Mulder" not in message and "gisteren" not in message


@pytest.fixture
def linked(tmp_path: Path) -> Workspace:
    ws = Workspace(tmp_path / "ws")
    ws.import_files([payments_csv(tmp_path / "settlement.csv"), _write(tmp_path / "messages.csv", API)])
    linkage.link(ws)
    return ws


@pytest.mark.slow  # import, link and a whole access package
def test_a_subjects_messages_by_recipient_and_the_searches_recorded(linked: Workspace,
                                                                    tmp_path: Path) -> None:
    reg = register.load()
    rid = requests.new(linked, type="access", email="eva.mulder@example.com").request_id
    requests.verify(linked, rid, method="known_email", outcome="passed")
    imported = set(linked.query("SELECT DISTINCT service FROM imports").service)
    for system in letters.client_systems(reg):
        if system not in imported:  # searched by hand, recorded: no export of these
            requests.record_search(linked, rid, system=system, result="niets gevonden")
    answer = answers.answer_request(linked, reg, out=tmp_path / "pkg", request_id=rid, pdf=False)
    status = {s.system: s for s in answer.package.systems}
    assert status["smtpcom"].status == package.FOUND
    assert status["smtpcom"].records == {"smtpcom/message_log": 2}  # both spellings, not the bounce
    searched = requests.searches(linked, rid)
    query = searched["smtpcom"]["query"]
    assert searched["smtpcom"] == {"result": "found", "method": "automatic", "on": searched["smtpcom"]["on"],
                                   "query": query}
    assert re.fullmatch(r"the records of S-\w+, linked across the systems on e-mail, IBAN, name and address",
                        query)
    assert searched["mollie"]["method"] == "automatic" and searched["mail"]["method"] == "manual"
    rows = (tmp_path / "pkg" / "data" / "smtpcom" / "message_log.csv").read_text()
    assert "Wachtwoord opnieuw instellen" in rows and "jan@@example.nl" not in rows

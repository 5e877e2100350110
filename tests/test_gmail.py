"""The mailbox: Google Takeout and Vault mbox exports and folders of .eml files read by content and
streamed into the workspace, a subject's messages found with their evidence, the package's .eml
files and index, the erasure plan's Gmail search, and bad input refused without personal data."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from email import policy
from email.message import EmailMessage
from pathlib import Path

import docx
import pytest
from openpyxl import Workbook

from tests.conftest import payments_csv
from workbench.datamap import linkage, mail
from workbench.demo import gmail as demo_gmail
from workbench.errors import InputError
from workbench.ingest import limits
from workbench.ingest.sources import gmail
from workbench.reference import register as registry
from workbench.rights import erasure, package
from workbench.store.workspace import Workspace

JAN_IBAN = "NL91ABNA0417164300"  # the IBAN conftest's Mollie settlement gives Jan Jansen
XLSX = "vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "vnd.openxmlformats-officedocument.wordprocessingml.document"


def _pdf(text: str) -> bytes:
    """A one-page PDF showing ``text`` (Helvetica), with a correct cross-reference table."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = io.BytesIO(b"%PDF-1.4\n"), []
    out.seek(0, 2)
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % o for o in offsets))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def _xlsx(rows: list[tuple]) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    data = io.BytesIO()
    book.save(data)
    return data.getvalue()


def _docx(text: str) -> bytes:
    document = docx.Document()
    document.add_paragraph(text)
    data = io.BytesIO()
    document.save(data)
    return data.getvalue()


def _message(sender: str, to: str, subject: str, body: str, *, cc: str = "", bcc: str = "",
             gmail_headers: bool = True, number: int = 1, attachments=()) -> bytes:
    message = EmailMessage(policy=policy.default.clone(linesep="\n"))
    if gmail_headers:
        message["X-GM-THRID"] = f"17000000000000000{number % 3}"
        message["X-Gmail-Labels"] = "Inbox,Important" if number % 2 else "Sent"
    message["From"] = sender
    message["To"] = to
    if cc:
        message["Cc"] = cc
    if bcc:
        message["Bcc"] = bcc
    message["Subject"] = subject
    message["Date"] = f"Mon, {number:02d} Mar 2026 10:00:00 +0100"
    message["Message-ID"] = f"<m{number}@test.example>"
    message.set_content(body)
    for name, maintype, subtype, data in attachments:
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message.as_bytes()


MESSAGES = [
    dict(sender="Eva Mulder <Eva.Mulder@Example.com>", to="de Kale ICT <info@dekaleict.nl>",
         subject="Offerte", body="Kunt u mij een offerte sturen?\nGroet, Eva\n06-12345678",
         cc="Piet Buur <piet@buren.example>"),
    dict(sender="de Kale ICT <info@dekaleict.nl>", to="Eva Mulder <eva.mulder@example.com>",
         subject="Re: Offerte", body="Beste Eva,\nzie de bijlagen.\n\n> Kunt u mij een offerte sturen?",
         bcc="archief@dekaleict.nl",
         attachments=[("offerte.pdf", "application", "pdf", _pdf("Offerte voor Eva Mulder")),
                      ("gegevens.xlsx", "application", XLSX,
                       _xlsx([("Naam", "IBAN"), ("Jan Jansen", JAN_IBAN)])),
                      ("brief.docx", "application", DOCX,
                       _docx("Geachte heer Jansen, uw telefoon 020-1234567"))]),
    dict(sender="=?utf-8?q?Jos=C3=A9_Smit?= <jose@elders.example>", to="info@dekaleict.nl",
         subject="Vraag", body="Mijn buurman Jan Jansen raadde u aan.\nFrom the start it was fine."),
]


def _mbox(path: Path, gmail_headers: bool = True, messages: list[dict] = MESSAGES) -> Path:
    parts = []
    for number, spec in enumerate(messages, start=1):
        data = _message(**spec, gmail_headers=gmail_headers, number=number)
        data = b"\n".join(b">" + line if line.startswith(b"From ") else line for line in data.split(b"\n"))
        parts.append(b"From 1234@xxx Mon Mar 02 10:00:00 +0000 2026\n" + data.rstrip(b"\n") + b"\n\n")
    path.write_bytes(b"".join(parts))
    return path


@pytest.fixture
def takeout(tmp_path: Path) -> Path:
    return _mbox(tmp_path / "All mail Including Spam and Trash.mbox")


def test_detect_by_content(tmp_path: Path, takeout: Path) -> None:
    assert gmail.detect(takeout) is gmail.TAKEOUT
    assert gmail.detect(_mbox(tmp_path / "vault-export-1.mbox", gmail_headers=False)) is gmail.MBOX
    folder = tmp_path / "eml"
    folder.mkdir()
    (folder / "a.txt").write_bytes(_message(**MESSAGES[0]))  # the name does not matter
    assert gmail.detect(folder) is gmail.EML
    assert gmail.detect(folder / "a.txt") is gmail.EML
    csv = payments_csv(tmp_path / "settlement.mbox")
    assert gmail.detect(csv) is None and not mail.is_mail(csv)


def test_headers_offsets_and_attachments(takeout: Path) -> None:
    messages = list(gmail.read(takeout))
    assert [m.number for m in messages] == [1, 2, 3]
    data = takeout.read_bytes()
    for m in messages:
        assert data[m.offset:m.offset + m.length] == m.data and m.data.startswith(b"From ")
    first, second, third = messages
    assert first.message_id == "<m1@test.example>" and first.thread == "170000000000000001"
    assert first.labels == ["Inbox", "Important"] and second.labels == ["Sent"]
    assert ("from", "eva.mulder@example.com", "Eva Mulder") in first.addresses
    assert ("cc", "piet@buren.example", "Piet Buur") in first.addresses
    assert ("bcc", "archief@dekaleict.nl", "") in second.addresses
    assert ("from", "jose@elders.example", "José Smit") in third.addresses
    assert first.date.isoformat() == "2026-03-01T09:00:00+00:00"
    assert "From the start" in third.text  # the quoted ">From " line is body text
    names = {a.name: a for a in second.attachments}
    assert set(names) == {"offerte.pdf", "gegevens.xlsx", "brief.docx"}
    payload = next(p for p in gmail._PARSER.parsebytes(second.data.split(b"\n", 1)[1]).iter_attachments()
                   if p.get_filename() == "offerte.pdf").get_payload(decode=True)
    assert names["offerte.pdf"].size == len(payload)
    assert names["offerte.pdf"].sha256 == hashlib.sha256(payload).hexdigest()
    assert "Offerte voor Eva Mulder" in names["offerte.pdf"].text
    assert JAN_IBAN in names["gegevens.xlsx"].text and "Jansen" in names["brief.docx"].text
    assert ("iban", JAN_IBAN) in gmail.mentions(names["gegevens.xlsx"].text)
    assert ("phone", "+31201234567") in gmail.mentions(names["brief.docx"].text)


def test_vault_mbox_threads_by_references(tmp_path: Path) -> None:
    specs = [MESSAGES[0], {**MESSAGES[1], "attachments": ()}]
    path = _mbox(tmp_path / "vault.mbox", gmail_headers=False, messages=specs)
    data = path.read_bytes().replace(b"Subject: Re: Offerte\n",
                                     b"Subject: Re: Offerte\nReferences: <m1@test.example>\n")
    path.write_bytes(data)
    first, second = gmail.read(path)
    assert first.labels == [] and first.thread == "<m1@test.example>" == second.thread


def test_import_keeps_the_file_and_finds_a_subject(tmp_path: Path, takeout: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    result = mail.import_mail(ws, takeout)
    assert (result.messages, result.attachments) == (3, 3)
    assert (ws.raw_dir / result.sha256).read_bytes() == takeout.read_bytes()
    again = mail.import_mail(ws, takeout)
    assert again.import_id is None and again.previous["import_id"] == result.import_id
    assert ws.query("SELECT count(*) AS n FROM mail_messages")["n"].iloc[0] == 3
    found = mail.find(ws, emails=["EVA.mulder@example.com"])
    assert found["msg_no"].tolist() == [1, 2]
    assert "from: eva.mulder@example.com" in found["evidence"].iloc[0]
    assert "to: eva.mulder@example.com" in found["evidence"].iloc[1]
    by_iban = mail.find(ws, ibans=["nl91 abna 0417 1643 00"])
    assert by_iban["msg_no"].tolist() == [2]
    assert by_iban["evidence"].iloc[0] == f"iban {JAN_IBAN} in the attachment gegevens.xlsx"
    by_name = mail.find(ws, names=["jan  JANSEN"])
    assert by_name["msg_no"].tolist() == [2, 3]
    assert "name jan jansen in the body" in by_name["evidence"].iloc[1]
    assert mail.find(ws, phones=["+31 6 12345678"])["msg_no"].tolist() == [1]
    assert mail.find(ws, emails=["nobody@example.com"]).empty
    row = found.iloc[0].to_dict()
    assert mail.message_bytes(ws, row).startswith(b"X-GM-THRID:")


def test_eml_folder(tmp_path: Path) -> None:
    folder = tmp_path / "saved"
    (folder / "sub").mkdir(parents=True)
    (folder / "one.eml").write_bytes(_message(**MESSAGES[0], gmail_headers=False))
    (folder / "sub" / "two.eml").write_bytes(_message(**MESSAGES[2], gmail_headers=False, number=3))
    (folder / ".DS_Store").write_bytes(b"\x00\x01")
    ws = Workspace(tmp_path / "ws")
    result = mail.import_mail(ws, folder)
    assert result.messages == 2
    found = mail.find(ws, names=["Jan Jansen"])
    assert found["file"].tolist() == [str(Path("sub") / "two.eml")]
    assert mail.message_bytes(ws, found.iloc[0].to_dict()) == (folder / "sub" / "two.eml").read_bytes()


def _personal(error: InputError) -> bool:
    text = str(error).lower()
    return any(v in text for v in ("eva", "mulder", "jansen", "offerte", "dekaleict"))


def test_bad_input_is_refused_without_personal_data(tmp_path: Path, takeout: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    broken = tmp_path / "broken.mbox"
    data = takeout.read_bytes()
    second = data.index(b"From 1234", 10)
    broken.write_bytes(data[:second] + b"From 1234@xxx Mon Mar 02 10:00:00 +0000 2026\n"
                       b"Eva Mulder wrote this\n")
    with pytest.raises(InputError) as caught:
        mail.import_mail(ws, broken)
    assert caught.value.row == 2 and not _personal(caught.value)
    assert ws.query("SELECT count(*) AS n FROM imports")["n"].iloc[0] == 0
    assert ws.query("SELECT count(*) AS n FROM mail_messages")["n"].iloc[0] == 0
    assert not any(ws.raw_dir.iterdir())
    with pytest.raises(InputError, match="not recognised"):
        mail.import_mail(ws, payments_csv(tmp_path / "other.csv"))
    empty = tmp_path / "empty.mbox"
    empty.write_bytes(b"")
    with pytest.raises(InputError):
        mail.import_mail(ws, empty)
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "a.eml").write_bytes(_message(**MESSAGES[0]))
    (folder / "b.eml").write_text("Eva Mulder, 06-12345678\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        mail.import_mail(ws, folder)
    assert "b.eml" in str(caught.value) and not _personal(caught.value)


def test_limits_are_respected(tmp_path: Path, takeout: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    ws.path.mkdir()
    (ws.path / limits.FILE_NAME).write_text("[limits]\nmax_rows = 2\n", encoding="utf-8")
    with pytest.raises(InputError, match="max_rows"):
        mail.import_mail(ws, takeout)


@pytest.fixture
def linked(tmp_path: Path, takeout: Path) -> Workspace:
    ws = Workspace(tmp_path / "ws")
    ws.import_files([payments_csv(tmp_path / "settlement.csv")])
    mail.import_mail(ws, takeout)
    linkage.link(ws)
    return ws


def _subject(ws: Workspace, email: str) -> list[str]:
    return linkage.find(ws, email=email)["subject_id"].tolist()


def test_package_holds_the_messages_and_lists_other_people(linked: Workspace, tmp_path: Path) -> None:
    register = registry.load()
    subject = _subject(linked, "eva.mulder@example.com")
    result = package.write_package(linked, register, subject_ids=subject, out=tmp_path / "pkg",
                                   identities={"e-mail": "eva.mulder@example.com"}, pdf=False)
    status = {s.system: s for s in result.systems}["mail"]
    assert (status.status, status.method, status.records) == ("found", "automatic", {"mail/messages": 2})
    emls = sorted((result.out / "mail").glob("*.eml"))
    assert [p.name for p in emls] == ["0001.eml", "0002.eml"]
    assert b"Message-ID: <m1@test.example>" in emls[0].read_bytes()
    index = (result.out / "mail" / "index.csv").read_text("utf-8-sig")
    assert index.splitlines()[0] == "date,from,to,cc,subject,eml" and "Re: Offerte" in index
    todo = package.redaction_todo(result.out)
    assert {(t["table"], t["row"], t["column"]) for t in todo} >= {("mail/messages", "1", "others")}
    with (result.out / "data" / "mail" / "messages.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    # Piet in cc is someone else; the firm's own archive address in bcc is not a third party
    assert [r["others"] for r in rows] == ["Piet Buur <piet@buren.example>", ""]
    assert "from: eva.mulder@example.com" in rows[0]["evidence"]
    assert [r["own_addresses"] for r in rows] == ["eva.mulder@example.com"] * 2
    letter = (result.out / "index.html").read_text("utf-8")  # the annex shows her address, not Piet's
    assert "eva.mulder@example.com" in letter and "piet@buren.example" not in letter


def test_erasure_plan_gives_the_gmail_search(linked: Workspace) -> None:
    register = registry.load()
    subject = _subject(linked, "eva.mulder@example.com")
    plan = erasure.plan(linked, register, subject_ids=subject)
    row = plan[plan.service.eq("mail")].iloc[0]
    assert row["action"] == "delete" and row["rule"] == "email_correspondence"
    search = row["reference"]
    assert "eva" not in erasure.format_plan(plan).lower()  # the screen shows no personal data
    for term in ("from:eva.mulder@example.com", "to:eva.mulder@example.com", "cc:eva.mulder@example.com",
                 "bcc:eva.mulder@example.com", '"Eva Mulder"'):
        assert term in search.split(" OR ")
    assert "check" not in set(plan[plan.service.eq("mail")]["action"])


def test_past_retention_counts_old_conversations(linked: Workspace) -> None:
    from datetime import date

    register = registry.load()
    assert mail.past_retention(linked, register, date(2027, 1, 1)) == {"messages": 0, "conversations": 0}
    assert mail.past_retention(linked, register, date(2028, 12, 1)) == {"messages": 3, "conversations": 3}


def test_demo_mbox_is_deterministic_and_holds_an_iban(tmp_path: Path, business) -> None:
    first = demo_gmail.write(business, tmp_path / "a")[0]
    second = demo_gmail.write(business, tmp_path / "b")[0]
    assert first.read_bytes() == second.read_bytes()
    assert gmail.detect(first) is gmail.TAKEOUT
    messages = list(gmail.read(first))
    with_iban = [a for m in messages for a in m.attachments
                 if any(k == "iban" for k, _ in gmail.mentions(a.text))]
    assert with_iban and all(re.search(r"^> ", m.text, re.M) for m in messages if m.subject.startswith("Re:"))


def test_annual_report_counts_mail_past_retention(linked: Workspace) -> None:
    from datetime import date

    from workbench.reports import annual

    section = annual.retention_section(linked, registry.load(), date(2028, 12, 1))
    row = section["per_system"].set_index("service").loc["mail"]
    assert row["records"] == 3 and row["oldest_year"] == 2026 and "older_than:2y" in row["action"]


def test_purge_removes_the_subjects_messages_from_the_index(linked: Workspace) -> None:
    register = registry.load()
    subject = _subject(linked, "eva.mulder@example.com")
    erasure.purge(linked, register, subject, None)
    assert mail.find(linked, emails=["eva.mulder@example.com"]).empty
    assert mail.find(linked, names=["Eva Mulder"]).empty
    left = linked.query("SELECT msg_no FROM mail_messages ORDER BY msg_no")["msg_no"].tolist()
    assert left == [3]  # José's message names Jan Jansen, not Eva
    erased = linked.query("SELECT source_row FROM erased_raw_rows ORDER BY source_row")["source_row"].tolist()
    assert {1, 2} <= set(erased)


def test_the_demo_imports_its_mailbox(demo_run) -> None:
    from workbench.demo import story

    ws = demo_run.workspace
    held = ws.query("SELECT count(*) AS n FROM mail_messages")["n"].iloc[0]
    # the demo's erasure request purged one client's messages from the index
    assert len(demo_run.mail) == 1 and 50 < held < demo_run.mail[0].messages
    client = story.demo_client()
    subject = _subject(ws, client.person.email)
    found = mail.subject_messages(ws, subject)
    assert len(found) >= 2 and found["thread"].nunique() == 1
    assert any(f"iban {client.person.iban}" in e for e in found["evidence"])


def test_html_body_crlf_and_a_missing_date(tmp_path: Path) -> None:
    message = EmailMessage()
    message["From"] = "Eva Mulder <eva.mulder@example.com>"
    message["To"] = "info@dekaleict.nl"
    message["Subject"] = "HTML"
    message.set_content("<p>Mijn IBAN is <b>NL91 ABNA 0417 1643 00</b></p><script>x()</script>",
                        subtype="html")
    data = message.as_bytes(policy=policy.default.clone(linesep="\r\n"))
    path = tmp_path / "crlf.mbox"
    path.write_bytes(b"From 1@xxx Mon Mar 02 10:00:00 +0000 2026\r\n" + data)
    (found,) = gmail.read(path)
    assert found.date is None and "<b>" not in found.text and "x()" not in found.text
    assert ("iban", JAN_IBAN) in gmail.mentions(found.text)
    assert found.addresses[0] == ("from", "eva.mulder@example.com", "Eva Mulder")


def test_bench_mail_step_reports_rate_memory_and_find(tmp_path: Path) -> None:
    from benchmarks import run

    result = run.run(0.0001, tmp_path / "bench", repeat=1, steps=["mail"])
    rows = {r["step"]: r for r in result["results"]}
    assert set(rows) == {"mail", "mail_rss", "mail_find"} and not any(r.get("error") for r in rows.values())
    assert rows["mail"]["extra"]["messages"] == 20 and rows["mail"]["extra"]["messages_per_second"] > 0
    assert rows["mail_find"]["extra"]["messages_found"] > 0
    assert rows["mail_rss"]["target"]["at_most"] == 1024.0

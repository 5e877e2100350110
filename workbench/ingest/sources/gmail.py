"""Gmail: the firm's mailbox as Google lets a user download it, read as a stream of messages.

* **Google Takeout → Mail** (takeout.google.com, tick "Mail", format MBOX): one mbox file
  ("All mail Including Spam and Trash.mbox"). Google adds two headers to every message:
  ``X-GM-THRID``, the conversation (thread) id, and ``X-Gmail-Labels``, the message's labels
  separated by commas (Inbox, Sent, Archived, Important, the user's own labels).
* **Google Workspace Vault export** (vault.google.com → Matters → Search → Export, Gmail,
  format MBOX): mbox files without those two headers; the conversation then follows from the
  ``References`` and ``In-Reply-To`` headers. Any other mbox (Thunderbird, Apple Mail) reads
  the same way.
* **A folder of ``.eml`` files** (messages saved one by one from any mail program, RFC 5322),
  or one such message.

What a file is comes from its content: an mbox starts with a ``From `` separator line followed
by a header block; a message starts with a header block. :func:`read` yields one
:class:`Message` at a time, so a mailbox of several gigabytes is read in bounded memory: only one
message is held at a time. Every message keeps its provenance: the file, its byte offset and
length there, and its ``Message-ID``. Messages are parsed with the standard library's
:mod:`email` (``policy.default``); the mbox is split on its ``From `` lines the way
:class:`mailbox.mbox` does, here in one pass that also knows each message's offset.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path

from workbench.errors import InputError
from workbench.ingest import identifiers, limits
from workbench.ingest.model import ExportKind

TAKEOUT = ExportKind("mail", "takeout_mbox", "Gmail mailbox, Google Takeout (mbox)")
MBOX = ExportKind("mail", "vault_mbox", "Mailbox without Gmail headers: Google Vault export or another mbox")
EML = ExportKind("mail", "eml_folder", "E-mail messages (.eml), one per file")
KINDS = [TAKEOUT, MBOX, EML]

ROLES = ("from", "to", "cc", "bcc", "reply-to", "sender")
_HEAD = 64 * 1024  # bytes read to recognise a file
_HEADER_LINE = re.compile(rb"^[!-9;-~]+:[ \t]?")  # a header field name and its colon (RFC 5322)
_KNOWN = (b"from", b"to", b"date", b"subject", b"message-id", b"received", b"mime-version",
          b"return-path", b"delivered-to", b"x-gm-thrid", b"x-gmail-labels", b"cc", b"references")
_TEXT_LIMIT = 1_000_000  # characters of one attachment's text that are searched
_PARSER = BytesParser(policy=policy.default)


@dataclass
class Attachment:
    name: str
    content_type: str
    size: int
    sha256: str
    text: str = ""  # extracted text, searched like the body
    note: str = ""  # why no text was extracted, if none was


@dataclass
class Message:
    """One message with where it came from."""

    number: int  # 1-based, in the order of the export
    file: str  # the mbox file's name, or the .eml's path inside the folder
    offset: int  # byte offset of the message (its ``From `` line in an mbox)
    length: int  # bytes up to the next message
    message_id: str
    date: datetime | None
    subject: str
    thread: str  # X-GM-THRID, else the first of References / In-Reply-To / the Message-ID
    labels: list[str]
    addresses: list[tuple[str, str, str]]  # (role, address as normalised, display name)
    text: str  # the body as text (plain parts; HTML parts stripped of their markup)
    attachments: list[Attachment] = field(default_factory=list)
    data: bytes = field(default=b"", repr=False)  # the message's bytes as the export holds them


# --------------------------------------------------------------------------------------------
# recognising


def detect(path: Path, mappings: object = None) -> ExportKind | None:
    """Which mail export ``path`` is, from its content; None when it is none."""
    path = Path(path)
    if path.is_dir():
        return EML if any(_is_message(f) for f in _folder_files(path)[:20]) else None
    if not path.is_file():
        return None
    head = _head(path)
    if head.startswith(b"From "):
        block = _header_block(head.split(b"\n", 1)[1] if b"\n" in head else b"")
        if not _looks_like_headers(block):
            return None
        return TAKEOUT if re.search(rb"(?im)^x-gm-thrid:", block) else MBOX
    return EML if _looks_like_headers(_header_block(head)) else None


def _head(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(_HEAD)


def _header_block(data: bytes) -> bytes:
    return re.split(rb"\r?\n\r?\n", data, maxsplit=1)[0]


def _looks_like_headers(block: bytes) -> bool:
    """Every line a header field or its continuation, and at least two well-known fields."""
    lines = block.splitlines()
    if not lines or b"\x00" in block:
        return False
    if not all(_HEADER_LINE.match(line) or line[:1] in (b" ", b"\t") for line in lines):
        return False
    names = {line.split(b":", 1)[0].strip().lower() for line in lines if _HEADER_LINE.match(line)}
    return len(names & set(_KNOWN)) >= 2


def _is_message(path: Path) -> bool:
    """A header block first; some programs save a message with its mbox ``From`` line."""
    try:
        head = _head(path)
    except OSError:
        return False
    if head.startswith(b"From "):
        head = head.split(b"\n", 1)[-1]
    return _looks_like_headers(_header_block(head))


def _folder_files(folder: Path) -> list[Path]:
    """The folder's files, sub-folders included, in a stable order; hidden files left out (a
    desktop's own, such as ``.DS_Store``)."""
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def files(path: Path) -> list[Path]:
    """The files an export consists of: the mbox itself, or every message of the folder."""
    path = Path(path)
    return _folder_files(path) if path.is_dir() else [path]


# --------------------------------------------------------------------------------------------
# reading


def read(path: Path, kind: ExportKind | None = None, mappings: object = None) -> Iterator[Message]:
    """The export's messages one by one. Raises :class:`InputError` (naming the file and the
    message's number, never its content) for a file that is not the export it should be."""
    path = Path(path)
    kind = kind or detect(path)
    if kind is None:
        raise InputError(path, "not recognised as a mailbox or e-mail message",
                         expected="; ".join(k.title for k in KINDS))
    if kind.name == EML.name:
        yield from _read_folder(path)
        return
    if path.is_dir():
        raise InputError(path, "is a folder, not an mbox file", expected="an mbox file")
    number = 0
    for number, (offset, data) in enumerate(_split_mbox(path), start=1):
        _check_count(path, number)
        yield _message(path, path.name, number, offset, data)
    if number == 0:
        raise InputError(path, "holds no message", expected="an mbox with at least one message")


def _read_folder(folder: Path) -> Iterator[Message]:
    paths = files(folder)
    if not paths:
        raise InputError(folder, "holds no file", expected="e-mail messages (.eml)")
    for number, path in enumerate(paths, start=1):
        _check_count(folder, number)
        if not _is_message(path):
            raise InputError(path, "is not an e-mail message", row=number,
                             expected="a message starting with its header lines (From, Date, Subject, ...)")
        size = path.stat().st_size
        if size > limits.current().max_bytes:
            raise limits.refuse(path, "the message's size", size, "max_bytes")
        name = str(path.relative_to(folder)) if folder.is_dir() else path.name
        yield _message(path, name, number, 0, path.read_bytes())


def _check_count(path: Path, number: int) -> None:
    if number > limits.current().max_rows:
        raise limits.refuse(path, "the number of messages", number, "max_rows")


def _split_mbox(path: Path) -> Iterator[tuple[int, bytes]]:
    """(offset, bytes) of each message of an mbox, ``From `` line included, one at a time; like
    :class:`mailbox.mbox`, every line starting with ``From `` starts a message."""
    most = limits.current().max_bytes
    with path.open("rb") as handle:
        first = handle.readline()
        if not first.startswith(b"From "):
            raise InputError(path, "does not start with an mbox 'From ' line", row=1,
                             expected="an mbox file as Google Takeout or Vault writes it")
        start, position, lines, size = 0, len(first), [first], len(first)
        for line in handle:
            if line.startswith(b"From "):
                yield start, b"".join(lines)
                start, lines, size = position, [], 0
            position += len(line)
            size += len(line)
            if size > most:
                raise limits.refuse(path, f"the size of the message at byte {start}", size, "max_bytes")
            lines.append(line)
        yield start, b"".join(lines)


def _message(path: Path, name: str, number: int, offset: int, data: bytes) -> Message:
    body = data.split(b"\n", 1)[1] if data.startswith(b"From ") else data
    if not _looks_like_headers(_header_block(body[:_HEAD])):
        raise InputError(path, f"message {number} has no header block", row=number,
                         expected="header lines (From, Date, Subject, ...) after each 'From ' line")
    message = _PARSER.parsebytes(body)
    addresses = [(role, *pair) for role in ROLES for pair in _addresses(message, role)]
    text, attachments = _content(message)
    references = (_header(message, "references") or _header(message, "in-reply-to")).split()
    message_id = _header(message, "message-id").strip()
    thread = _header(message, "x-gm-thrid").strip() or (references[0] if references else message_id)
    labels = [x.strip() for x in _header(message, "x-gmail-labels").split(",") if x.strip()]
    return Message(number, name, offset, len(data), message_id, _date(message), _header(message, "subject"),
                   thread, labels, addresses, text, attachments, data)


def _header(message: EmailMessage, name: str) -> str:
    """A header as text, read raw (the policy's header objects cost a millisecond a message) and
    its encoded words (``=?utf-8?q?...?=``) decoded."""
    value = next((v for k, v in message.raw_items() if k.lower() == name), None)
    return "" if value is None else " ".join(_decoded(str(value)).split())


def _addresses(message: EmailMessage, role: str) -> list[tuple[str, str]]:
    """(normalised address, display name) of every address in the header ``role``."""
    raw = [v for k, v in message.raw_items() if k.lower() == role]
    found = []
    for name, address in getaddresses([_unfold(str(v)) for v in raw]):
        if "@" in address:
            found.append((_email(address), _decoded(name)))
    return found


@lru_cache(maxsize=65536)
def _email(address: str) -> str:
    """The address as the identifiers table has it; a mailbox repeats few addresses many times."""
    return identifiers.email(address)[0].lower()


def _unfold(value: str) -> str:
    return " ".join(value.split())


def _decoded(text: str) -> str:
    """Text with encoded words (``=?utf-8?q?...?=``) decoded."""
    if "=?" not in text:
        return text.strip()
    try:
        return str(make_header(decode_header(text))).strip()
    except (LookupError, ValueError, UnicodeError):  # an undecodable word stays as written
        return text.strip()


def _date(message: EmailMessage) -> datetime | None:
    raw = _header(message, "date")
    try:
        parsed = parsedate_to_datetime(raw) if raw else None
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _content(message: EmailMessage) -> tuple[str, list[Attachment]]:
    """The body's text and the attachments (with their text where a library reads them)."""
    texts, attachments = [], []
    for part in message.walk():
        if part.is_multipart():
            continue
        kind = part.get_content_type()  # each accessor parses the header again: asked once
        disposition = part.get_content_disposition()
        named = disposition == "attachment" or (disposition and part.get_filename())
        if named or not kind.startswith("text/"):
            attachments.append(_attachment(part))
        elif kind == "text/html":
            texts.append(_html_text(_part_text(part)))
        else:
            texts.append(_part_text(part))
    return "\n".join(t for t in texts if t), attachments


def _part_text(part: EmailMessage) -> str:
    """A text part decoded (transfer encoding, then charset) as ``get_content`` does, with the
    content type parsed once instead of three times; an unknown charset is read as Latin-1."""
    data = part.get_payload(decode=True) or b""
    charset = part.get_content_charset() or "ascii"
    try:
        return data.decode(charset, errors="replace")
    except LookupError:
        return data.decode("latin-1")


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):  # noqa: ANN001 - HTMLParser's signature
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in ("br", "p", "div", "tr", "li"):
            self.parts.append("\n")

    def handle_endtag(self, tag):  # noqa: ANN001
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data):  # noqa: ANN001
        if not self._skip:
            self.parts.append(data)


def _html_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts)


def _attachment(part: EmailMessage) -> Attachment:
    data = part.get_payload(decode=True) or b""
    name = _decoded(part.get_filename() or "") or "(no name)"
    found = Attachment(name, part.get_content_type(), len(data), hashlib.sha256(data).hexdigest())
    try:
        found.text = _extract(data)[:_TEXT_LIMIT]
        found.note = "" if found.text else "no text extracted (a format the workbench does not read)"
    except Exception as exc:  # noqa: BLE001 - a damaged attachment is listed, its text not searched
        found.note = f"text not extracted: unreadable ({type(exc).__name__})"
    return found


def _extract(data: bytes) -> str:
    """The text of a PDF (pypdf), DOCX (python-docx) or XLSX (openpyxl), judged by content."""
    if data.startswith(b"%PDF"):
        from pypdf import PdfReader  # loaded only for mail with a PDF

        return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)
    if not data.startswith(b"PK"):
        return ""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        parts = set(archive.namelist())
        expanded = sum(i.file_size for i in archive.infolist())
    if expanded > limits.current().max_xlsx_ratio * max(len(data), 1):
        raise ValueError("expands beyond max_xlsx_ratio")
    if "word/document.xml" in parts:
        import docx

        document = docx.Document(io.BytesIO(data))
        cells = [c.text for t in document.tables for r in t.rows for c in r.cells]
        return "\n".join([p.text for p in document.paragraphs] + cells)
    if "xl/workbook.xml" in parts:
        import openpyxl

        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            return "\n".join(" ".join(str(v) for v in row if v is not None)
                             for sheet in book.worksheets for row in sheet.iter_rows(values_only=True))
        finally:
            book.close()
    return ""


# --------------------------------------------------------------------------------------------
# identifiers in text

_EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")


def mentions(text: str) -> list[tuple[str, str]]:
    """(kind, normalised value) of every valid e-mail address, phone number and IBAN in
    ``text``: e-mail addresses with email-validator, phone numbers with phonenumbers' matcher
    (region NL), IBANs with python-stdnum; invalid ones are left out."""
    import phonenumbers

    found: dict[tuple[str, str], None] = {}
    for match in _EMAIL.finditer(text):
        value, valid = identifiers.email(match.group())
        if valid:
            found[("email", value)] = None
    for match in _IBAN.finditer(text.upper()):
        value, valid = identifiers.iban_number(match.group())
        if valid:
            found[("iban", value)] = None
    for match in phonenumbers.PhoneNumberMatcher(text, "NL", leniency=phonenumbers.Leniency.VALID):
        found[("phone", phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164))] = None
    return list(found)


# --------------------------------------------------------------------------------------------
# the service's search box: what an officer pastes to find (and delete) messages there


def search(emails: list[str], phrases: list[str], message_ids: list[str]) -> str:
    """Gmail's search for messages from, to, cc or bcc one of ``emails``, naming one of
    ``phrases``, or with one of ``message_ids``."""
    terms = [f"{op}:{e}" for e in emails for op in ("from", "to", "cc", "bcc")]
    terms += [f'"{v}"' for v in phrases if v.strip()]
    terms += [f"rfc822msgid:{m.strip('<>')}" for m in message_ids if m]
    return " OR ".join(dict.fromkeys(terms))


def older_than(years: float) -> str:
    """Gmail's search for messages older than ``years``."""
    return f"older_than:{years:g}y"

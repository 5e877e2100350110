"""SMTP.com, the mail relay that sends the website's outgoing e-mail (order confirmations,
password resets, copies of contact forms) for the hosting supplier.

Export read here: the message (delivery) log, CSV or Excel, one row per message sent: the
recipient, the subject, when it was sent and its delivery status, with the sender, SMTP response
and tracking id. The customer portal (my.smtp.com, *Senders* > the sender > *Logs* / *Reports* >
*Export*) offers it per sender; a file written from the API's delivery log keeps the API's field
names (``rcpt_to``, ``subject``, ``time_started``, ``status``). The captions are reviewed data
(``config/headers/smtpcom.toml``), which says what each rests on: the API names are corroborated,
the portal's captions inferred.

Each recipient is a party (its e-mail address an identifier, so the recipient links to the
subject with the same address) and each message an ``email_message`` document dated when it was
sent.
"""

from __future__ import annotations

from pathlib import Path

from workbench.ingest import headers
from workbench.ingest.model import ExportKind, Extract
from workbench.ingest.sources import _common

SERVICE = "smtpcom"
DOC_TYPE = "email_message"
_TABLES = headers.tables(SERVICE)
KINDS: list[ExportKind] = [t.kind for t in _TABLES]
FORMATS: dict[str, tuple[str, ...]] = {t.kind.name: t.formats for t in _TABLES}


def detect(path: Path, mappings: headers.MappingsLike = None) -> ExportKind | None:
    return _common.table_kind(_common.load(path), SERVICE, mappings)


def read(path: Path, kind: ExportKind | None = None, mappings: headers.MappingsLike = None) -> Extract:
    loaded, kind = _common.resolve(path, kind, detect, "SMTP.com", KINDS, FORMATS, mappings)
    table = _common.required_table(loaded, kind, mappings)
    return _common.read_tabular(loaded, table, doc_type=DOC_TYPE)

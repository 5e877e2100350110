"""The mailbox in the workspace: importing a mail export, and a subject's messages with evidence.

:func:`import_mail` streams an export read by :mod:`workbench.ingest.sources.gmail` into indexed tables
of the workspace database, one message at a time, in one transaction (all or nothing):

``mail_messages``
    per message: number, file, byte offset and length in the kept raw file, Message-ID, date,
    subject, conversation (``X-GM-THRID`` or the first reference), the service's labels;
``mail_addresses``
    every sender, recipient, cc, bcc, reply-to address with its display name;
``mail_mentions``
    every valid e-mail address, phone number and IBAN in the body or an attachment's text;
``mail_text``
    the body's and each attachment's text, lower case with single spaces, to find names in;
``mail_attachments``
    every attachment's name, type, size and SHA-256, and why no text was read from it, if none was.

The messages are kept as they came, content-addressed like every import: an mbox as the file
itself, a folder of ``.eml`` files as their concatenation (each message's offset and length point
into it). The import counts in ``imports`` under the service ``mail`` (the register's system).

:func:`find` returns every message from, to, cc or bcc one of a subject's addresses, and every
message that names the subject (a name, phone number or IBAN in the body or an attachment), each
with its evidence; :func:`subject_messages` does so for linked subjects. :func:`mailbox_search` is
the search an officer pastes into the mail service to find (and delete) the same messages, and
:func:`past_retention` counts conversations whose last message is older than the register's
retention.
"""

from __future__ import annotations

import hashlib
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa

from workbench.datamap import linkage
from workbench.errors import InputError
from workbench.ingest import identifiers, limits
from workbench.ingest.sources import gmail
from workbench.reference.register import Register
from workbench.store.workspace import Workspace

SERVICE = "mail"  # the register's system (config/register/systems.toml)
RETENTION_RULE = "email_correspondence"
BATCH = 5000  # messages written to the database at a time
TABLES = ("mail_messages", "mail_addresses", "mail_mentions", "mail_text", "mail_attachments")
FOUND_COLUMNS = ["import_id", "msg_no", "date", "from", "to", "cc", "bcc", "subject", "message_id",
                 "thread", "labels", "file", "file_sha256", "offset", "length", "attachments", "evidence"]


@dataclass
class MailImport:
    """What one mail import did."""

    path: Path
    kind: str  # the export kind's title
    sha256: str
    messages: int
    attachments: int
    import_id: int | None  # None when the same export was imported before
    previous: dict


def is_mail(path: Path) -> bool:
    """Whether ``path`` (a file or a folder) is a mail export, by its content."""
    return gmail.detect(Path(path)) is not None


# --------------------------------------------------------------------------------------------
# importing


def import_mail(ws: Workspace, path: Path, progress: Callable[[int], None] | None = None) -> MailImport:
    """Import one mail export (an mbox, a folder of ``.eml`` files, one message) in one
    transaction; the same export imported again changes nothing."""
    path = Path(path)
    with limits.using(limits.for_workspace(ws.path)):
        kind = gmail.detect(path)
        if kind is None:
            raise InputError(path, "not recognised as a mailbox or e-mail message",
                             expected="; ".join(k.title for k in gmail.KINDS))
        with ws.connect() as con:
            batch = ws.staging_dir / uuid.uuid4().hex
            batch.mkdir(parents=True, exist_ok=True, mode=0o700)
            try:
                with ws.transaction(con):
                    result = _stream(con, path, kind, batch / ".incoming", progress)
                    if result.import_id is not None:
                        (batch / ".incoming").replace(batch / result.sha256)
            except BaseException:
                shutil.rmtree(batch, ignore_errors=True)
                raise
            if result.import_id is None:
                shutil.rmtree(batch, ignore_errors=True)
        with ws.connect():  # opening for writing moves the committed raw file into raw/
            pass
    return result


def _stream(con, path: Path, kind, staged: Path, progress) -> MailImport:
    """Parse every message, keep its bytes in ``staged`` and its index rows in the open
    transaction; the import's row last, once the kept file's hash is known."""
    import_id = con.execute("SELECT nextval('import_ids')").fetchall()[0][0]
    digest, offset, count, attached = hashlib.sha256(), 0, 0, 0
    rows: dict[str, list] = {t: [] for t in TABLES}
    with staged.open("wb") as out:
        for message in gmail.read(path, kind):
            data = message.data
            out.write(data)
            digest.update(data)
            _rows(rows, import_id, message, offset)
            offset, count, attached = offset + len(data), count + 1, attached + len(message.attachments)
            if len(rows["mail_messages"]) >= BATCH:
                _flush(con, rows)
                if progress:
                    progress(count)
        _flush(con, rows)
    sha = digest.hexdigest()
    previous = con.execute("SELECT import_id, imported_at FROM imports WHERE file_sha256 = ?",
                           [sha]).fetchall()
    if previous:  # the same export again: its index rows go again, nothing else was written
        for table in TABLES:
            con.execute(f"DELETE FROM {table} WHERE import_id = ?", [import_id])
        return MailImport(path, kind.title, sha, count, attached, None,
                          dict(zip(["import_id", "imported_at"], previous[0], strict=True)))
    con.execute("INSERT INTO imports VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 0, now()::TIMESTAMP)",
                [import_id, sha, sha, path.name, SERVICE, kind.name, kind.title, count])
    return MailImport(path, kind.title, sha, count, attached, import_id, {})


def _rows(rows: dict[str, list], import_id: int, message: gmail.Message, offset: int) -> None:
    key = (import_id, message.number)
    rows["mail_messages"].append((*key, message.file, offset, len(message.data), message.message_id,
                                  message.date, message.subject, message.thread, message.labels,
                                  len(message.attachments)))
    rows["mail_addresses"].extend((*key, role, address, name) for role, address, name in message.addresses)
    parts = [("body", f"{message.subject}\n{message.text}")]
    parts += [(f"attachment {a.name}", a.text) for a in message.attachments if a.text]
    for part, text in parts:
        rows["mail_text"].append((*key, part, normal_text(text)))
        rows["mail_mentions"].extend((*key, part, kind, value) for kind, value in gmail.mentions(text))
    rows["mail_attachments"].extend((*key, i, a.name, a.content_type, a.size, a.sha256, a.note)
                                    for i, a in enumerate(message.attachments, start=1))


_TYPES = {
    "mail_messages": [("import_id", pa.int32()), ("msg_no", pa.int32()), ("file", pa.string()),
                      ("offset", pa.int64()), ("length", pa.int64()), ("message_id", pa.string()),
                      ("sent_at", pa.timestamp("us", tz="UTC")), ("subject", pa.string()),
                      ("thread", pa.string()), ("labels", pa.list_(pa.string())),
                      ("attachments", pa.int32())],
    "mail_addresses": [("import_id", pa.int32()), ("msg_no", pa.int32()), ("role", pa.string()),
                       ("address", pa.string()), ("name", pa.string())],
    "mail_mentions": [("import_id", pa.int32()), ("msg_no", pa.int32()), ("part", pa.string()),
                      ("kind", pa.string()), ("value", pa.string())],
    "mail_text": [("import_id", pa.int32()), ("msg_no", pa.int32()), ("part", pa.string()),
                  ("text", pa.string())],
    "mail_attachments": [("import_id", pa.int32()), ("msg_no", pa.int32()), ("position", pa.int32()),
                         ("name", pa.string()), ("content_type", pa.string()), ("size", pa.int64()),
                         ("sha256", pa.string()), ("note", pa.string())],
}


def _flush(con, rows: dict[str, list]) -> None:
    for table, found in rows.items():
        if not found:
            continue
        schema = pa.schema(_TYPES[table])
        frame = pa.Table.from_pylist([dict(zip(schema.names, r, strict=True)) for r in found], schema=schema)
        con.register("incoming_mail", frame)
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming_mail")
        con.unregister("incoming_mail")
        found.clear()


def normal_text(text: str) -> str:
    """Text as names are searched in it: lower case, every run of white space one space."""
    return " ".join(text.lower().split())


# --------------------------------------------------------------------------------------------
# finding


def imported(ws: Workspace) -> bool:
    """Whether the workspace holds a mail import."""
    return ws.exists and bool(ws.query("SELECT count(*) AS n FROM imports WHERE service = ?",
                                       [SERVICE])["n"].iloc[0])


def find(ws: Workspace, *, emails: list[str] = (), phones: list[str] = (), ibans: list[str] = (),
         names: list[str] = ()) -> pd.DataFrame:
    """Every message from, to, cc or bcc one of ``emails``, or naming one of the ``names``
    (in the body, an attachment or a display name) or holding one of the ``phones`` or
    ``ibans``, with its evidence, oldest first. Values are normalised as on import."""
    emails = sorted({v for v in (_normal("email", e) for e in emails) if v})
    phones = sorted({v for v in (_normal("phone", p) for p in phones) if v})
    ibans = sorted({v for v in (_normal("iban", i) for i in ibans) if v})
    names = sorted({normal_text(n) for n in names if len(normal_text(n).split()) >= 2})
    if not ws.exists or not (emails or phones or ibans or names):
        return pd.DataFrame(columns=FOUND_COLUMNS)
    values = [*emails, *phones, *ibans]
    hits = ["""SELECT import_id, msg_no, role || ': ' || address AS evidence FROM mail_addresses
               WHERE address IN (SELECT unnest($emails::VARCHAR[]))""",
            """SELECT import_id, msg_no, kind || ' ' || value || ' in the ' || part FROM mail_mentions
               WHERE value IN (SELECT unnest($values::VARCHAR[]))"""]
    params: dict[str, object] = {"emails": emails, "values": values}
    for i, name in enumerate(names):
        params[f"name{i}"] = name
        hits.append(f"""SELECT import_id, msg_no, 'name ' || $name{i} || ' in the ' || part FROM mail_text
                        WHERE contains(text, $name{i})""")
        hits.append(f"""SELECT import_id, msg_no, 'name ' || $name{i} || ' as the ' || role || ' display name'
                        FROM mail_addresses WHERE lower(name) = $name{i}""")
    with ws.connect(read_only=True) as con:  # one connection: opening one costs more than the search
        if not con.execute("SELECT count(*) FROM imports WHERE service = ?", [SERVICE]).fetchone()[0]:
            return pd.DataFrame(columns=FOUND_COLUMNS)
        return con.execute(_FIND_SQL.format(hits=" UNION ALL ".join(hits)), params).df()[FOUND_COLUMNS]


_FIND_SQL = """
        WITH hits AS ({hits}),
        found AS (SELECT import_id, msg_no, string_agg(DISTINCT evidence, '; ' ORDER BY evidence) AS evidence
                  FROM hits GROUP BY ALL),
        people AS (SELECT a.import_id, a.msg_no,
                          string_agg(CASE WHEN role = 'from' THEN address END, ', ') AS "from",
                          string_agg(CASE WHEN role = 'to' THEN address END, ', ') AS "to",
                          string_agg(CASE WHEN role = 'cc' THEN address END, ', ') AS cc,
                          string_agg(CASE WHEN role = 'bcc' THEN address END, ', ') AS bcc
                   FROM mail_addresses a SEMI JOIN found f USING (import_id, msg_no) GROUP BY ALL)
        SELECT m.import_id, m.msg_no, m.sent_at AS date, p."from", p."to", p.cc, p.bcc, m.subject,
               m.message_id, m.thread, array_to_string(m.labels, ', ') AS labels, m.file,
               i.stored_sha256 AS file_sha256, m."offset", m.length, m.attachments, f.evidence
        FROM found f JOIN mail_messages m USING (import_id, msg_no)
        JOIN imports i USING (import_id)
        LEFT JOIN people p USING (import_id, msg_no)
        ORDER BY m.sent_at NULLS LAST, m.import_id, m.msg_no"""


def _normal(kind: str, value: str) -> str:
    normal, valid = identifiers.NORMALISERS[kind](str(value or ""))
    return normal.lower() if valid and kind == "email" else normal if valid else ""


def identities(ws: Workspace, subject_ids: list[str]) -> dict[str, list[str]]:
    """The e-mail addresses, phone numbers, IBANs and names the subjects' records hold."""
    members = pd.concat([linkage.subject_parties(ws, s) for s in subject_ids], ignore_index=True)
    if members.empty:
        return {"emails": [], "phones": [], "ibans": [], "names": []}
    keys = members[["service", "export_kind", "party_key"]]
    found = ws.query("""SELECT DISTINCT x.kind, x.value FROM identifiers x
                        JOIN keys k USING (service, export_kind, party_key)
                        WHERE x.valid AND x.kind IN ('email', 'phone', 'iban')""", frames={"keys": keys})
    names = ws.query("""SELECT DISTINCT coalesce(nullif(trim(p.name), ''), trim(concat_ws(' ', p.given_name,
                               p.name_prefix, p.family_name))) AS name
                        FROM parties p JOIN keys k USING (service, export_kind, party_key)""",
                     frames={"keys": keys})["name"].dropna()
    by_kind = found.groupby("kind")["value"].apply(list).to_dict()
    return {"emails": by_kind.get("email", []), "phones": by_kind.get("phone", []),
            "ibans": by_kind.get("iban", []),
            "names": sorted({" ".join(n.split()) for n in names if n.strip()})}


def subject_messages(ws: Workspace, subject_ids: list[str]) -> pd.DataFrame:
    """:func:`find` for linked subjects, from what their records hold; with the columns ``own``,
    the subjects' addresses in each message, and ``others``, the people in it who are not the
    subjects (correspondents, cc'd third parties) as ``name <address>`` separated by semicolons,
    to be redacted before the package is sent."""
    known = identities(ws, subject_ids)
    found = find(ws, **known)
    own = {e.lower() for e in known["emails"]}
    people = ["from", "to", "cc", "bcc"]
    found[people] = found[people].astype("object").where(found[people].notna(), "")
    named = ws.query("""SELECT address, min(name) AS name FROM mail_addresses a
                        SEMI JOIN found f USING (import_id, msg_no) WHERE name <> '' GROUP BY address""",
                     frames={"found": found[["import_id", "msg_no"]]}) if not found.empty else None
    names = {} if named is None else dict(zip(named["address"], named["name"], strict=True))
    present = [{a.strip() for col in people for a in row[col].split(",") if a.strip()}
               for row in found.to_dict("records")]
    found["own"] = [", ".join(sorted(here & own)) for here in present]
    found["others"] = ["; ".join(f"{names[a]} <{a}>" if a in names else a for a in sorted(here - own))
                       for here in present]
    return found


def message_bytes(ws: Workspace, row: dict) -> bytes:
    """One found message as it was exported (an mbox's ``From`` line left off), from the kept file."""
    with (ws.raw_dir / row["file_sha256"]).open("rb") as handle:
        handle.seek(int(row["offset"]))
        data = handle.read(int(row["length"]))
    return data.split(b"\n", 1)[1] if data.startswith(b"From ") else data


# --------------------------------------------------------------------------------------------
# erasure and retention


def mailbox_search(found: pd.DataFrame, known: dict[str, list[str]]) -> str:
    """The search an officer pastes into the mail service's search box to find the subject's
    messages: their addresses as sender or recipient, their phone numbers, IBANs and names as
    phrases, and the Message-IDs of the messages found by their content alone."""
    phrases = [v for key in ("phones", "ibans", "names") for v in known.get(key, [])]
    by_content = found[~found["evidence"].str.contains(r"(?:^|; )(?:from|to|cc|bcc): ", regex=True)] \
        if not found.empty else found
    return gmail.search(known.get("emails", []), phrases, list(by_content.get("message_id", [])))


def conversations(found: pd.DataFrame, register: Register, today: date) -> pd.DataFrame:
    """The conversations of the found messages: messages, last message and the end of retention
    (the register's rule for e-mail: a period after the last message)."""
    if found.empty:
        return pd.DataFrame(columns=["thread", "messages", "last", "until", "past"])
    rule = register.retention_rules[RETENTION_RULE]
    grouped = found.groupby("thread", dropna=False).agg(messages=("msg_no", "size"), last=("date", "max"))
    grouped = grouped.reset_index()
    grouped["until"] = [_until(rule, last) for last in grouped["last"]]
    grouped["past"] = [u is not None and u < today for u in grouped["until"]]
    return grouped


def _until(rule, last) -> date | None:
    if last is None or pd.isna(last):
        return None
    day = pd.Timestamp(last).date()
    return (pd.Timestamp(day) + pd.DateOffset(months=_months(rule))).date()


def _months(rule) -> int:
    """The rule's period in months (the register keeps it in years)."""
    return round((rule.years or 0) * 12)


def past_retention(ws: Workspace, register: Register, today: date) -> dict[str, int]:
    """Messages and conversations of the whole mailbox whose last message is older than the
    retention period: to delete in the mail service (no personal data, counts only)."""
    if not imported(ws):
        return {"messages": 0, "conversations": 0}
    rule = register.retention_rules[RETENTION_RULE]
    counts = ws.query("""
        WITH t AS (SELECT thread, count(*) AS n, max(sent_at) AS last FROM mail_messages GROUP BY thread)
        SELECT coalesce(sum(n), 0) AS messages, count(*) AS conversations FROM t
        WHERE last + to_months(?) < ?::TIMESTAMPTZ""", [_months(rule), today.isoformat()])
    return {key: int(counts[key].iloc[0]) for key in ("messages", "conversations")}


def past_retention_rows(ws: Workspace, register: Register, today: date) -> pd.DataFrame:
    """The messages of conversations past retention per export and year of the conversation's
    last message, in the shape of :func:`workbench.audit.policy_audit.past_retention` (service,
    export_kind, year, records, kept_until, longest_rule_years)."""
    columns = ["service", "export_kind", "year", "records", "kept_until", "longest_rule_years"]
    if not imported(ws):
        return pd.DataFrame(columns=columns)
    rule = register.retention_rules[RETENTION_RULE]
    found = ws.query("""
        WITH t AS (SELECT i.export_kind, m.thread, count(*) AS n, max(m.sent_at) AS last
                   FROM mail_messages m JOIN imports i USING (import_id) GROUP BY ALL)
        SELECT export_kind, year(last) AS year, sum(n) AS records, max(last) AS newest FROM t
        WHERE last + to_months(?) < ?::TIMESTAMPTZ GROUP BY ALL ORDER BY ALL""",
                     [_months(rule), today.isoformat()])
    return pd.DataFrame([{"service": SERVICE, "export_kind": r.export_kind, "year": int(r.year),
                          "records": int(r.records), "kept_until": _until(rule, r.newest),
                          "longest_rule_years": rule.years} for r in found.itertuples()], columns=columns)


def purge(con, messages: pd.DataFrame, request_id: str | None, today: date) -> dict[str, int]:
    """Remove these messages (import_id, msg_no) from the mail index inside the caller's
    transaction; the kept mbox cannot be edited message by message, so each is recorded in
    ``erased_raw_rows`` (its number, no content) like a raw row. Returns the rows removed per table."""
    con.register("mail_gone", messages)
    con.execute("""INSERT INTO erased_raw_rows SELECT DISTINCT ?, g.import_id, i.stored_sha256, g.msg_no, ?
                   FROM mail_gone g JOIN imports i USING (import_id)""", [request_id, today])
    removed = {}
    for table in TABLES:
        removed[table] = con.execute(f"""
            DELETE FROM {table} t WHERE EXISTS (SELECT 1 FROM mail_gone g
                WHERE g.import_id = t.import_id AND g.msg_no = t.msg_no)""").fetchone()[0]
    con.unregister("mail_gone")
    return removed

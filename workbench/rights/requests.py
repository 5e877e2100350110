"""The request register: every GDPR request a requester makes, its due date and what was done.

A *request* (access, portability, rectification, restriction, objection or erasure) is registered
when it is received. Its *due date* is the earlier of two promises, both kept in the register:

* the law's: one calendar month after receipt (Art. 12(3) GDPR). The month is counted by the
  calendar, so a request received on 31 January is due on 28 February (29 in a leap year): the
  same day number a month on, or the last day of that month when it has no such day;
* the policy's: "U ontvangt dan binnen 30 dagen een reactie op uw verzoek", received + 30 days.

Neither date is moved to the next working day: the register holds the strictest reading.

The deadline may be extended once or twice by at most two further months in all (Art. 12(3)),
with a reason and the date the requester was told, which must be on or before the original due
date (checklist A12-02); the extended due date is never later than received + 3 months.

The *requester*'s identity is verified before an answer goes out (the AP's step 4, NL-03). The
policy sends copies only to the e-mail address the firm already knows (method ``known_email``,
checked against the imported data when there is any); another address or a letter needs an
identity document (``id_document``) or another documented check (``other``). A request can only
be completed after a verification that passed; a refusal needs its reason (A12-05).

Each action is its own operation (:func:`verify`, :func:`extend`, :func:`close`, :func:`refuse`,
:func:`note`, :func:`record_search`, :func:`send`), checked against one table of allowed
transitions, :data:`TRANSITIONS` (operation -> status it starts from -> status it leads to);
:func:`update` combines them for the command line's ``request update``. Errors name the
parameters, never a command-line flag. Every search of a system for a request is recorded with its
result (``request_searches``, also a search by hand), every letter written for it with its kind,
language, date and hash (``request_letters``, never its text); :func:`send` marks a letter sent on
the date it carries and, for an answer, closes the request with that same date.

Privacy of the register itself:

* every requester's e-mail address and name are also kept as keyed hashes (HMAC-SHA256) with a
  secret generated once per workspace (``secret.key``, mode 0600, next to the database). The
  hashes let the register flag a repeated request (same e-mail address within 365 days) even
  after the earlier one was anonymised; without the key they cannot be reversed by guessing;
* once an erasure request is completed the register keeps no readable identifier of the
  requester: the e-mail address and name are removed, its notes are deleted (free text can name a
  person in ways no filter catches), and the e-mail address and name are blanked out of the
  extension reason, and the database file is rewritten so the removed values do not linger in
  its free blocks. What stays is the hashes, the type, the dates, the status and the outcome:
  proof the request was handled, without keeping the person ("in het geval van een vergeetverzoek
  administreren wij geanonimiseerde gegevens");
* other requests keep the e-mail address, which is needed to answer, until the log's retention
  ends: 5 years after the request was closed (register of processing, retention
  ``privacy_requests_log``). :func:`purge_expired` (``workbench request purge``) then deletes them;
* ``request_events`` is an append-only history of changes. It holds ids, dates, statuses and
  methods, never an e-mail address, a name or free text, so it needs no anonymising;
* error messages name the request id, never the requester.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
from dateutil.relativedelta import relativedelta

from workbench.errors import WorkbenchError
from workbench.ingest import identifiers
from workbench.ingest.masking import mask
from workbench.store.workspace import Workspace

TYPES = ("access", "portability", "rectification", "restriction", "objection", "erasure")
CHANNELS = ("email", "letter", "form")
STATUSES = ("received", "verifying", "in_progress", "extended", "completed", "refused")
CLOSED = ("completed", "refused")
OPEN = tuple(s for s in STATUSES if s not in CLOSED)
# The one table of what each operation may do: operation -> {status it starts from: status it leads
# to}. An operation from a status not listed is refused. ``verify`` is a passed identity check,
# ``verify_failed`` a failed one; ``progress`` and ``ask_identity`` set a status by hand; ``notify``
# is a notice that may follow a completed request (Art. 18(3) before a restriction is lifted, Art. 19
# to recipients).
TRANSITIONS: dict[str, dict[str, str]] = {
    "verify": {"received": "in_progress", "verifying": "in_progress", "in_progress": "in_progress",
               "extended": "extended"},
    "verify_failed": {"received": "verifying", "verifying": "verifying", "in_progress": "verifying",
                      "extended": "extended"},
    "ask_identity": {"received": "verifying", "verifying": "verifying", "in_progress": "verifying"},
    "progress": {"received": "in_progress", "verifying": "in_progress", "in_progress": "in_progress"},
    "extend": {"received": "extended", "verifying": "extended", "in_progress": "extended",
               "extended": "extended"},
    "search": {s: s for s in OPEN},
    "send": {s: s for s in OPEN},
    "notify": {s: s for s in (*OPEN, "completed")},
    "close": {"in_progress": "completed", "extended": "completed"},
    "refuse": {s: "refused" for s in OPEN},
    "note": {s: s for s in OPEN},
}
SEARCH_METHODS = ("automatic", "manual")
# What a search found, with the words an analyst may type for it (Dutch or English).
SEARCH_RESULTS = {"found": ("found", "gevonden", "wel gevonden"),
                  "not_found": ("not_found", "nothing found", "not found", "niets gevonden",
                                "niet gevonden", "geen gegevens")}
VERIFY_METHODS = ("known_email", "id_document", "other")
VERIFY_OUTCOMES = ("passed", "failed")
OUTCOMES = ("granted", "partly_granted", "no_data")  # what a completed request did

POLICY_DAYS = 30  # the policy: "binnen 30 dagen een reactie"
LAW_MONTHS = 1  # Art. 12(3): "within one month of receipt"
MAX_EXTENSION_MONTHS = 2  # Art. 12(3): "extended by two further months where necessary"
DUPLICATE_DAYS = 365
RETENTION_YEARS = 5  # register of processing, retention "privacy_requests_log"
SECRET_NAME = "secret.key"
REDACTED = "[verwijderd]"


# ---------------------------------------------------------------------------------------------
# dates


def add_months(day: date, months: int) -> date:
    """``day`` plus calendar months; a day the target month lacks becomes its last day."""
    moved = day + relativedelta(months=months)
    return date(moved.year, moved.month, moved.day)  # a date, also for a timestamp passed in


@dataclass(frozen=True)
class DueDates:
    law: date  # received + one calendar month
    policy: date  # received + 30 days
    due: date  # the earlier of the two


def due_dates(received: date) -> DueDates:
    """Both promises for a request received on ``received`` and the one that binds."""
    law = add_months(received, LAW_MONTHS)
    policy = received + timedelta(days=POLICY_DAYS)
    return DueDates(law, policy, min(law, policy))


def parse_date(text: str | date | None, what: str) -> date | None:
    """A YYYY-MM-DD date, or a clear error naming the parameter."""
    if text is None or isinstance(text, date):
        return text
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise WorkbenchError(f"{what}: {text!r} is not a date; expected YYYY-MM-DD") from None


# ---------------------------------------------------------------------------------------------
# keyed hashes


def secret_key(ws: Workspace) -> bytes:
    """The workspace's HMAC secret; generated with :mod:`secrets` on first use, mode 0600."""
    path = ws.path / SECRET_NAME
    ws.path.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32) + "\n")
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
    key = path.read_text().strip()
    if not re.fullmatch(r"[0-9a-f]{64}", key):
        raise WorkbenchError(f"{path} is not a workbench secret (64 hex digits); restore it from "
                             "the backup: without it earlier requests cannot be matched")
    return bytes.fromhex(key)


def normal_email(email: str) -> str:
    """The e-mail address as the hash sees it: validated, trimmed, lower case."""
    value, valid = identifiers.email(email or "")
    if not valid:
        raise WorkbenchError("email is not a valid e-mail address")  # never echo the value
    return value


def normal_name(name: str) -> str:
    return " ".join(name.split()).casefold()


def keyed_hash(key: bytes, value: str) -> str:
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


# ---------------------------------------------------------------------------------------------
# the register


@dataclass
class Created:
    request_id: str
    dates: DueDates
    duplicate_of: str | None


def _event(con, request_id: str, action: str, **detail) -> None:
    """One line of the append-only history; ``detail`` holds no e-mail, name or free text."""
    event_id = con.execute("SELECT nextval('request_event_ids')").fetchone()[0]
    clean = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in detail.items()}
    con.execute("INSERT INTO request_events VALUES (?, ?, now()::TIMESTAMP, ?, ?)",
                [event_id, request_id, action, json.dumps(clean, sort_keys=True)])


def _next_id(con, year: int) -> str:
    prefix = f"R-{year}-"
    last = con.execute("SELECT max(CAST(substr(request_id, 8) AS INTEGER)) FROM requests "
                       "WHERE request_id LIKE ?", [prefix + "%"]).fetchone()[0]
    return f"{prefix}{(last or 0) + 1:04d}"


def new(ws: Workspace, *, type: str, email: str, name: str | None = None,
        received: date | str | None = None, channel: str = "email",
        today: date | None = None) -> Created:
    """Register a request; returns its id, due dates and a possible earlier duplicate."""
    today = today or date.today()
    received = parse_date(received, "received") or today
    if type not in TYPES:
        raise WorkbenchError(f"request type {type!r} is unknown; expected one of {', '.join(TYPES)}")
    if channel not in CHANNELS:
        raise WorkbenchError(f"channel {channel!r} is unknown; expected one of {', '.join(CHANNELS)}")
    if received > today:
        raise WorkbenchError(f"received {received} is in the future (today is {today})")
    normalised = normal_email(email)
    name = " ".join(name.split()) if name and name.strip() else None
    dates = due_dates(received)
    key = secret_key(ws)
    email_hmac = keyed_hash(key, normalised)
    name_hmac = keyed_hash(key, normal_name(name)) if name else None
    with ws.transaction() as con:
        earlier = con.execute(
            "SELECT request_id FROM requests WHERE email_hmac = ? "
            "AND abs(date_diff('day', received, ?::DATE)) <= ? "
            "ORDER BY received DESC, request_id DESC LIMIT 1",
            [email_hmac, received, DUPLICATE_DAYS]).fetchall()
        duplicate_of = earlier[0][0] if earlier else None
        request_id = _next_id(con, received.year)
        con.execute(
            "INSERT INTO requests (request_id, type, channel, email, name, email_hmac, name_hmac, "
            "received, law_due, policy_due, due, status, duplicate_of, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'received', ?, now()::TIMESTAMP, "
            "now()::TIMESTAMP)",
            [request_id, type, channel, email.strip(), name, email_hmac, name_hmac, received,
             dates.law, dates.policy, dates.due, duplicate_of])
        _event(con, request_id, "created", type=type, channel=channel, received=received,
               law_due=dates.law, policy_due=dates.policy, due=dates.due,
               duplicate_of=duplicate_of)
    return Created(request_id, dates, duplicate_of)


def _row(con, request_id: str) -> dict:
    frame = con.execute("SELECT * FROM requests WHERE request_id = ?", [request_id]).df()
    if frame.empty:
        raise WorkbenchError(f"request {request_id!r} is not in the register; see 'workbench request list'")
    row = frame.iloc[0].to_dict()
    for column in ("received", "law_due", "policy_due", "due", "extended_due", "extension_told",
                   "verified_on", "responded", "anonymised_on"):
        value = row[column]
        row[column] = None if value is None or pd.isna(value) else pd.Timestamp(value).date()
    return {k: (None if not isinstance(v, date) and pd.isna(v) else v) for k, v in row.items()}


def current_due(row: dict) -> date:
    """The due date that binds now: the extended one when there is one."""
    return row["extended_due"] or row["due"]


def _email_known(con, email: str) -> bool | None:
    """Whether the imported data holds this e-mail address; None when nothing is imported."""
    if not con.execute("SELECT count(*) FROM imports").fetchone()[0]:
        return None
    value, _ = identifiers.email(email)
    return bool(con.execute("SELECT count(*) FROM identifiers WHERE kind = 'email' AND lower(value) = ?",
                            [value]).fetchone()[0])


def _step(request_id: str, action: str, status: str) -> str:
    """The status ``action`` leads to from ``status``, by :data:`TRANSITIONS`; refused otherwise."""
    if status in CLOSED and status not in TRANSITIONS[action]:
        raise WorkbenchError(f"{request_id} is {status}; a closed request cannot change; register a new one")
    allowed = TRANSITIONS[action]
    if status not in allowed:
        raise WorkbenchError(f"{request_id}: '{action}' is not possible while the request is {status} "
                             f"(only from {', '.join(allowed)})")
    return allowed[status]


_STATUS_ACTIONS = {"completed": "close", "refused": "refuse", "in_progress": "progress",
                   "verifying": "ask_identity"}


@dataclass
class _Asked:
    """What :func:`update` was asked, its dates parsed."""

    status: str | None
    responded: date | None
    outcome: str | None
    verify: str | None
    verified: date | None
    extend_reason: str | None
    told: date | None
    extend_months: int | None
    refuse_reason: str | None
    note: str
    today: date

    @property
    def extending(self) -> bool:
        return self.extend_reason is not None or self.told is not None or self.extend_months is not None


@dataclass
class _Change:
    """What :func:`update` will write, built step by step: ``now`` is the status the steps so far
    lead to, ``done`` the lines for the user."""

    request_id: str
    row: dict
    now: str
    changes: dict = field(default_factory=dict)
    events: list[tuple[str, dict]] = field(default_factory=list)
    done: list[str] = field(default_factory=list)

    @property
    def completes_erasure(self) -> bool:
        return self.changes.get("status") == "completed" and self.row["type"] == "erasure"


def update(ws: Workspace, request_id: str, *, status: str | None = None,
           responded: date | str | None = None, outcome: str | None = None,
           verify: str | None = None, verified: date | str | None = None,
           extend_reason: str | None = None, told: date | str | None = None,
           extend_months: int | None = None, refuse_reason: str | None = None,
           note: str | None = None, today: date | None = None) -> list[str]:
    """Change a request: verify, extend, set its status, close or refuse it, add a note, in that
    order, each step checked against :data:`TRANSITIONS`. Everything is checked before anything
    is written. Returns what was done (lines for the user, free of personal data). The operations
    :func:`verify`, :func:`extend`, :func:`close`, :func:`refuse` and :func:`note` each do one."""
    responded, verified, told = (parse_date(value, name) for value, name in (
        (responded, "responded"), (verified, "verified"), (told, "told")))
    asked = _Asked(_asked_status(status, refuse_reason, outcome), responded, outcome, verify, verified,
                   extend_reason, told, extend_months, refuse_reason, note.strip() if note else "",
                   today or date.today())
    with ws.connect() as con:
        row = _row(con, request_id)
        change = _Change(request_id, row, row["status"])
        if asked.verify is not None:
            _verify_step(con, change, asked)
        if asked.extending:
            _extend_step(change, asked)
        _status_step(change, asked)
        _note_step(change, asked)
        with ws.transaction(con):
            _write_change(ws, con, change, asked)
    if change.completes_erasure:
        ws.compact()
    return change.done


def _asked_status(status: str | None, refuse_reason: str | None, outcome: str | None) -> str | None:
    """The status asked for, checked; a refusal reason asks for ``refused``."""
    if status is not None and status not in STATUSES:
        raise WorkbenchError(f"status {status!r} is unknown; expected one of {', '.join(STATUSES)}")
    if refuse_reason is not None:
        if status not in (None, "refused"):
            raise WorkbenchError("refuse_reason goes with status refused")
        status = "refused"
    if status == "extended":
        raise WorkbenchError("extend with extend_reason and told (Art. 12(3)), not with status")
    if status == "received":
        raise WorkbenchError("a request cannot go back to received")
    if outcome is not None and outcome not in OUTCOMES:
        raise WorkbenchError(f"outcome {outcome!r} is unknown; expected one of {', '.join(OUTCOMES)}")
    return status


def _verify_step(con, change: _Change, asked: _Asked) -> None:
    """An identity verification: ``METHOD:OUTCOME``; a known e-mail address must be in the data."""
    request_id, row = change.request_id, change.row
    method, _, result = asked.verify.partition(":")
    if method not in VERIFY_METHODS or result not in VERIFY_OUTCOMES:
        raise WorkbenchError(f"verify {asked.verify!r}: expected METHOD:OUTCOME with METHOD one of "
                             f"{', '.join(VERIFY_METHODS)} and OUTCOME one of {', '.join(VERIFY_OUTCOMES)}")
    change.now = _step(request_id, "verify" if result == "passed" else "verify_failed", change.now)
    on = asked.verified or asked.today
    if on < row["received"]:
        raise WorkbenchError(f"verified {on} is before the request was received ({row['received']})")
    if method == "known_email" and result == "passed":
        known = _email_known(con, row["email"])
        if known is False:
            raise WorkbenchError(
                f"{request_id}: the requester's e-mail address is not in the imported data, so "
                "it is not an address the firm already knows; the policy asks for "
                "identification (verify id_document:passed) before data goes to another address")
        if known is None:
            change.done.append("note: nothing is imported, so the address was not checked against "
                               "the firm's data")
    change.changes.update(verify_method=method, verify_outcome=result, verified_on=on)
    change.events.append(("verified", {"method": method, "outcome": result, "on": on}))
    change.done.append(f"identity verification recorded: {method}, {result}, {on}")


def _extend_step(change: _Change, asked: _Asked) -> None:
    """An extension of the deadline (Art. 12(3)): why, told when, by how many months."""
    request_id, row, told = change.request_id, change.row, asked.told
    change.now = _step(request_id, "extend", change.now)
    if not asked.extend_reason or not asked.extend_reason.strip():
        raise WorkbenchError("an extension needs extend_reason (why: the complexity or the "
                             "number of requests, Art. 12(3))")
    if told is None:
        raise WorkbenchError("an extension needs told (a date): the date the requester was "
                             "told of it and why (Art. 12(3), A12-02)")
    months = 2 if asked.extend_months is None else asked.extend_months
    total = row["extension_months"] + months
    if months < 1 or total > MAX_EXTENSION_MONTHS:
        raise WorkbenchError(
            f"{request_id}: the deadline can be extended by at most {MAX_EXTENSION_MONTHS} "
            f"further months in all (Art. 12(3)); it is extended by {row['extension_months']} "
            f"already and {months} more was asked")
    if told > row["due"]:
        raise WorkbenchError(
            f"{request_id}: the requester was told on {told}, after the original due date "
            f"{row['due']}; an extension must be told within the first term (Art. 12(3), "
            "A12-02), so it cannot be recorded")
    if told < row["received"]:
        raise WorkbenchError(f"told {told} is before the request was received ({row['received']})")
    new_due = add_months(row["received"], LAW_MONTHS + total)  # <= received + 3 months
    reason = asked.extend_reason.strip()
    if row["extension_reason"]:
        reason = f"{row['extension_reason']}; {reason}"
    change.changes.update(extension_months=total, extended_due=new_due, extension_reason=reason,
                          extension_told=told)
    change.events.append(("extended", {"months": months, "total_months": total, "told": told,
                                       "extended_due": new_due}))
    change.done.append(f"extended by {months} month(s) to {new_due} (told {told})")


def _status_step(change: _Change, asked: _Asked) -> None:
    """The status asked for (closing or refusing needs a verified identity or a reason); the
    status the earlier steps led to is recorded too."""
    row = change.row
    if asked.status is not None and asked.status != change.now:
        if asked.status == "completed" and change.changes.get("verify_outcome", row["verify_outcome"]) \
                != "passed" and change.now not in CLOSED:
            raise WorkbenchError(
                f"{change.request_id}: the requester's identity is not verified; record it first "
                "(verify known_email:passed, or id_document:passed when the answer goes "
                "to another address or by post)")
        target = _step(change.request_id, _STATUS_ACTIONS[asked.status], change.now)
        if target in CLOSED:
            _close_step(change, asked, target)
        else:
            change.events.append(("status", {"from": row["status"], "to": target}))
            change.done.append(f"status {row['status']} -> {target}")
        change.now = target
    elif asked.responded is not None or asked.outcome is not None:
        raise WorkbenchError("responded and outcome go with status completed or refused")
    if change.now != row["status"]:
        change.changes["status"] = change.now
        if asked.status is None:
            change.events.append(("status", {"from": row["status"], "to": change.now}))


def _close_step(change: _Change, asked: _Asked, target: str) -> None:
    """Completing or refusing: the responded date, the outcome or the refusal's justification."""
    row = change.row
    on = asked.responded or asked.today
    if on < row["received"]:
        raise WorkbenchError(f"responded {on} is before the request was received ({row['received']})")
    if target == "completed":
        change.changes["outcome"] = asked.outcome or "granted"
    else:
        if not asked.refuse_reason or not asked.refuse_reason.strip():
            raise WorkbenchError("a refusal needs refuse_reason: the justification, e.g. "
                                 "manifestly unfounded or excessive (Art. 12(5), A12-05) "
                                 "or identity not established (Art. 12(2))")
        change.changes.update(outcome="refused", refusal_reason=asked.refuse_reason.strip())
    change.changes["responded"] = on
    due = change.changes.get("extended_due") or current_due(row)
    late = (on - due).days
    change.events.append(("closed", {"status": target, "responded": on, "due": due,
                                     "days_late": max(late, 0)}))
    change.done.append(f"{target} on {on}" + (f", {late} day(s) after the due date {due}"
                                              if late > 0 else f", due {due}"))


def _note_step(change: _Change, asked: _Asked) -> None:
    """A note; with nothing else asked, a closed request says so, else there is nothing to do."""
    if asked.note:
        change.now = _step(change.request_id, "note", change.now)
    if not change.changes and not asked.note:
        _step(change.request_id, "note", change.row["status"])  # a closed request says so first
        raise WorkbenchError("nothing to change: give status, verify, extend_reason and told, "
                             "refuse_reason or note")


def _write_change(ws: Workspace, con, change: _Change, asked: _Asked) -> None:
    """The checked change, its events and note, inside the caller's transaction; a completed
    erasure request keeps the proof of the request, not the person."""
    request_id, changes = change.request_id, change.changes
    if changes:
        names = list(changes)
        con.execute(f"UPDATE requests SET {', '.join(f'{n} = ?' for n in names)}, "
                    "updated_at = now()::TIMESTAMP WHERE request_id = ?",
                    [changes[n] for n in names] + [request_id])
    for action, detail in change.events:
        _event(con, request_id, action, **detail)
    if asked.note:
        con.execute("INSERT INTO request_notes VALUES (?, now()::TIMESTAMP, ?)", [request_id, asked.note])
        _event(con, request_id, "note_added")
        change.done.append("note added")
    if change.completes_erasure:
        ws.mark_compact()  # a kill after the commit still gets the file rewritten
        _anonymise(con, change.row, changes.get("responded") or asked.today)
        change.done.append("erasure completed: the requester's e-mail address, name and notes are "
                           "removed from the register; keyed hashes, type, dates and outcome stay")


def verify(ws: Workspace, request_id: str, *, method: str, outcome: str,
           on: date | str | None = None, today: date | None = None) -> list[str]:
    """Record an identity check (the AP's step 4, NL-03)."""
    return update(ws, request_id, verify=f"{method}:{outcome}", verified=on, today=today)


def extend(ws: Workspace, request_id: str, *, reason: str, told: date | str, months: int = 2,
           today: date | None = None) -> list[str]:
    """Extend the deadline (Art. 12(3)), told to the requester within the first term."""
    return update(ws, request_id, extend_reason=reason, told=told, extend_months=months, today=today)


def close(ws: Workspace, request_id: str, *, outcome: str = "granted",
          responded: date | str | None = None, today: date | None = None) -> list[str]:
    """Complete a verified request with its outcome."""
    return update(ws, request_id, status="completed", outcome=outcome, responded=responded, today=today)


def refuse(ws: Workspace, request_id: str, *, reason: str, responded: date | str | None = None,
           today: date | None = None) -> list[str]:
    """Refuse a request with its justification (Art. 12(4), 12(5))."""
    return update(ws, request_id, refuse_reason=reason, responded=responded, today=today)


def note(ws: Workspace, request_id: str, text: str, today: date | None = None) -> list[str]:
    """A note on an open request (deleted when an erasure request is completed)."""
    return update(ws, request_id, note=text, today=today)


def search_result(text: str) -> str:
    """``found`` or ``not_found`` for what an analyst typed (Dutch or English)."""
    said = " ".join(text.split()).casefold()
    for result, words in SEARCH_RESULTS.items():
        if said in words:
            return result
    raise WorkbenchError(f"result {text!r} is not a search result; expected one of "
                         + ", ".join(repr(w) for words in SEARCH_RESULTS.values() for w in words))


def record_search(ws: Workspace, request_id: str, *, system: str, result: str, method: str = "manual",
                  on: date | str | None = None, today: date | None = None, query: str = "") -> str:
    """Record that ``system`` was searched for this request, with which query and what was found
    (A15-03). The query says what was searched with (which identifiers of the person, which
    folders), not the person's data itself. The search of a system without an export is done by
    hand and recorded here; the package records its own searches. Returns the normalised result."""
    today = today or date.today()
    on = parse_date(on, "on") or today
    found = search_result(result)
    if method not in SEARCH_METHODS:
        raise WorkbenchError(f"method {method!r} is unknown; expected one of {', '.join(SEARCH_METHODS)}")
    with ws.connect() as con:
        row = _row(con, request_id)
        _step(request_id, "search", row["status"])
        if on < row["received"]:
            raise WorkbenchError(f"on {on} is before the request was received ({row['received']})")
        with ws.transaction(con):
            con.execute("INSERT INTO request_searches (request_id, system, result, method, searched_on, "
                        "recorded_at, query) VALUES (?, ?, ?, ?, ?, now()::TIMESTAMP, ?)",
                        [request_id, system, found, method, on, query or None])
            _event(con, request_id, "searched", system=system, result=found, method=method, on=on)
    return found


def searches(ws: Workspace, request_id: str) -> dict[str, dict]:
    """The latest search of each system for this request: system -> result, method, date, query."""
    frame = _frame(ws, "SELECT * FROM request_searches WHERE request_id = ? ORDER BY recorded_at",
                   [request_id])
    return {r["system"]: {"result": r["result"], "method": r["method"],
                          "query": r["query"] if pd.notna(r.get("query")) else "",
                          "on": pd.Timestamp(r["searched_on"]).date()} for r in frame.to_dict("records")}


def record_letter(ws: Workspace, request_id: str, *, kind: str, lang: str, dated: date, sha256: str,
                  draft: bool) -> None:
    """Register a letter written for the request (its kind, language, date and hash; no text)."""
    with ws.connect() as con:
        _row(con, request_id)
        with ws.transaction(con):
            con.execute("INSERT INTO request_letters VALUES (?, ?, ?, ?, ?, ?, NULL, now()::TIMESTAMP)",
                        [request_id, kind, lang, dated, sha256, draft])
            _event(con, request_id, "letter", kind=kind, lang=lang, dated=dated, draft=draft,
                   sha256=sha256)


def letters(ws: Workspace, request_id: str) -> pd.DataFrame:
    """The letters written for a request, oldest first."""
    return _frame(ws, "SELECT kind, lang, dated, sha256, draft, sent FROM request_letters "
                      "WHERE request_id = ? ORDER BY recorded_at", [request_id])


def send(ws: Workspace, request_id: str, *, sha256: str, action: str = "send",
         closes: str | None = None, outcome: str | None = None, refuse_reason: str | None = None,
         today: date | None = None) -> list[str]:
    """Mark the registered letter with this hash as sent, on the date it carries; a letter that
    answers the request (``closes`` = ``completed`` or ``refused``) closes it with that same date as
    the responded date, so the register and the letter agree. ``action`` is ``send`` or ``notify``
    (:data:`TRANSITIONS`). The caller checks the gates that need the workspace
    (:func:`workbench.rights.letters.send`); an unverified identity is checked here."""
    today = today or date.today()
    with ws.connect() as con:
        row = _row(con, request_id)
        found = con.execute("SELECT kind, dated, draft, sent FROM request_letters WHERE request_id = ? "
                            "AND sha256 = ?", [request_id, sha256]).fetchall()
    if not found:
        raise WorkbenchError(f"{request_id}: no letter with this hash is registered on the request")
    kind, dated, draft, sent = found[-1]
    dated = pd.Timestamp(dated).date()
    if draft:
        raise WorkbenchError(f"{request_id}: the {kind} letter is a draft; write it without draft to send it")
    if sent is not None and not pd.isna(sent):
        raise WorkbenchError(f"{request_id}: the {kind} letter was sent on {pd.Timestamp(sent).date()} "
                             "already")
    if dated != today:
        raise WorkbenchError(f"{request_id}: the {kind} letter is dated {dated}, not today ({today}); write "
                             "it again so its date is the day it goes out")
    _step(request_id, action, row["status"])
    done = []
    if closes == "completed":
        done += close(ws, request_id, outcome=outcome or "granted", responded=dated, today=today)
    elif closes == "refused":
        done += refuse(ws, request_id, reason=refuse_reason or "", responded=dated, today=today)
    with ws.transaction() as con:
        con.execute("UPDATE request_letters SET sent = ? WHERE request_id = ? AND sha256 = ?",
                    [dated, request_id, sha256])
        _event(con, request_id, "sent", kind=kind, on=dated)
    return [f"{kind} letter sent on {dated}", *done]


def _redact(text: str | None, row: dict) -> str | None:
    """``text`` without the requester's e-mail address, its local part or name (or its words)."""
    if not text:
        return text
    words = []
    if row["email"]:
        words += [row["email"], row["email"].split("@")[0]]
    if row["name"]:
        words += [row["name"], *[w for w in row["name"].split() if len(w) >= 3]]
    for word in sorted(set(words), key=len, reverse=True):
        text = re.sub(rf"(?<!\w){re.escape(word)}(?!\w)", REDACTED, text, flags=re.IGNORECASE)
    return text


def _anonymise(con, row: dict, on: date) -> None:
    """Keep the proof of an erasure request, not the person: in this request and in every other
    request of the same requester (same keyed hash of the e-mail address), earlier ones included."""
    same = con.execute("SELECT * FROM requests WHERE request_id = ? "
                       "OR (email_hmac = ? AND email IS NOT NULL) ORDER BY request_id",
                       [row["request_id"], row["email_hmac"]]).df()
    for other in same.to_dict("records"):
        other = {k: (None if not isinstance(v, date) and pd.isna(v) else v) for k, v in other.items()}
        notes = con.execute("SELECT count(*) FROM request_notes WHERE request_id = ?",
                            [other["request_id"]]).fetchone()[0]
        con.execute("DELETE FROM request_notes WHERE request_id = ?", [other["request_id"]])
        con.execute("UPDATE requests SET email = NULL, name = NULL, extension_reason = ?, "
                    "anonymised_on = ? WHERE request_id = ?",
                    [_redact(other["extension_reason"], {**other, "email": other["email"] or row["email"],
                                                         "name": other["name"] or row["name"]}),
                     on, other["request_id"]])
        _event(con, other["request_id"], "anonymised", on=on, notes_deleted=notes,
               erasure_request=row["request_id"])


def purge_expired(ws: Workspace, today: date | None = None) -> list[str]:
    """Delete requests closed more than :data:`RETENTION_YEARS` ago (the log's retention), with
    their notes and history. Returns the ids."""
    today = today or date.today()
    if not ws.exists:
        return []
    cutoff = add_months(today, -12 * RETENTION_YEARS)
    with ws.connect() as con:
        ids = [r[0] for r in con.execute(
            "SELECT request_id FROM requests WHERE status IN ('completed', 'refused') AND responded < ? "
            "ORDER BY request_id", [cutoff]).fetchall()]
        if ids:
            with ws.transaction(con):
                for table in ("request_notes", "request_events", "request_searches", "request_letters",
                              "requests"):
                    con.execute(f"DELETE FROM {table} WHERE list_contains(?, request_id)", [ids])
    if ids:
        ws.compact()
    return ids


# ---------------------------------------------------------------------------------------------
# reading


def _frame(ws: Workspace, sql: str, params: list | None = None) -> pd.DataFrame:
    with ws.connect(read_only=True) as con:
        return con.execute(sql, params or []).df()


def listing(ws: Workspace, today: date | None = None, include_closed: bool = False) -> pd.DataFrame:
    """Requests with their binding due date, days left and a flag; open ones unless asked."""
    today = today or date.today()
    columns = ["request_id", "type", "status", "requester", "received", "due", "days_left", "flag",
               "duplicate_of"]
    if not ws.exists:
        return pd.DataFrame(columns=columns)
    where = "" if include_closed else "WHERE status NOT IN ('completed', 'refused')"
    frame = _frame(ws, f"SELECT * FROM requests {where} ORDER BY coalesce(extended_due, due), request_id")
    rows = []
    for record in frame.to_dict("records"):
        record = {k: (None if not isinstance(v, (list, dict)) and pd.isna(v) else v)
                  for k, v in record.items()}
        due = pd.Timestamp(record["extended_due"] or record["due"]).date()
        closed = record["status"] in CLOSED
        days = None if closed else (due - today).days
        flags = []
        if closed:
            responded = pd.Timestamp(record["responded"]).date()
            flags.append("late" if responded > due else "on time")
        elif days < 0:
            flags.append("OVERDUE")
        elif days < 5:
            flags.append("due within 5 days")
        elif days < 10:
            flags.append("due within 10 days")
        if record["extension_months"]:
            flags.append(f"extended +{record['extension_months']}m")
        if record["duplicate_of"]:
            flags.append("possible duplicate")
        requester = mask(record["email"], "email") if record["email"] else "(anonymised)"
        rows.append([record["request_id"], record["type"], record["status"], requester,
                     pd.Timestamp(record["received"]).date(), due, days, ", ".join(flags),
                     record["duplicate_of"] or ""])
    return pd.DataFrame(rows, columns=columns)


def show(ws: Workspace, request_id: str) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """One request, its history and its notes."""
    if not ws.exists:
        raise WorkbenchError(f"request {request_id!r} is not in the register; the workspace is empty")
    with ws.connect(read_only=True) as con:
        row = _row(con, request_id)
        events = con.execute("SELECT recorded_at, action, detail FROM request_events WHERE request_id = ? "
                             "ORDER BY event_id", [request_id]).df()
        notes = con.execute("SELECT written_at, note FROM request_notes WHERE request_id = ? "
                            "ORDER BY written_at", [request_id]).df()
    return row, events, notes


def secret_path(ws: Workspace) -> Path:
    return ws.path / SECRET_NAME

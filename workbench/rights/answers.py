"""Answering the requests of data subjects, as whole workflows: an access or portability request
answered with its package, an erasure planned, logged and carried out in the workspace with a note
in the request's history, the to-do list of a rectification, restriction or objection, the letter
of a request. The command line, the notebooks and the dashboards all run them from here, so each
runs the same way whichever of them the analyst uses."""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from workbench.audit import trail
from workbench.datamap import linkage
from workbench.errors import WorkbenchError
from workbench.reference.register import Register
from workbench.rights import erasure, letters, package, requests
from workbench.store.safe_files import sha256_file
from workbench.store.workspace import Workspace

PACKAGE_TYPES = ("access", "portability")
ENCRYPTED_PACKAGES = "dashboard-packages"  # folder under the reports area for encrypted packages


@dataclass
class Answer:
    """An answered access or portability request: the request as the package states it, the
    candidates the e-mail address found with their evidence, the subjects packaged, the package."""

    request: dict
    email: str
    candidates: pd.DataFrame
    subjects: list[str]
    package: package.PackageResult

    def systems(self) -> pd.DataFrame:
        """The search result per system: found, not found or exception, with records per table."""
        return pd.DataFrame([{"system": s.system, "name": s.name, "status": s.status,
                              "records": sum(s.records.values()),
                              "tables": ", ".join(f"{t}: {n}" for t, n in s.records.items()),
                              "reason": s.reason} for s in self.package.systems])

    def files(self) -> pd.DataFrame:
        """Every file of the package with its size and SHA-256, as the manifest lists them."""
        listed = json.loads(self.package.manifest.read_text("utf-8"))["files"]
        return pd.DataFrame(listed, columns=["path", "bytes", "sha256"])


def open_request(ws: Workspace, *, request_id: str = "", email: str = "", type: str = "access",
                 received: dt.date | str | None = None) -> dict:
    """The register's request ``request_id``; without one, a new request of ``type`` from
    ``email`` is registered first. Returns what the package states of it (id, type, received, due)
    and the e-mail address to search for."""
    if not request_id:
        if not email:
            raise WorkbenchError("give the requester's e-mail address or the id of a registered request")
        request_id = requests.new(ws, type=type, email=email, received=received).request_id
    row, _, _ = requests.show(ws, request_id)
    if row["type"] not in PACKAGE_TYPES:
        raise WorkbenchError(f"request {request_id} is a {row['type']} request; a package answers "
                             f"{' or '.join(PACKAGE_TYPES)} requests only")
    if not row.get("email"):
        raise WorkbenchError(f"request {request_id} keeps no e-mail address any more")
    if email and requests.normal_email(email) != requests.normal_email(row["email"]):
        raise WorkbenchError(f"request {request_id} was made from another e-mail address than the one given")
    return {"id": row["request_id"], "type": row["type"], "received": str(row["received"]),
            "due": str(requests.current_due(row)), "email": row["email"], "name": row.get("name")}


def answer_request(ws: Workspace, register: Register, *, out: Path, email: str = "", request_id: str = "",
                   subjects: list[str] | None = None, lang: str = "nl", received: dt.date | str | None = None,
                   zip: bool = False, encrypt: bool = False, pdf: bool = True, draft: bool = False,
                   analytics: dict[str, str] | None = None) -> Answer:
    """Answer an access (or portability) request with its package in the new folder ``out``.
    ``analytics`` is the web analytics client id (``ga_client_id``: the analytics cookie's value
    or its last two parts) and/or user id (``ga_user_id``) the requester gave, searched too.

    Without ``request_id`` an access request from ``email`` is registered first. The subject is
    the one whose records hold exactly the request's e-mail address
    (:func:`workbench.rights.package.subjects_for`); when several do, or none, the analyst looks at the
    candidates (:func:`workbench.datamap.linkage.find`) and passes ``subjects``."""
    request = open_request(ws, request_id=request_id, email=email, received=received)
    email = request.pop("email")
    candidates = linkage.find(ws, email=email)
    chosen = list(subjects) if subjects else package.subjects_for(ws, email)
    if not chosen:
        raise WorkbenchError(f"no subject holds the e-mail address of request {request['id']}; look "
                             "further with linkage.find (name, IBAN, phone) and pass the subjects")
    result = package.write_package(
        ws, register, subject_ids=chosen, out=Path(out), request=request,
        identities={"e-mail": email, **(analytics or {})}, lang=lang,
        portability=request["type"] == "portability", zip=zip or encrypt, encrypt=encrypt, pdf=pdf,
        draft=draft, name=request.pop("name", None))
    return Answer(request=request, email=email, candidates=candidates, subjects=chosen, package=result)


def draft_package(ws: Workspace, register: Register, *, email: str, out: Path,
                  subjects: list[str] | None = None, lang: str = "nl", portability: bool = False,
                  zip: bool = False, encrypt: bool = False,
                  analytics: dict[str, str] | None = None) -> package.PackageResult:
    """A package for the subject with this e-mail address outside the request register: always a
    draft, since no registered request stands behind it."""
    chosen = subjects or package.subjects_for(ws, email)
    if not chosen:
        raise WorkbenchError("no subject holds this e-mail address; look further with 'workbench "
                             "find' (name, IBAN, phone) and pass --subject")
    return package.write_package(ws, register, subject_ids=chosen, out=Path(out),
                                 identities={"e-mail": email, **(analytics or {})}, lang=lang,
                                 portability=portability, zip=zip or encrypt, encrypt=encrypt, draft=True)


def answerable(ws: Workspace, request_id: str) -> dict:
    """The register's request when a package may go out for it: an access or portability request,
    open, whose requester's identity check passed; else a clear refusal."""
    row, _, _ = requests.show(ws, request_id.strip())
    if row["type"] not in PACKAGE_TYPES:
        raise WorkbenchError(f"request {row['request_id']} is a {row['type']} request, not access or "
                             "portability")
    if row["status"] in requests.CLOSED:
        raise WorkbenchError(f"request {row['request_id']} is {row['status']}")
    if row.get("verify_outcome") != "passed":
        raise WorkbenchError(f"the requester's identity of {row['request_id']} is not verified: record "
                             "the check first ('workbench request update --verify ...')")
    return row


def encrypted_package(ws: Workspace, register: Register, subject_id: str, request_id: str,
                      reports: Path, lang: str = "nl") -> package.PackageResult:
    """The access package of one subject for a registered, verified request, as an AES-256 zip
    under ``reports/dashboard-packages/``; no plain copy stays."""
    row = answerable(ws, request_id)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    out = Path(reports) / ENCRYPTED_PACKAGES / f"{stamp}-{row['request_id']}"
    result = answer_request(ws, register, out=out, request_id=row["request_id"], subjects=[subject_id],
                            lang=lang, encrypt=True).package
    if result.zip_path is None:
        raise WorkbenchError(f"the package in {result.out} lists cells to redact first; no zip was made")
    return result


def request_subjects(ws: Workspace, request_id: str, types: tuple[str, ...],
                     subjects: list[str] | None = None) -> tuple[dict, list[str]]:
    """The request of the register (of one of ``types``) and the subjects it is about: ``subjects``
    when given, else those holding the requester's e-mail address."""
    row, _, _ = requests.show(ws, request_id)
    if row["type"] not in types:
        raise WorkbenchError(f"request {request_id} is a {row['type']} request; this command is for "
                             f"{' / '.join(types)} requests")
    if subjects:
        return row, subjects
    if not row.get("email"):
        raise WorkbenchError(f"request {request_id} keeps no e-mail address any more; pass --subject")
    found = package.subjects_for(ws, row["email"])
    if not found:
        raise WorkbenchError("no subject holds the requester's e-mail address; look further with "
                             "'workbench find' (name, IBAN, phone) and pass --subject")
    return row, found


def note(ws: Workspace, row: dict, text: str) -> bool:
    """A note in the request's history while the request is open; False when it is closed."""
    if row["status"] in requests.CLOSED:
        return False
    requests.update(ws, row["request_id"], note=text)
    return True


@contextmanager
def _written_list(ws: Workspace, frame: pd.DataFrame, out: Path | None) -> Iterator[dict[str, str]]:
    """A plan or to-do list as CSV when asked: written to a temporary file, its name and hash given
    to the audit entry made in the block, and moved into place only once that entry is written."""
    if not out:
        yield {}
        return
    final = Path(out)
    temp = final.with_name(f".{final.name}.partial-{secrets.token_hex(4)}")
    with ws.staging(temp):
        erasure.write_plan(frame, temp)
        yield {final.name: sha256_file(temp)}
        os.replace(temp, final)


@dataclass
class Erasure:
    """An erasure request's plan (``None`` when a purge was finished before), where its CSV was
    written, the purge carried out and whether the request's history took a note of it."""

    request_id: str
    subjects: list[str]
    plan: pd.DataFrame | None = None
    written: Path | None = None
    purge: erasure.PurgeResult | None = None
    noted: bool = False


def erase(ws: Workspace, register: Register, request_id: str, *, subjects: list[str] | None = None,
          today: dt.date | None = None, out: Path | None = None, execute: bool = False) -> Erasure:
    """Plan an erasure request, log the plan (and write it to ``out``) and, when ``execute``,
    purge the workspace and note it in the request's history. A purge finished before (after a
    crash, say) is returned as it is, and nothing is planned again."""
    done = erasure.purged(ws, request_id) if execute else None
    if done is not None:
        return Erasure(request_id, [], purge=done)
    row, subjects = request_subjects(ws, request_id, ("erasure",), subjects)
    frame = erasure.plan(ws, register, request_id, subject_ids=subjects, today=today)
    with _written_list(ws, frame, out) as files:
        erasure.log_plan(ws, frame, request_id, files)
    result = Erasure(request_id, subjects, frame, Path(out) if out else None)
    if execute:
        purged = result.purge = erasure.purge(ws, register, subjects, request_id, today=today)
        result.noted = note(ws, row, f"workspace purged: {sum(purged.removed.values())} rows removed, "
                                     f"{purged.held} records held until at most {purged.held_until}")
    return result


@dataclass
class Todo:
    """The per-system to-do list of a rectification, restriction or objection request."""

    request_id: str
    type: str
    subjects: list[str]
    steps: pd.DataFrame
    written: Path | None = None
    noted: bool = False


def rights_todo(ws: Workspace, register: Register, request_id: str, *, subjects: list[str] | None = None,
                out: Path | None = None) -> Todo:
    """The request's to-do list, recorded in the audit log (with the list's hash) and noted in the
    request's history; written to ``out`` as CSV when given."""
    row, subjects = request_subjects(ws, request_id, erasure.TODO_TYPES, subjects)
    frame = erasure.rights_todo(ws, register, row["type"], subject_ids=subjects)
    digest = erasure.frame_digest(frame)
    with _written_list(ws, frame, out) as files:
        trail.record(ws, "rights-todo", request_id=request_id, files=files,
                     details={"type": row["type"], "subjects": len(subjects), "steps": len(frame),
                              "list_sha256": digest})
    return Todo(request_id, row["type"], subjects, frame, Path(out) if out else None,
                note(ws, row, erasure.todo_note(row["type"], frame, digest)))


def write_letter(ws: Workspace, register: Register, request_id: str, kind: str, out: Path, *,
                 subjects: list[str] | None = None, lang: str = "nl", draft: bool = False,
                 today: dt.date | None = None, **details):
    """The letter ``kind`` for the request, registered on it; an erasure letter states the plan
    and what is kept of each field, so the plan is drawn up for it first."""
    if kind == "erasure":
        _, subjects = request_subjects(ws, request_id, ("erasure",), subjects)
        plan = erasure.plan(ws, register, request_id, subject_ids=subjects, today=today)
        details.update(plan=plan, fields=erasure.field_plan(ws, register, plan, today=today))
    return letters.write(ws, register, request_id, kind, Path(out), lang=lang, draft=draft, today=today,
                         **details)

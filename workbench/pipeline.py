"""The main job, end to end: exports in ``data/`` -> workspace -> subjects -> data map in
``reports/`` -> one answered access request. The command line and the notebooks both run it from
here."""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from workbench import datamap, demo, erasure, letters, linkage, mail, package, render, requests
from workbench import register as registry
from workbench.demo import analytics as demo_analytics
from workbench.errors import WorkbenchError
from workbench.register import Register
from workbench.safe_files import owner_only
from workbench.workspace import ImportResult, Workspace

DEMO_REQUEST = "demo-request"  # the folder under reports/ that `workbench demo` writes its package to
DEMO_LETTERS = "demo-letters"  # and the other letters of its request history
# The systems without an export: in the demo the analyst searched them by hand and found nothing.
DEMO_MANUAL_SEARCH = "niets gevonden"
PACKAGE_TYPES = ("access", "portability")
# The demo's request history: (type, received this many days before the demo's today, answered
# this many days after receipt or None while open, what else happened). Most are answered on time;
# one late, one extended, one overdue, one erasure carried out and anonymised, one from last year.
DEMO_HISTORY = (
    ("access", 400, 21, ""),
    ("rectification", 240, 40, ""),  # answered after the deadline
    ("access", 200, 15, ""),
    ("portability", 150, 22, ""),
    ("access", 120, 25, ""),
    ("erasure", 100, 20, "purge"),  # planned, purged from the workspace, anonymised in the register
    ("restriction", 70, 12, ""),
    ("objection", 60, 10, ""),
    ("objection", 45, None, ""),  # verified, never answered: overdue
    ("access", 40, None, "extend"),  # extended by two months, told within the first term
)
EXTENSION_REASON = "records in four systems and an archive to search (complexity, Art. 12(3))"


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


@dataclass
class Run:
    workspace: Workspace
    imported: list[ImportResult]
    linked: linkage.LinkReport
    datamap: list[Path]
    request: Answer | None = field(default=None)  # the demo's answered access request
    story: list[tuple[str, str, Path]] = field(default_factory=list)  # (request, letter kind, file) sent
    history: list[str] = field(default_factory=list)  # ids of the demo's earlier requests
    annual: list[Path] = field(default_factory=list)  # the annual report's files
    mail: list[mail.MailImport] = field(default_factory=list)  # the mailboxes imported


def run(files: list[Path], workspace: Workspace, reports: Path, register_dir: Path | None = None) -> Run:
    """Import the exports, link parties into subjects, and write the data map."""
    mailboxes = [f for f in files if mail.is_mail(f)]  # streamed into the mail index
    imported = workspace.import_files([f for f in files if f not in mailboxes])
    mailed = [mail.import_mail(workspace, f) for f in mailboxes]
    linked = linkage.link(workspace)
    written = datamap.write(workspace, registry.load(register_dir), Path(reports) / "datamap.xlsx")
    return Run(workspace, imported, linked, written, mail=mailed)


def run_demo(exports: Path, workspace: Workspace, reports: Path, seed: int = 2026,
             clients: int = 300, register_dir: Path | None = None, answer: bool = True,
             annual: bool = True) -> Run:
    """The main job on the seeded demo business: a request history for the year
    (:func:`demo_history`, into an empty register only), then (unless ``answer`` is false) one demo
    client's access request answered: its package is written to ``reports/demo-request/``,
    replacing the previous one. Running it again answers the same open request again. Unless
    ``annual`` is false, the year's annual compliance report follows in ``reports/annual-<year>/``."""
    out = Path(reports) / DEMO_REQUEST
    if answer and (out.is_symlink() or (out.exists() and not out.is_dir())):
        raise WorkbenchError(f"{out} is not a folder; move it away so the demo can write its package there")
    with owner_only():  # the demo's people are invented, but its files look like the real thing
        files = demo.write(Path(exports), seed=seed, clients=clients)
        files += demo.write_mail(Path(exports), seed=seed, clients=clients)
    done = run(files, workspace, reports, register_dir)
    register = registry.load(register_dir)
    done.history = demo_history(workspace, register, seed, clients)
    if answer:
        if out.exists():
            shutil.rmtree(out)  # write_package wants a new folder; this one is the demo's own
        email = demo_client(seed, clients).person.email
        request_id = _request_of(workspace, email)
        if request_id:  # answered before: written again as a draft, nothing is sent twice
            done.request = answer_request(workspace, register, email=email, request_id=request_id, out=out,
                                          draft=True)
        else:
            done.request, done.story = demo_story(workspace, register, email, out,
                                                  Path(reports) / DEMO_LETTERS, seed, clients)
    if annual:
        year = demo.TODAY.year
        done.annual = render.annual_report(workspace.path, year, Path(reports) / f"annual-{year}",
                                           register_dir=register_dir)
    return done


def demo_history(ws: Workspace, register: Register, seed: int = 2026, clients: int = 300,
                 today: date = demo.TODAY) -> list[str]:
    """Register :data:`DEMO_HISTORY` for ordinary demo clients (never the one whose request the
    demo answers), dated before the demo's ``today``, so the request tracker and the annual report
    have a year to show. Only into an empty register: running the demo again adds nothing.
    Returns the request ids."""
    if not requests.listing(ws, include_closed=True).empty:
        return []
    business = demo.build(seed, clients)
    answered = demo_client(seed, clients).number
    ordinary = sorted((c for c in business.clients
                       if c.kind == "consumer" and not c.flags and c.number != answered),
                      key=lambda c: c.number)
    erased = next(c for c in ordinary if len(c.services) == 1)  # the smallest footprint to purge
    others = iter(c for c in ordinary if c is not erased)
    ids = []
    for kind, ago, took, what in DEMO_HISTORY:
        client = erased if what == "purge" else next(others)
        received = today - timedelta(days=ago)
        request_id = requests.new(ws, type=kind, email=client.person.email, received=received,
                                  today=today).request_id
        requests.update(ws, request_id, verify="known_email:passed", verified=received + timedelta(days=2),
                        today=today)
        if what == "extend":
            requests.update(ws, request_id, extend_reason=EXTENSION_REASON,
                            told=received + timedelta(days=10), today=today)
        if took is not None:
            responded = received + timedelta(days=took)
            if what == "purge":
                _erase(ws, register, request_id, client.person.email, responded)
            requests.update(ws, request_id, status="completed", responded=responded, today=today)
        ids.append(request_id)
    return ids


def _erase(ws: Workspace, register: Register, request_id: str, email: str, on: date) -> None:
    """An erasure carried out: the plan logged, the subject purged from the workspace."""
    subjects = package.subjects_for(ws, email)
    erasure.log_plan(ws, erasure.plan(ws, register, request_id, subject_ids=subjects, today=on), request_id)
    erasure.purge(ws, register, subjects, request_id, today=on)


def _request_of(ws: Workspace, email: str) -> str:
    """The id of the demo's access request from this e-mail address, answered or not, so that
    running the demo again does not register a duplicate; "" when there is none."""
    every = requests.listing(ws, include_closed=True)
    for request_id in every[every.type == "access"].request_id:
        row, _, _ = requests.show(ws, request_id)
        if row.get("email") and requests.normal_email(row["email"]) == requests.normal_email(email):
            return request_id
    return ""


def _searched_by_hand(ws: Workspace, register: Register, request_id: str) -> None:
    """The demo analyst's searches of the systems without an export, recorded on the request."""
    imported = set(ws.query("SELECT DISTINCT service FROM imports")["service"])
    for system in letters.client_systems(register):
        if system not in imported:
            requests.record_search(ws, request_id, system=system, result=DEMO_MANUAL_SEARCH)


def _decide_redactions(folder: Path) -> None:
    """The demo analyst redacts every cell the package lists as someone else's data."""
    for item in package.redaction_todo(folder):
        package.redact(folder, item["table"], int(item["row"]), item["column"],
                       "personal data of someone other than the client (Art. 15(4))")


def demo_story(ws: Workspace, register: Register, email: str, out: Path, folder: Path, seed: int = 2026,
               clients: int = 300) -> tuple[Answer, list[tuple[str, str, Path]]]:
    """Today's requests, each answered with its letters and each letter sent through the gates:
    the demo client's access request (receipt, identity check, searches, the package with its
    letter and annex, redactions), another client's erasure request (receipt, plan, purge, the
    confirmation of what was deleted and what is kept until when) and a request whose requester
    could not be identified (receipt, failed check, refusal with both remedies)."""
    if folder.exists():
        shutil.rmtree(folder)  # the demo's own folder of letters
    sent: list[tuple[str, str, Path]] = []

    def letter(request_id: str, kind: str, **details) -> None:
        written = letters.write(ws, register, request_id, kind, folder, **details)
        letters.send(ws, register, request_id, written.html)
        sent.append((request_id, kind, written.html))

    access = requests.new(ws, type="access", email=email).request_id
    letter(access, "receipt")
    requests.verify(ws, access, method="known_email", outcome="passed")
    _searched_by_hand(ws, register, access)
    # the client sent the value of the website's _ga cookie with the request: Analytics is searched too
    client = demo_client(seed, clients)
    cookie = "GA1.1." + demo_analytics.client_id(demo.build(seed, clients), client)
    answered = answer_request(ws, register, email=email, request_id=access, out=out,
                              analytics={"ga_client_id": cookie})
    _decide_redactions(out)
    letters.send(ws, register, access, out)
    sent.append((access, "access", out / "index.html"))

    other = demo_client(seed, clients, nth=1).person.email
    erase = requests.new(ws, type="erasure", email=other).request_id
    letter(erase, "receipt")
    requests.verify(ws, erase, method="known_email", outcome="passed")
    _searched_by_hand(ws, register, erase)
    subjects = package.subjects_for(ws, other)
    plan = erasure.plan(ws, register, erase, subject_ids=subjects)
    fields = erasure.field_plan(ws, register, plan)
    erasure.log_plan(ws, plan, erase)
    erasure.purge(ws, register, subjects, erase)
    letter(erase, "erasure", plan=plan, fields=fields)

    stranger = requests.new(ws, type="access", email=f"onbekend.{seed}@example.org").request_id
    letter(stranger, "receipt")
    requests.verify(ws, stranger, method="id_document", outcome="failed")
    letter(stranger, "refusal", grounds=["identity"])
    return answered, sent


def demo_workspace(folder: Path | None = None, answer: bool = True) -> Run:
    """The demo business imported, linked and mapped, with its request history, in a folder of its
    own (a temporary one by default), for notebooks and exploration that must not touch the user's
    workspace. Its demo access request is answered in ``reports/demo-request/`` there, unless
    ``answer`` is false. No annual report: the report's notebook runs on this."""
    folder = Path(folder or tempfile.mkdtemp(prefix="workbench-demo-"))
    return run_demo(folder / "exports", Workspace(folder / "workspace"), folder / "reports", answer=answer,
                    annual=False)


def demo_client(seed: int = 2026, clients: int = 300, nth: int = 0) -> demo.Client:
    """The demo client whose request the demo answers (``nth`` picks another): always the same one
    for a seed, an ordinary consumer (none of the namesake, household or moved traps) known in
    several systems."""
    business = demo.build(seed, clients)
    ordinary = sorted((c for c in business.clients
                       if c.kind == "consumer" and not c.flags and len(c.services) >= 3),
                      key=lambda c: c.number)
    if len(ordinary) <= nth:
        raise WorkbenchError("the demo business has too few ordinary consumers in several systems")
    return ordinary[nth]


def open_request(ws: Workspace, *, request_id: str = "", email: str = "", type: str = "access",
                 received: date | str | None = None) -> dict:
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
                   subjects: list[str] | None = None, lang: str = "nl", received: date | str | None = None,
                   zip: bool = False, encrypt: bool = False, pdf: bool = True, draft: bool = False,
                   analytics: dict[str, str] | None = None) -> Answer:
    """Answer an access (or portability) request with its package in the new folder ``out``.
    ``analytics`` is the Google Analytics client id (``ga_client_id``: the ``_ga`` cookie's value
    or its last two parts) and/or user id (``ga_user_id``) the requester gave, searched too.

    Without ``request_id`` an access request from ``email`` is registered first. The subject is
    the one whose records hold exactly the request's e-mail address
    (:func:`workbench.package.subjects_for`); when several do, or none, the analyst looks at the
    candidates (:func:`workbench.linkage.find`) and passes ``subjects``."""
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

"""The main job, end to end: exports in ``data/`` -> workspace -> subjects -> data map in
``reports/`` -> one answered access request. The command line and the notebooks both run it from
here."""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from workbench import datamap, demo, linkage, package, requests
from workbench import register as registry
from workbench.errors import WorkbenchError
from workbench.register import Register
from workbench.safe_files import owner_only
from workbench.workspace import ImportResult, Workspace

DEMO_REQUEST = "demo-request"  # the folder under reports/ that `workbench demo` writes its package to
PACKAGE_TYPES = ("access", "portability")


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


def run(files: list[Path], workspace: Workspace, reports: Path, register_dir: Path | None = None) -> Run:
    """Import the exports, link parties into subjects, and write the data map."""
    imported = workspace.import_files(files)
    linked = linkage.link(workspace)
    written = datamap.write(workspace, registry.load(register_dir), Path(reports) / "datamap.xlsx")
    return Run(workspace, imported, linked, written)


def run_demo(exports: Path, workspace: Workspace, reports: Path, seed: int = 2026,
             clients: int = 300, register_dir: Path | None = None, answer: bool = True) -> Run:
    """The main job on the seeded demo business, ending (unless ``answer`` is false) with one demo
    client's access request answered: its package is written to ``reports/demo-request/``,
    replacing the previous one. Running it again answers the same open request again."""
    out = Path(reports) / DEMO_REQUEST
    if answer and (out.is_symlink() or (out.exists() and not out.is_dir())):
        raise WorkbenchError(f"{out} is not a folder; move it away so the demo can write its package there")
    with owner_only():  # the demo's people are invented, but its files look like the real thing
        files = demo.write(Path(exports), seed=seed, clients=clients)
    done = run(files, workspace, reports, register_dir)
    if not answer:
        return done
    if out.exists():
        shutil.rmtree(out)  # write_package wants a new folder; this one is the demo's own
    email = demo_client(seed, clients).person.email
    open_ones = requests.listing(workspace)
    request_id = _open_request_of(workspace, open_ones, email)
    done.request = answer_request(workspace, registry.load(register_dir), email=email,
                                  request_id=request_id, out=out)
    return done


def _open_request_of(ws: Workspace, open_ones: pd.DataFrame, email: str) -> str:
    """The id of an open access request from this e-mail address, so that running the demo again
    answers the same request instead of registering a duplicate each time; "" when there is none."""
    for request_id in open_ones[open_ones.type == "access"].request_id:
        row, _, _ = requests.show(ws, request_id)
        if requests.normal_email(row.get("email") or "") == requests.normal_email(email):
            return request_id
    return ""


def demo_workspace(folder: Path | None = None, answer: bool = True) -> Run:
    """The demo business imported, linked and mapped in a folder of its own (a temporary one by
    default), for notebooks and exploration that must not touch the user's workspace. Its demo
    access request is answered in ``reports/demo-request/`` there, unless ``answer`` is false."""
    folder = Path(folder or tempfile.mkdtemp(prefix="workbench-demo-"))
    return run_demo(folder / "exports", Workspace(folder / "workspace"), folder / "reports", answer=answer)


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
            "due": str(requests.current_due(row)), "email": row["email"]}


def answer_request(ws: Workspace, register: Register, *, out: Path, email: str = "", request_id: str = "",
                   subjects: list[str] | None = None, lang: str = "nl", received: date | str | None = None,
                   zip: bool = False, encrypt: bool = False, pdf: bool = True) -> Answer:
    """Answer an access (or portability) request with its package in the new folder ``out``.

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
        ws, register, subject_ids=chosen, out=Path(out), request=request, identities={"e-mail": email},
        lang=lang, portability=request["type"] == "portability", zip=zip or encrypt, encrypt=encrypt,
        pdf=pdf)
    return Answer(request=request, email=email, candidates=candidates, subjects=chosen, package=result)

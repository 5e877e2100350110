"""The demo business's year of requests, told through the same application services an analyst
uses: a history of earlier requests (answered on time, late, extended, overdue, one erasure carried
out), then today's: one client's access request answered with its package, another client's
erasure request carried out, and a requester who could not be identified refused. ``workbench
demo`` plays it after importing the demo's exports (:func:`workbench.pipeline.run_demo`)."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

from workbench import demo
from workbench.demo import analytics as demo_analytics
from workbench.errors import WorkbenchError
from workbench.reference.register import Register
from workbench.rights import answers, erasure, letters, package, requests
from workbench.store.workspace import Workspace

DEMO_REQUEST = "demo-request"  # the folder under reports/ that `workbench demo` writes its package to
DEMO_LETTERS = "demo-letters"  # and the other letters of its request history
# The systems without an export: in the demo the analyst searched them by hand and found nothing.
DEMO_MANUAL_SEARCH = "niets gevonden"
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

Sent = list[tuple[str, str, Path]]  # (request id, letter kind, the letter's file), as sent


def request_folder(reports: Path) -> Path:
    """Where the demo writes its package; refused up front when something else is in the way."""
    out = Path(reports) / DEMO_REQUEST
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise WorkbenchError(f"{out} is not a folder; move it away so the demo can write its package there")
    return out


def play(ws: Workspace, register: Register, reports: Path, seed: int = 2026, clients: int = 300,
         answer: bool = True) -> tuple[list[str], answers.Answer | None, Sent]:
    """The history (into an empty register only), then, unless ``answer`` is false, today's
    requests; run again, the demo client's access request is written again as a draft into
    ``reports/demo-request/``, and nothing is sent twice. Returns the history's request ids, the
    answered access request and the letters sent."""
    history = demo_history(ws, register, seed, clients)
    if not answer:
        return history, None, []
    out = request_folder(reports)
    if out.exists():
        shutil.rmtree(out)  # write_package wants a new folder; this one is the demo's own
    email = demo_client(seed, clients).person.email
    request_id = _request_of(ws, email)
    if request_id:
        return history, answers.answer_request(ws, register, email=email, request_id=request_id, out=out,
                                               draft=True), []
    answered, sent = demo_story(ws, register, email, out, Path(reports) / DEMO_LETTERS, seed, clients)
    return history, answered, sent


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
        ids.append(_past_request(ws, register, kind, client.person.email, today - timedelta(days=ago),
                                 took, what, today))
    return ids


def _past_request(ws: Workspace, register: Register, kind: str, email: str, received: date,
                  took: int | None, what: str, today: date) -> str:
    """One request of the history: verified two days after receipt, extended or carried out as
    ``what`` says, completed ``took`` days after receipt unless it is still open."""
    request_id = requests.new(ws, type=kind, email=email, received=received, today=today).request_id
    requests.update(ws, request_id, verify="known_email:passed", verified=received + timedelta(days=2),
                    today=today)
    if what == "extend":
        requests.update(ws, request_id, extend_reason=EXTENSION_REASON,
                        told=received + timedelta(days=10), today=today)
    if took is not None:
        responded = received + timedelta(days=took)
        if what == "purge":
            answers.erase(ws, register, request_id, subjects=package.subjects_for(ws, email), today=responded,
                          execute=True)
        requests.update(ws, request_id, status="completed", responded=responded, today=today)
    return request_id


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
               clients: int = 300) -> tuple[answers.Answer, Sent]:
    """Today's requests, each answered with its letters and each letter sent through the gates:
    the demo client's access request (receipt, identity check, searches, the package with its
    letter and annex, redactions), another client's erasure request (receipt, plan, purge, the
    confirmation of what was deleted and what is kept until when) and a request whose requester
    could not be identified (receipt, failed check, refusal with both remedies)."""
    if folder.exists():
        shutil.rmtree(folder)  # the demo's own folder of letters
    sent: Sent = []

    def letter(request_id: str, kind: str, **details) -> None:
        written = letters.write(ws, register, request_id, kind, folder, **details)
        letters.send(ws, register, request_id, written.html)
        sent.append((request_id, kind, written.html))

    def received(kind: str, email: str, method: str = "known_email", outcome: str = "passed") -> str:
        request_id = requests.new(ws, type=kind, email=email).request_id
        letter(request_id, "receipt")
        requests.verify(ws, request_id, method=method, outcome=outcome)
        return request_id

    access = received("access", email)
    _searched_by_hand(ws, register, access)
    # the client sent the value of the website's _ga cookie with the request: Analytics is searched too
    cookie = "GA1.1." + demo_analytics.client_id(demo.build(seed, clients), demo_client(seed, clients))
    answered = answers.answer_request(ws, register, email=email, request_id=access, out=out,
                                      analytics={"ga_client_id": cookie})
    _decide_redactions(out)
    letters.send(ws, register, access, out)
    sent.append((access, "access", out / "index.html"))

    other = demo_client(seed, clients, nth=1).person.email
    erase = received("erasure", other)
    _searched_by_hand(ws, register, erase)
    done = answers.erase(ws, register, erase, subjects=package.subjects_for(ws, other), execute=True)
    letter(erase, "erasure", plan=done.plan, fields=erasure.field_plan(ws, register, done.plan))

    stranger = received("access", f"onbekend.{seed}@example.org", method="id_document", outcome="failed")
    letter(stranger, "refusal", grounds=["identity"])
    return answered, sent


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

"""Letters to the client, one for every outcome of a request, and the gates before one is sent.

Every letter is a Jinja template in ``workbench/templates/letters/`` (``<kind>.html.j2`` extends
``base.html.j2``: letterhead, addressee, date, reference, subject, salutation, closing and the
privacy contact's signature), with its texts in a reviewed data file per language
(``workbench/config/letters/nl.toml``, ``en.toml``), validated on load: both files have the same
keys, every value is text. Dates are written out in the letter's language with Babel ("3 december
2026"). A letter is written as HTML and PDF (WeasyPrint, offline) and registered on its request
(kind, language, date, SHA-256; never its text).

The kinds (:data:`KINDS`): ``receipt``, ``clarification`` (more information or identification),
``extension`` (Art. 12(3)), ``refusal`` (whole or partial, with reasons and both remedies: the
Autoriteit Persoonsgegevens and the court, Art. 12(4), 79), ``no_data``, ``access`` and
``portability`` (written by :mod:`workbench.rights.package` with their annex), ``erasure`` (what was
deleted, what is kept, why and until when, from the erasure plan), ``rectification``,
``restriction``, ``objection`` (processing stopped while the objection is assessed, as the policy
promises), ``restriction_lift`` (Art. 18(3)) and ``recipient_notice`` (Art. 19, to a recipient).

**Gates that stop** (:func:`blockers`): a letter is not written as final, and not marked sent,
while the requester's identity is unverified (receipt and clarification aside, and a refusal
because the identity could not be established), while a client system has no recorded search
for the request, while a third-party redaction of the package is pending, or while imports
are newer than the last link. ``draft=True`` writes a watermarked draft without the gates; a draft
cannot be sent. :func:`send` checks the gates again and records the letter's date as the sent
date, and, for a letter that answers the request, as the responded date, so the register and the
letter agree.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated

import pandas as pd
from babel.dates import format_date
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from pydantic import ConfigDict, Discriminator, RootModel, StrictStr, Tag

from workbench.configuration import ConfigError, load
from workbench.datamap import linkage
from workbench.errors import WorkbenchError
from workbench.reference.register import Register
from workbench.rights import requests
from workbench.store.safe_files import owner_only, sha256_file, write_pdf
from workbench.store.workspace import Workspace

LANGUAGES = ("nl", "en")
CLIENT_SUBJECTS = frozenset({"customer"})  # the data subjects a client request is about


@dataclass(frozen=True)
class Kind:
    """What a kind of letter does to its request and which gates it passes."""

    action: str  # the operation of requests.TRANSITIONS it is sent under
    closes: str | None = None  # "completed" or "refused" when sending it answers the request
    outcome: str | None = None  # the outcome it records when it completes the request
    identity: bool = True  # needs a verified identity
    searched: bool = False  # needs a search of every client system
    workspace: bool = False  # reads the workspace's data: needs links newer than the imports


KINDS: dict[str, Kind] = {
    "receipt": Kind("send", identity=False),
    "clarification": Kind("send", identity=False),
    "extension": Kind("send"),
    "refusal": Kind("send", closes="refused"),
    "no_data": Kind("send", closes="completed", outcome="no_data", searched=True, workspace=True),
    "access": Kind("send", closes="completed", outcome="granted", searched=True, workspace=True),
    "portability": Kind("send", closes="completed", outcome="granted", searched=True, workspace=True),
    "erasure": Kind("send", closes="completed", outcome="granted", searched=True, workspace=True),
    "rectification": Kind("send", closes="completed", outcome="granted"),
    "restriction": Kind("send", closes="completed", outcome="granted"),
    "objection": Kind("send"),
    "restriction_lift": Kind("notify"),
    "recipient_notice": Kind("notify"),
}
REFUSAL_GROUNDS = ("identity", "unfounded", "excessive", "others", "retention")
RECIPIENT_ACTIONS = ("rectification", "erasure", "restriction")


class LetterError(WorkbenchError):
    """A letter that cannot be written or sent as asked."""


# --------------------------------------------------------------------------------------------
# texts


def _shape(value: object) -> str:
    return "table" if isinstance(value, dict) else "list" if isinstance(value, list) else "text"


# a letter's word: a text, a list of texts (paragraphs) or a table of texts (one per key)
Word = Annotated[Annotated[StrictStr, Tag("text")] | Annotated[list[StrictStr], Tag("list")]
                 | Annotated[dict[str, StrictStr], Tag("table")], Discriminator(_shape)]


class LetterTexts(RootModel[dict[str, dict[str, Word]]]):
    """One language's letter texts: per part of a letter (``[receipt]``, ``[common]``), its words."""

    model_config = ConfigDict(frozen=True, strict=True)


def _tree(value: object, where: str = "") -> dict[str, str]:
    """key path -> kind of value (text, list or table), for comparing the language files."""
    if isinstance(value, dict):
        return {k: v for key, sub in value.items()
                for k, v in _tree(sub, f"{where}.{key}".strip(".")).items()}
    return {where: "a list of texts" if isinstance(value, list) else "a text"}


def _folder(folder: Path | None):
    return Path(folder) if folder else resources.files("workbench") / "config" / "letters"


@cache
def _load_all(folder: Path | None = None) -> dict[str, dict]:
    """Both languages' texts, validated; every problem of both files in one :class:`ConfigError`."""
    root = _folder(folder)
    loaded, found = {}, []
    for lang in LANGUAGES:
        try:
            loaded[lang] = load(Path(str(root / f"{lang}.toml")), LetterTexts).root
        except ConfigError as exc:
            found += exc.problems
    if found:
        raise ConfigError(found)
    reference = _tree(loaded["nl"])
    for lang, data in loaded.items():
        found += _differences(f"{root}/{lang}.toml", _tree(data), reference)
    if found:
        raise ConfigError(found)
    return loaded


def _differences(file: str, tree: dict[str, str], reference: dict[str, str]) -> list[str]:
    """Where a language file's keys or kinds of value differ from nl.toml's."""
    return ([f"{file}: {key}: missing (nl.toml has it)" for key in sorted(reference.keys() - tree.keys())]
            + [f"{file}: {key}: not in nl.toml" for key in sorted(tree.keys() - reference.keys())]
            + [f"{file}: {key}: must be {reference[key]} like nl.toml" for key, kind in tree.items()
               if key in reference and kind != reference[key]])


def texts(lang: str, folder: Path | None = None) -> dict:
    """The letter texts of ``lang`` (``nl`` or ``en``), validated."""
    if lang not in LANGUAGES:
        raise LetterError(f"lang {lang!r} is not one of {', '.join(LANGUAGES)}")
    return _load_all(folder)[lang]


def long_date(day: dt.date | str | None, lang: str) -> str:
    """A date written out in the letter's language: "3 december 2026", "3 December 2026"."""
    if day is None or day == "":
        return ""
    if isinstance(day, str):
        day = dt.date.fromisoformat(day)
    return format_date(day, format="long", locale=texts(lang)["meta"]["locale"])


# --------------------------------------------------------------------------------------------
# rendering


@cache
def _environment() -> Environment:
    return Environment(loader=PackageLoader("workbench", "templates/letters"), undefined=StrictUndefined,
                       autoescape=select_autoescape(["j2", "html"]), trim_blocks=True, lstrip_blocks=True)


def signer(register: Register) -> str:
    """The privacy contact's name from the register; "" while the register names nobody (a gap
    the analyst sees in :func:`gaps` and in drafts)."""
    return register.controller.privacy_contact.strip()


def gaps(register: Register) -> list[str]:
    """What the register lacks that a letter needs; no personal data."""
    return [] if signer(register) else ["the register names no privacy contact (controller.toml "
                                        "privacy_contact): letters are signed with the firm's name only"]


def base_context(register: Register, request: dict, lang: str, today: dt.date, draft: bool,
                 name: str | None = None, email: str | None = None) -> dict:
    """What every letter shows: firm, addressee, date, reference, salutation, signature."""
    t = texts(lang)
    name = (name or "").strip()
    return {
        "t": t, "lang": lang, "draft": draft, "firm": register.controller, "signer": signer(register),
        "addressee": [line for line in (name, email or "") if line],
        "salutation": (t["common"]["salutation"].format(name=name) if name
                       else t["common"]["salutation_unknown"]),
        "date": long_date(today, lang), "reference": request["id"],
        "received": long_date(request.get("received"), lang),
        "due": long_date(request.get("due"), lang),
        "type": t["common"]["types"].get(request.get("type", ""), ""),
    }


def render(kind: str, context: dict) -> str:
    """The letter ``kind`` as a self-contained HTML page."""
    if kind not in KINDS:
        raise LetterError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    return _environment().get_template(f"{kind}.html.j2").render(kind=kind, **context)


def write_files(html: str, out: Path, stem: str, pdf: bool = True) -> list[Path]:
    """``<stem>.html`` (and ``.pdf``) in ``out``, owner-only."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = out / f"{stem}.html"
    with owner_only():
        path.write_text(html, encoding="utf-8")
    path.chmod(0o600)
    written = [path]
    if pdf:
        written.append(write_pdf(html, out / f"{stem}.pdf"))
    return written


# --------------------------------------------------------------------------------------------
# gates


def client_systems(register: Register) -> list[str]:
    """The systems of the register that hold client data: each needs a search per request."""
    return [key for key in register.systems
            if any(CLIENT_SUBJECTS & set(a.data_subjects) for a in register.activities_for(key))]


def pending_redactions(package: Path) -> int:
    """Cells of the package's to-do list (kept beside the package, not in it) that the analyst has
    neither redacted nor kept with a reason."""
    from workbench.rights import package as packages  # the package module writes letters through this one

    return len(packages.redaction_todo(Path(package)))


def _imported(ws: Workspace) -> bool:
    return ws.exists and bool(ws.query("SELECT count(*) AS n FROM imports")["n"].iloc[0])


def blockers(ws: Workspace, register: Register, row: dict, kind: str, *, package: Path | None = None,
             grounds: tuple[str, ...] = (), systems: dict[str, str] | None = None) -> list[str]:
    """Why the letter ``kind`` may not go out yet; [] when it may. ``systems`` is the search result
    per system as the letter states it (an access letter), else the register's searches count."""
    spec = KINDS[kind]
    found = []
    if spec.identity and row.get("verify_outcome") != "passed" and "identity" not in grounds:
        found.append("the requester's identity is not verified (requests.verify)")
    if spec.searched:
        searched = systems if systems is not None else {
            k: v["result"] for k, v in requests.searches(ws, row["request_id"]).items()}
        missing = [register.systems[s].name for s in client_systems(register) if s not in searched
                   or searched[s] not in requests.SEARCH_RESULTS]
        if missing:
            found.append(f"not searched for this request: {', '.join(missing)} (record each search with "
                         "requests.record_search, then write the letter again)")
    if spec.workspace and _imported(ws):
        stale = linkage.imports_since_link(ws)
        if stale:
            found.append(f"{stale} import(s) came after the last link: link first, then write the "
                         "letter again")
    if package is not None:
        pending = pending_redactions(package)
        if pending:
            found.append(f"{pending} third-party cell(s) of the package still to redact or keep (redact)")
    return found


# --------------------------------------------------------------------------------------------
# what each kind of letter says beyond the common parts


def _lines(value: object) -> list[str]:
    if value is None:
        return []
    items = [value] if isinstance(value, str) else list(value)
    return [str(v).strip() for v in items if str(v).strip()]


def _activity_name(activity, lang: str) -> str:
    return activity.name_en if lang == "en" else activity.name_nl


def _erasure(ws: Workspace, register: Register, row: dict, lang: str, plan: pd.DataFrame | None,
             fields: pd.DataFrame | None) -> dict:
    """Per system what was deleted and what is kept until when, from the erasure plan (and its
    per-field plan when given: the kinds of data kept and deleted, under readable labels)."""
    if plan is None or plan.empty:
        raise LetterError(f"{row['request_id']}: the erasure letter needs the erasure plan (erasure.plan)")
    t = texts(lang)["erasure"]
    label = _labeller(register, lang)
    manual = requests.searches(ws, row["request_id"])
    deleted, kept, nothing = [], [], []
    for system, group in plan.groupby("system", sort=False):
        checks = group[group["action"].eq("check")]
        if not checks.empty:
            service = checks["service"].iloc[0]
            if manual.get(service, {}).get("result") == "found":
                deleted.append(t["deleted_line"].format(system=system, what=t["what"]["other"]))
            else:
                nothing.append(system)
            continue
        per_field = fields[fields["system"].eq(system)] if fields is not None and not fields.empty else None
        gone = _categories(per_field, "delete_now", label) if per_field is not None else ""
        what_gone = gone or (t["what"]["profile"] if group["action"].eq("delete").any() else "")
        if group["action"].eq("delete").any() or gone:
            deleted.append(t["deleted_line"].format(system=system, what=what_gone))
        held = group[group["action"].isin(["retain", "anonymise"]) & group["until"].notna()]
        if not held.empty:
            keep = _categories(per_field, "keep_restricted", label) if per_field is not None else ""
            what = keep or t["what"]["document" if held["action"].eq("retain").any() else "blocked"]
            until = long_date(pd.Timestamp(held["until"].max()).date(), lang)
            kept.append(t["kept_line"].format(system=system, what=what, until=until))
    return {"deleted": deleted, "kept": kept, "nothing": ", ".join(nothing)}


def _categories(fields: pd.DataFrame, action: str, label) -> str:
    chosen = fields[fields["action"].eq(action) & fields["category"].notna()]
    return ", ".join(dict.fromkeys(label(c) for c in chosen["category"]))


def _labeller(register: Register, lang: str):
    def label(key: str) -> str:
        category = register.categories.get(key)
        if category is None:
            return key
        return (category.label_en if lang == "en" else category.label_nl).lower()
    return label


def _record_plan_searches(ws: Workspace, row: dict, plan: pd.DataFrame, today: dt.date) -> None:
    """The erasure plan's search of every imported system, recorded on the request (once)."""
    done = requests.searches(ws, row["request_id"])
    imported = set(ws.query("SELECT DISTINCT service FROM imports")["service"])
    held = set(plan.loc[plan["action"].ne("check"), "service"])
    for system in sorted(imported - set(done)):
        requests.record_search(ws, row["request_id"], system=system, method="automatic", today=today,
                               result="found" if system in held else "not_found", on=today,
                               query="the records of the request's subjects in the erasure plan")


def details_of(ws: Workspace, register: Register, row: dict, kind: str, lang: str, *,
               plan: pd.DataFrame | None = None, **given) -> dict:
    """The context the template of ``kind`` needs beyond :func:`base_context`."""
    if kind == "erasure":
        return _erasure(ws, register, row, lang, plan, given.get("fields"))
    detail = _DETAILS.get(kind)
    return detail(register, row, lang, given) if detail else {}


def _clarification(register: Register, row: dict, lang: str, given: dict) -> dict:
    questions = _lines(given.get("questions"))
    identity = bool(given.get("identity", row.get("verify_outcome") != "passed"))
    if not questions and not identity:
        raise LetterError("a clarification letter needs questions or identity=True")
    return {"questions": questions, "identity": identity}


def _extension(register: Register, row: dict, lang: str, given: dict) -> dict:
    if not row.get("extended_due"):
        raise LetterError(f"{row['request_id']}: record the extension first (requests.extend)")
    reasons = _lines(given.get("reasons")) or _lines(row.get("extension_reason"))
    return {"due": long_date(row["due"], lang), "extended_due": long_date(row["extended_due"], lang),
            "reasons": reasons}


def _refusal(register: Register, row: dict, lang: str, given: dict) -> dict:
    grounds = tuple(given.get("grounds") or ())
    unknown = [g for g in grounds if g not in REFUSAL_GROUNDS]
    if unknown or not (grounds or given.get("explanation")):
        raise LetterError(f"grounds must be some of {', '.join(REFUSAL_GROUNDS)} (or give an explanation); "
                          f"unknown: {', '.join(unknown) or '-'}")
    partial = bool(given.get("partial"))
    if partial and not (given.get("granted") and given.get("refused")):
        raise LetterError("a partial refusal needs granted and refused: what is done and what is not")
    return {"grounds": [texts(lang)["refusal"]["grounds"][g] for g in grounds], "grounds_keys": list(grounds),
            "explanation": _lines(given.get("explanation")), "partial": partial,
            "granted": _lines(given.get("granted")), "refused": _lines(given.get("refused"))}


def _no_data(register: Register, row: dict, lang: str, given: dict) -> dict:
    return {"systems": [register.systems[s].name for s in client_systems(register)]}


def _rectification(register: Register, row: dict, lang: str, given: dict) -> dict:
    return {"changes": _lines(given.get("changes"))}


def _objection(register: Register, row: dict, lang: str, given: dict) -> dict:
    keys = given.get("stopped") or [k for k, a in register.activities.items()
                                    if a.legal_basis == "legitimate_interests"]
    return {"stopped": [_activity_name(register.activities[k], lang) for k in keys]}


def _restriction_lift(register: Register, row: dict, lang: str, given: dict) -> dict:
    lift_on = given.get("lift_on")
    if not lift_on:
        raise LetterError("a notice before lifting a restriction needs lift_on: the date it is lifted")
    return {"lift_on": long_date(lift_on, lang), "reasons": _lines(given.get("reasons"))}


def _recipient_notice(register: Register, row: dict, lang: str, given: dict) -> dict:
    key, action = given.get("recipient"), given.get("action")
    if key not in register.processors or action not in RECIPIENT_ACTIONS:
        raise LetterError(f"recipient must be a processor of the register and action one of "
                          f"{', '.join(RECIPIENT_ACTIONS)}")
    notice = texts(lang)["recipient_notice"]
    return {"addressee": [register.processors[key].name], "received": "", "salutation": notice["salutation"],
            "action_text": notice["actions"][action], "client": _lines(given.get("client"))}


# kind -> the context its template needs; the erasure letter also needs the workspace and plan
_DETAILS = {"clarification": _clarification, "extension": _extension, "refusal": _refusal,
            "no_data": _no_data, "rectification": _rectification, "objection": _objection,
            "restriction_lift": _restriction_lift, "recipient_notice": _recipient_notice}


# --------------------------------------------------------------------------------------------
# writing and sending


@dataclass
class LetterResult:
    request_id: str
    kind: str
    files: list[Path]
    sha256: str
    draft: bool
    gaps: list[str] = field(default_factory=list)

    @property
    def html(self) -> Path:
        return self.files[0]


def request_of(ws: Workspace, request_id: str) -> tuple[dict, dict]:
    """The register's row and what a letter states of it (id, type, received, binding due date)."""
    row, _, _ = requests.show(ws, request_id)
    return row, {"id": row["request_id"], "type": row["type"], "received": row["received"],
                 "due": requests.current_due(row)}


def register_letter(ws: Workspace, request_id: str, kind: str, lang: str, today: dt.date, html: Path,
                    draft: bool) -> str:
    """Register the written letter on its request; returns its SHA-256."""
    digest = sha256_file(html)
    requests.record_letter(ws, request_id, kind=kind, lang=lang, dated=today, sha256=digest, draft=draft)
    return digest


def write(ws: Workspace, register: Register, request_id: str, kind: str, out: Path, *, lang: str = "nl",
          draft: bool = False, today: dt.date | None = None, pdf: bool = True,
          plan: pd.DataFrame | None = None,
          **details) -> LetterResult:
    """Write the letter ``kind`` (not ``access``/``portability``: :mod:`workbench.rights.package` writes
    those) for the request into the folder ``out`` as ``<request>-<kind>.html`` and ``.pdf`` and
    register it. ``details`` are the kind's own: ``questions`` and ``identity`` (clarification),
    ``reasons`` (extension, restriction_lift), ``grounds``, ``explanation``, ``partial``,
    ``granted``, ``refused`` (refusal), ``plan`` (erasure: :func:`workbench.rights.erasure.plan`),
    ``changes`` (rectification), ``stopped`` (objection: activity keys), ``lift_on``
    (restriction_lift), ``recipient``, ``action``, ``client`` (recipient_notice)."""
    today = today or dt.date.today()
    if kind in ("access", "portability"):
        raise LetterError(f"the {kind} letter comes with its package: write it with package.write_package")
    row, request = request_of(ws, request_id)
    grounds = tuple(details.get("grounds") or ())
    if kind == "erasure" and plan is not None and not draft:
        _record_plan_searches(ws, row, plan, today)
    if not draft:
        found = blockers(ws, register, row, kind, grounds=grounds)
        if found:
            raise LetterError(f"{request_id}: the {kind} letter cannot be written as final: "
                              + "; ".join(found)
                              + " (or write a draft)")
    context = base_context(register, request, lang, today, draft, row.get("name"), row.get("email"))
    context.update(details_of(ws, register, row, kind, lang, plan=plan, **details))
    html = render(kind, context)
    files = write_files(html, out, f"{request_id}-{kind.replace('_', '-')}{'-draft' if draft else ''}", pdf)
    digest = register_letter(ws, request_id, kind, lang, today, files[0], draft)
    return LetterResult(request_id, kind, files, digest, draft, gaps(register))


def send(ws: Workspace, register: Register, request_id: str, letter: Path, *,
         refuse_reason: str | None = None,
         today: dt.date | None = None) -> list[str]:
    """Mark the letter (its HTML file, or a package folder) as sent, after the gates: see the module
    docstring. Returns what was done."""
    today = today or dt.date.today()
    letter = Path(letter)
    package = letter if letter.is_dir() else None
    html = letter / "index.html" if package else letter
    if not html.is_file():
        raise LetterError(f"{html} is not a letter: give the letter's HTML file or the package folder")
    digest = hashlib.sha256(html.read_bytes()).hexdigest()
    registered = requests.letters(ws, request_id)
    match = registered[registered.sha256 == digest]
    if match.empty:
        raise LetterError(f"{request_id}: this letter is not registered on the request (changed after it "
                          "was written?); write it again")
    kind = str(match.kind.iloc[-1])
    if bool(match.draft.iloc[-1]):
        raise LetterError(f"{request_id}: the {kind} letter is a draft; write it without draft to send it")
    row, _ = request_of(ws, request_id)
    text = html.read_text("utf-8")
    grounds = tuple(g for g in _attribute(text, "data-grounds").split(",") if g)
    systems = _package_systems(package) if package else None
    found = blockers(ws, register, row, kind, package=package, grounds=grounds, systems=systems)
    if found:
        raise LetterError(f"{request_id}: the {kind} letter cannot be sent: " + "; ".join(found))
    spec = KINDS[kind]
    closes, outcome = spec.closes, spec.outcome
    if kind == "refusal" and _attribute(text, "data-partial") == "true":
        closes, outcome = "completed", "partly_granted"
    reason = refuse_reason or " ".join(texts("en")["refusal"]["grounds"][g] for g in grounds) or None
    if closes == "refused" and not reason:
        raise LetterError(f"{request_id}: a refusal needs refuse_reason, the justification for the register")
    return requests.send(ws, request_id, sha256=digest, action=spec.action, closes=closes, outcome=outcome,
                         refuse_reason=reason, today=today)


def _attribute(text: str, name: str) -> str:
    """The value of a data attribute of the letter's section (not shown to the reader)."""
    found = re.search(rf'{name}="([^"]*)"', text)
    return found.group(1) if found else ""


def _package_systems(package: Path) -> dict[str, str]:
    manifest = json.loads((package / "manifest.json").read_text("utf-8"))
    return manifest.get("searches", {})

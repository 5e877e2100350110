"""The privacy policy audited against the data, the register and the law.

The policy's checkable sentences are reviewed data (``config/policy/claims.toml``, or another
firm's file): per claim the Dutch sentence, what it asserts, the check type that tests it, its
parameters, the severity of a failure, the article or case law it rests on and a suggested
wording or action. The code knows only the check types (:data:`CHECKS`).

Each check returns findings with a verdict, ``holds``, ``fails`` or ``not_checkable`` (with the
reason), and the evidence it rests on: counts, and examples that are masked or hold no personal
data (request ids, system names, years). Nothing is asserted without evidence: a check that lacks
its input (no policy text, no answered request, no completed erasure) says so instead of passing.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
from markdown_it import MarkdownIt
from markdown_it.token import Token

from workbench.configuration import load
from workbench.datamap import weblogs
from workbench.errors import WorkbenchError
from workbench.ingest.masking import mask
from workbench.reference.policy_claims import CHECK_TYPES, ClaimsFile
from workbench.reference.register import AGREEMENTS_ON_FILE, Register
from workbench.reference.taxonomy import covers
from workbench.rights.requests import add_months
from workbench.store.safe_files import owner_only, write_csv
from workbench.store.workspace import Workspace

HOLDS, FAILS, NOT_CHECKABLE = "holds", "fails", "not_checkable"
EXAMPLES = 5
LABELS = {HOLDS: "klopt / holds", FAILS: "klopt niet / fails",
          NOT_CHECKABLE: "niet toetsbaar / not checkable"}


@dataclass(frozen=True)
class Claim:
    id: str
    quote: str
    asserts: str
    check: str
    severity: str
    source: str
    suggestion: str
    params: dict[str, Any]


@dataclass(frozen=True)
class Claims:
    path: str
    processors: dict[str, str]  # register processor key -> the name the policy uses
    claims: list[Claim]


@dataclass
class Finding:
    claim_id: str
    quote: str
    asserts: str
    check: str
    verdict: str
    evidence: str
    counts: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)
    severity: str = ""  # the claim's severity when it fails, else empty
    source: str = ""  # the article or case law
    data: str = ""  # the data the verdict rests on
    suggestion: str = ""
    reason: str = ""  # why it is not checkable
    quote_in_policy: bool | None = None  # None: no policy text given


@dataclass
class Context:
    ws: Workspace
    register: Register
    policy: str | None  # the policy's text, or None when not given
    processors: dict[str, str]
    today: date


# --- loading ------------------------------------------------------------------------------------

def default_claims() -> Path:
    return Path(str(resources.files("workbench") / "config" / "policy" / "claims.toml"))


def load_claims(path: Path | None = None) -> Claims:
    """The claims file, validated; raises :class:`ConfigError` listing every problem as
    ``file: key: message``."""
    path = Path(path) if path else default_claims()
    data = load(path, ClaimsFile)
    claims = [Claim(claim_id, c.quote.strip(), c.asserts.strip(), c.check, c.severity, c.source.strip(),
                    c.suggestion.strip(), c.params()) for claim_id, c in data.claim.items()]
    return Claims(str(path), dict(data.processors), claims)


# --- the checks ---------------------------------------------------------------------------------


def _finding(claim: Claim, verdict: str, evidence: str, *, data: str, counts: dict | None = None,
             examples: list[str] | None = None, reason: str = "", suggestion: str | None = None,
             claim_id: str | None = None) -> Finding:
    return Finding(claim_id=claim_id or claim.id, quote=claim.quote, asserts=claim.asserts,
                   check=claim.check, verdict=verdict, evidence=evidence, counts=counts or {},
                   examples=(examples or [])[:EXAMPLES],
                   severity=claim.severity if verdict == FAILS else "", source=claim.source, data=data,
                   suggestion=suggestion or claim.suggestion, reason=reason)


def _personal_systems(ws: Workspace) -> pd.DataFrame:
    """Per imported service: the personal columns of its newest imports and its records."""
    if not ws.exists:
        return pd.DataFrame(columns=["service", "personal_columns", "records"])
    return ws.query("""
        SELECT i.service, count(*) FILTER (WHERE c.personal) AS personal_columns,
               (SELECT sum(rows) FROM imports j WHERE j.service = i.service) AS records
        FROM columns c JOIN imports i USING (import_id)
        WHERE i.import_id IN (SELECT max(import_id) FROM imports GROUP BY service, export_kind)
        GROUP BY i.service ORDER BY i.service""")


def check_systems_named(claim: Claim, ctx: Context) -> list[Finding]:
    """Every system with personal data (in the data or the register) has a processor the policy names."""
    reg = ctx.register
    data = _personal_systems(ctx.ws)
    in_data = set(data[data.personal_columns > 0].service)
    systems = sorted(in_data | set(reg.systems))
    unnamed, unregistered = [], []
    for key in systems:
        system = reg.systems.get(key)
        if system is None:
            unregistered.append(key)
            continue
        if not any(p in ctx.processors for p in system.processors):
            unnamed.append(f"{system.name} ({key}): processors {', '.join(system.processors) or 'none'}")
    not_in_text = []
    if ctx.policy is not None:
        not_in_text = [f"{key}: '{name}'" for key, name in ctx.processors.items()
                       if _norm(name) not in _norm(ctx.policy)]
    problems = [f"in the data, not in the register: {s}" for s in unregistered] + \
               [f"not named in the policy: {s}" for s in unnamed] + \
               [f"named in the claims file but not found in the policy text: {s}" for s in not_in_text]
    counts = {"systems_with_personal_data": len(systems), "in_imported_data": len(in_data),
              "unregistered": len(unregistered), "unnamed": len(unnamed),
              "names_not_in_text": len(not_in_text)}
    evidence = (f"{len(systems)} systems hold personal data ({len(in_data)} seen in the imported exports, "
                f"the rest from systems.toml); {len(unnamed)} run by no processor the policy names; "
                f"{len(unregistered)} in the data but not in the register")
    return [_finding(claim, FAILS if problems else HOLDS, evidence, counts=counts, examples=problems,
                     data="workspace: imports, columns (personal); register: systems.toml, processors.toml; "
                          "claims: [processors]")]


def check_processor_agreements(claim: Claim, ctx: Context) -> list[Finding]:
    """Every processor the policy names has a processor agreement on file in the register."""
    missing, unknown_keys = [], []
    for key in ctx.processors:
        proc = ctx.register.processors.get(key)
        if proc is None:
            unknown_keys.append(key)
        elif proc.role == "processor" and proc.agreement_status not in AGREEMENTS_ON_FILE:
            missing.append(f"{proc.name}: agreement {proc.agreement_status}")
    counts = {"named_processors": len(ctx.processors), "without_agreement": len(missing),
              "not_in_register": len(unknown_keys)}
    examples = missing + [f"{k}: named in the claims file, not in processors.toml" for k in unknown_keys]
    evidence = (f"{len(ctx.processors)} processors named; {len(missing)} without a signed or accepted "
                f"processor agreement in the register; {len(unknown_keys)} not in the register")
    return [_finding(claim, FAILS if examples else HOLDS, evidence, counts=counts, examples=examples,
                     data="register: processors.toml (agreement_status)")]


def past_retention(ws: Workspace, register: Register, today: date, year_end: bool = True) -> pd.DataFrame:
    """Dated records older than every retention rule of their system, per system, export and
    year: service, export_kind, year, records, kept_until. A system whose rules have no period
    gets ``kept_until`` None and is for the analyst (no bound can be computed)."""
    docs = ws.query("""SELECT service, export_kind, year(date) AS year, count(*) AS records,
                              max(date) AS newest
                       FROM documents WHERE date IS NOT NULL GROUP BY ALL ORDER BY ALL""")
    rows = _past_short_rules(ws, register, today)
    for row in docs.itertuples():
        years = _longest_rule(register, row.service)
        if years is not None and 0 < years < 1:
            continue  # counted record by record (below a year, the end of the year is no bound)
        start = date(int(row.year), 12, 31) if year_end else pd.Timestamp(row.newest).date()
        until = _add_years(start, years) if years is not None else None
        if until is None or until < today:
            rows.append({"service": row.service, "export_kind": row.export_kind, "year": int(row.year),
                         "records": int(row.records), "kept_until": until,
                         "longest_rule_years": years})
    return pd.DataFrame(rows, columns=["service", "export_kind", "year", "records", "kept_until",
                                       "longest_rule_years"])


def _past_short_rules(ws: Workspace, register: Register, today: date) -> list[dict]:
    """Records of systems whose longest rule is months (web server logs: 3), each measured from its
    own date: per export and year, those older than the rule."""
    rows = []
    for service in ws.query("SELECT DISTINCT service FROM documents WHERE date IS NOT NULL").service:
        years = _longest_rule(register, service)
        if years is None or not 0 < years < 1:
            continue
        months = round(years * 12)
        late = ws.query("""SELECT export_kind, year(date) AS year, count(*) AS records, max(date) AS newest
                           FROM documents WHERE service = ? AND date < ? GROUP BY ALL ORDER BY ALL""",
                        [service, add_months(today, -months)])
        rows += [{"service": service, "export_kind": r.export_kind, "year": int(r.year),
                  "records": int(r.records), "kept_until": add_months(pd.Timestamp(r.newest).date(), months),
                  "longest_rule_years": years} for r in late.itertuples()]
    return rows


def _longest_rule(register: Register, service: str) -> float | None:
    """The longest retention period of a system's activities; None when one has no period."""
    rules = [register.retention_rules[a.retention] for a in register.activities_for(service)
             if a.retention in register.retention_rules]
    years = [r.years for r in rules if r.years is not None]
    return max(years) if rules and len(years) == len(rules) else None


def check_retention_ages(claim: Claim, ctx: Context) -> list[Finding]:
    """Records older than every retention rule of their system; clients without recent activity."""
    if not ctx.ws.exists:
        return [_finding(claim, NOT_CHECKABLE, "no workspace", data="workspace: documents",
                         reason="nothing is imported, so no record ages can be measured")]
    dated = ctx.ws.query("SELECT service, count(*) AS records FROM documents WHERE date IS NOT NULL "
                         "GROUP BY service ORDER BY service")
    if dated.empty:
        return [_finding(claim, NOT_CHECKABLE, "no dated records", data="workspace: documents",
                         reason="the imported exports hold no dated records")]
    late = past_retention(ctx.ws, ctx.register, ctx.today, claim.params.get("year_end", True))
    unruled = sorted(set(late[late.kept_until.isna()].service))
    past = late[late.kept_until.notna()]
    longest = {s: _longest_rule(ctx.register, s) for s in dated.service if s not in unruled}
    per_system = past.groupby("service").records.sum().to_dict()
    total_past = int(past.records.sum())
    examples = [f"{r.service}/{r.export_kind}: {r.records} records of {r.year} "
                f"(kept at most {r.longest_rule_years:g} years)" for r in past.itertuples()]
    inactive = _inactive_clients(ctx, claim.params.get("inactive_years"))
    counts = {"dated_records": int(dated.records.sum()), "records_past_every_rule": total_past,
              "systems_without_bounded_rule": len(unruled),
              **{f"past_every_rule.{s}": int(n) for s, n in per_system.items()}, **inactive}
    evidence = (f"{int(dated.records.sum())} dated records in {len(dated)} systems; "
                f"{total_past} older than the longest retention rule of their system "
                f"({', '.join(f'{s}: {y:g} y' for s, y in longest.items())})")
    if unruled:
        evidence += f"; no bounded rule for {', '.join(unruled)}"
    if "clients_inactive" in inactive:
        evidence += (f"; {inactive['clients_inactive']} of {inactive['clients_with_records']} client records "
                     f"(counted per system) have no document in the last {claim.params['inactive_years']} "
                     "years: are they still clients?")
    verdict = FAILS if total_past or unruled else HOLDS
    return [_finding(claim, verdict, evidence, counts=counts, examples=examples,
                     data="workspace: documents (date); register: activities.toml, retention.toml")]


def _add_years(day: date, years: float) -> date:
    whole = int(years)
    return add_months(day, whole * 12 + round((years - whole) * 12))


def _inactive_clients(ctx: Context, years: int | None) -> dict[str, int]:
    """Parties (per system) whose newest record is older than ``years``: clients in name only."""
    if not years:
        return {}
    cutoff = add_months(ctx.today, -12 * years)
    last = ctx.ws.query("""SELECT service, party_key, max(date) AS last FROM documents
                           WHERE party_key IS NOT NULL AND date IS NOT NULL GROUP BY ALL""")
    if last.empty:
        return {}
    old = last[pd.to_datetime(last["last"]).dt.date < cutoff]
    return {"clients_with_records": len(last), "clients_inactive": len(old)}  # per system, not per person


def _requests(ws: Workspace) -> pd.DataFrame | None:
    if ws.is_empty("requests"):
        return None
    frame = ws.query("""SELECT r.*, (SELECT count(*) FROM request_notes n WHERE n.request_id = r.request_id)
                        AS notes FROM requests r ORDER BY request_id""")
    for column in ("received", "responded", "extended_due", "due", "anonymised_on"):
        frame[column] = pd.to_datetime(frame[column]).dt.date
    return frame


def check_response_times(claim: Claim, ctx: Context) -> list[Finding]:
    """Every request answered within the promised days; none open beyond them."""
    days = int(claim.params["days"])
    frame = _requests(ctx.ws)
    data = "workspace: request register (requests: received, responded, status)"
    if frame is None or frame.empty:
        return [_finding(claim, NOT_CHECKABLE, "the request register is empty", data=data,
                         reason="no request has been registered, so no response time can be measured")]
    closed = frame[frame.status.isin(["completed", "refused"]) & frame.responded.notna()]
    open_ = frame[~frame.status.isin(["completed", "refused"])]
    took = [(r.responded - r.received).days for r in closed.itertuples()]
    late = [f"{r.request_id} ({r.type}): answered after {(r.responded - r.received).days} days"
            for r in closed.itertuples() if (r.responded - r.received).days > days]
    overdue = [f"{r.request_id} ({r.type}): open for {(ctx.today - r.received).days} days"
               for r in open_.itertuples() if (ctx.today - r.received).days > days]
    counts = {"requests": len(frame), "answered": len(closed), "answered_late": len(late),
              "open": len(open_), "open_overdue": len(overdue),
              "max_days_to_answer": max(took, default=0)}
    evidence = (f"{len(frame)} requests; {len(closed)} answered, {len(late)} of them after more than {days} "
                f"days (longest {max(took, default=0)} days); {len(open_)} open, {len(overdue)} of them "
                f"for more than {days} days")
    if late or overdue:
        return [_finding(claim, FAILS, evidence, counts=counts, examples=late + overdue, data=data)]
    if closed.empty:
        return [_finding(claim, NOT_CHECKABLE, evidence, counts=counts, data=data,
                         reason="no request has been answered yet; the open ones are within the term")]
    return [_finding(claim, HOLDS, evidence, counts=counts, data=data)]


def check_erasure_log(claim: Claim, ctx: Context) -> list[Finding]:
    """Completed erasure requests keep no readable e-mail address, name or notes."""
    frame = _requests(ctx.ws)
    data = "workspace: request register (requests.email, name, anonymised_on; request_notes)"
    done = pd.DataFrame() if frame is None else \
        frame[(frame.type == "erasure") & (frame.status == "completed")]
    if done.empty:
        return [_finding(claim, NOT_CHECKABLE, "no completed erasure request in the register", data=data,
                         reason="the promise can only be checked after an erasure request is completed")]
    readable = []
    for r in done.itertuples():
        left = [what for what, value in (("e-mail", r.email), ("name", r.name))
                if isinstance(value, str) and value]
        if r.notes:
            left.append(f"{r.notes} notes")
        if r.anonymised_on is None or pd.isna(r.anonymised_on):
            left.append("not marked anonymised")
        if left:
            shown = f", e-mail {mask(r.email, 'email')}" if isinstance(r.email, str) and r.email else ""
            readable.append(f"{r.request_id}: keeps {', '.join(left)}{shown}")
    counts = {"completed_erasures": len(done), "not_anonymised": len(readable)}
    evidence = f"{len(done)} completed erasure requests; {len(readable)} still hold readable identifiers"
    return [_finding(claim, FAILS if readable else HOLDS, evidence, counts=counts, examples=readable,
                     data=data)]


def check_forbidden_uses(claim: Claim, ctx: Context) -> list[Finding]:
    """No activity declares a data use under the forbidden fideslang keys."""
    forbidden = claim.params["forbidden"]
    hits = [f"{a.key} ({a.name_en}): {use}" for a in ctx.register.activities.values() for use in a.data_uses
            if any(covers(f, use) for f in forbidden)]
    counts = {"activities": len(ctx.register.activities), "forbidden_uses": len(hits)}
    evidence = (f"{len(ctx.register.activities)} activities declare their data uses; {len(hits)} uses under "
                f"{', '.join(forbidden)}")
    return [_finding(claim, FAILS if hits else HOLDS, evidence, counts=counts, examples=hits,
                     data="register: activities.toml (data_uses)")]


def check_category_statement(claim: Claim, ctx: Context) -> list[Finding]:
    """A statement that categories are (not) personal data, against Art. 4(1): every fideslang
    ``user.*`` category is data about a person. A legal finding: the reasoning comes with it."""
    says_personal = claim.params["policy_says"] == "personal"
    categories = claim.params["categories"]
    personal = [c for c in categories if covers("user", c)]
    declaring = sorted({f"{a.key}: {c}" for a in ctx.register.activities.values() for c in a.data_categories
                        if c in categories})
    wrong = not says_personal and personal or (says_personal and len(personal) < len(categories))
    counts = {"categories": len(categories), "personal_by_definition": len(personal),
              "register_activities_declaring": len(declaring)}
    evidence = (f"{len(personal)} of {len(categories)} categories are data about a person "
                "(fideslang user.*); "
                f"the register declares them in {len(declaring)} activity/category pairs. "
                f"Reasoning: {claim.params['reasoning']}")
    return [_finding(claim, FAILS if wrong else HOLDS, evidence, counts=counts, examples=declaring,
                     data="register: activities.toml (data_categories); law: the claim's source")]


def check_logs_hold_ips(claim: Claim, ctx: Context) -> list[Finding]:
    """A statement that IP addresses are not personal data, against what the web server's logs
    hold: full (not shortened) addresses on lines with a known subject's user name (an authenticated
    request) or e-mail address (in the query) identify that person, and tie the address's other
    requests to them."""
    held = weblogs.holdings(ctx.ws) if ctx.ws.exists else {}
    data = "workspace: web server logs (hosting), subjects"
    if not held:
        return [_finding(claim, NOT_CHECKABLE, "no web server logs imported", data=data,
                         reason="import the web server's access logs to check what they hold")]
    tied = held["lines_of_subjects_with_full_ip"]
    evidence = (f"{held['log_lines']} log lines; {held['lines_with_full_ip']} hold a full IP address "
                f"({held['distinct_full_ips']} distinct addresses); {tied} of them, from "
                f"{held['full_ips_of_subjects']} addresses, carry the user name or e-mail address of a known "
                "subject, so the logs tie those addresses to named people")
    examples = [f"hosting: {tied} lines of subjects with a full IP address"] if tied else []
    return [_finding(claim, FAILS if tied else HOLDS, evidence, counts=held, examples=examples, data=data)]


def check_transfers_named(claim: Claim, ctx: Context) -> list[Finding]:
    """Every processor outside the EEA: does the policy's passage on it name the transfer and the
    safeguard?"""
    outside = [p for p in ctx.register.processors.values() if p.outside_eea]
    data = "register: processors.toml (outside_eea, transfer_safeguard); policy text"
    if ctx.policy is None:
        return [_finding(claim, NOT_CHECKABLE, f"{len(outside)} processors outside the EEA in the register",
                         data=data, counts={"outside_eea": len(outside)},
                         reason="no policy text given (--policy); the passages cannot be searched")]
    sections = _sections(ctx.policy)
    gaps, unnamed = [], []
    for proc in outside:
        name = ctx.processors.get(proc.key)
        passage = " ".join(body for head, body in sections
                           if name and _norm(name) in _norm(head + " " + body))
        if not passage:
            unnamed.append(f"{proc.name}: not in the policy")
            continue
        transfer = _any(claim.params["transfer_patterns"], passage)
        safeguard = _any(claim.params["safeguard_patterns"], passage)
        if not (transfer and safeguard):
            missing = [w for w, ok in (("the transfer", transfer), ("the safeguard", safeguard)) if not ok]
            gaps.append(f"{proc.name} ({proc.country}, register: {proc.transfer_safeguard}): "
                        f"the policy does not name {' or '.join(missing)}")
    counts = {"outside_eea": len(outside), "transfer_or_safeguard_missing": len(gaps),
              "not_in_policy": len(unnamed)}
    evidence = (f"{len(outside)} processors outside the EEA in the register; the policy's passage on "
                f"{len(gaps)} of them lacks the transfer or its safeguard; "
                f"{len(unnamed)} are not in the policy")
    return [_finding(claim, FAILS if gaps or unnamed else HOLDS, evidence, counts=counts,
                     examples=gaps + unnamed, data=data)]


def check_completeness(claim: Claim, ctx: Context) -> list[Finding]:
    """One finding per Art. 13/14 element: is it in the policy text?"""
    out = []
    controller = ctx.register.controller
    values = {"{controller.name}": controller.name, "{controller.email}": controller.email,
              "{controller.phone}": controller.phone, "{controller.address}": controller.address}
    for element in claim.params["elements"]:
        claim_id = f"{claim.id}.{element['id']}"
        data = f"policy text; {element['article']}"
        suggestion = element.get("suggestion") or f"{claim.suggestion} ({element['label']})"
        if ctx.policy is None:
            out.append(_finding(claim, NOT_CHECKABLE, element["label"], data=data, claim_id=claim_id,
                                reason="no policy text given (--policy)", suggestion=suggestion))
            continue
        text = ctx.policy
        if element.get("section"):
            body = _section_body(ctx.policy, element["section"])
            text = body or ""
        patterns = [_fill(p, values) for p in element.get("patterns") or element.get("all")]
        hits = [p for p in patterns if re.search(p, text, re.IGNORECASE | re.DOTALL)]
        found = len(hits) == len(patterns) if "all" in element else bool(hits)
        where = f"under the heading '{element['section']}'" if element.get("section") else "in the policy"
        if element.get("section") and not text.strip():
            evidence = f"{element['label']}: the heading '{element['section']}' is followed by nothing"
        else:
            evidence = (f"{element['label']}: {len(hits)} of {len(patterns)} search patterns found {where}"
                        f" ({'all needed' if 'all' in element else 'one suffices'})")
        missed = [p for p in patterns if p not in hits]
        finding = _finding(claim, HOLDS if found else FAILS, evidence, data=data, claim_id=claim_id,
                           counts={"patterns": len(patterns), "found": len(hits)},
                           examples=[f"not found: {p}" for p in missed] if not found else [],
                           suggestion=suggestion)
        article = element["article"]
        finding.source = article if "GDPR" in article else f"{article} GDPR"
        out.append(finding)
    return out


CHECKS: dict[str, Callable[[Claim, Context], list[Finding]]] = {
    "systems_named": check_systems_named,
    "processor_agreements": check_processor_agreements,
    "retention_ages": check_retention_ages,
    "response_times": check_response_times,
    "erasure_log": check_erasure_log,
    "forbidden_uses": check_forbidden_uses,
    "category_statement": check_category_statement,
    "transfers_named": check_transfers_named,
    "completeness": check_completeness,
    "logs_hold_ips": check_logs_hold_ips,
}
assert set(CHECKS) == set(CHECK_TYPES)


# --- text helpers -------------------------------------------------------------------------------


def _norm(text: str) -> str:
    """Lower case, markdown emphasis gone, whitespace collapsed."""
    return " ".join(text.replace("*", "").replace("\\", "").lower().split())


def _any(patterns: list[str], text: str) -> bool:
    return any(re.search(p, text, re.IGNORECASE) for p in patterns)


def _fill(pattern: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        pattern = pattern.replace(key, re.escape(value))
    return pattern


_MARKDOWN = MarkdownIt("commonmark")
_LINES = re.compile(r"\r\n?|\n")  # how markdown-it numbers lines


def _heading_lines(text: str) -> set[int]:
    """The numbers of the lines that open a section: the markdown headings, and lines that are one
    bold phrase (a policy written in a word processor marks its headings so)."""
    tokens = _MARKDOWN.parse(text)
    lines = {t.map[0] for t in tokens if t.type == "heading_open" and t.map}
    for before, token in zip(tokens, tokens[1:], strict=False):
        if token.type == "inline" and token.map and before.type == "paragraph_open" and before.level == 0:
            lines.update(token.map[0] + n for n in _bold_lines(token))
    return lines


def _bold_lines(inline: Token) -> list[int]:
    """The lines of a paragraph (counted from its first) that are bold from start to end."""
    found, line, number = [], [], 0
    for child in [*(inline.children or []), None]:
        if child is not None and child.type not in ("softbreak", "hardbreak"):
            line += [child.type] if child.content or child.type != "text" else []
            continue
        if line[:1] == ["strong_open"] and line[-1:] == ["strong_close"]:
            found.append(number)
        line, number = [], number + 1
    return found


def _sections(text: str) -> list[tuple[str, str]]:
    """(heading, body) pairs of a markdown text; bold-only lines count as headings."""
    heads = _heading_lines(text)
    out, head, body = [], "", []
    lines = _LINES.split(text)
    for number, line in enumerate(lines[:-1] if lines[-1] == "" else lines):
        if number in heads:
            out.append((head, "\n".join(body)))
            head, body = line.strip(), []
        else:
            body.append(line)
    out.append((head, "\n".join(body)))
    return out


def _section_body(text: str, heading: str) -> str | None:
    """The body under the last heading that contains ``heading``; None when there is no such heading."""
    bodies = [body for head, body in _sections(text) if _norm(heading) in _norm(head)]
    return bodies[-1] if bodies else None


# --- running and writing ------------------------------------------------------------------------


def run(ws: Workspace, register: Register, *, claims: Claims | Path | None = None,
        policy: Path | str | None = None, today: date | None = None) -> list[Finding]:
    """Every claim checked; ``policy`` is the policy's file (or None: text checks are not checkable)."""
    claims = claims if isinstance(claims, Claims) else load_claims(claims)
    text = None
    if policy is not None:
        path = Path(policy)
        if not path.is_file():
            raise WorkbenchError(f"--policy {path}: no such file")
        text = path.read_text("utf-8")
    ctx = Context(ws, register, text, claims.processors, today or date.today())
    findings = []
    for claim in claims.claims:
        quoted = None if text is None else _norm(claim.quote) in _norm(text)
        for finding in CHECKS[claim.check](claim, ctx):
            finding.quote_in_policy = quoted
            findings.append(finding)
    return findings


VERDICT_ORDER = {FAILS: 0, NOT_CHECKABLE: 1, HOLDS: 2}
SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2, "": 3}


def findings(ws: Workspace, register: Register, *, policy: Path | str | None = None,
             today: date | None = None, claims: Claims | Path | None = None) -> list[Finding]:
    """The one set of policy findings every report shows (the DPIA, the annual report): every
    claim checked (:func:`run`), failures first, then by severity and claim id."""
    found = run(ws, register, claims=claims, policy=policy, today=today)
    return sorted(found, key=lambda f: (VERDICT_ORDER[f.verdict], SEVERITY_ORDER[f.severity], f.claim_id))


def counts(found: list[Finding]) -> pd.DataFrame:
    """Findings per verdict and severity, in the order of :func:`findings`."""
    table = pd.DataFrame([(f.verdict, f.severity) for f in found], columns=["verdict", "severity"])
    return table.groupby(["verdict", "severity"], as_index=False, sort=False).size() \
        .rename(columns={"size": "findings"})


def frame(findings: list[Finding]) -> pd.DataFrame:
    """One row per finding; counts and examples as text."""
    rows = []
    for f in findings:
        row = asdict(f)
        row["counts"] = "; ".join(f"{k}={v}" for k, v in f.counts.items())
        row["examples"] = " | ".join(f.examples)
        rows.append(row)
    return pd.DataFrame(rows, columns=[f.name for f in Finding.__dataclass_fields__.values()])


def summary(findings: list[Finding]) -> dict[str, int]:
    return {v: sum(f.verdict == v for f in findings) for v in (FAILS, HOLDS, NOT_CHECKABLE)}


def write(findings: list[Finding], out_dir: Path) -> list[Path]:
    """findings.html, findings.csv and findings.json in ``out_dir``, owner-only."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = write_csv(frame(findings), out_dir / "findings.csv")
    json_path, html_path = out_dir / "findings.json", out_dir / "findings.html"
    with owner_only():
        document = {"summary": summary(findings), "findings": [asdict(f) for f in findings]}
        json_path.write_text(json.dumps(document, ensure_ascii=False, indent=2, default=str), "utf-8")
        html_path.write_text(_html(findings), "utf-8")
    for path in (json_path, html_path):
        path.chmod(0o600)
    return [html_path, csv_path, json_path]


def _html(findings: list[Finding]) -> str:
    e = html.escape
    counts = summary(findings)
    order = {FAILS: 0, NOT_CHECKABLE: 1, HOLDS: 2}
    rank = {"high": 0, "medium": 1, "low": 2, "": 3}
    parts = [
        "<!DOCTYPE html><html lang='nl'><head><meta charset='utf-8'>",
        "<title>Toets privacybeleid / Privacy policy audit</title><style>",
        "body{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.4}"
        "section{border-top:1px solid #999;padding:.5em 0}.fails{color:#a00}.holds{color:#070}"
        ".not_checkable{color:#850}blockquote{font-style:italic;margin:.3em 1em}dt{font-weight:bold}",
        "</style></head><body>",
        "<h1>Toets privacybeleid / Privacy policy audit</h1>",
        f"<p id='summary'>Klopt niet / fails: {counts[FAILS]} &middot; klopt / holds: {counts[HOLDS]} "
        f"&middot; niet toetsbaar / not checkable: {counts[NOT_CHECKABLE]}</p>",
    ]
    for f in sorted(findings, key=lambda f: (order[f.verdict], rank[f.severity], f.claim_id)):
        parts += [
            f"<section id='{e(f.claim_id)}'><h2>{e(f.claim_id)}: "
            f"<span class='{e(f.verdict)}'>{e(LABELS[f.verdict])}</span>"
            + (f" ({e(f.severity)})" if f.severity else "") + "</h2>",
            f"<blockquote>{e(f.quote)}</blockquote><dl>",
            f"<dt>Bewering / asserts</dt><dd>{e(f.asserts)}</dd>",
            f"<dt>Bewijs / evidence</dt><dd>{e(f.evidence)}</dd>",
        ]
        if f.reason:
            parts.append(f"<dt>Reden / reason</dt><dd>{e(f.reason)}</dd>")
        if f.examples:
            parts.append("<dt>Voorbeelden / examples (masked)</dt><dd><ul>"
                         + "".join(f"<li>{e(x)}</li>" for x in f.examples) + "</ul></dd>")
        parts += [
            f"<dt>Bron / source</dt><dd>{e(f.source)}</dd>",
            f"<dt>Gegevens / data</dt><dd>{e(f.data)}</dd>",
            f"<dt>Voorstel / suggestion</dt><dd>{e(f.suggestion)}</dd>",
        ]
        if f.quote_in_policy is False:
            parts.append("<dt>Let op / note</dt><dd>the quote was not found verbatim in the policy text</dd>")
        parts.append("</dl></section>")
    parts.append("</body></html>\n")
    return "\n".join(parts)

"""The website's data per person: web server log lines tied to a subject, and the pseudonymous
analytics events found by a client id.

A log line names no person; its IP address becomes the subject's through evidence
(``config/weblogs.toml`` states the rules and windows):

* a **login**: the line is an authenticated request of the subject's own account (its user name
  links to the subject like any other party, through the e-mail address it is);
* an **order**: exactly one IP address requested an order or payment page of the shop within a
  few minutes of one of the subject's payments;
* the **same visit**: the same IP address's other requests close to a login or order, never a
  line of another user's authenticated request.

Each tied line carries its evidence: which login or payment, when, and in which file and line.
The analytics hold no name or e-mail address; :func:`analytics_events` searches them by the
client id (``user_pseudo_id``, the last two parts of the ``_ga`` cookie) or user id a person
gives.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated

import pandas as pd
from pydantic import ConfigDict, Field, StrictInt

from workbench.configuration import ConfigModel, Regex, Text, load
from workbench.errors import InputError
from workbench.ingest.sources import ga4, webhosting
from workbench.store.workspace import Workspace, json_path

CONFIG = Path(__file__).resolve().parents[1] / "config" / "weblogs.toml"
HOSTING = webhosting.SERVICE
ANALYTICS = ga4.SERVICE
TIE_COLUMNS = ["file_name", "file_sha256", "export_kind", "source_row", "time", "ip", "request", "tie",
               "evidence"]


@dataclass(frozen=True)
class Rules:
    order_minutes: int
    session_minutes: int
    order_pages: tuple[str, ...]
    not_the_buyer: tuple[str, ...]
    order_types: tuple[str, ...]
    pseudonymous_nl: str
    pseudonymous_en: str
    deletion_step: str


class _Ties(ConfigModel):
    model_config = ConfigDict(strict=True)
    order_minutes: Annotated[StrictInt, Field(gt=0)]
    session_minutes: Annotated[StrictInt, Field(gt=0)]
    order_pages: list[Regex]
    not_the_buyer: list[Regex]
    order_types: list[Text]


class _Analytics(ConfigModel):
    model_config = ConfigDict(strict=True)
    pseudonymous_nl: Text
    pseudonymous_en: Text
    deletion_step: Text


class _RulesFile(ConfigModel):
    ties: _Ties
    analytics: _Analytics


@lru_cache(maxsize=1)
def rules(path: Path = CONFIG) -> Rules:
    """The reviewed rules, validated: every key present and of its type, every pattern valid."""
    data = load(path, _RulesFile)
    ties, analytics = data.ties, data.analytics
    return Rules(ties.order_minutes, ties.session_minutes, tuple(ties.order_pages), tuple(ties.not_the_buyer),
                 tuple(ties.order_types), analytics.pseudonymous_nl, analytics.pseudonymous_en,
                 analytics.deletion_step)


# --------------------------------------------------------------------------------------------
# the log lines


def _lines_sql() -> str:
    """Every current web request with its file, time, user, IP address and request path."""
    raw = "r.record"
    return f"""
        SELECT d.export_kind, i.file_name, i.file_sha256, d.source_row, d.date AS time, d.party_key,
               coalesce(nullif(json_extract_string({raw}, '{json_path("c-ip")}'), '-'),
                        json_extract_string({raw}, '{json_path("remote_addr")}')) AS ip,
               coalesce(json_extract_string({raw}, '{json_path("cs-uri-stem")}'),
                        split_part(json_extract_string({raw}, '{json_path("request")}'), ' ', 2)) AS request
        FROM documents d JOIN imports i USING (import_id)
        JOIN raw_records r ON r.import_id = d.import_id AND r.source_row = d.source_row
        WHERE d.service = '{HOSTING}' AND d.doc_type = '{webhosting.DOC_TYPE}'"""


def has_logs(ws: Workspace) -> bool:
    return ws.exists and bool(ws.query(
        "SELECT count(*) AS n FROM imports WHERE service = ?", [HOSTING])["n"].iloc[0])


def tied_lines(ws: Workspace, subject_ids: list[str]) -> pd.DataFrame:
    """The subject's log lines, each with how it is tied (login, order, same_visit) and the
    evidence, oldest first."""
    if not subject_ids or not has_logs(ws):
        return pd.DataFrame(columns=TIE_COLUMNS)
    members = ws.query("SELECT service, export_kind, party_key FROM subjects "
                       "WHERE list_contains(?, subject_id)", [list(subject_ids)])
    lines = ws.query(_lines_sql())
    lines["time"] = pd.to_datetime(lines["time"])
    own = members[members.service.eq(HOSTING)]
    mine = lines.merge(own[["export_kind", "party_key"]], on=["export_kind", "party_key"])
    anchors = [_logins(mine), _orders(ws, members, lines)]
    anchors = pd.concat([a for a in anchors if not a.empty] or [pd.DataFrame(columns=TIE_COLUMNS)],
                        ignore_index=True)
    visits = _same_visit(lines, anchors, set(own.party_key))
    tied = pd.concat([anchors, visits], ignore_index=True)
    tied = tied.drop_duplicates(["file_sha256", "source_row"])
    return tied.sort_values(["time", "file_name", "source_row"]).reset_index(drop=True)[TIE_COLUMNS]


def _where(frame: pd.DataFrame) -> pd.Series:
    return frame.file_name.astype("str") + " line " + frame.source_row.astype("str")


def _logins(mine: pd.DataFrame) -> pd.DataFrame:
    out = mine.copy()
    out["tie"] = "login"
    out["evidence"] = "authenticated request of the subject's own account (user name in " + _where(out) + ")"
    return out


def _orders(ws: Workspace, members: pd.DataFrame, lines: pd.DataFrame) -> pd.DataFrame:
    """Lines of the one IP address that requested an order page close to a subject's payment."""
    rule = rules()
    payments = ws.query("""
        SELECT d.service, d.doc_key, d.date AS paid
        FROM documents d JOIN m USING (service, export_kind, party_key)
        WHERE d.date IS NOT NULL AND list_contains(?, d.doc_type) AND d.service <> ?""",
                        [list(rule.order_types), HOSTING], frames={"m": members})
    payments["paid"] = pd.to_datetime(payments["paid"])
    payments = payments[payments.paid.ne(payments.paid.dt.normalize())]  # a date alone has no time
    pages = lines[lines.request.fillna("").str.contains(_any(rule.order_pages))
                  & ~lines.request.fillna("").str.contains(_any(rule.not_the_buyer))
                  & lines.ip.notna()]
    if payments.empty or pages.empty:
        return pd.DataFrame(columns=TIE_COLUMNS)
    window = pd.Timedelta(minutes=rule.order_minutes)
    found = []
    for pay in payments.itertuples():
        near = pages[(pages.time - pay.paid).abs() <= window]
        if near.ip.nunique() != 1:
            continue  # nobody, or more than one visitor ordering: no evidence of who paid
        near = near.copy()
        near["tie"] = "order"
        minutes = ((near.time - pay.paid).dt.total_seconds() / 60).round(1)
        near["evidence"] = [
            f"order page requested {m:+g} min from payment {pay.doc_key} ({pay.service}, "
            f"{pay.paid:%Y-%m-%d %H:%M:%S}); the only IP address on an order page within "
            f"{rule.order_minutes} min; {where}" for m, where in zip(minutes, _where(near), strict=True)]
        found.append(near)
    return pd.concat(found, ignore_index=True) if found else pd.DataFrame(columns=TIE_COLUMNS)


def _any(patterns: tuple[str, ...]) -> str:
    return "|".join(f"(?:{p})" for p in patterns)


def _same_visit(lines: pd.DataFrame, anchors: pd.DataFrame, own_users: set[str]) -> pd.DataFrame:
    if anchors.empty:
        return pd.DataFrame(columns=TIE_COLUMNS)
    window = pd.Timedelta(minutes=rules().session_minutes)
    free = lines[lines.party_key.fillna("").eq("") | lines.party_key.isin(own_users)]
    named = {"time": "anchor_at", "tie": "anchor_tie", "file_name": "anchor_file", "source_row": "anchor_row"}
    pairs = free.merge(anchors[["ip", *named]].rename(columns=named), on="ip")
    pairs = pairs[(pairs.time - pairs.anchor_at).abs() <= window]
    if pairs.empty:
        return pd.DataFrame(columns=TIE_COLUMNS)
    pairs = pairs.assign(gap=(pairs.time - pairs.anchor_at).abs()).sort_values("gap")
    pairs = pairs.drop_duplicates(["file_sha256", "source_row"])
    minutes = (pairs.gap.dt.total_seconds() / 60).round(1)
    pairs["tie"] = "same_visit"
    pairs["evidence"] = [
        f"same IP address as the {t} at {a:%Y-%m-%d %H:%M:%S} ({f} line {r}), {m:g} min apart"
        for t, a, f, r, m in zip(pairs.anchor_tie, pairs.anchor_at, pairs.anchor_file, pairs.anchor_row,
                                 minutes, strict=True)]
    return pairs[TIE_COLUMNS]


def cells(tied: pd.DataFrame) -> pd.DataFrame:
    """The tied lines as the package's records of the hosting system (service, file, row)."""
    return pd.DataFrame({"service": HOSTING, "export_kind": tied.export_kind, "file_sha256": tied.file_sha256,
                         "source_row": tied.source_row})


# --------------------------------------------------------------------------------------------
# what the logs hold (the policy check)


def is_full_ip(value: str) -> bool:
    """An IP address as the visitor's device had it, not shortened: an IPv4 address whose last
    byte is not zeroed, an IPv6 address with more than its first 48 bits."""
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return False
    if address.version == 4:
        return int(address) & 0xFF != 0
    return int(address) & ((1 << 80) - 1) != 0


def holdings(ws: Workspace) -> dict[str, int]:
    """What the logs hold: lines, lines with a full IP address, distinct full addresses, and the
    lines and addresses that carry a subject's user name or e-mail address (its party)."""
    if not has_logs(ws):
        return {}
    lines = ws.query(f"""
        WITH l AS ({_lines_sql()})
        SELECT l.ip, l.party_key <> '' AND s.subject_id IS NOT NULL AS of_subject, count(*) AS n
        FROM l LEFT JOIN subjects s ON s.service = '{HOSTING}' AND s.export_kind = l.export_kind
             AND s.party_key = l.party_key
        GROUP BY ALL""") if _linked(ws) else ws.query(f"""
        WITH l AS ({_lines_sql()}) SELECT ip, false AS of_subject, count(*) AS n FROM l GROUP BY ALL""")
    full = lines[lines.ip.fillna("").map(is_full_ip)]
    tied = full[full.of_subject.fillna(False).astype(bool)]
    return {"log_lines": int(lines.n.sum()), "lines_with_full_ip": int(full.n.sum()),
            "distinct_full_ips": int(full.ip.nunique()), "lines_of_subjects_with_full_ip": int(tied.n.sum()),
            "full_ips_of_subjects": int(tied.ip.nunique())}


def _linked(ws: Workspace) -> bool:
    return not ws.is_empty("subjects")


# --------------------------------------------------------------------------------------------
# analytics events


_COOKIE = re.compile(r"GA\d+\.\d+\.(\d+\.\d+)")
_CLIENT_ID = re.compile(r"\d+\.\d+")


def client_id(value: str) -> str:
    """The client id from what a person sends: the ``_ga`` cookie's value (``GA1.1.123.456``
    gives ``123.456``, its last two dot-separated parts) or the client id itself."""
    text = value.strip()
    cookie = _COOKIE.fullmatch(text)
    if cookie:
        return cookie.group(1)
    if _CLIENT_ID.fullmatch(text):
        return text
    raise InputError(Path("client id"), "is neither a _ga cookie value nor a client id",
                     expected="GA1.1.<number>.<number> or <number>.<number>")


def has_analytics(ws: Workspace) -> bool:
    return ws.exists and bool(ws.query(
        "SELECT count(*) AS n FROM imports WHERE service = ?", [ANALYTICS])["n"].iloc[0])


def analytics_events(ws: Workspace, *, client: str = "", user: str = "") -> pd.DataFrame:
    """The GA4 events of a client id and/or user id: service, export kind, file and row."""
    if not (client or user) or not has_analytics(ws):
        return pd.DataFrame(columns=["service", "export_kind", "file_sha256", "source_row"])
    wanted = client_id(client) if client else None
    return ws.query(f"""
        SELECT i.service, i.export_kind, i.file_sha256, r.source_row
        FROM raw_records r JOIN imports i USING (import_id)
        WHERE i.service = ? AND (json_extract_string(r.record, '{json_path(ga4.CLIENT_ID)}') = ?
                                 OR json_extract_string(r.record, '{json_path(ga4.USER_ID)}') = ?)
        ORDER BY i.import_id, r.source_row""", [ANALYTICS, wanted or "\x00", user or "\x00"])


def pseudonymous_text(lang: str) -> str:
    r = rules()
    return r.pseudonymous_en if lang == "en" else r.pseudonymous_nl

"""The website's web server access logs, as the hosting supplier writes them.

Exports read here:

* IIS W3C extended log files (``u_ex261203.log``; DNN runs on IIS): ``#Software``, ``#Version``,
  ``#Date`` and ``#Fields:`` directive lines, then one space-separated line per request, a
  space inside a value written as ``+`` and an empty value as ``-``. The fields are what the
  server was set to log and may change in the middle of a file (a new ``#Fields:`` line after
  a restart or a configuration change): every line is read with the fields in force above it.
  IIS writes its times in UTC. The hosting control panel (DNN / Managed.com: *Statistics* or
  *Log files*, or the FTP folder ``LogFiles/W3SVC<n>``) offers them for download; the host keeps
  them as long as its own settings say.
* Apache and nginx access logs in the combined (or common) log format
  (``access.log``): ``remote_addr ident remote_user [time] "request" status bytes "referer"
  "user agent"``, with the time's own UTC offset. A hosting panel offers them as *Raw access
  logs*; anything after the user agent is kept in ``extra``.

The file is read line by line from its bytes (UTF-8, a line that is no UTF-8 as Windows-1252),
checked against the workspace's limits as it goes. Every field of every line is kept as the log
wrote it, named as in ``#Fields:`` (W3C) or as nginx's variables (combined). Each line becomes
a ``web_request`` document, dated in the firm's own time zone (Europe/Amsterdam, like the other
exports) and keyed by a hash of the line, so a later download of an overlapping log updates
rather than repeats. A line with a user name (``cs-username``, ``remote_user``: an
authenticated request) belongs to that user; an e-mail address in the query string
(``?email=jan%40example.nl``) is an identifier of the line too, and so is a user name that is an
e-mail address. The client IP address (``c-ip``, ``remote_addr``, IPv4 or IPv6) and the user
agent are kept unmapped, so discovery classifies them (IP address: personal data).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote_plus

import pandas as pd

from workbench.errors import InputError
from workbench.ingest import headers, identifiers, limits
from workbench.ingest.model import ExportKind, Extract
from workbench.ingest.sources import _common

SERVICE = "hosting"
W3C = ExportKind(SERVICE, "iis_w3c", "IIS W3C extended access log")
COMBINED = ExportKind(SERVICE, "combined", "Apache / nginx combined access log")
KINDS: list[ExportKind] = [W3C, COMBINED]
FORMATS: dict[str, tuple[str, ...]] = {W3C.name: ("csv",), COMBINED.name: ("csv",)}
OTHER = headers.KNOWN_WITHOUT_FIELD
DOC_TYPE = "web_request"
LOCAL_ZONE = "Europe/Amsterdam"

# The W3C fields with a canonical field; the client's IP, user name, user agent, referrer and
# query string stay unmapped for discovery (it tells an IP address or an e-mail address by its
# values), every other known field is known without one.
_W3C_FIELDS = {"date": "date", "time": OTHER, "sc-status": "status"}  # the date holds the day
_W3C_PERSONAL = {"c-ip", "cs-username", "cs(user-agent)", "cs(referer)", "cs-uri-query", "cs(cookie)",
                 "cs-host"}
_COMBINED_COLUMNS = ["remote_addr", "ident", "remote_user", "time_local", "request", "status",
                     "body_bytes_sent", "http_referer", "http_user_agent", "extra"]
_COMBINED_FIELDS = tuple(_COMBINED_COLUMNS)
_COMBINED_MAP = {"remote_addr": None, "ident": OTHER, "remote_user": None, "time_local": "date",
                 "request": None, "status": "status", "body_bytes_sent": OTHER, "http_referer": None,
                 "http_user_agent": None, "extra": None}
_QUOTED = r'"((?:[^"\\]|\\.)*)"'
_COMBINED_LINE = re.compile(
    rf'^(\S+) (\S+) (\S+) \[([^\]]+)\] {_QUOTED} (\d{{3}}|-) (\d+|-)(?: {_QUOTED} {_QUOTED})?(.*)$')
_DIRECTIVES = ("#Software:", "#Version:", "#Date:", "#Fields:", "#Start-Date:", "#End-Date:", "#Remark:")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_HEAD_LINES = 20


def detect(path: Path, mappings: headers.MappingsLike = None) -> ExportKind | None:
    """W3C when the head has a ``#Fields:`` directive; combined when its first lines all are
    combined log lines."""
    loaded = _common.load(path)
    if loaded.format != "csv":
        return None
    head = [line for _, line in lines(loaded.data, _HEAD_LINES) if line.strip()]
    if not head:
        return None
    if head[0].startswith(_DIRECTIVES) and any(line.startswith("#Fields:") for line in head):
        return W3C
    if all(_COMBINED_LINE.match(line) for line in head[:5]):
        return COMBINED
    return None


def read(path: Path, kind: ExportKind | None = None, mappings: headers.MappingsLike = None) -> Extract:
    loaded, kind = _common.resolve(path, kind, detect, "web server log", KINDS, FORMATS, mappings)
    log = _read_w3c(loaded) if kind == W3C else _read_combined(loaded)
    return _extract(loaded.path, kind, log)


# --------------------------------------------------------------------------------------------
# reading the lines


@dataclass
class _Log:
    """The lines read so far: their values per block of lines with the same fields (a list per
    line, not a dict: a log has millions), and the canonical facts per line."""

    columns: dict[str, None] = field(default_factory=dict)  # every field seen, in order
    blocks: list[tuple[tuple[str, ...], list[list[str]]]] = field(default_factory=list)
    numbers: list[int] = field(default_factory=list)  # the line number of each row
    keys: list[str] = field(default_factory=list)  # each line's key, from its text
    stamps: list[str] = field(default_factory=list)  # ISO time with offset
    users: list[str] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)
    column_map: dict[str, str | None] = field(default_factory=dict)
    seen: dict[str, int] = field(default_factory=dict)  # how often each line's text came so far

    def add(self, path: Path, number: int, text: str, fields: tuple[str, ...], values: list[str], stamp: str,
            user: str, query: str) -> None:
        if len(self.numbers) >= limits.current().max_rows:
            raise limits.refuse(path, "log lines", len(self.numbers) + 1, "max_rows")
        if not self.blocks or self.blocks[-1][0] != fields:
            self.blocks.append((fields, []))
            self.columns.update(dict.fromkeys(fields))
        self.blocks[-1][1].append(values)
        self.numbers.append(number)
        self.keys.append(self._key(text))
        self.stamps.append(stamp)
        self.users.append("" if user == "-" else user)
        self.queries.append("" if query == "-" else query)

    def _key(self, text: str) -> str:
        """A key from the line's text, so an overlapping later download updates, not repeats; the
        n-th repeat of a line within the file gets ``#n``."""
        digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=10).hexdigest()
        count = self.seen.get(digest, 0)
        self.seen[digest] = count + 1
        return f"w:{digest}" + (f"#{count}" if count else "")

    def table(self) -> pd.DataFrame:
        frames = [pd.DataFrame(rows, columns=list(fields)) for fields, rows in self.blocks]
        whole = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        whole = whole.reindex(columns=list(self.columns)).fillna("")
        whole.index = pd.Index(self.numbers, dtype="int64")
        return whole


def lines(data: bytes, most: int | None = None) -> Iterator[tuple[int, str]]:
    """(line number, text) of each line, decoded one by one: UTF-8 (its BOM dropped), a line
    that is no UTF-8 as Windows-1252."""
    start = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    number = 0
    while start < len(data) and (most is None or number < most):
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end
        chunk = data[start:end].rstrip(b"\r")
        number += 1
        try:
            text = chunk.decode("utf-8")
        except UnicodeDecodeError:
            text = chunk.decode("cp1252", errors="replace")
        yield number, text
        start = end + 1


def _read_w3c(loaded: _common.Loaded) -> _Log:
    log, fields = _Log(), None
    for number, line in lines(loaded.data):
        if not line.strip():
            continue
        if line.startswith("#"):
            if line.startswith("#Fields:"):
                fields = tuple(line.removeprefix("#Fields:").split())
                if not fields:
                    raise InputError(loaded.path, "a #Fields: directive names no field", row=number,
                                     expected="#Fields: followed by the W3C field names")
            continue
        if fields is None:
            raise InputError(loaded.path, "a log line comes before any #Fields: directive", row=number,
                             expected="a #Fields: line naming the fields above the first log line")
        values = line.split(" ")
        if len(values) != len(fields):
            raise InputError(loaded.path, f"the line has {len(values)} values", row=number,
                             expected=f"{len(fields)} values, as the #Fields: line above it names")
        row = dict(zip(fields, values, strict=True))
        stamp = _w3c_time(loaded.path, number, row)
        log.add(loaded.path, number, line, fields, values, stamp, row.get("cs-username", "-"),
                row.get("cs-uri-query", "-"))
    for name in log.columns:
        log.column_map[name] = _w3c_field(name)
    return log


def _w3c_field(name: str) -> str | None:
    folded = name.lower()
    if folded in _W3C_FIELDS:
        return _W3C_FIELDS[folded]
    return None if folded in _W3C_PERSONAL or folded.startswith("cs(") else OTHER


def _w3c_time(path: Path, number: int, row: dict[str, str]) -> str:
    """The line's time (UTC) as ISO text; a line without ``date`` and ``time`` is refused."""
    day, time = row.get("date"), row.get("time")
    if not day or not time or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", day) \
            or not re.fullmatch(r"\d{2}:\d{2}:\d{2}(\.\d+)?", time):
        raise InputError(path, "no readable date and time", row=number, column="date" if not day else "time",
                         expected="date as yyyy-mm-dd and time as hh:mm:ss (UTC), as IIS writes them")
    return f"{day}T{time}+00:00"


def _read_combined(loaded: _common.Loaded) -> _Log:
    log = _Log(column_map=dict(_COMBINED_MAP))
    for number, line in lines(loaded.data):
        if not line.strip():
            continue
        match = _COMBINED_LINE.match(line)
        if match is None:
            raise InputError(loaded.path, "not a combined log line", row=number,
                             expected='remote_addr ident remote_user [time] "request" status bytes '
                                      '"referer" "user agent"')
        row = {c: v or "" for c, v in zip(_COMBINED_COLUMNS, match.groups(), strict=True)}
        row["extra"] = row["extra"].strip()
        stamp = _combined_time(loaded.path, number, row["time_local"])
        target = row["request"].split(" ")
        query = target[1].partition("?")[2] if len(target) > 1 else ""
        log.add(loaded.path, number, line, _COMBINED_FIELDS, list(row.values()), stamp, row["remote_user"],
                query)
    return log


_MONTHS = {m: i for i, m in enumerate(
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], start=1)}
_CLF_TIME = re.compile(r"(\d{2})/([A-Z][a-z]{2})/(\d{4}):(\d{2}:\d{2}:\d{2}) ([+-]\d{2})(\d{2})")


def _combined_time(path: Path, number: int, text: str) -> str:
    match = _CLF_TIME.fullmatch(text)
    if match is None or match.group(2) not in _MONTHS:
        raise InputError(path, "no readable time", row=number, column="time_local",
                         expected="dd/Mon/yyyy:hh:mm:ss +hhmm, as Apache and nginx write it")
    day, month, year, clock, hours, minutes = match.groups()
    return f"{year}-{_MONTHS[month]:02d}-{day}T{clock}{hours}:{minutes}"


# --------------------------------------------------------------------------------------------
# the canonical model


def _extract(path: Path, kind: ExportKind, log: _Log) -> Extract:
    if not log.numbers:
        raise InputError(path, "holds no log lines", expected=f"at least one line of a {kind.title}")
    columns = list(log.columns)
    if len(log.numbers) * len(columns) > limits.current().max_cells:
        raise limits.refuse(path, "cells", len(log.numbers) * len(columns), "max_cells")
    index = pd.Index(log.numbers, dtype="int64")
    raw = log.table()
    dates = local_times(pd.Series(log.stamps, index=index))
    users = pd.Series(log.users, index=index, dtype="str")
    found = pd.Series([_query_email(q) for q in log.queries], index=index, dtype="str")
    keys = _party_keys(users, found)
    documents = pd.DataFrame({
        "doc_key": log.keys, "doc_type": DOC_TYPE, "date": dates, "party_key": keys,
        "status": _status(raw, kind)}, index=index)
    emails = users.where(users.str.contains("@", regex=False), found)
    parties = pd.DataFrame({"party_key": keys, "email": emails}, index=index)
    parties = parties[parties.party_key.ne("") & parties.email.ne("")]
    extract = _common.finish(kind, raw, parties, documents, log.column_map)
    user_column = "cs-username" if kind == W3C else "remote_user"
    query_column = "cs-uri-query" if kind == W3C else "request"
    from_user = users.str.contains("@", regex=False)
    extract.identifiers = pd.concat([
        _email_rows(users[from_user], keys[from_user], user_column),
        _email_rows(found[found.ne("") & ~from_user], keys[found.ne("") & ~from_user], query_column),
    ], ignore_index=True)
    return extract


def local_times(stamps: pd.Series) -> pd.Series:
    """ISO times with their offset as naive times in the firm's own zone (Europe/Amsterdam)."""
    return as_local(pd.to_datetime(stamps, utc=True, format="ISO8601"))


def as_local(aware: pd.Series) -> pd.Series:
    """Aware times as naive times in the firm's own zone."""
    return aware.dt.tz_convert(LOCAL_ZONE).dt.tz_localize(None).astype("datetime64[us]")


def _status(raw: pd.DataFrame, kind: ExportKind) -> pd.Series:
    name = "sc-status" if kind == W3C else "status"
    values = raw[name] if name in raw.columns else pd.Series("", index=raw.index)
    return values.where(values.ne("-"), "")


def _party_keys(users: pd.Series, found: pd.Series) -> pd.Series:
    """The party of each line: its user name, else the e-mail address in its query, as a hash, so
    that a key shown on screen (an erasure plan) names nobody; the raw record keeps the value."""
    def key(prefix: str, value: str) -> str:
        return prefix + hashlib.blake2b(value.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()

    named = {u: key("u:", u) for u in users.unique() if u}
    queried = {e: key("q:", e.lower()) for e in found.unique() if e}
    return pd.Series([named.get(u) or queried.get(e, "") for u, e in zip(users, found, strict=True)],
                     index=users.index, dtype="str")


def _query_email(query: str) -> str:
    """The first e-mail address in a query string, decoded (``%40`` and ``+``)."""
    if not query or ("@" not in query and "%40" not in query.upper()):
        return ""
    found = _EMAIL.search(unquote_plus(query))
    return found.group() if found else ""


def _email_rows(values: pd.Series, keys: pd.Series, column: str) -> pd.DataFrame:
    frame = pd.DataFrame({"party_key": keys, "raw_value": values})
    frame = frame[~frame.duplicated()]
    normal, valid = identifiers.normalise_column(frame.raw_value, "email")
    return pd.DataFrame({"party_key": frame.party_key, "column": column, "kind": "email",
                         "raw_value": frame.raw_value, "value": normal, "valid": valid,
                         "source_row": frame.index.astype("int64")})

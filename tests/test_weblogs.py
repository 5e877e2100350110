"""The web server's access logs: IIS W3C extended (fields changing mid-file) and Apache/nginx
combined, read by content and streamed within the limits; log lines tied to a subject through a
login or an order time with their evidence; the three months of retention; the policy's claim
that IP addresses are not personal data against what the logs hold; the site's user export
through the generic system import."""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import payments_csv
from workbench.audit import policy_audit as pa
from workbench.configuration import ConfigError
from workbench.datamap import linkage, weblogs
from workbench.errors import InputError
from workbench.ingest.sources import _common, webhosting
from workbench.ingest.sources import read as read_any
from workbench.reference import register
from workbench.rights import erasure, package
from workbench.store.workspace import Workspace
from workbench.ui import cli

TODAY = date(2026, 11, 1)
AGENT = "Mozilla/5.0+(Windows+NT+10.0;+Win64;+x64)+AppleWebKit/537.36+(KHTML,+like+Gecko)+Chrome/130.0"
HEAD = ["#Software: Microsoft Internet Information Services 10.0", "#Version: 1.0",
        "#Date: 2026-06-10 08:00:00"]
FIELDS_1 = ("#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
            "cs(User-Agent) sc-status sc-substatus sc-win32-status time-taken")
FIELDS_2 = ("#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
            "cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status sc-bytes time-taken")


def w3c(day: str, clock: str, method: str, page: str, ip: str, *, user: str = "-", query: str = "-",
        referer: str | None = None) -> str:
    """One IIS line; with ``referer`` in the second, longer field layout."""
    if referer is None:
        return f"{day} {clock} 10.0.0.4 {method} {page} {query} 443 {user} {ip} {AGENT} 200 0 0 15"
    return f"{day} {clock} 10.0.0.4 {method} {page} {query} 443 {user} {ip} {AGENT} {referer} 200 0 0 5120 15"


def write_log(path: Path, lines: list[str]) -> Path:
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8"))
    return path


# A visit on 10 June (past three months on 1 November), then after a restart more fields
# are logged: Eva logs in (her PayPal address in Mollie is her user name), Jan checks out from
# 198.51.100.23 a minute and a half before his payment at 10:12 local time (08:12 UTC).
LOG = [
    *HEAD, FIELDS_1,
    w3c("2026-06-10", "08:00:00", "GET", "/", "203.0.113.5"),
    w3c("2026-06-10", "08:00:30", "GET", "/Diensten", "2001:db8:85a3::8a2e:370:7334"),
    "#Software: Microsoft Internet Information Services 10.0", "#Version: 1.0",
    "#Date: 2026-10-01 08:00:00", FIELDS_2,
    w3c("2026-10-01", "08:05:00", "GET", "/Webwinkel", "198.51.100.23", referer="-"),
    w3c("2026-10-01", "08:10:30", "POST", "/Webwinkel/Afrekenen", "198.51.100.23", referer="-"),
    w3c("2026-10-01", "08:12:04", "POST", "/DesktopModules/Webwinkel/API/Mollie/Webhook", "87.233.217.10",
        query="id=tr_aaa111", referer="-"),
    w3c("2026-10-01", "08:12:40", "GET", "/Webwinkel/Bestelling/Bedankt", "198.51.100.23", query="orderid=5",
        referer="-"),
    w3c("2026-10-01", "08:30:00", "GET", "/Contact", "198.51.100.23", referer="-"),
    w3c("2026-10-01", "08:31:00", "GET", "/Mijn-account", "198.51.100.23", user="iemand.anders@example.net",
        referer="-"),
    w3c("2026-10-02", "09:00:00", "GET", "/Contact", "198.51.100.23", referer="-"),
    w3c("2026-10-03", "07:59:10", "POST", "/Login", "2001:db8::42", user="Eva.Mulder@Example.com",
        referer="-"),
    w3c("2026-10-03", "08:05:00", "GET", "/Over-ons", "2001:db8::42", referer="-"),
    w3c("2026-10-03", "08:06:00", "GET", "/Nieuwsbrief/Aanmelden", "192.0.2.77",
        query="email=piet%40example.org&lijst=nieuws", referer="-"),
]
COMBINED = [
    '198.51.100.7 - - [10/Oct/2026:13:55:36 +0200] "GET /index.html HTTP/1.1" 200 2326 '
    '"https://example.org/" "Mozilla/5.0 (X11; Linux x86_64)"',
    '2001:db8::1 - jan@example.nl [10/Oct/2026:13:56:36 +0200] "GET /account?x=1 HTTP/1.1" 200 100 "-" '
    '"curl/8.5"',
    '203.0.113.9 - - [10/Oct/2026:12:00:00 +0000] "GET /nieuwsbrief?email=kees%40example.com HTTP/2.0" 200 5 '
    '"-" "Mozilla/5.0" rt=0.002',
]


@pytest.fixture
def iis(tmp_path: Path) -> Path:
    return write_log(tmp_path / "u_ex2610.log", LOG)


def _read(path: Path):
    _common.release()
    return read_any(path)


# --- reading the formats ----------------------------------------------------------------------


def test_iis_log_keeps_every_field_of_both_layouts(iis: Path) -> None:
    extract = _read(iis)
    assert extract.kind == webhosting.W3C
    data_lines = [i + 1 for i, line in enumerate(LOG) if not line.startswith("#")]
    assert list(extract.raw.index) == data_lines  # source_row is the line number in the file
    first_fields = FIELDS_1.split()[1:]
    second_fields = FIELDS_2.split()[1:]
    assert list(extract.raw.columns) == [*first_fields, *[f for f in second_fields if f not in first_fields]]
    first, later = extract.raw.loc[data_lines[0]], extract.raw.loc[data_lines[2]]
    assert first["cs(Referer)"] == "" and later["cs(Referer)"] == "-" and later["sc-bytes"] == "5120"
    assert extract.raw.loc[data_lines[1], "c-ip"] == "2001:db8:85a3::8a2e:370:7334"  # IPv6 whole
    for number in data_lines:  # every value as the log wrote it
        fields = (FIELDS_1 if number < data_lines[2] else FIELDS_2).split()[1:]
        assert list(extract.raw.loc[number, fields]) == LOG[number - 1].split(" ")
    assert extract.unmapped == ["cs-uri-query", "cs-username", "c-ip", "cs(User-Agent)", "cs(Referer)"]


def test_iis_times_are_utc_and_stored_in_the_firms_zone(iis: Path) -> None:
    docs = _read(iis).documents.set_index("source_row")
    assert docs.loc[5, "date"] == pd.Timestamp("2026-06-10 10:00:00")  # CEST = UTC + 2
    assert set(docs.doc_type) == {webhosting.DOC_TYPE} and docs.doc_key.is_unique


def test_user_names_and_query_addresses_are_identifiers(iis: Path) -> None:
    extract = _read(iis)
    ids = extract.identifiers.set_index("column")
    assert set(extract.identifiers.value) == {"eva.mulder@example.com", "piet@example.org",
                                             "iemand.anders@example.net"}
    assert ids.loc["cs-uri-query", "value"] == "piet@example.org"
    login = LOG.index(next(line for line in LOG if "Eva.Mulder" in line)) + 1
    key = extract.documents.set_index("source_row").loc[login, "party_key"]
    assert key.startswith("u:") and "Eva" not in key  # a key shown on screen names nobody
    assert extract.identifiers.set_index("party_key").loc[key, "raw_value"] == "Eva.Mulder@Example.com"


def test_combined_log(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    path.write_text("\n".join(COMBINED) + "\n", encoding="utf-8")
    extract = _read(path)
    assert extract.kind == webhosting.COMBINED
    raw = extract.raw
    assert list(raw.loc[1, ["remote_addr", "remote_user", "status", "http_user_agent"]]) == [
        "198.51.100.7", "-", "200", "Mozilla/5.0 (X11; Linux x86_64)"]
    assert raw.loc[2, "remote_addr"] == "2001:db8::1" and raw.loc[3, "extra"] == "rt=0.002"
    dates = extract.documents.set_index("source_row")["date"]
    assert dates[1] == pd.Timestamp("2026-10-10 13:55:36") and dates[3] == pd.Timestamp("2026-10-10 14:00:00")
    assert set(extract.identifiers.value) == {"jan@example.nl", "kees@example.com"}


def test_logs_are_recognised_by_content_not_name(tmp_path: Path) -> None:
    named_csv = write_log(tmp_path / "export.csv", LOG)
    assert _read(named_csv).kind == webhosting.W3C
    assert webhosting.detect(payments_csv(tmp_path / "u_ex2610.log")) is None


@pytest.mark.parametrize(("lines", "row", "expected"), [
    ([*HEAD, FIELDS_1, w3c("2026-06-10", "08:00:00", "GET", "/", "203.0.113.5") + " jan@example.nl"],
     5, "14 values"),
    ([*HEAD, FIELDS_1, "2026-06-10 08:00:00 10.0.0.4 GET / - 443 jan@example.nl 203.0.113.5"], 5,
     "14 values"),
    ([*HEAD, FIELDS_1, w3c("10-06-2026", "08:00:00", "GET", "/", "203.0.113.5", user="jan@example.nl")], 5,
     "yyyy-mm-dd"),
    (["#Software: Microsoft Internet Information Services 10.0", "#Fields: date time c-ip",
      "2026-06-10 08:00:00 203.0.113.5", "#Fields:", "x"], 4, "W3C field names"),
])
def test_bad_lines_name_file_and_row_without_personal_data(tmp_path: Path, lines, row, expected) -> None:
    path = write_log(tmp_path / "u_ex.log", lines)
    with pytest.raises(InputError) as caught:
        _read(path)
    message = str(caught.value)
    assert str(path) in message and f"row {row}" in message and expected in message
    assert "jan@example.nl" not in message and "203.0.113.5" not in message


def test_a_bad_combined_line_is_refused_by_row(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    path.write_text("\n".join([*COMBINED[:2], '198.51.100.7 - jan@example.nl [99/Foo/2026:13:55:36 +0200] '
                                               '"GET / HTTP/1.1" 200 1 "-" "x"']) + "\n")
    with pytest.raises(InputError, match=r"row 3, column 'time_local'") as caught:
        _read(path)
    assert "jan@example.nl" not in str(caught.value)


def test_a_log_beyond_the_row_limit_is_refused_and_nothing_imported(tmp_path: Path, iis: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    ws.path.mkdir()
    (ws.path / "limits.toml").write_text("[limits]\nmax_rows = 5\n")
    with pytest.raises(InputError, match="max_rows"):
        ws.import_files([iis])
    assert not ws.exists


# --- tied to a subject --------------------------------------------------------------------------


@pytest.fixture
def linked(tmp_path: Path, iis: Path) -> Workspace:
    ws = Workspace(tmp_path / "ws")
    ws.import_files([payments_csv(tmp_path / "settlement.csv"), iis])
    linkage.link(ws)
    return ws


def _subject(ws: Workspace, email: str) -> list[str]:
    return package.subjects_for(ws, email)


def _line(text: str) -> int:
    return LOG.index(next(line for line in LOG if text in line)) + 1


def test_a_login_ties_the_address_and_the_visit(linked: Workspace) -> None:
    tied = weblogs.tied_lines(linked, _subject(linked, "eva.mulder@example.com")).set_index("source_row")
    login, after = _line("Eva.Mulder"), _line("/Over-ons")
    assert list(tied.index) == [login, after]
    assert tied.loc[login, "tie"] == "login" and f"u_ex2610.log line {login}" in tied.loc[login, "evidence"]
    assert tied.loc[after, "tie"] == "same_visit" and tied.loc[after, "ip"] == "2001:db8::42"
    assert f"(u_ex2610.log line {login}), 5.8 min apart" in tied.loc[after, "evidence"]


def test_an_order_time_ties_the_one_address_on_the_order_pages(linked: Workspace) -> None:
    jan = linkage.find(linked, name="Jan Jansen").subject_id.unique().tolist()
    tied = weblogs.tied_lines(linked, jan).set_index("source_row")
    checkout, thanks = _line("/Webwinkel/Afrekenen"), _line("/Bestelling/Bedankt")
    assert tied.loc[checkout, "tie"] == "order"
    assert "-1.5 min from payment tr_aaa111 (mollie, 2026-10-01 10:12:00)" in tied.loc[checkout, "evidence"]
    assert tied.loc[thanks, "tie"] == "order"
    # the same visit: the shop page before and the contact page 18 minutes later, not the next day,
    # not another user's authenticated request from the same address, not Mollie's webhook call
    assert set(tied.index) == {_line("/Webwinkel - 443"), checkout, thanks, _line("08:30:00")}
    assert set(tied.ip) == {"198.51.100.23"}


def test_two_addresses_on_the_order_pages_tie_nothing(tmp_path: Path) -> None:
    lines = [*HEAD, FIELDS_1,
             w3c("2026-10-01", "08:10:30", "POST", "/Webwinkel/Afrekenen", "198.51.100.23"),
             w3c("2026-10-01", "08:11:00", "POST", "/Webwinkel/Afrekenen", "198.51.100.99")]
    ws = Workspace(tmp_path / "ws")
    ws.import_files([payments_csv(tmp_path / "settlement.csv"), write_log(tmp_path / "u_ex.log", lines)])
    linkage.link(ws)
    jan = linkage.find(ws, name="Jan Jansen").subject_id.unique().tolist()
    assert weblogs.tied_lines(ws, jan).empty


def test_the_package_holds_the_tied_lines_with_their_evidence(linked: Workspace, tmp_path: Path) -> None:
    eva = _subject(linked, "eva.mulder@example.com")
    result = package.write_package(linked, register.load(), subject_ids=eva, out=tmp_path / "pkg",
                                   identities={"e-mail": "eva.mulder@example.com"}, pdf=False)
    hosting = next(s for s in result.systems if s.system == "hosting")
    assert hosting.status == package.FOUND and hosting.records["hosting/ip_evidence"] == 2
    evidence = json.loads((tmp_path / "pkg" / "data" / "hosting" / "ip_evidence.json").read_text())
    assert {r["tie"] for r in evidence["records"]} == {"login", "same_visit"}
    assert "ip-adres" in (tmp_path / "pkg" / "index.html").read_text().lower()
    plan = erasure.plan(linked, register.load(), subject_ids=eva, today=TODAY)
    rows = plan[plan.service.eq("hosting")].set_index("action")
    assert rows.loc["check", "record"] == "1 log lines tied by IP address (order or same visit)"
    assert "ask the hosting supplier" in rows.loc["check", "step"]
    assert rows.loc["delete", "record"] == "party+web_request"  # her own login: removed by the purge


# --- retention and the policy ------------------------------------------------------------------


def test_lines_past_three_months_are_reported(linked: Workspace) -> None:
    late = pa.past_retention(linked, register.load(), TODAY)
    hosting = late[late.service.eq("hosting")]
    assert hosting.records.sum() == 2 and list(hosting.year) == [2026]
    assert hosting.kept_until.iloc[0] == date(2026, 9, 10)


def _claim(check_id: str) -> pa.Claims:
    claims = pa.load_claims()
    return dataclasses.replace(claims, claims=[c for c in claims.claims if c.id == check_id])


def test_the_logs_hold_full_addresses_of_known_people(linked: Workspace) -> None:
    [finding] = pa.run(linked, register.load(), claims=_claim("ip_in_logs"), today=TODAY)
    assert finding.verdict == pa.FAILS
    held = finding.counts
    assert held["log_lines"] == len([line for line in LOG if not line.startswith("#")])
    # Eva's login, another account's request and the newsletter sign-up with its address
    assert held["lines_of_subjects_with_full_ip"] == 3 and held["full_ips_of_subjects"] == 3
    assert "2001:db8::42" not in finding.evidence  # counts, never the addresses


def test_without_logs_the_claim_is_not_checkable(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    ws.import_files([payments_csv(tmp_path / "settlement.csv")])
    [finding] = pa.run(ws, register.load(), claims=_claim("ip_in_logs"), today=TODAY)
    assert finding.verdict == pa.NOT_CHECKABLE


def test_shortened_addresses_are_not_full() -> None:
    assert weblogs.is_full_ip("203.0.113.5") and not weblogs.is_full_ip("203.0.113.0")
    assert weblogs.is_full_ip("2001:db8::42") and not weblogs.is_full_ip("2001:db8:85a3::")
    assert not weblogs.is_full_ip("-")


# --- the site's user export ----------------------------------------------------------------------

DNN_USERS = [
    "UserID,Username,FirstName,LastName,DisplayName,Email,IsSuperUser,Authorised,CreatedOnDate,LastLoginDate",
    "12,Eva.Mulder@Example.com,Eva,Mulder,Eva Mulder,Eva.Mulder@Example.com,False,True,2024-03-02 10:11:12,"
    "2026-10-03 07:59:10",
    "13,pdevries,Piet,de Vries,Piet de Vries,piet@example.org,False,True,2025-01-20 16:40:00,"
    "2026-09-30 12:00:00",
]


def test_a_dnn_user_export_imports_as_another_system(tmp_path: Path, capsys, linked: Workspace) -> None:
    users = tmp_path / "Users.csv"
    users.write_text("\n".join(DNN_USERS) + "\n", encoding="utf-8-sig")
    base = ["--workspace", str(linked.path)]
    _common.release()
    assert cli.main([*base, "import", "--system", "dnn", str(users)]) == 3  # a proposal, nothing imported
    assert cli.main([*base, "mapping", "confirm", "--system", "dnn"]) == 0
    _common.release()
    assert cli.main([*base, "import", "--system", "dnn", str(users)]) == 0
    capsys.readouterr()
    parties = linked.query("SELECT email FROM parties WHERE service = 'dnn' ORDER BY 1")
    assert list(parties.email) == ["eva.mulder@example.com", "piet@example.org"]
    linkage.link(linked)
    eva = _subject(linked, "eva.mulder@example.com")
    members = linked.query("SELECT service FROM subjects WHERE subject_id = ?", eva)
    assert {"dnn", "hosting", "mollie"} <= set(members.service)


def test_the_tie_rules_are_checked_on_load(tmp_path: Path) -> None:
    broken = tmp_path / "weblogs.toml"
    broken.write_text(weblogs.CONFIG.read_text("utf-8").replace("order_minutes = 15", "order_minutes = 0"))
    with pytest.raises(ConfigError, match="ties.order_minutes: Input should be greater than 0") as caught:
        weblogs.rules(broken)
    assert str(broken) in str(caught.value)
    broken.write_text(weblogs.CONFIG.read_text("utf-8").replace("session_minutes = 30\n", ""))
    with pytest.raises(ConfigError, match="ties.session_minutes: Field required"):
        weblogs.rules(broken)

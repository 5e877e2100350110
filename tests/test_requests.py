"""The request register: Art. 12 deadlines, extensions, identity checks, the anonymised log of
erasure requests, duplicates, and the command line."""

from __future__ import annotations

import stat
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
from conftest import CliResult, payments_csv

from workbench.errors import WorkbenchError
from workbench.rights import requests
from workbench.store.workspace import Workspace

EMAIL = "Jan.deVries@Voorbeeld.nl"
NAME = "Jan de Vries"


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "ws")


def events(ws: Workspace, request_id: str) -> list[str]:
    return ws.query("SELECT action FROM request_events WHERE request_id = ? ORDER BY event_id",
                    [request_id])["action"].tolist()


def row(ws: Workspace, request_id: str) -> dict:
    return ws.query("SELECT * FROM requests WHERE request_id = ?", [request_id]).iloc[0].to_dict()


# ---------------------------------------------------------------------------------------------
# due dates


@pytest.mark.parametrize(("received", "law", "policy", "due"), [
    # the law's month ends on the month's last day when the day does not exist
    (date(2025, 1, 31), date(2025, 2, 28), date(2025, 3, 2), date(2025, 2, 28)),
    (date(2028, 1, 31), date(2028, 2, 29), date(2028, 3, 1), date(2028, 2, 29)),
    (date(2025, 3, 31), date(2025, 4, 30), date(2025, 4, 30), date(2025, 4, 30)),
    (date(2025, 12, 31), date(2026, 1, 31), date(2026, 1, 30), date(2026, 1, 30)),
    # February is short: the month binds
    (date(2025, 2, 1), date(2025, 3, 1), date(2025, 3, 3), date(2025, 3, 1)),
    (date(2028, 2, 1), date(2028, 3, 1), date(2028, 3, 2), date(2028, 3, 1)),
    # a 31-day month: the policy's 30 days bind
    (date(2025, 1, 15), date(2025, 2, 15), date(2025, 2, 14), date(2025, 2, 14)),
    (date(2025, 7, 1), date(2025, 8, 1), date(2025, 7, 31), date(2025, 7, 31)),
])
def test_due_date_is_the_earlier_of_law_and_policy(received, law, policy, due) -> None:
    dates = requests.due_dates(received)
    assert (dates.law, dates.policy, dates.due) == (law, policy, due)


def test_calendar_months_agree_with_dateutil() -> None:
    relativedelta = pytest.importorskip("dateutil.relativedelta").relativedelta
    day = date(2024, 1, 1)
    while day < date(2029, 1, 1):
        for months in (1, 2, 3, -60):
            assert requests.add_months(day, months) == day + relativedelta(months=months), (day, months)
        day += timedelta(days=1)


def test_new_request_keeps_both_dates_and_numbers_per_year(ws: Workspace) -> None:
    first = requests.new(ws, type="access", email=EMAIL, received="2025-01-31")
    second = requests.new(ws, type="portability", email="other@example.org", received="2025-03-01")
    third = requests.new(ws, type="access", email="third@example.org", received="2026-01-02")
    assert (first.request_id, second.request_id, third.request_id) == (
        "R-2025-0001", "R-2025-0002", "R-2026-0001")
    stored = row(ws, "R-2025-0001")
    assert (stored["law_due"].date(), stored["policy_due"].date(), stored["due"].date()) == (
        date(2025, 2, 28), date(2025, 3, 2), date(2025, 2, 28))
    assert stored["status"] == "received" and stored["channel"] == "email"
    assert events(ws, "R-2025-0001") == ["created"]


def test_received_defaults_to_today_and_bad_input_is_refused(ws: Workspace) -> None:
    made = requests.new(ws, type="erasure", email=EMAIL)
    assert row(ws, made.request_id)["received"].date() == date.today()
    with pytest.raises(WorkbenchError, match="in the future"):
        requests.new(ws, type="access", email=EMAIL, received="2025-01-02", today=date(2025, 1, 1))
    with pytest.raises(WorkbenchError, match="not a date"):
        requests.new(ws, type="access", email=EMAIL, received="31-01-2025")
    with pytest.raises(WorkbenchError, match="unknown") as bad_type:
        requests.new(ws, type="deletion", email=EMAIL)
    with pytest.raises(WorkbenchError) as bad_email:
        requests.new(ws, type="access", email="jan.devries@@voorbeeld")
    assert "jan.devries" not in str(bad_email.value).lower()
    assert "jan.devries" not in str(bad_type.value).lower()


# ---------------------------------------------------------------------------------------------
# extension (Art. 12(3), A12-02)


def test_extension_by_two_months_counts_from_receipt(ws: Workspace) -> None:
    rid = requests.new(ws, type="access", email=EMAIL, received="2025-01-31").request_id
    done = requests.update(ws, rid, extend_reason="complexity: five systems", told="2025-02-20")
    assert any("2025-04-30" in line for line in done)
    stored = row(ws, rid)
    assert stored["extended_due"].date() == date(2025, 4, 30)  # received + 3 months, not 28 April
    assert stored["extension_told"].date() == date(2025, 2, 20)
    assert stored["due"].date() == date(2025, 2, 28)  # the original stays
    assert stored["status"] == "extended" and stored["extension_months"] == 2
    assert events(ws, rid) == ["created", "extended", "status"]


def test_extension_in_steps_is_capped_at_two_months(ws: Workspace) -> None:
    rid = requests.new(ws, type="access", email=EMAIL, received="2025-02-01").request_id
    requests.update(ws, rid, extend_reason="number of requests", told="2025-02-25", extend_months=1)
    assert row(ws, rid)["extended_due"].date() == date(2025, 4, 1)
    requests.update(ws, rid, extend_reason="complexity", told="2025-03-01", extend_months=1)
    assert row(ws, rid)["extended_due"].date() == date(2025, 5, 1)
    before = events(ws, rid)
    with pytest.raises(WorkbenchError, match="at most 2 further months"):
        requests.update(ws, rid, extend_reason="still more", told="2025-02-26", extend_months=1)
    assert events(ws, rid) == before  # nothing written


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"extend_reason": "complexity", "told": "2025-03-01"}, "after the original due date 2025-02-28"),
    ({"extend_reason": "complexity", "told": "2025-03-01"}, "A12-02"),
    ({"told": "2025-02-10"}, "needs extend_reason"),
    ({"extend_reason": "   ", "told": "2025-02-10"}, "needs extend_reason"),
    ({"extend_reason": "complexity"}, "needs told"),
    ({"extend_reason": "complexity", "told": "2025-02-10", "extend_months": 3}, "at most 2"),
    ({"extend_reason": "complexity", "told": "2025-01-01"}, "before the request was received"),
    ({"status": "extended"}, "extend_reason and told"),
])
def test_invalid_extensions_are_refused(ws: Workspace, kwargs, message) -> None:
    rid = requests.new(ws, type="access", email=EMAIL, received="2025-01-31").request_id
    with pytest.raises(WorkbenchError, match=message.replace("(", r"\(").replace(")", r"\)")):
        requests.update(ws, rid, **kwargs)
    stored = row(ws, rid)
    assert stored["status"] == "received" and stored["extension_months"] == 0
    assert events(ws, rid) == ["created"]


# ---------------------------------------------------------------------------------------------
# identity, status, refusal


def test_identity_verification_is_recorded_and_needed_to_complete(ws: Workspace) -> None:
    rid = requests.new(ws, type="access", email=EMAIL, received="2025-03-03").request_id
    with pytest.raises(WorkbenchError, match="identity is not verified"):
        requests.update(ws, rid, status="completed", responded="2025-03-20")
    with pytest.raises(WorkbenchError, match="METHOD:OUTCOME"):
        requests.update(ws, rid, verify="passport:passed")
    requests.update(ws, rid, verify="id_document:failed", verified="2025-03-04")
    assert row(ws, rid)["status"] == "verifying"
    requests.update(ws, rid, verify="id_document:passed", verified="2025-03-05")
    stored = row(ws, rid)
    assert (stored["verify_method"], stored["verify_outcome"], stored["verified_on"].date()) == (
        "id_document", "passed", date(2025, 3, 5))
    assert stored["status"] == "in_progress"
    requests.update(ws, rid, status="completed", responded="2025-03-20", outcome="partly_granted")
    stored = row(ws, rid)
    assert (stored["status"], stored["responded"].date(), stored["outcome"]) == (
        "completed", date(2025, 3, 20), "partly_granted")
    assert stored["email"] == EMAIL  # an access request keeps the address for the log's retention
    detail = ws.query("SELECT detail FROM request_events WHERE request_id = ? AND action = 'verified'",
                      [rid])["detail"].tolist()
    assert len(detail) == 2 and '"method": "id_document"' in detail[1] and "2025-03-05" in detail[1]
    with pytest.raises(WorkbenchError, match="closed"):
        requests.update(ws, rid, note="one more thing")


def test_known_email_is_checked_against_the_imported_data(tmp_path: Path, ws: Workspace) -> None:
    ws.import_files([payments_csv(tmp_path / "settlement.csv")])
    known = requests.new(ws, type="access", email="EVA.Mulder@example.com", received="2025-03-03")
    requests.update(ws, known.request_id, verify="known_email:passed", verified="2025-03-04")
    assert row(ws, known.request_id)["verify_outcome"] == "passed"
    stranger = requests.new(ws, type="access", email="eva.m@elders.example", received="2025-03-03")
    with pytest.raises(WorkbenchError, match="id_document") as refused:
        requests.update(ws, stranger.request_id, verify="known_email:passed")
    assert "elders" not in str(refused.value)
    requests.update(ws, stranger.request_id, verify="id_document:passed")


def test_refusal_needs_its_justification(ws: Workspace) -> None:
    rid = requests.new(ws, type="access", email=EMAIL, received="2025-03-03").request_id
    with pytest.raises(WorkbenchError, match="refuse_reason"):
        requests.update(ws, rid, status="refused")
    requests.update(ws, rid, refuse_reason="manifestly excessive: the fifth identical request this "
                    "month (Art. 12(5))", responded="2025-03-10")
    stored = row(ws, rid)
    assert (stored["status"], stored["outcome"]) == ("refused", "refused")
    assert "Art. 12(5)" in stored["refusal_reason"]


# ---------------------------------------------------------------------------------------------
# the list


def test_list_shows_days_left_overdue_and_extended(ws: Workspace) -> None:
    a = requests.new(ws, type="access", email="a@example.org", received="2025-01-31").request_id
    b = requests.new(ws, type="erasure", email="b@example.org", received="2025-02-10").request_id
    c = requests.new(ws, type="objection", email="c@example.org", received="2025-02-20").request_id
    done = requests.new(ws, type="access", email="d@example.org", received="2025-02-01").request_id
    requests.update(ws, b, extend_reason="complexity", told="2025-03-01")
    requests.update(ws, done, verify="known_email:passed", status="completed", responded="2025-02-15")
    table = requests.listing(ws, today=date(2025, 3, 5)).set_index("request_id")
    assert done not in table.index  # closed requests are not open
    assert table.loc[a, "due"] == date(2025, 2, 28) and table.loc[a, "days_left"] == -5
    assert "OVERDUE" in table.loc[a, "flag"]
    assert table.loc[b, "due"] == date(2025, 5, 10) and table.loc[b, "days_left"] == 66
    assert "extended +2m" in table.loc[b, "flag"] and "OVERDUE" not in table.loc[b, "flag"]
    assert table.loc[c, "due"] == date(2025, 3, 20) and table.loc[c, "days_left"] == 15
    assert table.loc[c, "flag"] == ""
    assert list(table.index) == [a, c, b]  # by due date
    assert "a***@e***.org" in table["requester"].tolist()  # masked, never in full
    near = requests.listing(ws, today=date(2025, 3, 17)).set_index("request_id")
    assert near.loc[c, "flag"] == "due within 5 days"
    every = requests.listing(ws, today=date(2025, 3, 5), include_closed=True).set_index("request_id")
    assert every.loc[done, "flag"] == "on time"


# ---------------------------------------------------------------------------------------------
# privacy of the register


def _text_of_every_table(db: Path) -> str:
    with duckdb.connect(str(db), read_only=True) as con:
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'").fetchall()]
        parts = []
        for table in tables:
            columns = [r[0] for r in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ?",
                [table]).fetchall()]
            for column in columns:
                parts += [str(v[0]) for v in con.execute(
                    f'SELECT CAST("{column}" AS VARCHAR) FROM "{table}"').fetchall()]
    return "\n".join(parts).lower()


def test_completed_erasure_leaves_no_readable_identifier(ws: Workspace) -> None:
    rid = requests.new(ws, type="erasure", email=EMAIL, name=NAME, received="2025-01-31").request_id
    other = requests.new(ws, type="access", email="someone@example.org", name="Piet Bakker",
                         received="2025-02-02").request_id
    requests.update(ws, rid, extend_reason=f"complexity: {NAME} ({EMAIL}) is in four systems",
                    told="2025-02-10", note=f"called {NAME} on +31 6 12345678")
    requests.update(ws, rid, verify="known_email:passed", note="Vries confirmed by phone")
    before = _text_of_every_table(ws.db_path)
    assert EMAIL.lower() in before and NAME.lower() in before  # the scan does see them
    done = requests.update(ws, rid, status="completed", responded="2025-03-20")
    assert any("removed" in line for line in done)

    text = _text_of_every_table(ws.db_path)
    files = b"".join(p.read_bytes() for p in ws.path.rglob("*") if p.is_file()).lower()
    for needle in (EMAIL, EMAIL.split("@")[0], NAME, "Vries", "12345678"):
        assert needle.lower() not in text, needle
        assert needle.lower().encode() not in files, needle  # not even in the file's free blocks
    assert "someone@example.org" in text and "piet bakker" in text  # other requests untouched
    stored = row(ws, rid)
    assert stored["email"] is None and stored["name"] is None
    assert len(stored["email_hmac"]) == 64 and len(stored["name_hmac"]) == 64
    assert (stored["type"], stored["status"], stored["outcome"]) == ("erasure", "completed", "granted")
    assert stored["received"].date() == date(2025, 1, 31)
    assert stored["responded"].date() == date(2025, 3, 20)
    assert stored["extension_reason"] == "complexity: [verwijderd] ([verwijderd]) is in four systems"
    assert events(ws, rid)[-1] == "anonymised"
    assert other in ws.query("SELECT request_id FROM requests")["request_id"].tolist()


def test_the_secret_is_created_once_owner_only(ws: Workspace) -> None:
    requests.new(ws, type="access", email=EMAIL, received="2025-01-31")
    key_file = ws.path / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    first = key_file.read_bytes()
    requests.new(ws, type="access", email=EMAIL, received="2025-03-31")
    assert key_file.read_bytes() == first
    stored = ws.query("SELECT DISTINCT email_hmac FROM requests")
    assert len(stored) == 1  # same address, same key: same hash
    key_file.write_text("not a key\n")
    with pytest.raises(WorkbenchError, match="not a workbench secret"):
        requests.new(ws, type="access", email=EMAIL, received="2025-04-01")


def test_duplicates_within_a_year_also_against_an_anonymised_erasure(ws: Workspace) -> None:
    first = requests.new(ws, type="erasure", email=EMAIL, name=NAME, received="2023-01-31")
    assert first.duplicate_of is None
    requests.update(ws, first.request_id, verify="id_document:passed", status="completed",
                    responded="2023-02-20")
    again = requests.new(ws, type="access", email="  jan.devries@voorbeeld.NL ", received="2024-01-31")
    assert again.duplicate_of == first.request_id  # 365 days later, by keyed hash only
    assert row(ws, again.request_id)["duplicate_of"] == first.request_id
    other = requests.new(ws, type="access", email="someone@example.org", received="2024-01-31")
    assert other.duplicate_of is None
    late = requests.new(ws, type="access", email="someone@example.org", received="2025-01-31")
    assert late.duplicate_of is None  # 366 days after the earlier one
    assert requests.listing(ws, today=date(2025, 2, 1)).set_index("request_id").loc[
        again.request_id, "duplicate_of"] == first.request_id


def test_purge_deletes_requests_closed_more_than_five_years_ago(ws: Workspace) -> None:
    old = requests.new(ws, type="access", email=EMAIL, received="2020-01-06").request_id
    requests.update(ws, old, verify="known_email:passed", status="completed", responded="2020-01-20")
    recent = requests.new(ws, type="access", email=EMAIL, received="2021-01-06").request_id
    requests.update(ws, recent, verify="known_email:passed", status="completed", responded="2021-01-20")
    still_open = requests.new(ws, type="access", email="x@example.org", received="2019-01-06").request_id
    assert requests.purge_expired(ws, today=date(2025, 6, 1)) == [old]
    left = ws.query("SELECT request_id FROM requests ORDER BY request_id")["request_id"].tolist()
    assert left == sorted([recent, still_open])
    assert events(ws, old) == []


# ---------------------------------------------------------------------------------------------
# the command line


def test_cli_round_trip(tmp_path: Path, cli: Callable[..., CliResult]) -> None:
    ws = tmp_path / "ws"

    def run(workspace: Path, *args: str) -> CliResult:
        return cli("--workspace", workspace, *args)

    made = run(ws, "request", "new", "--type", "erasure", "--email", EMAIL, "--name", NAME,
               "--received", "2025-01-31", "--channel", "form")
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("R-2025-0001 due 2025-02-28")
    assert "2025-03-02" in made.stdout  # the policy's date is shown too
    dup = run(ws, "request", "new", "--type", "access", "--email", EMAIL.lower(), "--received", "2025-02-01")
    assert dup.returncode == 0 and "R-2025-0002 due 2025-03-01" in dup.stdout
    assert "possible duplicate of R-2025-0001" in dup.stdout

    listed = run(ws, "request", "list", "--today", "2025-03-03")
    assert listed.returncode == 0, listed.stderr
    line = next(li for li in listed.stdout.splitlines() if li.startswith("R-2025-0001"))
    assert "-3" in line.split() and "OVERDUE" in line
    assert EMAIL.lower() not in listed.stdout.lower()

    late = run(ws, "request", "update", "R-2025-0001", "--extend-reason", "complexity",
               "--told", "2025-03-01")
    assert late.returncode == 2 and "A12-02" in late.stderr
    refused = run(ws, "request", "update", "R-2025-0001", "--status", "completed")
    assert refused.returncode == 2 and "identity is not verified" in refused.stderr
    for result in (late, refused):
        assert EMAIL.lower() not in result.stderr.lower() and "vries" not in result.stderr.lower()
    ok = run(ws, "request", "update", "R-2025-0001", "--extend-reason", "complexity",
             "--told", "2025-02-27", "--extend-months", "1", "--note", "ID requested")
    assert ok.returncode == 0, ok.stderr
    assert "extended by 1 month(s) to 2025-03-31" in ok.stdout
    listed = run(ws, "request", "list", "--today", "2025-03-03")
    line = next(li for li in listed.stdout.splitlines() if li.startswith("R-2025-0001"))
    assert "28" in line.split() and "extended +1m" in line and "OVERDUE" not in line

    closed = run(ws, "request", "update", "R-2025-0001", "--verify", "id_document:passed",
                 "--verified", "2025-03-05", "--status", "completed", "--responded", "2025-03-10")
    assert closed.returncode == 0, closed.stderr
    shown = run(ws, "request", "show", "R-2025-0001")
    assert shown.returncode == 0, shown.stderr
    assert "status: completed" in shown.stdout and "anonymised" in shown.stdout
    assert "vries" not in shown.stdout.lower() and "ID requested" not in shown.stdout

    missing = run(ws, "request", "show", "R-2025-0099")
    assert missing.returncode == 2 and "not in the register" in missing.stderr
    bad = run(ws, "request", "new", "--type", "access", "--email", "jan@", "--received", "2025-02-01")
    assert bad.returncode == 2 and "not a valid e-mail address" in bad.stderr and "jan@" not in bad.stderr
    usage = run(ws, "request", "new", "--type", "forget-me", "--email", EMAIL)
    assert usage.returncode == 2  # argparse
    assert run(ws, "request", "list", "--today", "2025-13-01").returncode == 2

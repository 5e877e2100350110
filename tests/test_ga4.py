"""Google Analytics 4's BigQuery export (NDJSON and Parquet): every nested field kept, every
digit of an id; pseudonymous, so a package says why it cannot be searched without the client id
and searches it with one; the erasure plan gives GA4's user-deletion step."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import payments_csv
from workbench.datamap import linkage, weblogs
from workbench.errors import InputError
from workbench.ingest.sources import _common, ga4
from workbench.ingest.sources import read as read_any
from workbench.reference import register
from workbench.rights import erasure, package
from workbench.store.workspace import Workspace

CLIENT = "1234567890.1761998400"


def _param(key: str, string: str | None = None, integer: str | None = None) -> dict:
    return {"key": key, "value": {"string_value": string, "int_value": integer, "float_value": None,
                                  "double_value": None}}


def event(client: str, micros: str, name: str = "page_view", user: str | None = None) -> dict:
    return {
        "event_date": "20261101", "event_timestamp": micros, "event_name": name,
        "event_params": [_param("page_location", "https://dekaleict.nl/Diensten"),
                         _param("ga_session_id", integer="1761998400")],
        "event_bundle_sequence_id": "9007199254740993", "user_id": user, "user_pseudo_id": client,
        "user_properties": [], "device": {"category": "desktop", "web_info": {"browser": "Firefox"}},
        "geo": {"country": "Netherlands", "city": "Utrecht"}, "items": [{"item_id": "SKU-1"}],
    }


EVENTS = [event(CLIENT, "1793534400123456"), event(CLIENT, "1793534460000001", "purchase"),
          event("987654321.1760000000", "1793540000000000", user="dnn-13")]


def _ndjson(path: Path, events: list[dict] = EVENTS) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    return path


def _parquet(path: Path) -> Path:
    pq.write_table(pa.Table.from_pylist([{**e, "event_timestamp": int(e["event_timestamp"]),
                                          "event_bundle_sequence_id": int(e["event_bundle_sequence_id"])}
                                         for e in EVENTS]), path)
    return path


def _read(path: Path):
    _common.release()
    return read_any(path)


def test_ndjson_events_keep_every_field_and_digit(tmp_path: Path) -> None:
    extract = _read(_ndjson(tmp_path / "events.json"))
    assert extract.kind == ga4.NDJSON and extract.parties.empty
    first = extract.raw.loc[1]
    assert first["event_params.page_location"] == "https://dekaleict.nl/Diensten"
    assert first["event_params.ga_session_id"] == "1761998400"
    assert first["event_bundle_sequence_id"] == "9007199254740993"  # beyond a float's digits
    assert first["device.web_info.browser"] == "Firefox"
    assert json.loads(first["items"]) == [{"item_id": "SKU-1"}]
    assert first["user_pseudo_id"] == CLIENT and extract.raw.loc[3, "user_id"] == "dnn-13"
    docs = extract.documents.set_index("source_row")
    assert docs.loc[1, "date"] == pd.Timestamp("2026-11-01 13:00:00.123456")  # 12:00 UTC, CET
    assert set(docs.doc_type) == {ga4.DOC_TYPE} and docs.doc_key.is_unique
    assert "user_pseudo_id" in extract.unmapped and "event_name" in extract.recognised


def test_parquet_reads_as_the_ndjson_does(tmp_path: Path) -> None:
    from_json = _read(_ndjson(tmp_path / "events.json")).raw
    from_parquet = _read(_parquet(tmp_path / "events.parquet"))
    assert from_parquet.kind == ga4.PARQUET
    assert from_parquet.raw.loc[:, from_json.columns].equals(from_json)


@pytest.mark.parametrize(("text", "row", "expected"), [
    (json.dumps(EVENTS[0]) + "\n{\"event_timestamp\": \n", 2, "JSON object"),
    (json.dumps(EVENTS[0]) + "\n" + json.dumps({k: v for k, v in EVENTS[1].items() if k != "user_pseudo_id"}),
     2, "user_pseudo_id"),
    (json.dumps({**EVENTS[0], "event_timestamp": "gisteren"}), 1, "microseconds"),
])
def test_bad_events_name_file_and_row_without_the_ids(tmp_path: Path, text: str, row: int,
                                                       expected: str) -> None:
    path = tmp_path / "events.json"
    path.write_text(text + "\n")
    with pytest.raises(InputError) as caught:
        _read(path)
    message = str(caught.value)
    assert str(path) in message and f"row {row}" in message and expected in message
    assert CLIENT not in message and "dekaleict.nl/Diensten" not in message


def test_a_truncated_parquet_file_is_refused(tmp_path: Path) -> None:
    whole = _parquet(tmp_path / "events.parquet").read_bytes()
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(whole[: len(whole) // 2] + b"PAR1")
    with pytest.raises(InputError, match="Parquet"):
        _read(cut)


def test_the_client_id_is_the_cookies_last_two_parts() -> None:
    assert weblogs.client_id("GA1.1.1234567890.1761998400") == CLIENT
    assert weblogs.client_id("GA1.2.55.66") == "55.66" and weblogs.client_id(" 55.66 ") == "55.66"
    with pytest.raises(InputError, match="_ga cookie"):
        weblogs.client_id("jan@example.nl")


@pytest.fixture
def linked(tmp_path: Path) -> Workspace:
    ws = Workspace(tmp_path / "ws")
    ws.import_files([payments_csv(tmp_path / "settlement.csv"), _ndjson(tmp_path / "events.json")])
    linkage.link(ws)
    return ws


def _package(ws: Workspace, out: Path, **ids: str) -> package.PackageResult:
    eva = package.subjects_for(ws, "eva.mulder@example.com")
    return package.write_package(ws, register.load(), subject_ids=eva, out=out, pdf=False,
                                 identities={"e-mail": "eva.mulder@example.com", **ids})


def test_without_a_client_id_the_letter_says_why_and_how_to_find_it(linked: Workspace,
                                                                     tmp_path: Path) -> None:
    result = _package(linked, tmp_path / "pkg")
    analytics = next(s for s in result.systems if s.system == "analytics")
    assert (analytics.status, analytics.reason) == (package.NOT_FOUND, "pseudonymous")
    letter = (tmp_path / "pkg" / "index.html").read_text()
    assert "Niet herleidbaar zonder uw client-id" in letter and "_ga" in letter
    assert not (tmp_path / "pkg" / "data" / "analytics").exists()


@pytest.mark.slow  # import, link and a whole access package
def test_with_the_cookie_the_export_is_searched(linked: Workspace, tmp_path: Path) -> None:
    result = _package(linked, tmp_path / "pkg", ga_client_id="GA1.1." + CLIENT)
    analytics = next(s for s in result.systems if s.system == "analytics")
    assert analytics.status == package.FOUND and analytics.records == {"analytics/ga4_ndjson": 2}
    rows = (tmp_path / "pkg" / "data" / "analytics" / "ga4_ndjson.csv").read_text()
    assert "purchase" in rows and "987654321" not in rows
    by_user = _package(linked, tmp_path / "pkg2", ga_user_id="dnn-13")
    assert next(s for s in by_user.systems if s.system == "analytics").records == {"analytics/ga4_ndjson": 1}
    nobody = _package(linked, tmp_path / "pkg3", ga_client_id="1.2")
    assert next(s for s in nobody.systems if s.system == "analytics").status == package.NOT_FOUND


def test_erasure_gives_the_user_deletion_step(linked: Workspace) -> None:
    eva = package.subjects_for(linked, "eva.mulder@example.com")
    plan = erasure.plan(linked, register.load(), subject_ids=eva)
    [step] = plan[plan.service.eq("analytics")].step
    assert "User Deletion API" in step and "CLIENT_ID" in step


def test_a_parquet_file_of_something_else_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.parquet"
    pq.write_table(pa.table({"order_id": [1, 2]}), path)
    with pytest.raises(InputError, match="lacks GA4's event columns"):
        _read(path)

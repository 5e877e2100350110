"""Google Analytics 4: the property's raw event data, as its BigQuery export holds it.

Export read here: the ``events_YYYYMMDD`` tables of the GA4 BigQuery export (*Admin* >
*Product links* > *BigQuery links* sends them to the firm's Google Cloud project), downloaded
from the BigQuery console (*Export* > *Export to GCS*, or ``bq extract``) as newline-delimited
JSON or as Parquet. One record per event: ``event_date`` (yyyymmdd), ``event_timestamp`` (UTC,
microseconds), ``event_name``, ``event_params`` (a list of ``{key, value: {string_value,
int_value, float_value, double_value}}``), ``user_pseudo_id`` (the client id of the ``_ga``
cookie), ``user_id`` (only when the site sends its own user id), ``user_properties``, ``device``,
``geo``, ``traffic_source``, ``items`` and more, nested.

Every field is kept: nested objects as dotted paths (``device.web_info.browser``), each event
parameter and user property as ``event_params.<key>`` / ``user_properties.<key>`` with the value
it has, other lists as JSON text. Integers keep every digit (BigQuery writes INT64 as text in
JSON; Parquet's integers are written out whole). Each event becomes an ``analytics_event``
document dated in the firm's own zone (Europe/Amsterdam). The data is pseudonymous: no party is
made from it, since nothing in it names a person; :mod:`workbench.datamap.weblogs` searches it by the
client id or user id a person supplies.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from workbench.errors import InputError
from workbench.ingest import headers, limits, tabular
from workbench.ingest.model import ExportKind, Extract
from workbench.ingest.sources import _common
from workbench.ingest.sources.webhosting import as_local, lines

SERVICE = "analytics"
NDJSON = ExportKind(SERVICE, "ga4_ndjson", "Google Analytics 4 BigQuery export (NDJSON)")
PARQUET = ExportKind(SERVICE, "ga4_parquet", "Google Analytics 4 BigQuery export (Parquet)")
KINDS: list[ExportKind] = [NDJSON, PARQUET]
FORMATS: dict[str, tuple[str, ...]] = {NDJSON.name: ("json",), PARQUET.name: ("csv",)}
OTHER = headers.KNOWN_WITHOUT_FIELD
DOC_TYPE = "analytics_event"
CLIENT_ID = "user_pseudo_id"
USER_ID = "user_id"
# The ids that make an event a person's once she gives one (the register's discovery kind).
ONLINE_IDS = {CLIENT_ID: "online_id", USER_ID: "online_id"}
_REQUIRED = {"event_timestamp", "event_name", CLIENT_ID}
_KNOWN = {"event_date": "date", "event_timestamp": "date", "event_name": OTHER,
          "event_bundle_sequence_id": OTHER, "event_server_timestamp_offset": OTHER,
          "event_previous_timestamp": OTHER, "event_value_in_usd": OTHER, "stream_id": OTHER,
          "platform": OTHER, "is_active_user": OTHER, "batch_event_index": OTHER,
          "batch_page_id": OTHER, "batch_ordering_id": OTHER}
_PARQUET_MAGIC = b"PAR1"


def detect(path: Path, mappings: headers.MappingsLike = None) -> ExportKind | None:
    loaded = _common.load(path)
    if loaded.data.startswith(_PARQUET_MAGIC):  # no other export comes as Parquet: read refuses
        return PARQUET                             # a damaged one or one without GA4's columns
    if loaded.format != "json":
        return None
    first = next((line for line in lines(loaded.data, 5) if line[1].strip()), None)
    if first is None:
        return None
    try:
        record = json.loads(first[1])
    except ValueError:
        return None
    return NDJSON if isinstance(record, dict) and record.keys() >= _REQUIRED else None


def read(path: Path, kind: ExportKind | None = None, mappings: headers.MappingsLike = None) -> Extract:
    loaded = _common.load(path)
    kind = kind or detect(path, mappings)
    if kind is None:
        raise InputError(path, "not recognised as a Google Analytics 4 export",
                         expected="GA4 BigQuery events as NDJSON or Parquet with event_timestamp, "
                                  "event_name and user_pseudo_id")
    records = _parquet_records(loaded) if kind == PARQUET else _ndjson_records(loaded)
    return _extract(loaded.path, kind, records)


# --------------------------------------------------------------------------------------------
# reading


def _ndjson_records(loaded: _common.Loaded) -> Iterator[tuple[int, dict]]:
    for number, line in lines(loaded.data):
        if not line.strip():
            continue
        tabular.check_json_depth(loaded.path, line)
        try:  # integers and decimals as the text they were written as: every digit kept
            record = json.loads(line, parse_int=str, parse_float=str, parse_constant=_refuse_constant)
        except ValueError:
            raise InputError(loaded.path, "not a JSON object", row=number,
                             expected="one GA4 event as a JSON object per line") from None
        if not isinstance(record, dict):
            raise InputError(loaded.path, "not a JSON object", row=number,
                             expected="one GA4 event as a JSON object per line")
        yield number, record


def _refuse_constant(name: str) -> None:
    raise ValueError(name)


def _parquet_table(loaded: _common.Loaded):
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(io.BytesIO(loaded.data))
    except Exception:  # noqa: BLE001 - pyarrow raises several kinds for a damaged file
        raise InputError(loaded.path, "unreadable Parquet file", expected="a complete Parquet file") from None


def _parquet_records(loaded: _common.Loaded) -> Iterator[tuple[int, dict]]:
    parquet = _parquet_table(loaded)
    if not set(parquet.schema_arrow.names) >= _REQUIRED:
        raise InputError(loaded.path, "lacks GA4's event columns",
                         expected="event_timestamp, event_name and user_pseudo_id")
    number = 0
    for batch in parquet.iter_batches(batch_size=10_000):  # a row group at a time, not the file
        for record in batch.to_pylist():
            number += 1
            yield number, record


# --------------------------------------------------------------------------------------------
# flattening and the canonical model


def flatten_event(record: dict) -> dict[str, str]:
    """One event as text per column: nested objects as dotted paths, parameters by key."""
    out: dict[str, str] = {}
    for name, value in record.items():
        if name in ("event_params", "user_properties") and isinstance(value, list):
            for item in value:
                if isinstance(item, dict) and "key" in item:
                    out[f"{name}.{item['key']}"] = _param_value(item.get("value"))
        elif isinstance(value, dict):
            for sub, text in _flat(value, name):
                out[sub] = text
        else:
            out[name] = _common.as_text(value) if value is not None else ""
    return out


def _flat(obj: dict, prefix: str) -> Iterator[tuple[str, str]]:
    for key, value in obj.items():
        name = f"{prefix}.{key}"
        if isinstance(value, dict):
            yield from _flat(value, name)
        else:
            yield name, "" if value is None else _common.as_text(value)


def _param_value(value: object) -> str:
    if not isinstance(value, dict):
        return "" if value is None else _common.as_text(value)
    for key in ("string_value", "int_value", "double_value", "float_value"):
        if value.get(key) is not None:
            return _common.as_text(value[key])
    return ""


def _extract(path: Path, kind: ExportKind, records: Iterator[tuple[int, dict]]) -> Extract:
    rows, numbers, columns = [], [], {}
    for number, record in records:
        if len(rows) >= limits.current().max_rows:
            raise limits.refuse(path, "events", len(rows) + 1, "max_rows")
        missing = _REQUIRED - record.keys()
        if missing:
            raise InputError(path, "an event lacks " + ", ".join(sorted(missing)), row=number,
                             expected="every GA4 event with event_timestamp, event_name and user_pseudo_id")
        row = flatten_event(record)
        columns.update(dict.fromkeys(row))
        rows.append(row)
        numbers.append(number)
    if not rows:
        raise InputError(path, "holds no events", expected="at least one GA4 event")
    if len(rows) * len(columns) > limits.current().max_cells:
        raise limits.refuse(path, "cells", len(rows) * len(columns), "max_cells")
    index = pd.Index(numbers, dtype="int64")
    raw = pd.DataFrame.from_records(rows, columns=list(columns), index=index).fillna("")
    documents = pd.DataFrame({"doc_key": _event_keys(raw), "doc_type": DOC_TYPE,
                              "date": _event_times(path, raw), "party_key": ""}, index=index)
    column_map = {c: _KNOWN.get(c) for c in raw.columns}
    parties = pd.DataFrame({"party_key": pd.Series(dtype="str")})
    return _common.finish(kind, raw, parties, documents, column_map)


def _event_times(path: Path, raw: pd.DataFrame) -> pd.Series:
    micros = raw["event_timestamp"]
    bad = ~micros.str.fullmatch(r"\d{1,19}")
    if bad.any():
        raise InputError(path, "event_timestamp is no number of microseconds", row=int(micros.index[bad][0]),
                         column="event_timestamp",
                         expected="microseconds since 1970 (UTC), as GA4 writes them")
    return as_local(pd.to_datetime(micros.astype("int64"), unit="us", utc=True))


def _event_keys(raw: pd.DataFrame) -> list[str]:
    """A key per event from its client, time, name and sequence; repeats within a file get ``#n``."""
    parts = [raw[c] if c in raw.columns else pd.Series("", index=raw.index)
             for c in (CLIENT_ID, "event_timestamp", "event_name", "event_bundle_sequence_id")]
    seen: dict[str, int] = {}
    keys = []
    for values in zip(*parts, strict=True):
        digest = hashlib.blake2b("\x1f".join(values).encode(), digest_size=10).hexdigest()
        count = seen.get(digest, 0)
        seen[digest] = count + 1
        keys.append(f"g:{digest}" + (f"#{count}" if count else ""))
    return keys

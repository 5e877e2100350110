"""The demo website's Google Analytics 4 events, as the BigQuery export holds them: September
and October as NDJSON, August as Parquet (the two formats BigQuery exports to).

Three months of page views, sessions and purchases by visitors known only by their client id
(the ``_ga`` cookie); some of them are demo clients, whose client id :func:`client_id` gives, so
that a request carrying one finds their visits. No user id is sent (the site does not use
User-ID), as the register's privacy-friendly set-up says.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from workbench.demo import TODAY, Business, Client

SERVICE = "analytics"
START = date(2026, 9, 1)
PARQUET_START = date(2026, 8, 1)  # August, exported as Parquet
STREAM = "8123456789"
PAGES = ["/", "/Diensten", "/Diensten/Websitebeheer", "/Webwinkel", "/Webwinkel/Laptops", "/Contact",
         "/Over-ons"]
DEVICES = [("desktop", "Windows", "Chrome"), ("desktop", "Macintosh", "Safari"), ("mobile", "iOS", "Safari"),
           ("mobile", "Android", "Chrome")]
CITIES = ["Amsterdam", "Utrecht", "Rotterdam", "Den Haag", "Eindhoven", "Groningen", "Zwolle"]


def write(business: Business, out: Path) -> list[Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "events_202609-202610.ndjson"
    path.write_bytes(ndjson(business).encode("utf-8"))
    august = out / "events_202608.parquet"
    pq.write_table(pa.Table.from_pylist(_events(business, PARQUET_START, START)), august)
    return [path, august]


def client_id(business: Business, client: Client) -> str:
    """The client id in the demo client's ``_ga`` cookie (GA1.1.<this>)."""
    rng = business.rng(SERVICE, "client", client.number)
    return f"{rng.randrange(10**8, 2 * 10**9)}.{rng.randrange(1_751_328_000, 1_756_684_800)}"


def ndjson(business: Business) -> str:
    return "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in _events(business, START, TODAY))


def _events(business: Business, start: date, end: date) -> list[dict]:
    rng = business.rng(SERVICE, start)
    visitors = [f"{rng.randrange(10**8, 2 * 10**9)}.{rng.randrange(1_751_328_000, 1_756_684_800)}"
                for _ in range(80)]
    visitors += [client_id(business, c) for c in business.clients if len(c.services) >= 3]
    events = []
    day = start
    while day < end:
        for _ in range(rng.randrange(3, 8)):
            events += _session(rng, rng.choice(visitors), day)
        day += timedelta(days=1)
    events.sort(key=lambda e: (e["event_timestamp"], e["user_pseudo_id"], e["event_name"]))
    return events


def _session(rng, visitor: str, day: date) -> list[dict]:
    start = datetime.combine(day, datetime.min.time(), UTC) + timedelta(seconds=rng.randrange(0, 86400))
    session = str(int(start.timestamp()))
    device, system, browser = rng.choice(DEVICES)
    city = rng.choice(CITIES)
    names = ["session_start"] + ["page_view"] * rng.randrange(1, 5)
    if rng.random() < 0.1:
        names.append("purchase")
    out = []
    for i, name in enumerate(names):
        at = start + timedelta(seconds=30 * i)
        micros = int(at.timestamp()) * 1_000_000 + rng.randrange(0, 1_000_000)
        page = rng.choice(PAGES)
        out.append({
            "event_date": f"{at:%Y%m%d}", "event_timestamp": str(micros), "event_name": name,
            "event_params": [
                _param("page_location", string=f"https://dekaleict.nl{page}"),
                _param("ga_session_id", integer=session),
                _param("engagement_time_msec", integer=str(rng.randrange(100, 60000))),
            ],
            "event_previous_timestamp": None, "event_value_in_usd": None,
            "event_bundle_sequence_id": str(rng.randrange(1, 10**6)), "event_server_timestamp_offset": None,
            "user_id": None, "user_pseudo_id": visitor,
            "privacy_info": {"analytics_storage": "Yes", "ads_storage": "No", "uses_transient_token": "No"},
            "user_properties": [], "user_first_touch_timestamp": str(micros - 10**9),
            "device": {"category": device, "mobile_brand_name": None, "operating_system": system,
                       "language": "nl-nl", "is_limited_ad_tracking": "No",
                       "web_info": {"browser": browser, "hostname": "dekaleict.nl"}},
            "geo": {"continent": "Europe", "country": "Netherlands", "region": "", "city": city},
            "traffic_source": {"name": "(direct)", "medium": "(none)", "source": "(direct)"},
            "stream_id": STREAM, "platform": "WEB", "items": [],
        })
    return out


def _param(key: str, *, string: str | None = None, integer: str | None = None) -> dict:
    """An event parameter as BigQuery exports it: every value type present, one of them set."""
    return {"key": key, "value": {"string_value": string, "int_value": integer, "float_value": None,
                                  "double_value": None}}

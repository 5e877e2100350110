"""Golden files, the way beangulp tests its importers: every export the demo writers produce is
read with ``workbench.ingest.sources.read``, and what comes out (the export kind, the column map, the
canonical parties, documents and identifiers) is compared with ``tests/golden/<service>/<file>.json``.

A change in what an export yields then shows up as a diff of a small text file. When the change
is meant, write the files again and review the diff before committing it::

    .venv/bin/python -m pytest tests/test_golden.py --update-golden -p no:cacheprovider

The demo is seeded (``GOLDEN_CLIENTS`` clients, the default seed), so two runs write identical
exports; the golden files hold only its fake people, never real data.
"""

from __future__ import annotations

import difflib
import json
import math
from pathlib import Path

import pandas as pd
import pytest

from workbench import demo
from workbench.ingest import sources
from workbench.ingest.model import Extract

GOLDEN = Path(__file__).resolve().parent / "golden"
GOLDEN_CLIENTS = 40  # the smallest business that still has every trap of the demo
TABLES = ("parties", "documents", "identifiers")

pytestmark = pytest.mark.slow  # writes the demo and reads each of its ~40 exports


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The demo's exports by their path under the output folder (``mollie/settlements.mt940``)."""
    out = tmp_path_factory.mktemp("golden-demo")
    return {p.relative_to(out).as_posix(): p for p in demo.write(out, clients=GOLDEN_CLIENTS)}


def _value(value: object) -> object:
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "item"):  # a numpy scalar
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _rows(frame: pd.DataFrame) -> list[str]:
    """One JSON object per row, its empty cells (missing or "") left out, in the order the export
    has them."""
    rows = []
    for record in frame.to_dict(orient="records"):
        cells = {k: _value(v) for k, v in record.items() if not (v is None or v is pd.NA or v is pd.NaT)}
        rows.append(json.dumps({k: v for k, v in cells.items() if v not in (None, "")},
                               sort_keys=True, ensure_ascii=False))
    return rows


def render(extract: Extract) -> str:
    """The extract as JSON with one line per row, so that a changed row is a one-line diff."""
    parts = [f'"kind": {json.dumps(extract.kind.key)}',
             f'"recognition": {json.dumps(extract.recognition, ensure_ascii=False)}',
             f'"column_map": {json.dumps(extract.column_map, sort_keys=True, ensure_ascii=False)}']
    for name in TABLES:
        rows = _rows(getattr(extract, name))
        parts.append(f'"{name}": [' + ("\n" + ",\n".join(rows) + "\n" if rows else "") + "]")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def _golden(name: str) -> Path:
    return GOLDEN / f"{name}.json"


def test_demo_writes_the_same_exports_twice(exports: dict[str, Path], tmp_path: Path) -> None:
    again = {p.relative_to(tmp_path).as_posix(): p for p in demo.write(tmp_path, clients=GOLDEN_CLIENTS)}
    assert sorted(again) == sorted(exports)
    changed = [n for n in exports if exports[n].read_bytes() != again[n].read_bytes()]
    assert not changed, f"the seeded demo wrote different bytes the second time: {changed}"


def test_every_export_has_a_golden_file_and_no_other(exports: dict[str, Path],
                                                     update_golden: bool) -> None:
    if update_golden:
        pytest.skip("the golden files are being written")
    assert set(GOLDEN.rglob("*.json")) == {_golden(name) for name in exports}


def test_extract_matches_its_golden_file(exports: dict[str, Path], update_golden: bool) -> None:
    """One test over every export, so one demo write serves them all; it names each that differs."""
    if update_golden:
        for stale in set(GOLDEN.rglob("*.json")) - {_golden(name) for name in exports}:
            stale.unlink()
    differ: dict[str, str] = {}
    for name, path in sorted(exports.items()):
        text, golden = render(sources.read(path)), _golden(name)
        if update_golden:
            golden.parent.mkdir(parents=True, exist_ok=True)
            golden.write_text(text, encoding="utf-8")
            continue
        before = golden.read_text(encoding="utf-8") if golden.exists() else ""
        if before != text:
            differ[name] = "".join(list(difflib.unified_diff(
                before.splitlines(keepends=True), text.splitlines(keepends=True), str(golden), "now"))[:12])
    assert not differ, (f"extracts differ from tests/golden for {sorted(differ)}; if the change is "
                        "meant, run pytest tests/test_golden.py --update-golden and review the diff.\n"
                        + next(iter(differ.values()), ""))

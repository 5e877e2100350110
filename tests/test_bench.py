"""The benchmark harness at a tiny scale: the large-dataset writer is deterministic and writes what
the importers read, and one run of every step writes the JSON and Markdown with a baseline and a
ratio per step. Timings are figures here, never asserted against the targets."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from stdnum import iban
from stdnum.nl import btw

from workbench.demo import scale
from workbench.ingest import sources

ROOT = Path(__file__).resolve().parents[1]
STEPS = ("import", "link", "find", "package", "annual", "dashboard")


def _bytes(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


pytestmark = pytest.mark.slow  # the benchmark's data set and a run of the benchmark


def test_large_dataset_is_seeded_and_readable(tmp_path):
    first = scale.write(tmp_path / "a", payments=2000, parties=300, seed=5)
    scale.write(tmp_path / "b", payments=2000, parties=300, seed=5)
    assert _bytes(tmp_path / "a") == _bytes(tmp_path / "b")
    scale.write(tmp_path / "c", payments=2000, parties=300, seed=6)
    assert _bytes(tmp_path / "a") != _bytes(tmp_path / "c")
    assert first.payment_rows == 2000 and sum(first.party_rows.values()) == 300
    assert first.payments.read_bytes().startswith(b"\xef\xbb\xbfDate,Payment method,")
    kinds = {}
    for path in [first.payments, *first.parties]:
        extract = sources.read(path)
        kinds[extract.kind.service] = (extract.kind.name, len(extract.raw))
    assert kinds == {"mollie": ("payments_csv", 2000),
                     "moneybird": ("contacts", first.party_rows["moneybird"]),
                     "factuursturen": ("clients", first.party_rows["factuursturen"]),
                     "exact": ("relations", first.party_rows["exact"])}
    people = scale._people(scale._pool(5), np.random.default_rng(5), 300)
    assert people["iban"].map(iban.is_valid).all()
    assert people.loc[people["vat"].ne(""), "vat"].map(btw.is_valid).all()
    assert people["email"].is_unique


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bench")
    done = subprocess.run([sys.executable, "-m", "benchmarks.run", "--scale", "0.001", "--repeat", "1",
                           "--out", str(folder / "out"), "--work", str(folder / "work")],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    return folder / "out", done.stdout


def test_every_step_has_a_baseline_and_a_ratio(bench):
    out, printed = bench
    stamped = sorted(out.glob("bench-*.json"))
    assert len(stamped) == 1 and stamped[0].with_suffix(".md").is_file()
    assert json.loads((out / "latest.json").read_text()) == json.loads(stamped[0].read_text())
    result = json.loads(stamped[0].read_text())
    assert result["scale"] == 0.001 and result["repeat"] == 1
    assert result["dataset"]["payment_rows"] == 1000 and sum(result["dataset"]["party_rows"].values()) == 200
    assert result["machine"]["cores"] >= 1 and result["machine"]["versions"]["duckdb"]
    rows = {r["step"]: r for r in result["results"]}
    assert set(STEPS) <= set(rows) and "import_rss" in rows
    for step, r in rows.items():
        if r.get("error"):  # only a command or browser that is not there may be left out, and says so
            assert step in ("annual", "dashboard") and r["error"].startswith("not available"), r["error"]
            continue
        m, b = r["measured"], r["baseline"]
        assert m["n"] >= 1 and b["n"] >= 1 and b["what"]
        assert 0 < m["min"] <= m["median"] <= m["max"] and b["median"] > 0
        assert r["ratio"] == pytest.approx(m["median"] / b["median"])
        assert r["met"] in (True, False) if r["target"]["at_most"] else r["met"] is None
        assert r["what"] in printed and r["what"] in (out / "latest.md").read_text()
    assert rows["import"]["extra"]["rows"] == 1000
    assert 10 < rows["import_rss"]["measured"]["median"] < 64_000  # MiB
    assert rows["link"]["extra"]["parties"] >= 200 and rows["link"]["extra"]["subjects"] > 0
    assert rows["find"]["measured"]["n"] == rows["find"]["extra"]["subjects"] > 0
    assert rows["find"]["extra"]["found_share"] > 0.9
    assert rows["package"]["extra"]["records"] > 0

"""The large dataset: ``python -m benchmarks.generate [--scale 1.0] [--out DIR]``.

At scale 1: 1,000,000 rows of the Mollie settlement CSV and 200,000 parties spread over MoneyBird,
FactuurSturen and Exact Online, in the demo's formats (:mod:`workbench.demo.scale`); and the
"webshop" variant of the settlement CSV, 1,000,000 rows from 800,000 distinct payers. A folder that
already holds the dataset of the same scale and seed is reused, not written again.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from workbench.demo import scale as demo_scale
from workbench.store.safe_files import owner_only

PAYMENT_ROWS = 1_000_000
PARTY_ROWS = 200_000
WEBSHOP_PAYERS = 800_000
STAMP = "dataset.json"


@dataclass(frozen=True)
class Dataset(demo_scale.Files):
    """The files of one generated dataset (what :func:`demo_scale.write` wrote), where, at which
    scale and seed, their sizes, and how long writing took."""

    folder: Path
    scale: float
    seed: int
    seconds: float
    bytes: dict[str, int] = field(default_factory=dict)
    reused: bool = False
    webshop: Path | None = None  # the web shop's settlement CSV: most payers pay once
    webshop_rows: int = 0
    webshop_payers: int = 0

    def facts(self) -> dict:
        """The dataset as JSON-ready figures (paths relative to the folder)."""
        facts = asdict(self)
        facts["folder"] = str(self.folder)
        facts["payments"] = self.payments.relative_to(self.folder).as_posix()
        facts["parties"] = [p.relative_to(self.folder).as_posix() for p in self.parties]
        facts["webshop"] = self.webshop.relative_to(self.folder).as_posix() if self.webshop else None
        return facts


def sizes(scale: float) -> tuple[int, int]:
    """Payment rows and parties at a scale; never fewer than a handful of each."""
    return max(50, round(PAYMENT_ROWS * scale)), max(20, round(PARTY_ROWS * scale))


def webshop_payers(scale: float) -> int:
    """Distinct payers of the web shop variant: four in five payments (at least a handful)."""
    return max(40, round(WEBSHOP_PAYERS * scale))


def generate(folder: Path, scale: float = 1.0, seed: int = 2026) -> Dataset:
    """Write the dataset into ``folder`` (or reuse the one there of the same scale and seed)."""
    folder = Path(folder)
    stamp = folder / STAMP
    if stamp.exists():
        known = json.loads(stamp.read_text("utf-8"))
        if known["scale"] == scale and known["seed"] == seed:
            dataset = _load(folder, known)
            files = [dataset.payments, *dataset.parties, dataset.webshop]
            if dataset.webshop and all(p.exists() for p in files):
                return dataset
    payments, parties = sizes(scale)
    started = time.perf_counter()
    with owner_only():  # invented people, but files that look like the real thing
        files = demo_scale.write(folder, payments=payments, parties=parties, seed=seed)
        webshop, webshop_rows = demo_scale.write_webshop(folder / "webshop", payments,
                                                         webshop_payers(scale), seed=seed)
    seconds = time.perf_counter() - started
    written = {p.relative_to(folder).as_posix(): p.stat().st_size
               for p in [files.payments, *files.parties, webshop]}
    dataset = Dataset(**asdict(files), folder=folder, scale=scale, seed=seed, seconds=seconds, bytes=written,
                      webshop=webshop, webshop_rows=webshop_rows, webshop_payers=webshop_payers(scale))
    stamp.write_text(json.dumps(dataset.facts(), indent=2) + "\n", "utf-8")
    return dataset


def _load(folder: Path, known: dict) -> Dataset:
    fields = {**known, "folder": folder, "payments": folder / known["payments"],
              "parties": [folder / p for p in known["parties"]], "reused": True,
              "webshop": folder / known["webshop"] if known.get("webshop") else None}
    return Dataset(**fields)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.generate", description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies 1M payments and 200k parties")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--out", type=Path, default=Path("data/bench"), help="folder for the dataset")
    args = parser.parse_args(argv)
    dataset = generate(args.out, args.scale, args.seed)
    print(json.dumps(dataset.facts(), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

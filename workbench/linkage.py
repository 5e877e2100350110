"""Who is who across systems: the parties of every service linked into subjects.

A *party* is one record of one export (service, export kind, party key); a *subject* is the
person or organisation behind several parties. Linking runs in three steps:

1. **deterministic**: parties sharing a normalised e-mail address, IBAN, VAT number, KvK number,
   phone number, customer number or system key are linked, unless their names disagree;
2. **probabilistic**: Splink scores the remaining pairs on names, Dutch postcode, street and city
   (and the identifiers, whose disagreement counts against a match);
3. **clustering with constraints**: links are applied strongest first, and a link that would put
   two different first names, two customer numbers of one numbering, two KvK or VAT numbers, an
   organisation and a person, or parties the analyst split into one subject is refused.

Precision comes before recall, because a wrong merge sends one person's data to another. A refused
link, a link on names alone and a link below the threshold become a *candidate* for the analyst
(``link_candidates``); the analyst's decisions (``link_decisions``) win on every later
:func:`link`. Households (partners with one address and a joint IBAN, different first names) thus
end up as candidates, never as one subject.

Customer numbers are compared only within one numbering: the firm's own client number is used in
the services of :data:`SHARED_NUMBERING`; any other service's numbers (Mollie's ``cst_...``) are
compared only within that service. An organisation and its contact persons are different
subjects: persons link with persons, organisations with organisations (a sole trader's business
account and the owner as a contact person are two subjects; :func:`find` returns both).

The pair generation sits behind :class:`LinkageEngine`. :class:`DuckDBSplinkEngine` runs it on an
in-memory DuckDB; a larger deployment can implement the same protocol with Splink's Spark backend
and :func:`splink_settings`, and keep everything else.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
import unicodedata
from dataclasses import dataclass, field
from typing import Protocol

import duckdb
import pandas as pd
from stdnum import iban as stdnum_iban

from workbench import identifiers
from workbench.errors import WorkbenchError
from workbench.masking import mask
from workbench.workspace import Workspace

SHARED_NUMBERING = frozenset({"moneybird", "factuursturen", "exact"})
KEY_KINDS = ("email", "iban", "phone", "vat_number", "kvk_number", "customer_number")
CANDIDATE_FLOOR = 0.5  # Splink pairs from here up to the threshold are offered to the analyst
MIN_SPLINK_RECORDS = 20  # below this there is nothing to train a model on
NAME_PREFIXES = frozenset({"van", "de", "der", "den", "het", "ten", "ter", "te", "t", "in", "op",
                           "la", "le", "du", "da", "di", "d", "l", "von", "vd", "v", "a", "aan"})
LEGAL_FORMS = frozenset({"bv", "nv", "vof", "cv", "gmbh", "ltd", "bvba", "llc", "inc", "sarl",
                         "stichting", "vereniging", "cooperatie", "ua"})
MUST, CANNOT = "must", "cannot"
DECISIONS = {"merge": MUST, "confirm": MUST, "split": CANNOT, "reject": CANNOT}
PARTY = ["service", "export_kind", "party_key"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS subjects (
    subject_id VARCHAR NOT NULL, service VARCHAR, export_kind VARCHAR, party_key VARCHAR,
    how VARCHAR, probability DOUBLE, evidence VARCHAR, linked_at TIMESTAMP,
    PRIMARY KEY (service, export_kind, party_key));
CREATE TABLE IF NOT EXISTS link_candidates (
    candidate_id VARCHAR PRIMARY KEY, subject_a VARCHAR, subject_b VARCHAR,
    service_a VARCHAR, export_kind_a VARCHAR, party_key_a VARCHAR,
    service_b VARCHAR, export_kind_b VARCHAR, party_key_b VARCHAR,
    probability DOUBLE, evidence VARCHAR, reason VARCHAR, found_at TIMESTAMP);
CREATE SEQUENCE IF NOT EXISTS link_decision_ids START 1;
CREATE TABLE IF NOT EXISTS link_decisions (
    decision_id INTEGER, action VARCHAR, service_a VARCHAR, export_kind_a VARCHAR,
    party_key_a VARCHAR, service_b VARCHAR, export_kind_b VARCHAR, party_key_b VARCHAR,
    subject_id VARCHAR, note VARCHAR, decided_at TIMESTAMP);
"""

Party = tuple[str, str, str]


# --------------------------------------------------------------------------------------------
# normalising


def fold(text: object) -> str:
    """Lower case, accents folded, dots dropped (``B.V.`` is ``bv``), other punctuation a space."""
    if text is None or (isinstance(text, float) and pd.isna(text)):
        return ""
    plain = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode().lower()
    return " ".join(re.sub(r"[^a-z0-9@ ]", " ", plain.replace(".", "")).split())


def split_name(full: object) -> tuple[str, str]:
    """(given name, family name with its prefix) of a full name as one system shows it;
    ``"Vries, Jan de"`` and ``"Jan de Vries"`` both give ``("jan", "de vries")``."""
    text = str(full or "")
    if "," in text:
        family, _, given = text.partition(",")
        tokens = fold(given).split()
        prefix = [t for t in tokens[1:] if t in NAME_PREFIXES]
        return (tokens[0] if tokens else ""), " ".join([*prefix, *fold(family).split()])
    tokens = fold(text).split()
    if len(tokens) < 2:
        return "", " ".join(tokens)
    return tokens[0], " ".join(tokens[1:])


def family_core(family: str) -> str:
    """The family name without its leading prefix (tussenvoegsel): ``van der dijk`` -> ``dijk``."""
    tokens = family.split()
    while len(tokens) > 1 and tokens[0] in NAME_PREFIXES:
        tokens = tokens[1:]
    return " ".join(tokens)


def org_name(name: object) -> str:
    return " ".join(t for t in fold(name).split() if t not in LEGAL_FORMS)


def _valid(check, value: object) -> str:
    text = "" if value is None or pd.isna(value) else str(value)
    if not text.strip():
        return ""
    normal, ok = check(text)
    return normal if ok else ""


def _postcode(value: object) -> str:
    text = "" if value is None or pd.isna(value) else str(value)
    return re.sub(r"\s", "", identifiers.postcode_nl(text)[0]).upper() if text.strip() else ""


# --------------------------------------------------------------------------------------------
# preparing one record per party

_PARTIES_SQL = """
    SELECT service, export_kind, party_key, party_type, name, given_name, name_prefix, family_name,
           company, organisation_key, email, phone, street, postcode, city, iban
    FROM parties ORDER BY service, export_kind, party_key"""


def prepare(ws: Workspace) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One normalised record per current party, and the identifier keys that link exactly
    (``uid, kind, value``; customer numbers scoped by numbering, system keys by service)."""
    raw = ws.query(_PARTIES_SQL).astype(object).where(lambda f: f.notna(), None)
    records = pd.DataFrame({"unique_id": range(len(raw)), **{c: raw[c] for c in PARTY},
                            "organisation_key": raw["organisation_key"].fillna("")})
    names = [_names(row) for row in raw.itertuples(index=False)]
    records["given_name"] = [n[0] for n in names]
    records["surname"] = [n[1] for n in names]
    records["org"] = [n[2] for n in names]
    records["role"] = _roles(raw, records)
    # an organisation is compared on its own name; its contact's name is not its name
    is_org = records["role"].eq("organisation")
    records.loc[is_org, "given_name"] = ""
    records.loc[is_org, "surname"] = records.loc[is_org, "org"]
    records["postcode"] = raw["postcode"].map(_postcode)
    records["street"] = raw["street"].map(lambda s: re.sub(r"[^a-z0-9]", "", fold(s)))
    records["city"] = raw["city"].map(fold)
    records["email"] = raw["email"].map(lambda v: _valid(identifiers.email, v))
    records["phone"] = raw["phone"].map(lambda v: _valid(identifiers.phone, v))
    records["iban"] = raw["iban"].map(lambda v: _valid(identifiers.iban_number, v))
    records = records.drop(columns="org")
    for column in ["given_name", "surname", "postcode", "street", "city", "email", "phone", "iban"]:
        records[column] = records[column].replace("", None)
    keys = _keys(ws, records)
    for kind in ("vat_number", "kvk_number", "customer_number"):  # for reading; keys link
        first = keys[keys["kind"].eq(kind)].drop_duplicates("unique_id").set_index("unique_id")["value"]
        records[kind] = records["unique_id"].map(first)
    return records, keys


def _names(row) -> tuple[str, str, str]:
    """(given name, family core, organisation name) of one party."""
    given = fold(row.given_name).split()
    family = " ".join(filter(None, [fold(row.name_prefix), fold(row.family_name)]))
    if not given and not family:
        first, family = split_name(row.name)
        given = [first] if first else []
    return (given[0] if given else ""), family_core(family), org_name(row.company or row.name)


def _roles(raw: pd.DataFrame, records: pd.DataFrame) -> pd.Series:
    """'person' or 'organisation'. A contact person (one with an organisation key) is a person;
    a record with a company name, or typed as organisation, is the organisation; a bare name is
    an organisation when it is the name of a known organisation or carries a legal form."""
    contact = raw["organisation_key"].fillna("").ne("")
    typed_org = (raw["company"].fillna("").ne("") | raw["party_type"].eq("organisation")) & ~contact
    known = set(records.loc[typed_org, "org"]) - {""}
    bare = raw["name"].map(fold)
    named_org = bare.map(lambda n: bool(n) and (org_name(n) in known or bool(set(n.split()) & LEGAL_FORMS)))
    org = typed_org | (~contact & raw["party_type"].ne("person") & named_org)
    return org.map({True: "organisation", False: "person"})


def _system_key(key: str) -> str:
    return key.strip().strip("{}").lower()


def _keys(ws: Workspace, records: pd.DataFrame) -> pd.DataFrame:
    kinds = ", ".join(f"'{k}'" for k in KEY_KINDS)
    found = ws.query(f"""SELECT DISTINCT service, export_kind, party_key, kind, value FROM identifiers
                         WHERE valid AND kind IN ({kinds}) AND coalesce(value, '') <> ''""")
    found = found.merge(records[[*PARTY, "unique_id"]], on=PARTY)
    numbers = found["kind"].eq("customer_number")
    scope = found["service"].where(~found["service"].isin(SHARED_NUMBERING), "firm")
    found.loc[numbers, "value"] = scope[numbers] + ":" + found.loc[numbers, "value"]
    # a system's own key is the same record in each of its exports; content hashes are not keys
    own = records[~records["party_key"].str.startswith("h:")]
    system = pd.DataFrame({"unique_id": own["unique_id"], "kind": "party_key",
                           "value": own["service"] + ":" + own["party_key"].map(_system_key)})
    return pd.concat([found[["unique_id", "kind", "value"]], system, _contact_keys(records)],
                     ignore_index=True)


def _contact_keys(records: pd.DataFrame) -> pd.DataFrame:
    """A contact person is known by the account (customer number) they belong to and their
    name: the same account and the same name is the same person, in every system of one
    numbering."""
    people = records[records["organisation_key"].ne("") & records["given_name"].notna()
                     & records["surname"].notna()]
    scope = people["service"].where(~people["service"].isin(SHARED_NUMBERING), "firm")
    value = scope + ":" + people["organisation_key"].map(_system_key) + ":" + people["given_name"] \
        + ":" + people["surname"]
    return pd.DataFrame({"unique_id": people["unique_id"], "kind": "contact", "value": value})


# --------------------------------------------------------------------------------------------
# the engine seam


class LinkageEngine(Protocol):
    """Where candidate pairs come from. Clustering, constraints and the analyst's decisions stay
    in this module, so another backend only has to produce these two tables."""

    def exact_pairs(self, keys: pd.DataFrame) -> pd.DataFrame:
        """``uid_l < uid_r, kinds`` (sorted, comma-separated) of parties sharing a key."""

    def scored_pairs(self, records: pd.DataFrame, floor: float) -> pd.DataFrame:
        """``uid_l, uid_r, probability, evidence, other_evidence`` of pairs scoring ``floor`` or
        more; ``other_evidence`` says whether anything besides the names agrees."""


def _name_comparison(column: str):
    import splink.comparison_library as cl

    return cl.NameComparison(column, jaro_winkler_thresholds=[0.92, 0.8])


def _postcode_comparison():
    """Dutch postcodes: the same, the same four digits (one neighbourhood), or not."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    return cl.CustomComparison(
        output_column_name="postcode",
        comparison_levels=[
            cll.NullLevel("postcode"), cll.ExactMatchLevel("postcode"),
            cll.CustomLevel("substr(postcode_l, 1, 4) = substr(postcode_r, 1, 4) "
                            "AND regexp_matches(postcode_l, '^[0-9]{4}')", "same four digits"),
            cll.ElseLevel()],
        comparison_description="Dutch postcode")


def _street_comparison():
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    return cl.CustomComparison(
        output_column_name="street",
        comparison_levels=[cll.NullLevel("street"), cll.ExactMatchLevel("street"),
                           cll.JaroWinklerLevel("street", 0.9), cll.ElseLevel()],
        comparison_description="street and house number")


def splink_settings(probability_two_random_records_match: float = 0.001):
    """The Splink model, the same on every backend: names, Dutch postcode, street and city, and
    the identifiers compared exactly (a different e-mail address counts against a match).
    Only parties of one role are compared."""
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    return SettingsCreator(
        link_type="dedupe_only", unique_id_column_name="unique_id",
        probability_two_random_records_match=probability_two_random_records_match,
        comparisons=[_name_comparison("given_name"), _name_comparison("surname"),
                     _postcode_comparison(), _street_comparison(), cl.ExactMatch("city"),
                     cl.ExactMatch("email"), cl.ExactMatch("phone"), cl.ExactMatch("iban")],
        blocking_rules_to_generate_predictions=[
            block_on("role", "postcode"), block_on("role", "surname"), block_on("role", "street")],
        retain_matching_columns=True,
    )


# what an agreement level of each comparison says, for the evidence of a link
_LEVELS = {"given_name": {3: "given_name", 2: "given_name~", 1: "given_name~"},
           "surname": {3: "surname", 2: "surname~", 1: "surname~"},
           "postcode": {2: "postcode", 1: "postcode4"}, "street": {2: "street", 1: "street~"},
           "city": {1: "city"}, "email": {1: "email"}, "phone": {1: "phone"}, "iban": {1: "iban"}}
_NAMES = {"given_name", "surname"}


class DuckDBSplinkEngine:
    """Exact pairs with a self-join in an in-memory DuckDB; scored pairs with Splink on DuckDB,
    trained on the data of each run (u by random sampling, m by EM)."""

    def __init__(self, max_pairs: float = 1e6, seed: int = 1) -> None:
        self.max_pairs = max_pairs
        self.seed = seed

    def exact_pairs(self, keys: pd.DataFrame) -> pd.DataFrame:
        with duckdb.connect() as con:
            con.register("keys", keys)
            return con.execute("""
                SELECT a.unique_id AS uid_l, b.unique_id AS uid_r,
                       string_agg(DISTINCT a.kind, ', ' ORDER BY a.kind) AS kinds
                FROM keys a JOIN keys b ON a.kind = b.kind AND a.value = b.value
                     AND a.unique_id < b.unique_id
                GROUP BY ALL ORDER BY uid_l, uid_r""").df()

    def scored_pairs(self, records: pd.DataFrame, floor: float) -> pd.DataFrame:
        from splink import DuckDBAPI, Linker, block_on

        columns = ["unique_id", "role", *_LEVELS]
        db_api = DuckDBAPI()  # a new one per run: a name registered twice is an error
        frame = db_api.register(records[columns], dataset_display_name="parties")
        linker = Linker(frame, splink_settings(), log_level=logging.ERROR)
        linker.training.estimate_probability_two_random_records_match(
            [block_on("role", "email"), block_on("role", "iban")], recall=0.7)
        linker.training.estimate_u_using_random_sampling(max_pairs=self.max_pairs, seed=self.seed)
        for rule in (block_on("role", "postcode"), block_on("role", "surname")):
            linker.training.estimate_parameters_using_expectation_maximisation(rule)
        pairs = linker.inference.predict(threshold_match_probability=floor).as_pandas_dataframe()
        return _with_evidence(pairs)


def _with_evidence(pairs: pd.DataFrame) -> pd.DataFrame:
    labels = [[_LEVELS[c].get(int(g)) for c, g in zip(_LEVELS, row, strict=True)]
              for row in pairs[[f"gamma_{c}" for c in _LEVELS]].itertuples(index=False)]
    return pd.DataFrame({
        "uid_l": pairs["unique_id_l"].astype(int), "uid_r": pairs["unique_id_r"].astype(int),
        "probability": pairs["match_probability"].astype(float),
        "evidence": [", ".join(filter(None, row)) for row in labels],
        "other_evidence": [any(x and x.rstrip("~") not in _NAMES for x in row) for row in labels],
    })


# --------------------------------------------------------------------------------------------
# clustering with constraints


def given_names_agree(a: str, b: str) -> bool:
    """The same first name, an initial of it, or one the short form of the other."""
    if a == b:
        return True
    short, long = sorted((a, b), key=len)
    return (len(short) == 1 and long.startswith(short)) or (len(short) >= 3 and long.startswith(short))


def surnames_agree(a: str, b: str) -> bool:
    """The same family name but for a typo (one for a short name, two for a long one), or one
    part of a double name."""
    return a == b or a in b.split() or b in a.split() or \
        typos(a, b) <= (1 if min(len(a), len(b)) < 8 else 2)


def typos(a: str, b: str) -> int:
    """Edits between two words, a swap of neighbouring letters counting as one (optimal string
    alignment distance)."""
    before, row = None, list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            cost = min(row[j] + 1, current[j - 1] + 1, row[j - 1] + (x != y))
            if before is not None and i > 1 and j > 1 and x == b[j - 2] and a[i - 2] == y:
                cost = min(cost, before[j - 2] + 1)
            current.append(cost)
        before, row = row, current
    return row[-1]


@dataclass
class _Group:
    members: list[int]
    role: str
    given: set[str] = field(default_factory=set)
    surnames: set[str] = field(default_factory=set)
    numbers: dict[str, set[str]] = field(default_factory=dict)  # key kind/scope -> values


_UNIQUE = ("customer_number", "kvk_number", "vat_number")  # one per subject within a numbering


class _Clusters:
    """Union-find over parties where each merge is checked against what must not be merged."""

    def __init__(self, records: pd.DataFrame, keys: pd.DataFrame, cannot: set[frozenset[int]]) -> None:
        self.parent = list(range(len(records)))
        self.groups = {i: _Group([i], role) for i, role in enumerate(records["role"])}
        people = records[records["role"].eq("person")].fillna({"given_name": "", "surname": ""})
        for i, given, surname in people[["given_name", "surname"]].itertuples(name=None):
            self.groups[i].given |= {given} - {""}
            self.groups[i].surnames |= {surname} - {""}
        for uid, kind, value in keys[keys["kind"].isin(_UNIQUE)].itertuples(index=False):
            scope = kind + ":" + value.split(":")[0] if kind == "customer_number" else kind
            self.groups[uid].numbers.setdefault(scope, set()).add(value)
        self.cannot: dict[int, set[int]] = {}
        for pair in cannot:
            a, b = tuple(pair)
            self.cannot.setdefault(a, set()).add(b)
            self.cannot.setdefault(b, set()).add(a)

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def conflict(self, a: int, b: int, analyst_only: bool = False) -> str | None:
        """Why the groups of ``a`` and ``b`` must not be one subject, or None."""
        ga, gb = self.groups[self.find(a)], self.groups[self.find(b)]
        if any(self.cannot.get(m, set()) & set(gb.members) for m in ga.members):
            return "the analyst split these"
        if analyst_only:
            return None
        if ga.role != gb.role:
            return "an organisation and a person"
        if not all(given_names_agree(x, y) for x in ga.given for y in gb.given):
            return "first names differ"
        if not all(surnames_agree(x, y) for x in ga.surnames for y in gb.surnames):
            return "family names differ"
        for scope, values in ga.numbers.items():
            if values.isdisjoint(gb.numbers.get(scope, values)):
                return f"different {scope.split(':')[0].replace('_', ' ')}s"
        return None

    def merge(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        ga, gb = self.groups[ra], self.groups.pop(rb)
        self.parent[rb] = ra
        ga.members += gb.members
        ga.given |= gb.given
        ga.surnames |= gb.surnames
        for scope, values in gb.numbers.items():
            ga.numbers.setdefault(scope, set()).update(values)

    def clusters(self) -> list[list[int]]:
        return [sorted(g.members) for g in self.groups.values()]


@dataclass
class _Edge:
    a: int
    b: int
    how: str
    probability: float | None
    evidence: str
    names_only: bool = False


def _cluster(records: pd.DataFrame, keys: pd.DataFrame, edges: list[_Edge],
             decided: dict[frozenset[int], str], threshold: float
             ) -> tuple[_Clusters, dict[int, _Edge], list[tuple[_Edge, str]]]:
    """Apply the links in order, each checked against the constraints (the analyst's merges
    only against the analyst's splits); returns the clusters, the edge that attached each
    party, and the refused or too weak links with the reason."""
    clusters = _Clusters(records, keys, {p for p, d in decided.items() if d == CANNOT})
    attached: dict[int, _Edge] = {}
    offered: list[tuple[_Edge, str]] = []
    for edge in edges:
        a, b = edge.a, edge.b
        if clusters.find(a) == clusters.find(b):
            continue
        analyst = edge.how == "analyst"
        reason = clusters.conflict(a, b, analyst_only=analyst)
        if reason is None and edge.how == "probabilistic":
            if (edge.probability or 0) < threshold:
                reason = "below the threshold"
            elif edge.names_only:
                reason = "names agree but nothing else"
        if reason is not None:
            offered.append((edge, reason))
            continue
        clusters.merge(a, b)
        for party in (a, b):
            attached.setdefault(party, edge)
    return clusters, attached, offered


# --------------------------------------------------------------------------------------------
# linking


@dataclass
class LinkReport:
    """What one :func:`link` run did."""

    parties: int
    subjects: int
    links: dict[str, int]
    candidates: int
    refused: int
    new_subjects: int
    kept_subjects: int
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        how = ", ".join(f"{n} {k}" for k, n in sorted(self.links.items()))
        return (f"linked {self.parties} parties into {self.subjects} subjects "
                f"({self.kept_subjects} kept their id, {self.new_subjects} new); parties attached: "
                f"{how or 'none'}; {self.candidates} candidates for the analyst "
                f"({self.refused} party pairs held back); {self.seconds:.1f} s")


def link(ws: Workspace, threshold: float = 0.95, engine: LinkageEngine | None = None) -> LinkReport:
    """(Re)build the subjects of the workspace from its current parties; subject ids stay the
    same for the same people, and the analyst's decisions win."""
    engine = engine or DuckDBSplinkEngine()
    started = time.perf_counter()
    timings: dict[str, float] = {}
    with ws.connect() as con:
        con.execute(SCHEMA)
    records, keys = prepare(ws)
    timings["prepare"] = time.perf_counter() - started
    uid = {tuple(p): i for i, p in enumerate(records[PARTY].itertuples(index=False, name=None))}
    decided = _decisions(ws, uid)

    mark = time.perf_counter()
    exact = engine.exact_pairs(keys)
    timings["deterministic"] = time.perf_counter() - mark
    mark = time.perf_counter()
    scored = engine.scored_pairs(records, CANDIDATE_FLOOR) if len(records) >= MIN_SPLINK_RECORDS \
        else pd.DataFrame(columns=["uid_l", "uid_r", "probability", "evidence", "other_evidence"])
    timings["probabilistic"] = time.perf_counter() - mark

    mark = time.perf_counter()
    edges = _edges(exact, scored, decided)
    clusters, attached, offered = _cluster(records, keys, edges, decided, threshold)
    ids, kept = _subject_ids(ws, records, clusters.clusters())
    subjects = _subjects_frame(records, ids, attached)
    candidates = _candidates_frame(records, ids, offered, decided)
    _store(ws, subjects, candidates)
    timings["cluster_and_store"] = time.perf_counter() - mark
    return LinkReport(
        parties=len(records), subjects=subjects["subject_id"].nunique(),
        links=subjects["how"].value_counts().to_dict(), candidates=len(candidates),
        refused=sum(1 for e, r in offered if r != "below the threshold"),
        new_subjects=subjects["subject_id"].nunique() - kept, kept_subjects=kept,
        seconds=time.perf_counter() - started, timings=timings)


def _edges(exact: pd.DataFrame, scored: pd.DataFrame, decided: dict[frozenset[int], str]) -> list[_Edge]:
    """Every link to try, in order: the exact ones (more shared keys first), Splink's by
    probability, and last the analyst's merges, which join whole subjects as they came out."""
    probability = {frozenset((a, b)): (p, e) for a, b, p, e in
                   scored[["uid_l", "uid_r", "probability", "evidence"]].itertuples(index=False)}
    edges = []
    exact = exact.assign(n=exact["kinds"].str.count(",")).sort_values(
        ["n", "uid_l", "uid_r"], ascending=[False, True, True])
    for a, b, kinds in exact[["uid_l", "uid_r", "kinds"]].itertuples(index=False):
        score = probability.get(frozenset((a, b)))
        evidence = kinds + (f"; splink {score[0]:.3f}: {score[1]}" if score else "")
        edges.append(_Edge(a, b, "deterministic", 1.0, evidence))
    scored = scored.sort_values(["probability", "uid_l", "uid_r"], ascending=[False, True, True])
    for a, b, p, evidence, other in scored.itertuples(index=False):
        edges.append(_Edge(a, b, "probabilistic", float(p), evidence, names_only=not other))
    return edges + [_Edge(*sorted(pair), "analyst", 1.0, "analyst")
                    for pair, d in sorted(decided.items(), key=lambda x: sorted(x[0])) if d == MUST]


# --------------------------------------------------------------------------------------------
# stable subject ids


def _subject_ids(ws: Workspace, records: pd.DataFrame,
                 clusters: list[list[int]]) -> tuple[dict[int, str], int]:
    """An id per cluster: the previous id of the subject it overlaps most (each id once), else
    a new one from a hash of its first party, so a fresh workspace gets the same ids."""
    previous = ws.query("SELECT service, export_kind, party_key, subject_id FROM subjects")
    before = {tuple(r[:3]): r[3] for r in previous.itertuples(index=False, name=None)}
    parties = list(records[PARTY].itertuples(index=False, name=None))
    overlaps = []
    for n, members in enumerate(clusters):
        counts: dict[str, int] = {}
        for m in members:
            if parties[m] in before:
                counts[before[parties[m]]] = counts.get(before[parties[m]], 0) + 1
        overlaps += [(-count, n, sid) for sid, count in counts.items()]
    ids: dict[int, str] = {}
    taken: set[str] = set()
    for _, n, sid in sorted(overlaps):
        if n not in ids and sid not in taken:
            ids[n] = sid
            taken.add(sid)
    kept = len(ids)
    for n, members in enumerate(clusters):
        if n not in ids:
            ids[n] = _new_id(min(parties[m] for m in members), taken)
            taken.add(ids[n])
    return {m: ids[n] for n, members in enumerate(clusters) for m in members}, kept


def _new_id(party: Party, taken: set[str]) -> str:
    digest = hashlib.sha256("\x1f".join(party).encode()).hexdigest()
    size = 8
    while "S-" + digest[:size] in taken:
        size += 1
    return "S-" + digest[:size]


# --------------------------------------------------------------------------------------------
# the analyst's decisions


def _decisions(ws: Workspace, uid: dict[Party, int]) -> dict[frozenset[int], str]:
    """The latest decision per pair of current parties: 'must' or 'cannot'."""
    rows = ws.query("""SELECT action, service_a, export_kind_a, party_key_a, service_b, export_kind_b,
                              party_key_b FROM link_decisions ORDER BY decision_id""")
    decided: dict[frozenset[int], str] = {}
    for action, *parties in rows.itertuples(index=False, name=None):
        a, b = uid.get(tuple(parties[:3])), uid.get(tuple(parties[3:]))
        if a is not None and b is not None and a != b:
            decided[frozenset((a, b))] = DECISIONS[action]
    return decided


def decide(ws: Workspace, action: str, *args: object, note: str = "", relink: bool = True) -> int:
    """Record the analyst's word; it wins on every later :func:`link`.

    * ``decide(ws, "merge", a, b)``: ``a`` and ``b`` (subject ids or parties) are one subject;
    * ``decide(ws, "split", subject_id, party)``: the party is not that subject;
    * ``decide(ws, "confirm", candidate_id)`` / ``decide(ws, "reject", candidate_id)``: a
      candidate of ``link_candidates`` is (not) one subject.

    A party is ``(service, export_kind, party_key)`` or ``"service/export_kind/party_key"``.
    Returns the decision id. With ``relink`` (the default) the subjects are rebuilt at once.
    """
    if action not in DECISIONS:
        raise WorkbenchError(f"unknown decision {action!r}; expected one of {sorted(DECISIONS)}")
    with ws.connect() as con:
        con.execute(SCHEMA)
    pairs, subject = _decision_pairs(ws, action, args)
    with ws.connect() as con:
        decision_id = con.execute("SELECT nextval('link_decision_ids')").fetchall()[0][0]
        con.executemany(
            "INSERT INTO link_decisions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now()::TIMESTAMP)",
            [[decision_id, action, *a, *b, subject, note] for a, b in pairs])
    if relink:
        link(ws)
    return decision_id


def _decision_pairs(ws: Workspace, action: str, args: tuple) -> tuple[list[tuple[Party, Party]], str | None]:
    expected = {"merge": 2, "split": 2, "confirm": 1, "reject": 1}[action]
    if len(args) != expected:
        raise WorkbenchError(f"decide {action!r} takes {expected} argument(s), not {len(args)}")
    if action == "merge":
        left, right = _members(ws, args[0]), _members(ws, args[1])
        return [(a, b) for a in left for b in right if a != b], None
    if action == "split":
        subject, party = str(args[0]), _party(args[1])
        members = _members(ws, subject)
        if party not in members:
            raise WorkbenchError(f"party {party[0]}/{party[1]}/{mask(party[2])} is not in subject {subject}")
        return [(party, m) for m in members if m != party], subject
    row = ws.query("""SELECT service_a, export_kind_a, party_key_a, service_b, export_kind_b,
                             party_key_b FROM link_candidates WHERE candidate_id = ?""", [str(args[0])])
    if row.empty:
        raise WorkbenchError(f"no candidate {args[0]!r}; see the link_candidates table")
    values = tuple(row.iloc[0])
    return [(values[:3], values[3:])], None


def _party(value: object) -> Party:
    parts = tuple(value) if isinstance(value, tuple | list) else tuple(str(value).split("/", 2))
    if len(parts) != 3:
        raise WorkbenchError("a party is (service, export_kind, party_key)")
    return tuple(map(str, parts))


def _members(ws: Workspace, ref: object) -> list[Party]:
    """The parties of a subject id, or the one party named."""
    if isinstance(ref, str) and ref.startswith("S-"):
        members = subject_parties(ws, ref)
        if members.empty:
            raise WorkbenchError(f"subject {ref} is unknown; run link() or find() first")
        return list(members[PARTY].itertuples(index=False, name=None))
    return [_party(ref)]


# --------------------------------------------------------------------------------------------
# writing the result


def _subjects_frame(records: pd.DataFrame, ids: dict[int, str], attached: dict[int, _Edge]) -> pd.DataFrame:
    frame = records[PARTY].copy()
    frame.insert(0, "subject_id", [ids[i] for i in records.index])
    edge = [attached.get(i) for i in records.index]
    frame["how"] = [e.how if e else "single" for e in edge]
    frame["probability"] = [e.probability if e else None for e in edge]
    frame["evidence"] = [e.evidence if e else "" for e in edge]
    return frame


def _candidates_frame(records: pd.DataFrame, ids: dict[int, str],
                      offered: list[tuple[_Edge, str]], decided: dict[frozenset[int], str]) -> pd.DataFrame:
    """One candidate per pair of subjects (its strongest pair of parties), if they are still two
    subjects and the analyst has not rejected that pair."""
    best: dict[frozenset[str], tuple[_Edge, str]] = {}
    for edge, reason in offered:
        pair = frozenset((ids[edge.a], ids[edge.b]))
        if len(pair) < 2 or frozenset((edge.a, edge.b)) in decided or reason.startswith("an organisation"):
            continue
        if pair not in best or _rank(edge) > _rank(best[pair][0]):
            best[pair] = (edge, reason)
    rows = []
    parties = list(records[PARTY].itertuples(index=False, name=None))
    for edge, reason in best.values():
        (a, ia), (b, ib) = sorted([(parties[edge.a], edge.a), (parties[edge.b], edge.b)])
        rows.append({"candidate_id": "C-" + hashlib.sha256("\x1f".join(a + b).encode()).hexdigest()[:10],
                     "subject_a": ids[ia], "subject_b": ids[ib],
                     **dict(zip(["service_a", "export_kind_a", "party_key_a"], a, strict=True)),
                     **dict(zip(["service_b", "export_kind_b", "party_key_b"], b, strict=True)),
                     "probability": edge.probability if edge.how != "deterministic" else
                     _splink_probability(edge.evidence),
                     "evidence": edge.evidence, "reason": reason})
    columns = ["candidate_id", "subject_a", "subject_b", "service_a", "export_kind_a", "party_key_a",
               "service_b", "export_kind_b", "party_key_b", "probability", "evidence", "reason"]
    return pd.DataFrame(rows, columns=columns).sort_values(
        ["probability", "candidate_id"], ascending=[False, True], na_position="last")


def _rank(edge: _Edge) -> tuple[int, float]:
    return (edge.how == "deterministic", edge.probability or 0.0)


def _splink_probability(evidence: str) -> float | None:
    found = re.search(r"splink ([0-9.]+)", evidence)
    return float(found.group(1)) if found else None


def _store(ws: Workspace, subjects: pd.DataFrame, candidates: pd.DataFrame) -> None:
    with ws.connect() as con:
        con.begin()
        con.execute("DELETE FROM subjects")
        con.execute("DELETE FROM link_candidates")
        con.register("new_subjects", subjects)
        con.execute("INSERT INTO subjects SELECT *, now()::TIMESTAMP FROM new_subjects")
        con.register("new_candidates", candidates)
        con.execute("INSERT INTO link_candidates SELECT *, now()::TIMESTAMP FROM new_candidates")
        con.commit()


# --------------------------------------------------------------------------------------------
# finding a subject


def _require_subjects(ws: Workspace) -> None:
    if not ws.exists or ws.query("""SELECT count(*) AS n FROM information_schema.tables
                                    WHERE table_name = 'subjects'""")["n"].iloc[0] == 0:
        raise WorkbenchError("no subjects yet: run 'workbench link' first")


def subject_parties(ws: Workspace, subject_id: str) -> pd.DataFrame:
    """The parties of one subject: service, export_kind, party_key, how, probability, evidence."""
    _require_subjects(ws)
    return ws.query("""SELECT service, export_kind, party_key, how, probability, evidence
                       FROM subjects WHERE subject_id = ? ORDER BY service, export_kind, party_key""",
                    [subject_id])


def _query_keys(email: str | None, iban: str | None, phone: str | None,
                customer_id: str | None) -> list[tuple[str, str]]:
    """The asked identifiers normalised as the data is (kind, value)."""
    asked = []
    if email:
        asked.append(("email", identifiers.email(email)[0].lower()))
    if iban:
        asked.append(("iban", stdnum_iban.compact(iban)))
    if phone:
        asked.append(("phone", identifiers.phone(phone)[0]))
    if customer_id:
        asked.append(("customer_number", customer_id.strip()))
    return asked


def find(ws: Workspace, *, email: str | None = None, name: str | None = None,
         iban: str | None = None, phone: str | None = None, customer_id: str | None = None,
         min_name_score: float = 0.85) -> pd.DataFrame:
    """Candidate subjects for what is asked: identifiers match exactly (normalised like the
    data), names fuzzily (Jaro-Winkler); the score is the mean over what was asked."""
    _require_subjects(ws)
    asked = _query_keys(email, iban, phone, customer_id)
    hits = [_identifier_hits(ws, kind, value) for kind, value in asked]
    if name:
        hits.append(_name_hits(ws, name, min_name_score))
    columns = ["subject_id", "score", "evidence", "systems"]
    if not hits:
        return pd.DataFrame(columns=columns)
    found = pd.concat(hits, ignore_index=True)
    if found.empty:
        return pd.DataFrame(columns=columns)
    per = found.groupby(["subject_id", "criterion"], as_index=False).agg(
        score=("score", "max"), evidence=("evidence", "first"))
    result = per.groupby("subject_id", as_index=False).agg(
        score=("score", lambda s: s.sum() / len(hits)), evidence=("evidence", "; ".join))
    systems = ws.query("""SELECT subject_id, string_agg(DISTINCT service, ', ' ORDER BY service) AS systems
                          FROM subjects WHERE subject_id IN (SELECT subject_id FROM found)
                          GROUP BY subject_id""", frames={"found": result})
    result = result.merge(systems, on="subject_id", how="left")
    ordered = result.sort_values(["score", "subject_id"], ascending=[False, True])
    return ordered[columns].reset_index(drop=True)


def _identifier_hits(ws: Workspace, kind: str, value: str) -> pd.DataFrame:
    extra = " OR (s.party_key = ? AND ? <> '')" if kind == "customer_number" else ""
    params = [kind, value] + ([value, value] if extra else [])
    return ws.query(f"""
        SELECT DISTINCT s.subject_id, ? AS criterion, 1.0 AS score,
               ? || ' exact (' || s.service || '/' || s.export_kind || ')' AS evidence
        FROM subjects s LEFT JOIN identifiers i USING (service, export_kind, party_key)
        WHERE (i.kind = ? AND i.value = ?){extra}""", [kind, kind, *params])


def _name_hits(ws: Workspace, name: str, minimum: float) -> pd.DataFrame:
    return ws.query("""
        WITH names AS (
            SELECT s.subject_id,
                   lower(strip_accents(coalesce(
                       nullif(trim(concat_ws(' ', p.given_name, p.name_prefix, p.family_name)), ''),
                       nullif(p.name, ''), p.company))) AS full_name
            FROM subjects s JOIN parties p USING (service, export_kind, party_key))
        SELECT subject_id, 'name' AS criterion,
               max(jaro_winkler_similarity(full_name, ?)) AS score,
               'name ' || printf('%.2f', max(jaro_winkler_similarity(full_name, ?))) AS evidence
        FROM names WHERE full_name IS NOT NULL GROUP BY subject_id HAVING score >= ?""",
                    [fold(name), fold(name), minimum])

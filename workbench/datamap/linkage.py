"""Who is who across systems: the parties of every service linked into subjects.

A *party* is one record of one export (service, export kind, party key); a *subject* is the
person or organisation behind several parties. Linking runs in three steps:

1. **deterministic**: parties sharing a normalised e-mail address, IBAN, VAT number, KvK number,
   phone number, customer number or system key are linked, unless their names disagree; so is a
   person known by nothing but a full name (a payer on a bank statement) to the one subject with
   that full name (never when namesakes share it);
2. **probabilistic**: Splink scores the pairs that share a postcode, the sound of the family
   name, the sounds of both names in either order, a street with house number, a house number in
   a city, the sound of the first name in a city, an e-mail address, phone, IBAN or birth date (so
   a pair with one mistyped or swapped field still meets) on names as people write them (typos,
   initials, given and family name swapped), Dutch postcode, street and city, and the identifiers
   and birth date, whose disagreement counts against a match;
3. **clustering with constraints**: the exact links and Splink's above the threshold are
   clustered as connected components; a component that would put two different first names, two
   birth dates or BSNs, two KvK or VAT numbers, an organisation and a person, or parties the
   analyst split into one subject has its links applied strongest first instead, and a link that
   would do so is refused. Names where one first name starts the other (Jan, Janneke) need a
   personal identifier of their own that agrees (e-mail, phone, birth date, BSN): a shared IBAN or
   address is what a household has.

Precision comes before recall, because a wrong merge sends one person's data to another. A refused
link, a link on names alone and a link below the threshold become a *candidate* for the analyst
(``link_candidates``); the analyst's decisions (``link_decisions``) win on every later
:func:`link`. Households (partners with one address and a joint IBAN, different first names) thus
end up as candidates, never as one subject.

Customer numbers link only within one numbering. Each system numbers its clients itself unless
the register declares that systems share a numbering (``numbering`` in ``systems.toml``: the
firm's own client number typed into each). Within a shared numbering two numbers count against a
merge, which an agreeing e-mail address, phone, birth date or IBAN (with agreeing names) outweighs;
within one system's own numbering a client entered twice simply has two numbers. An organisation
and its contact persons are different subjects: persons link with persons, organisations with
organisations (a sole trader's business account and the owner as a contact person are two
subjects; :func:`find` returns both).

The pair generation sits behind :class:`LinkageEngine`. :class:`DuckDBSplinkEngine` runs it on an
in-memory DuckDB; a larger deployment can implement the same protocol with Splink's Spark backend
and :func:`splink_settings`, and keep everything else.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import logging
import re
import time
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

import duckdb
import jellyfish
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from stdnum import iban as stdnum_iban

from workbench.errors import WorkbenchError
from workbench.ingest import identifiers
from workbench.ingest.masking import mask
from workbench.ingest.names import legal_forms, particles
from workbench.reference import register as registry
from workbench.store.workspace import Workspace
from workbench.text import fold as ascii_fold

KEY_KINDS = ("email", "iban", "phone", "vat_number", "kvk_number", "customer_number")
CANDIDATE_FLOOR = 0.5  # Splink pairs from here up to the threshold are offered to the analyst
CLOSE = 0.88  # Jaro-Winkler similarity from which two names (or streets) are one, mistyped
MIN_SPLINK_RECORDS = 20  # below this there is nothing to train a model on
MUST, CANNOT = "must", "cannot"
DECISIONS = {"merge": MUST, "confirm": MUST, "split": CANNOT, "reject": CANNOT}
PARTY = ["service", "export_kind", "party_key"]
SCORED = ["uid_l", "uid_r", "probability", "evidence", "other_evidence"]  # what an engine scores

Party = tuple[str, str, str]


# --------------------------------------------------------------------------------------------
# normalising


def fold(text: object) -> str:
    """Lower case, accents folded, dots dropped (``B.V.`` is ``bv``), other punctuation a space."""
    if text is None or (isinstance(text, float) and pd.isna(text)):
        return ""
    return _fold(str(text))


@functools.lru_cache(maxsize=1 << 16)  # names and places recur in every export of a client
def _fold(text: str) -> str:
    plain = ascii_fold(text).lower()
    return " ".join(re.sub(r"[^a-z0-9@ ]", " ", plain.replace(".", "")).split())


def fold_column(values: pd.Series) -> pd.Series:
    """:func:`fold` of each value of a column (a missing one ''), once per distinct value: ASCII
    text with Arrow's kernels, the same steps; text with accents by :func:`fold` itself, as
    Python's Unicode tables decompose it (Arrow's may be of another Unicode version)."""
    codes, distinct = pd.factorize(values)
    text = pa.array([str(value) for value in distinct], pa.string())
    plain = pc.replace_substring(pc.ascii_lower(text), ".", "")
    plain = pc.ascii_trim(pc.replace_substring_regex(plain, r"[^a-z0-9@]+", " "), " ")
    done = np.empty(len(distinct) + 1, dtype=object)
    done[:-1], done[-1] = plain.to_numpy(zero_copy_only=False), ""  # code -1, a missing value, is ''
    accented = np.flatnonzero(~pc.string_is_ascii(text).to_numpy(zero_copy_only=False))
    done[accented] = [fold(distinct[i]) for i in accented]
    return pd.Series(done[codes], index=values.index, dtype=object)


def split_name(full: object) -> tuple[str, str]:
    """(given name, family name with its prefix) of a full name as one system shows it;
    ``"Vries, Jan de"`` and ``"Jan de Vries"`` both give ``("jan", "de vries")``."""
    text = str(full or "")
    if "," in text:
        family, _, given = text.partition(",")
        tokens = fold(given).split()
        prefix = [t for t in tokens[1:] if t in particles()]
        return (tokens[0] if tokens else ""), " ".join([*prefix, *fold(family).split()])
    tokens = fold(text).split()
    if len(tokens) < 2:
        return "", " ".join(tokens)
    return tokens[0], " ".join(tokens[1:])


def _split_names(names: pd.Series) -> pd.Series:
    """:func:`split_name` of each name: those without a comma from their folded column at once."""
    split = _per_value(fold_column(names), _first_and_rest)
    comma = names.fillna("").astype(str).str.contains(",", regex=False)
    if comma.any():
        split[comma] = _per_value(names[comma], split_name)
    return split


def _first_and_rest(folded: str) -> tuple[str, str]:
    """:func:`split_name` of a folded name without a comma."""
    first, _, rest = folded.partition(" ")
    return (first, rest) if rest else ("", first)


def family_core(family: str) -> str:
    """The family name without its leading prefix (tussenvoegsel): ``van der dijk`` -> ``dijk``."""
    tokens = family.split()
    while len(tokens) > 1 and tokens[0] in particles():
        tokens = tokens[1:]
    return " ".join(tokens)


def org_name(name: object) -> str:
    return _without_legal_form(fold(name))


def _without_legal_form(folded: str) -> str:
    return " ".join(t for t in folded.split() if t not in legal_forms())


def _per_value(values: pd.Series, normalise) -> pd.Series:
    """``normalise`` applied once per distinct value (the same client recurs in every export), a
    missing value as ``normalise(None)``; the result is a column of Python objects, which the
    list comprehensions after it walk far faster than a column of Arrow strings."""
    codes, distinct = pd.factorize(values)
    done = np.empty(len(distinct) + 1, dtype=object)
    done[:-1] = [normalise(value) for value in distinct]
    if (codes < 0).any():  # code -1, a missing value, picks the last
        done[-1] = normalise(None)
    return pd.Series(done[codes], index=values.index, dtype=object)


def _postcodes(values: pd.Series) -> pd.Series:
    """Postcodes without spaces in capitals (``1234AB``), a Dutch one also without its hyphen: what
    python-stdnum's compact form of a valid one is, at column speed."""
    text = values.fillna("").astype(str).str.upper().str.replace(r"\s", "", regex=True)
    dutch = text.str.replace("-", "", regex=False)
    return dutch.where(dutch.str.fullmatch(r"[0-9]{4}[A-Z]{2}"), text)


# --------------------------------------------------------------------------------------------
# preparing one record per party

_PARTIES_SQL = """
    SELECT service, export_kind, party_key, party_type, name, given_name, name_prefix, family_name,
           company, organisation_key, email, phone, street, postcode, city, iban,
           CAST(birth_date AS VARCHAR) AS birth_date, bsn
    FROM parties ORDER BY service, export_kind, party_key"""


def prepare(ws: Workspace, numberings: dict[str, str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One normalised record per current party, and the identifier keys that link exactly
    (``uid, kind, value``; customer numbers scoped by numbering, system keys by service).
    ``numberings`` maps a service to the customer numbering it uses (default: the register's)."""
    numberings = registry.load().numberings() if numberings is None else numberings
    raw = _objects(ws, _PARTIES_SQL)
    records = pd.DataFrame({"unique_id": range(len(raw)), **{c: raw[c] for c in PARTY},
                            "organisation_key": raw["organisation_key"].fillna("")})
    records["given_name"], records["surname"], records["org"] = _names(raw)
    records["role"] = _roles(raw, records)
    # an organisation is compared on its own name; its contact's name is not its name
    is_org = records["role"].eq("organisation")
    records.loc[is_org, "given_name"] = ""
    records.loc[is_org, "surname"] = records.loc[is_org, "org"]
    records["postcode"] = _postcodes(raw["postcode"])
    records["street"] = _per_value(fold_column(raw["street"]), lambda s: s.replace(" ", "").replace("@", ""))
    records["city"] = fold_column(raw["city"])
    records["sound"] = _per_value(records["surname"].where(records["role"].eq("person")), _sound)
    _add_blocking_keys(records)
    records["birth_date"] = raw["birth_date"]
    records = _with_identifiers(ws, records).drop(columns="org")
    for column in ["given_name", "surname", "postcode", "street", "city", "sound", *_DERIVED, "email",
                   "phone", "iban", "bsn", "birth_date"]:
        records[column] = records[column].replace("", None)
    keys = _keys(ws, records, numberings)
    for kind in ("vat_number", "kvk_number", "customer_number"):  # for reading; keys link
        first = keys[keys["kind"].eq(kind)].sort_values(["unique_id", "value"]).drop_duplicates("unique_id") \
            .set_index("unique_id")["value"]  # the least of several, the same on every run
        records[kind] = records["unique_id"].map(first)
    return records, keys


def _objects(ws: Workspace, sql: str) -> pd.DataFrame:
    """A query's result as columns of Python objects, NULL as None: what the per-value steps
    here walk fastest, fetched without a round trip through Arrow-backed text."""
    with ws.connect(read_only=True) as con:
        columns = con.execute(sql).fetchnumpy()
    return pd.DataFrame({name: pd.Series(np.where(np.ma.getmaskarray(values), None, np.ma.getdata(values)),
                                         dtype=object) for name, values in columns.items()})


def _with_identifiers(ws: Workspace, records: pd.DataFrame) -> pd.DataFrame:
    """The records with each party's valid e-mail address, phone, IBAN and BSN as the import
    normalised them (the first, where a party has several)."""
    firsts = ", ".join(f"min(i.value) FILTER (WHERE i.kind = '{kind}') AS {kind}" for kind in _OWN_KINDS)
    found = ws.query(f"""SELECT r.unique_id, {firsts}
                         FROM identifiers i JOIN records r USING ({", ".join(PARTY)})
                         WHERE i.valid AND i.kind IN {_OWN_KINDS} AND coalesce(i.value, '') <> ''
                         GROUP BY r.unique_id""", frames={"records": records[[*PARTY, "unique_id"]]})
    wide = found.set_index("unique_id").reindex(records["unique_id"])
    return records.assign(**{kind: wide[kind].to_numpy() for kind in _OWN_KINDS})


_OWN_KINDS = ("email", "phone", "iban", "bsn")


def _names(raw: pd.DataFrame) -> tuple[pd.Series, pd.Series, pd.Series]:
    """The given name (its first), family core and organisation name of each party: from the
    name's parts, else from its full name. Each step works once per distinct value, as a
    client's names recur in every export."""
    given = _per_value(fold_column(raw["given_name"]), lambda g: g.partition(" ")[0])
    family = [" ".join(filter(None, parts)) for parts in zip(
        fold_column(raw["name_prefix"]), fold_column(raw["family_name"]), strict=True)]
    family = pd.Series(family, index=raw.index, dtype=object)
    whole = (given.eq("") & family.eq("")).to_numpy()
    if whole.any():
        split = _split_names(raw["name"][whole])
        given[whole] = [first for first, _ in split]
        family[whole] = [last for _, last in split]
    company = raw["company"].where(raw["company"].fillna("").ne(""), raw["name"])
    return given, _per_value(family, family_core), _per_value(fold_column(company), _without_legal_form)


def _roles(raw: pd.DataFrame, records: pd.DataFrame) -> pd.Series:
    """'person' or 'organisation'. A contact person (one with an organisation key) is a person;
    a record with a company name, or typed as organisation, is the organisation; a bare name is
    an organisation when it is the name of a known organisation or carries a legal form."""
    contact = raw["organisation_key"].fillna("").ne("")
    typed_org = (raw["company"].fillna("").ne("") | raw["party_type"].eq("organisation")) & ~contact
    known = set(records.loc[typed_org, "org"]) - {""}
    bare = fold_column(raw["name"])
    named_org = _per_value(bare, lambda n: bool(n) and (_without_legal_form(n) in known
                                                          or not legal_forms().isdisjoint(n.split())))
    org = typed_org | (~contact & raw["party_type"].ne("person") & named_org)
    return org.map({True: "organisation", False: "person"})


def _sound(surname: object) -> str:
    """How a family name sounds (Metaphone), so that a mistyped name still meets its own."""
    return jellyfish.metaphone(str(surname).replace(" ", "")) if surname else ""


_DERIVED = ("sound_region", "name_sounds", "house_city", "given_city")


def _add_blocking_keys(records: pd.DataFrame) -> None:
    """Keys that let a pair with one mistyped or swapped field meet: the sound of the family name in
    the region (the postcode's first two digits: a common name sounds alike all over the country),
    the sounds of both names in either order (given and family name swapped), the house number in
    the city (a mistyped street or postcode), and the sound of the first name in the city (a
    mistyped family name)."""
    person = records["role"].eq("person")
    given = _per_value(records["given_name"].where(person), _sound).to_numpy()
    sound = records["sound"].to_numpy(dtype=object)
    house = _per_value(records["street"], lambda s: (re.findall(r"[0-9]+", s or "") or [""])[-1]).to_numpy()
    city = records["city"].to_numpy(dtype=object)
    region = records["postcode"].fillna("").astype(str).str[:2].to_numpy(dtype=object)
    records["name_sounds"] = [" ".join(sorted((g, s))) if g and s else "" for g, s in
                              zip(given, sound, strict=True)]
    records["sound_region"] = [f"{s}:{r}" if s and r else "" for s, r in zip(sound, region, strict=True)]
    records["house_city"] = [f"{h}:{c}" if h and c else "" for h, c in zip(house, city, strict=True)]
    records["given_city"] = [f"{g}:{c}" if g and c else "" for g, c in zip(given, city, strict=True)]


def _system_key(key: str) -> str:
    return key.strip().strip("{}").lower()


def _keys(ws: Workspace, records: pd.DataFrame, numberings: dict[str, str]) -> pd.DataFrame:
    kinds = ", ".join(f"'{k}'" for k in KEY_KINDS)
    found = ws.query(f"""SELECT DISTINCT r.unique_id, i.service, i.kind, i.value
                         FROM identifiers i JOIN records r USING ({", ".join(PARTY)})
                         WHERE i.valid AND i.kind IN ({kinds}) AND coalesce(i.value, '') <> ''""",
                     frames={"records": records[[*PARTY, "unique_id"]]})
    numbers = found["kind"].eq("customer_number")
    scope = _numbering(found["service"], numberings)
    found.loc[numbers, "value"] = scope[numbers] + ":" + found.loc[numbers, "value"]
    # a system's own key is the same record in each of its exports; content hashes are not keys
    own = records[~records["party_key"].str.startswith("h:")]
    system = pd.DataFrame({"unique_id": own["unique_id"], "kind": "party_key",
                           "value": own["service"] + ":" + _per_value(own["party_key"], _system_key)})
    return pd.concat([found[["unique_id", "kind", "value"]], system, _contact_keys(records, numberings)],
                     ignore_index=True)


def _contact_keys(records: pd.DataFrame, numberings: dict[str, str]) -> pd.DataFrame:
    """A contact person is known by the account (customer number) they belong to and their
    name: the same account and the same name is the same person, in every system of one
    numbering."""
    people = records[records["organisation_key"].ne("") & records["given_name"].notna()
                     & records["surname"].notna()]
    scope = _numbering(people["service"], numberings)
    value = scope + ":" + _per_value(people["organisation_key"], _system_key) + ":" + people["given_name"] \
        + ":" + people["surname"]
    return pd.DataFrame({"unique_id": people["unique_id"], "kind": "contact", "value": value})


def _numbering(services: pd.Series, numberings: dict[str, str]) -> pd.Series:
    """The customer numbering each row's service uses (the service itself when it has none)."""
    return _per_value(services, lambda service: numberings.get(service, service))


# --------------------------------------------------------------------------------------------
# the engine seam


class LinkageEngine(Protocol):
    """Where candidate pairs come from. Clustering, constraints and the analyst's decisions stay
    in this module, so another backend only has to produce these two tables."""

    def exact_pairs(self, keys: pd.DataFrame) -> pd.DataFrame:
        """``uid_l < uid_r, kinds`` (sorted, comma-separated) of parties sharing a key."""

    def scored_pairs(self, records: pd.DataFrame, floor: float) -> pd.DataFrame:
        """``uid_l, uid_r, probability, evidence, other_evidence`` of pairs scoring ``floor`` or
        more; ``other_evidence`` says whether anything besides the names agrees. ``records``
        carry a ``group`` column (parties sharing an identifier), from which to estimate how
        many pairs match."""


def _close(column: str) -> str:
    return f"jaro_winkler_similarity({column}_l, {column}_r) >= {CLOSE}"


_SURNAME_CLOSE = (f"({_close('surname')} OR list_has_any(string_split(surname_l, ' '), "
                  "string_split(surname_r, ' ')))")
_SWAPPED_CLOSE = (f"jaro_winkler_similarity(given_name_l, surname_r) >= {CLOSE} "
                  f"AND jaro_winkler_similarity(surname_l, given_name_r) >= {CLOSE}")

_HOUSE = "regexp_extract(street_{}, '([0-9]+)[a-z]*$', 1)"  # the house number ending a street

# Each comparison of the model: its columns' null test and its levels, best first, as (SQL, what it
# says in a link's evidence, m: how often a true match shows it). The m values are set, not trained:
# training them on the pairs that share an identifier learns only from copies of one record (a
# client's contacts CSV, workbook and API dump), where no typo ever shows, and EM drove levels that
# true matches rarely show to m = 0, which Splink 5 refuses. u is trained on every run.
MODEL: dict[str, tuple[str, list[tuple[str, str, float]]]] = {
    "names": ("surname_l IS NULL OR surname_r IS NULL", [
        ("surname_l = surname_r AND given_name_l IS NOT DISTINCT FROM given_name_r", "names", 0.75),
        ("given_name_l = surname_r AND surname_l = given_name_r", "names swapped", 0.02),
        (f"({_SURNAME_CLOSE} AND {_close('given_name')}) OR ({_SWAPPED_CLOSE})", "names~", 0.12),
        (f"{_SURNAME_CLOSE} AND (given_name_l IS NULL OR given_name_r IS NULL "
         "OR substr(given_name_l, 1, 1) = substr(given_name_r, 1, 1))", "surname, initial", 0.05),
        (_SURNAME_CLOSE, "surname", 0.03),
        (_close("given_name"), "given_name", 0.02),
        ("ELSE", "", 0.01)]),
    "postcode": ("postcode_l IS NULL OR postcode_r IS NULL", [
        ("postcode_l = postcode_r", "postcode", 0.85),
        ("substr(postcode_l, 1, 4) = substr(postcode_r, 1, 4) AND regexp_matches(postcode_l, '^[0-9]{4}')",
         "postcode4", 0.06),
        ("damerau_levenshtein(postcode_l, postcode_r) = 1", "postcode~", 0.04),
        ("ELSE", "", 0.05)]),
    "street": ("street_l IS NULL OR street_r IS NULL", [
        ("street_l = street_r", "street", 0.8), (_close("street"), "street~", 0.12),
        (f"{_HOUSE.format('l')} = {_HOUSE.format('r')} AND {_HOUSE.format('l')} <> ''", "house number", 0.05),
        ("ELSE", "", 0.03)]),
    "city": ("city_l IS NULL OR city_r IS NULL", [
        ("city_l = city_r", "city", 0.85), (_close("city"), "city~", 0.08), ("ELSE", "", 0.07)]),
    **{column: (f"{column}_l IS NULL OR {column}_r IS NULL", [
        (f"{column}_l = {column}_r", column, m), ("ELSE", "", 1 - m)])
       for column, m in (("email", 0.7), ("phone", 0.7), ("iban", 0.7), ("birth_date", 0.95))},
}
# the gamma of each level that says something, and what: Splink numbers a comparison's levels from
# the last (0) up
_LEVELS = {name: {len(levels) - 1 - n: text for n, (_, text, _) in enumerate(levels) if text}
           for name, (_, levels) in MODEL.items()}
_NAMES = {"names"}
_PERSONAL = ("email", "phone", "birth_date", "bsn")  # a person's own; an IBAN may be a joint one
# pairs compared: a mistyped field still meets its own on another (sound: of the family name)
BLOCKING = ("postcode", "street", *_DERIVED, "email", "phone", "iban", "birth_date")
COLUMNS = ("given_name", "surname", "postcode", "street", "city", *_DERIVED, "email", "phone", "iban",
           "birth_date")


def _comparison(name: str):
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    null, levels = MODEL[name]
    made = [cll.CustomLevel(null, "null").configure(is_null_level=True)]
    made += [cll.ElseLevel() if sql == "ELSE" else cll.CustomLevel(sql, text or sql)
             for sql, text, _ in levels]
    return cl.CustomComparison(output_column_name=name, comparison_levels=made,
                               comparison_description=name).configure(
        m_probabilities=[m for _, _, m in levels])


def splink_settings(probability_two_random_records_match: float = 0.001):
    """The Splink model, the same on every backend: names (typos, initials and swaps), Dutch
    postcode, street and city, and the identifiers and birth date compared exactly (a different
    e-mail address counts against a match). Only parties of one role are compared."""
    from splink import SettingsCreator, block_on

    return SettingsCreator(
        link_type="dedupe_only", unique_id_column_name="unique_id",
        probability_two_random_records_match=probability_two_random_records_match,
        comparisons=[_comparison(name) for name in MODEL],
        blocking_rules_to_generate_predictions=[block_on("role", column) for column in BLOCKING],
        retain_matching_columns=True,
    )


class DuckDBSplinkEngine:
    """Exact pairs with a self-join in an in-memory DuckDB; scored pairs with Splink on DuckDB:
    the share of matching pairs from the groups of parties that share an identifier and the pairs
    with the same name at one address, u by random sampling on every run, m as set in
    :data:`MODEL`."""

    def __init__(self, max_pairs: float = 1e5, seed: int = 1) -> None:
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
        from splink import DuckDBAPI, Linker

        db_api = DuckDBAPI()  # a new one per run: a name registered twice is an error
        frame = db_api.register(records[["unique_id", "role", *COLUMNS]], dataset_display_name="parties")
        # the settings are this module's own, checked by its tests: validating them on every run
        # costs a second
        linker = Linker(frame, splink_settings(match_share(records)), log_level=logging.ERROR,
                        validate_settings=False)
        # one chunk: the sample is small, and Splink's ten take a query per chunk and comparison
        linker.training.estimate_u_using_random_sampling(max_pairs=self.max_pairs, seed=self.seed,
                                                         num_chunks=1)
        pairs = linker.inference.predict(threshold_match_probability=floor)
        return linker.misc.query_sql(_evidence_sql(pairs.physical_name), output_type="pandas")


def match_share(records: pd.DataFrame, recall: float = 0.7) -> float:
    """The share of all pairs of parties that are one subject (Splink's prior), estimated from the
    pairs within a ``group`` (parties sharing an identifier) and the pairs with the same name and
    postcode or street, as if these found ``recall`` of them; at least one pair in all."""
    with duckdb.connect() as con:
        con.register("records", records[["unique_id", "role", "group", "given_name", "surname",
                                          "postcode", "street"]])
        found = con.execute("""
            SELECT count(*) FROM (
                SELECT a.unique_id, b.unique_id FROM records a JOIN records b
                    ON a.group = b.group AND a.unique_id < b.unique_id
                UNION
                SELECT a.unique_id, b.unique_id FROM records a JOIN records b
                    ON a.role = b.role AND a.surname = b.surname AND a.given_name = b.given_name
                       AND a.postcode = b.postcode AND a.unique_id < b.unique_id
                UNION
                SELECT a.unique_id, b.unique_id FROM records a JOIN records b
                    ON a.role = b.role AND a.surname = b.surname AND a.given_name = b.given_name
                       AND a.street = b.street AND a.unique_id < b.unique_id)""").fetchall()[0][0]
    total = max(len(records) * (len(records) - 1) / 2, 1)
    return min(max(found / recall, 1) / total, 0.5)


def groups(size: int, exact: pd.DataFrame) -> np.ndarray:
    """For each of ``size`` parties, the smallest uid of the parties it shares identifiers with,
    directly or through others (connected components of the exact pairs)."""
    label = np.arange(size)
    left, right = exact["uid_l"].to_numpy(dtype=int), exact["uid_r"].to_numpy(dtype=int)
    while True:
        low = np.minimum(label[left], label[right])
        before = label.copy()
        np.minimum.at(label, left, low)
        np.minimum.at(label, right, low)
        label = label[label]
        if np.array_equal(label, before):
            return label


_EVIDENCE = ("postcode", "street", "email", "phone", "iban", "birth_date", "bsn")


def sole_name_keys(records: pd.DataFrame, label: np.ndarray) -> pd.DataFrame:
    """A ``name`` key (``unique_id, kind, value``) for a person known by nothing but a full name (a
    payer on a bank statement) and for the parties of the one subject-to-be (``label``: the parties
    sharing identifiers) that has that name among the parties known by more. A name two of them
    share (namesakes) links nobody."""
    given, surname = records["given_name"].fillna("").astype(str), records["surname"].fillna("").astype(str)
    person = records["role"].eq("person") & given.str.len().gt(1) & surname.ne("")
    bare = records[list(_EVIDENCE)].isna().all(axis=1)
    named = pd.DataFrame({"unique_id": records["unique_id"], "label": label,
                          "value": given + " " + surname})[person]
    known = named[~bare[person]]
    holders = known.groupby("value")["label"].nunique()
    sole = set(holders.index[holders.eq(1)])
    takers = named[bare[person] & named["value"].isin(sole)]
    keys = pd.concat([known[known["value"].isin(set(takers["value"]))], takers])
    return keys.assign(kind="name")[["unique_id", "kind", "value"]]


def _evidence_sql(table: str) -> str:
    """The scored pairs of Splink's prediction ``table`` with what agreed, as text, computed in
    DuckDB (a large workspace has millions of pairs)."""
    def label(column: str) -> str:
        levels = " ".join(f"WHEN {g} THEN '{text}'" for g, text in _LEVELS[column].items())
        return f"CASE gamma_{column} {levels} END"

    other = " OR ".join(f"coalesce(gamma_{c} IN ({', '.join(map(str, _LEVELS[c]))}), false)"
                        for c in _LEVELS if c not in _NAMES)
    return f"""SELECT unique_id_l::BIGINT AS uid_l, unique_id_r::BIGINT AS uid_r,
                      match_probability::DOUBLE AS probability,
                      concat_ws(', ', {', '.join(label(c) for c in _LEVELS)}) AS evidence,
                      ({other}) AS other_evidence
               FROM {table}"""


# --------------------------------------------------------------------------------------------
# clustering with constraints


def given_names_agree(a: str, b: str) -> bool:
    """The same first name but for a typo (one edit, or close by Jaro-Winkler), or an initial of it.
    A name that starts a longer one (Jan and Janneke, Marie and Marieke) is not the same: see
    :func:`given_names_related`."""
    if a == b:
        return True
    short, long = sorted((a, b), key=len)
    if len(short) == 1:
        return long.startswith(short)
    if given_names_related(a, b):
        return False
    close = jellyfish.jaro_winkler_similarity(a, b)
    return typos(a, b) <= 1 or (len(short) >= 5 and close >= 0.92) or \
        (len(short) >= 6 and typos(a, b) <= 2 and close >= 0.9)


def given_names_related(a: str, b: str) -> bool:
    """One first name the start of a longer one (Alex, Alexander; Jan, Janneke): a short form of
    the same name, or the name of someone else in the same household."""
    short, long = sorted((a, b), key=len)
    return len(short) >= 2 and len(long) - len(short) >= 2 and long.startswith(short)


@functools.lru_cache(maxsize=1 << 16)
def surnames_agree(a: str, b: str) -> bool:
    """The same family name but for a typo (one for a short name, two for a long one, or close by
    Jaro-Winkler), or one part of a double name (de Vries-Bakker and Bakker)."""
    return a == b or a in b.split() or b in a.split() or \
        typos(a, b) <= (1 if min(len(a), len(b)) < 8 else 2) or \
        (min(len(a), len(b)) >= 5 and jellyfish.jaro_winkler_similarity(a, b) >= 0.92)


def typos(a: str, b: str) -> int:
    """Edits between two words, a swap of neighbouring letters counting as one (Damerau-Levenshtein)."""
    return jellyfish.damerau_levenshtein_distance(a, b)


def _part(a: str, b: str, agree) -> bool:
    return not a or not b or agree(a, b)


@functools.lru_cache(maxsize=1 << 18)
def names_relate(a: tuple[str, str], b: tuple[str, str]) -> str | None:
    """How two (first name, family name) pairs relate: ``"same"`` (but for typos and initials, or
    with first and family name swapped), ``"related"`` (one family, one first name the start of the
    other: Jan and Janneke) or None (different names)."""
    (given_a, family_a), (given_b, family_b) = a, b
    for given, family in ((given_b, family_b), (family_b, given_b)):  # as written, or swapped
        if _part(family_a, family, surnames_agree) and _part(given_a, given, given_names_agree) \
                and (family_a or given_a) and (family or given):
            return "same"
    if _split_elsewhere(a, b):
        return "same"
    if _part(family_a, family_b, surnames_agree) and given_a and given_b \
            and given_names_related(given_a, given_b):
        return "related"
    return None


def _split_elsewhere(a: tuple[str, str], b: tuple[str, str]) -> bool:
    """The same letters of a full name, split into first and family name at another place
    (``micha``, ``el george`` and ``michael``, ``george``), as written or swapped, but for a typo."""
    whole = "".join(a).replace(" ", "")
    if "" in a or "" in b or len(whole) < 8:
        return False
    return any(typos(whole, "".join(other).replace(" ", "")) <= 1 for other in (b, b[::-1]))


def _near(a: str, b: str, agree) -> bool:
    """Agreeing, or two typos apart in names of five letters or more, one not the start of the other."""
    return _part(a, b, agree) or (min(len(a), len(b)) >= 5 and typos(a, b) <= 2
                                  and not given_names_related(a, b))


@functools.lru_cache(maxsize=1 << 16)
def names_near(a: tuple[str, str], b: tuple[str, str]) -> bool:
    """Two names that two mistyped copies of one name can be (each a typo away from the name)."""
    return any(_near(a[0], given, given_names_agree) and _near(a[1], family, surnames_agree)
               for given, family in (b, b[::-1]))


@dataclass(slots=True)
class _Group:
    members: list[int]
    role: str
    names: set[tuple[str, str]]
    numbers: dict[str, set[str]]  # key kind/numbering -> values
    births: set[str]
    bsns: set[str]


_UNIQUE = ("customer_number", "kvk_number", "vat_number")  # one per subject within a numbering
_SAME_RECORD = frozenset({"customer_number", "party_key", "contact"})  # exact keys of one client
# one of them in a pair's kinds ("email, party_key"), as a whole item
_SAME_RECORD_KIND = "(?:^|, )(?:" + "|".join(sorted(_SAME_RECORD)) + ")(?:,|$)"


def _unique_numbers(keys: pd.DataFrame, shared: set[str]) -> pd.DataFrame:
    """The keys a subject has one of (``unique_id, scope, value``): KvK and VAT numbers, and the
    customer numbers of a numbering that systems share, each numbering a scope of its own; sorted,
    so that a conflict between two numbers is named the same way on every run."""
    unique = keys[keys["kind"].isin(_UNIQUE)]
    numbering = unique["value"].str.replace(r"(?s):.*", "", regex=True)  # what precedes the first ':'
    is_number = unique["kind"].eq("customer_number")
    scope = unique["kind"] + (":" + numbering).where(is_number, "")
    numbers = pd.DataFrame({"unique_id": unique["unique_id"].astype(int), "scope": scope,
                            "value": unique["value"]})[~is_number | numbering.isin(shared)]
    return numbers.sort_values(["unique_id", "scope", "value"], ignore_index=True)


class _Clusters:
    """Union-find over parties where each merge is checked against what must not be merged. A
    party's group is made when a link first reaches it (most parties of a large workspace).

    Customer numbers count only within a numbering that systems share (``shared``): there two
    numbers are evidence against a merge, which an agreeing e-mail address, phone, birth date or
    IBAN outweighs. Within a system that numbers its clients itself, a client entered twice has two
    numbers, so they say nothing."""

    def __init__(self, records: pd.DataFrame, numbers: pd.DataFrame, cannot: set[frozenset[int]]) -> None:
        """``numbers``: the parties' unique numbers (:func:`_unique_numbers`)."""
        self.parent = list(range(len(records)))
        self.groups: dict[int, _Group] = {}
        self.role = records["role"].tolist()
        person = records["role"].eq("person")
        given = records["given_name"].where(person & records["given_name"].notna(), "").tolist()
        surname = records["surname"].where(records["surname"].notna(), "").tolist()
        self.names = list(zip(given, surname, strict=True))
        self.own = {c: _texts(records[c]) for c in _PERSONAL}
        self.iban = _texts(records["iban"])
        self.address = list(zip(_texts(records["street"]), _texts(records["postcode"]), strict=True))
        # read when a party's group is made: its rows, which are sorted by party
        self.scope, self.number = numbers["scope"].tolist(), numbers["value"].tolist()
        owner = numbers["unique_id"].to_numpy(dtype=int)
        held = np.unique(owner)
        starts, ends = np.searchsorted(owner, held), np.searchsorted(owner, held, side="right")
        self.number_rows = dict(zip(held.tolist(), map(range, starts.tolist(), ends.tolist()), strict=True))
        self.cannot: dict[int, set[int]] = {}
        for pair in cannot:
            a, b = tuple(pair)
            self.cannot.setdefault(a, set()).add(b)
            self.cannot.setdefault(b, set()).add(a)

    def group(self, root: int) -> _Group:
        found = self.groups.get(root)
        if found is None:
            names = {self.names[root]} - {("", "")}
            births = {self.own["birth_date"][root]} - {None}
            numbers: dict[str, set[str]] = {}
            for row in self.number_rows.get(root, ()):
                numbers.setdefault(self.scope[row], set()).add(self.number[row])
            found = self.groups[root] = _Group([root], self.role[root], names, numbers, births,
                                               {self.own["bsn"][root]} - {None})
        return found

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def vouched(self, a: int, b: int) -> bool:
        """Whether the two parties share a personal identifier of their own."""
        return any(values[a] is not None and values[a] == values[b] for values in self.own.values())

    def conflict(self, a: int, b: int, analyst_only: bool = False, same_record: bool = False) -> str | None:
        """Why the groups of ``a`` and ``b`` must not be one subject, or None."""
        ga, gb = self.group(self.find(a)), self.group(self.find(b))
        if self.cannot and any(self.cannot[m] & set(gb.members) for m in ga.members if m in self.cannot):
            return "the analyst split these"
        if analyst_only:
            return None
        if ga.role != gb.role:
            return "an organisation and a person"
        for values_a, values_b, what in ((ga.births, gb.births, "birth dates"), (ga.bsns, gb.bsns, "BSNs")):
            if values_a and values_b and values_a.isdisjoint(values_b):
                return f"{what} differ"
        own = same_record or self.vouched(a, b)
        reason = self._names(ga, gb, own, self.one_address(a, b), (self.names[a], self.names[b]))
        if reason:
            return reason
        for scope, values in ga.numbers.items():
            if values.isdisjoint(gb.numbers.get(scope, values)) and (
                    not scope.startswith("customer_number") or not (own or self._iban(a, b))):
                return f"different {scope.split(':')[0].replace('_', ' ')}s"
        return None

    def one_address(self, a: int, b: int) -> bool:
        """The same postcode, and the same street and house number but for a typo."""
        (street_a, postcode_a), (street_b, postcode_b) = self.address[a], self.address[b]
        return None not in (street_a, street_b, postcode_a) and postcode_a == postcode_b and (
            street_a == street_b or jellyfish.jaro_winkler_similarity(street_a, street_b) >= CLOSE)

    def _iban(self, a: int, b: int) -> bool:
        return self.iban[a] is not None and self.iban[a] == self.iban[b]

    @staticmethod
    def _names(ga: _Group, gb: _Group, own: bool, one_address: bool,
               pair: tuple[tuple[str, str], tuple[str, str]]) -> str | None:
        """Why the names of two groups say they are different people, or None. At one address (street
        with house number, and postcode), the same first name under another family name is a
        changed name (as on marriage); a household's members have different first names. The two
        parties linked must have the same names; the others of their groups may differ by the
        typos of both (two edits in a name of five letters or more)."""
        for x in ga.names:
            for y in gb.names:
                how = names_relate(x, y)
                if how is None and (x, y) != pair and names_near(x, y):
                    continue
                if how is None and one_address and len(x[0]) > 1 and len(y[0]) > 1 \
                        and given_names_agree(x[0], y[0]):
                    continue
                if how is None:
                    same_family = _part(x[1], y[1], surnames_agree)
                    return "first names differ" if same_family else "family names differ"
                if how == "related" and not own:
                    return "first names differ"
        return None

    def merge(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        ga, gb = self.group(ra), self.group(rb)
        del self.groups[rb]
        self.parent[rb] = ra
        ga.members += gb.members
        ga.names |= gb.names
        ga.births |= gb.births
        ga.bsns |= gb.bsns
        for scope, values in gb.numbers.items():
            ga.numbers.setdefault(scope, set()).update(values)

    def clusters(self) -> list[list[int]]:
        """The members of each group, in the order of their first member."""
        return [sorted(self.group(i).members) for i, root in enumerate(self.parent) if i == root]


def _texts(values: pd.Series) -> list[str | None]:
    """The values as a list, each missing one (None, NaN, empty) None."""
    return [v if isinstance(v, str) and v else None for v in values.tolist()]


class _Edge(NamedTuple):  # a tuple: a large workspace tries millions of them
    a: int
    b: int
    how: str
    probability: float | None
    evidence: str
    names_only: bool = False
    same_record: bool = False  # linked by a customer number or system key: one client's record


def _cluster(records: pd.DataFrame, keys: pd.DataFrame, edges: pd.DataFrame,
             decided: dict[frozenset[int], str], threshold: float, shared: set[str]
             ) -> tuple[_Clusters, np.ndarray, pd.DataFrame, pd.DataFrame]:
    """The constraints as they ended; the subjects (for each party the smallest uid of its
    subject); the edge that attached each party (``party, how, probability, evidence``); and the
    links held back (``a, b, how, probability, evidence, reason``: None where only the threshold or
    the names-only rule held it).

    The strong links (exact keys, Splink's above the threshold with more than names, the analyst's)
    are clustered as connected components at column speed. Only a component that holds something
    which must not be one subject (two first names, birth dates, BSNs or numbers of one shared
    numbering, a person and an organisation, the analyst's split) has its links applied one by
    one, in order, each checked against the constraints (the analyst's merges only against the
    analyst's splits)."""
    weak = edges["how"].eq("probabilistic") & (edges["probability"].lt(threshold) | edges["names_only"])
    strong = edges[~weak]
    label = groups(len(records), strong.rename(columns={"a": "uid_l", "b": "uid_r"}))
    cannot = {p for p, d in decided.items() if d == CANNOT}
    numbers = _unique_numbers(keys, shared)
    tangled = _tangled(records, numbers, label, cannot)
    knotted = np.isin(label[strong["a"].to_numpy(dtype=int)], list(tangled))
    clusters = _Clusters(records, numbers, cannot)
    attached: dict[int, _Edge] = {}
    refused: list[tuple[_Edge, str]] = []
    for edge in map(_Edge._make, strong[knotted].itertuples(index=False, name=None)):
        if clusters.find(edge.a) == clusters.find(edge.b):
            continue
        reason = clusters.conflict(edge.a, edge.b, analyst_only=edge.how == "analyst",
                                   same_record=edge.same_record)
        if reason is not None:
            refused.append((edge, reason))
        else:
            clusters.merge(edge.a, edge.b)
            for party in (edge.a, edge.b):
                attached.setdefault(party, edge)
    loose = strong[~knotted]
    first = pd.concat([loose.rename(columns={"a": "party"}), loose.rename(columns={"b": "party"})]) \
        .sort_index(kind="stable").drop_duplicates("party")[["party", "how", "probability", "evidence"]]
    knotted_first = pd.DataFrame([(p, e.how, e.probability, e.evidence) for p, e in attached.items()],
                                 columns=first.columns)
    final = label.copy()
    inside = np.flatnonzero(np.isin(label, list(tangled)))
    final[inside] = [clusters.find(i) for i in inside]
    offered = pd.concat([edges[weak].assign(reason=None),
                         pd.DataFrame([(*e[:5], r) for e, r in refused],
                                      columns=["a", "b", "how", "probability", "evidence", "reason"])],
                        ignore_index=True)
    return clusters, final, pd.concat([first, knotted_first], ignore_index=True), offered


def _tangled(records: pd.DataFrame, numbers: pd.DataFrame, label: np.ndarray,
             cannot: set[frozenset[int]]) -> set[int]:
    """The components (``label``) that hold two parties which may not be one subject as they are:
    two roles, birth dates or BSNs, two numbers of a unique kind (customer numbers only in a
    shared numbering), names not the same (:func:`names_relate`), or a pair the analyst split."""
    frame = records[["role", "birth_date", "bsn"]].assign(label=label)
    person = records["role"].eq("person")
    frame["given"] = records["given_name"].where(person, "").fillna("")
    frame["family"] = records["surname"].fillna("")
    sizes = frame.groupby("label")["role"].transform("size")
    frame = frame[sizes.gt(1)]
    per = frame.groupby("label").agg(roles=("role", "nunique"), births=("birth_date", "nunique"),
                                     bsns=("bsn", "nunique"))
    tangled = set(per.index[per.max(axis=1).gt(1)])
    numbers = numbers.assign(label=label[numbers["unique_id"].to_numpy(dtype=int)])
    tangled |= set(numbers.groupby(["label", "scope"])["value"].nunique().loc[lambda n: n.gt(1)]
                   .index.get_level_values("label"))
    tangled |= {label[a] for a, b in map(tuple, cannot) if label[a] == label[b]}
    names = frame[frame["given"].ne("") | frame["family"].ne("")]
    names = names.drop_duplicates(["label", "given", "family"])
    several = names[names.duplicated("label", keep=False) & ~names["label"].isin(tangled)]
    names_of: dict[int, list[tuple[str, str]]] = {}
    for component, given, family in zip(several["label"].tolist(), several["given"].tolist(),
                                        several["family"].tolist(), strict=True):
        names_of.setdefault(component, []).append((given, family))
    tangled |= {component for component, names in names_of.items()
                if any(names_relate(x, y) != "same" for x, y in itertools.combinations(names, 2))}
    return tangled


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


def link(ws: Workspace, threshold: float = 0.95, engine: LinkageEngine | None = None,
         numberings: dict[str, str] | None = None) -> LinkReport:
    """(Re)build the subjects of the workspace from its current parties; subject ids stay the
    same for the same people, and the analyst's decisions win. ``numberings`` maps each service
    to the customer numbering it uses (default: the register's ``numbering`` of each system)."""
    engine = engine or DuckDBSplinkEngine()
    numberings = registry.load().numberings() if numberings is None else numberings
    shared = {n for n in set(numberings.values()) if list(numberings.values()).count(n) > 1}
    started = time.perf_counter()
    timings: dict[str, float] = {}
    with ws.connect():  # a workspace not made yet is made: linking it finds no subjects
        pass
    records, keys = prepare(ws, numberings)
    timings["prepare"] = time.perf_counter() - started
    uid = {tuple(p): i for i, p in enumerate(records[PARTY].itertuples(index=False, name=None))}
    decided = _decisions(ws, uid)

    mark = time.perf_counter()
    exact = engine.exact_pairs(keys)
    label = groups(len(records), exact)
    named = sole_name_keys(records, label)
    if len(named):
        exact = pd.concat([exact, engine.exact_pairs(named)], ignore_index=True)
    timings["deterministic"] = time.perf_counter() - mark
    mark = time.perf_counter()
    scored = engine.scored_pairs(records.assign(group=label), CANDIDATE_FLOOR) \
        if len(records) >= MIN_SPLINK_RECORDS else pd.DataFrame(columns=SCORED)
    timings["probabilistic"] = time.perf_counter() - mark

    mark = time.perf_counter()
    edges = _edges(exact, scored, decided)
    constraints, final, attached, offered = _cluster(records, keys, edges, decided, threshold, shared)
    ids, kept = _subject_ids(ws, records, final)
    subjects = _subjects_frame(records, ids, attached)
    candidates = _candidates_frame(records, constraints, ids, offered, decided, threshold)
    _store(ws, subjects, candidates)
    timings["cluster_and_store"] = time.perf_counter() - mark
    return LinkReport(
        parties=len(records), subjects=subjects["subject_id"].nunique(),
        links=subjects["how"].value_counts().to_dict(), candidates=len(candidates),
        refused=int((offered["reason"].notna() | offered["probability"].ge(threshold)).sum()),
        new_subjects=subjects["subject_id"].nunique() - kept, kept_subjects=kept,
        seconds=time.perf_counter() - started, timings=timings)


EDGE = ["a", "b", "how", "probability", "evidence", "names_only", "same_record"]


def _edges(exact: pd.DataFrame, scored: pd.DataFrame, decided: dict[frozenset[int], str]) -> pd.DataFrame:
    """Every link to try (:data:`EDGE`), in order: the exact ones (more shared keys first), Splink's
    by probability, and last the analyst's merges, which join whole subjects as they came out."""
    exact = exact.assign(n=exact["kinds"].str.count(",")).sort_values(
        ["n", "uid_l", "uid_r"], ascending=[False, True, True])
    ends = ["uid_l", "uid_r"]
    pair = scored[ends].astype(int)
    ordered = scored.assign(uid_l=pair.min(axis=1), uid_r=pair.max(axis=1)).drop_duplicates(ends)
    scores = exact[ends].merge(ordered[[*ends, "probability", "evidence"]], on=ends, how="left")
    known = scores["probability"].notna().to_numpy()
    splink = scores["probability"][known].map("{:.3f}".format).astype("str") + ": " \
        + scores["evidence"][known].astype("str")  # str also when there are none
    evidence = exact["kinds"].to_numpy(dtype=object).copy()
    evidence[known] += "; splink " + splink.to_numpy(dtype=object)
    same_record = exact["kinds"].str.contains(_SAME_RECORD_KIND, regex=True)
    scored = scored.sort_values(["probability", "uid_l", "uid_r"], ascending=[False, True, True])
    analyst = sorted(sorted(p) for p, d in decided.items() if d == MUST)
    frames = [
        pd.DataFrame({"a": exact["uid_l"], "b": exact["uid_r"], "how": "deterministic", "probability": 1.0,
                      "evidence": evidence, "names_only": False, "same_record": same_record.astype(bool)}),
        pd.DataFrame({"a": scored["uid_l"], "b": scored["uid_r"], "how": "probabilistic",
                      "probability": scored["probability"].astype(float), "evidence": scored["evidence"],
                      "names_only": ~scored["other_evidence"].astype(bool), "same_record": False}),
        pd.DataFrame({"a": [a for a, _ in analyst], "b": [b for _, b in analyst], "how": "analyst",
                      "probability": 1.0, "evidence": "analyst", "names_only": False, "same_record": False})]
    empty = pd.DataFrame({c: pd.Series(dtype=int if c in "ab" else object) for c in EDGE})
    edges = pd.concat([empty, *(f for f in frames if len(f))], ignore_index=True)
    return edges.astype({"a": int, "b": int, "probability": float, "names_only": bool, "same_record": bool})


# --------------------------------------------------------------------------------------------
# stable subject ids


def _subject_ids(ws: Workspace, records: pd.DataFrame, final: np.ndarray) -> tuple[np.ndarray, int]:
    """The subject id of each party (``final``: its cluster) and how many clusters kept an id: the
    previous id of the subject a cluster overlaps most (each id once), else a new one from a hash
    of its first party, so a fresh workspace gets the same ids."""
    first = pd.Series(np.arange(len(final))).groupby(final).transform("min").to_numpy()
    previous = ws.query("SELECT service, export_kind, party_key, subject_id FROM subjects")
    before = records[PARTY].assign(first=first).merge(previous, on=PARTY)
    overlaps = before.groupby(["first", "subject_id"]).size().reset_index(name="count").sort_values(
        ["count", "first", "subject_id"], ascending=[False, True, True])
    chosen: dict[int, str] = {}
    taken: set[str] = set()
    for cluster, sid in zip(overlaps["first"].tolist(), overlaps["subject_id"].tolist(), strict=True):
        if cluster not in chosen and sid not in taken:
            chosen[cluster] = sid
            taken.add(sid)
    kept = len(chosen)
    parties = records[PARTY].to_numpy()
    for cluster in sorted(set(first.tolist()) - set(chosen)):
        chosen[cluster] = _new_id(tuple(parties[cluster]), taken)
        taken.add(chosen[cluster])
    return pd.Series(first).map(chosen).to_numpy(dtype=object), kept


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
    with ws.connect():  # a workspace not made yet is made, as for link
        pass
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


def _subjects_frame(records: pd.DataFrame, ids: np.ndarray, attached: pd.DataFrame) -> pd.DataFrame:
    frame = records[PARTY].copy()
    frame.insert(0, "subject_id", ids)
    edge = attached.set_index("party").reindex(records.index)
    frame["how"] = edge["how"].fillna("single").to_numpy()
    frame["probability"] = edge["probability"].astype(float).to_numpy()
    frame["evidence"] = edge["evidence"].fillna("").to_numpy()
    return frame


def _candidates_frame(records: pd.DataFrame, constraints: _Clusters, ids: np.ndarray,
                      offered: pd.DataFrame, decided: dict[frozenset[int], str],
                      threshold: float) -> pd.DataFrame:
    """One candidate per pair of subjects (its strongest pair of parties), if they are still two
    subjects, the analyst has not rejected that pair, and both are persons or both organisations.
    A link held back by the threshold or the names-only rule says what else holds it back."""
    subject = ids
    role = records["role"].to_numpy()
    a, b = offered["a"].to_numpy(dtype=int), offered["b"].to_numpy(dtype=int)
    decided_pairs = {tuple(sorted(p)) for p in decided}
    keep = (subject[a] != subject[b]) & (role[a] == role[b]) & \
        ~np.array([(min(x, y), max(x, y)) in decided_pairs for x, y in zip(a, b, strict=True)], dtype=bool)
    kept = offered[keep].assign(
        pair=[" ".join(sorted(p)) for p in zip(subject[a[keep]], subject[b[keep]], strict=True)],
        rank=lambda f: f["how"].eq("deterministic").astype(int), score=lambda f: f["probability"].fillna(0.0))
    best = kept.sort_values(["rank", "score"], ascending=False, kind="stable").drop_duplicates("pair")
    parties = list(records[PARTY].itertuples(index=False, name=None))
    rows = []
    for x, y, how, probability, evidence, reason in best[["a", "b", "how", "probability", "evidence",
                                                          "reason"]].itertuples(index=False, name=None):
        if reason is None:
            reason = constraints.conflict(x, y) or ("below the threshold" if probability < threshold
                                              else "names agree but nothing else")
        (pa, ia), (pb, ib) = sorted([(parties[x], x), (parties[y], y)])
        rows.append({"candidate_id": "C-" + hashlib.sha256("\x1f".join(pa + pb).encode()).hexdigest()[:10],
                     "subject_a": ids[ia], "subject_b": ids[ib],
                     **dict(zip(["service_a", "export_kind_a", "party_key_a"], pa, strict=True)),
                     **dict(zip(["service_b", "export_kind_b", "party_key_b"], pb, strict=True)),
                     "probability": probability if how != "deterministic" else _splink_probability(evidence),
                     "evidence": evidence, "reason": reason})
    columns = ["candidate_id", "subject_a", "subject_b", "service_a", "export_kind_a", "party_key_a",
               "service_b", "export_kind_b", "party_key_b", "probability", "evidence", "reason"]
    return pd.DataFrame(rows, columns=columns).sort_values(
        ["probability", "candidate_id"], ascending=[False, True], na_position="last")


def _splink_probability(evidence: str) -> float | None:
    found = re.search(r"splink ([0-9.]+)", evidence)
    return float(found.group(1)) if found else None


_FIND_KINDS = ("email", "iban", "phone", "customer_number")  # what find() is asked for
_NAME_SQL = """lower(strip_accents(coalesce(
    nullif(trim(concat_ws(' ', p.given_name, p.name_prefix, p.family_name)), ''), nullif(p.name, ''),
    p.company)))"""
# each party under its identifiers as imported (valid or not), its own key and its full name (lower
# case, no accents); sorted, so a look-up reads a few blocks of the table
_INSERT_LOOKUP = f"""
    INSERT INTO subject_lookup
    SELECT DISTINCT lookup_key, subject_id, service, export_kind FROM (
        SELECT i.kind || ':' || i.value AS lookup_key, n.subject_id, n.service, n.export_kind
        FROM new_subjects n JOIN identifiers i USING (service, export_kind, party_key)
        WHERE i.kind IN {_FIND_KINDS} AND i.value IS NOT NULL
        UNION ALL
        SELECT 'party_key:' || party_key, subject_id, service, export_kind FROM new_subjects
        UNION ALL
        SELECT 'name:' || {_NAME_SQL}, n.subject_id, n.service, n.export_kind
        FROM new_subjects n JOIN parties p USING (service, export_kind, party_key))
    WHERE lookup_key IS NOT NULL ORDER BY lookup_key"""


def _store(ws: Workspace, subjects: pd.DataFrame, candidates: pd.DataFrame) -> None:
    with ws.transaction() as con:
        con.execute("DELETE FROM subjects")
        con.execute("DELETE FROM link_candidates")
        con.register("new_subjects", subjects)
        # in subject order, so reading one subject's parties reads a few blocks
        con.execute("INSERT INTO subjects SELECT *, now()::TIMESTAMP FROM new_subjects ORDER BY subject_id")
        con.execute("DELETE FROM subject_lookup")
        con.execute(_INSERT_LOOKUP)
        con.register("new_candidates", candidates)
        con.execute("INSERT INTO link_candidates SELECT *, now()::TIMESTAMP FROM new_candidates")


# --------------------------------------------------------------------------------------------
# finding a subject


def _require_subjects(ws: Workspace) -> None:
    if ws.is_empty("subjects"):
        raise WorkbenchError("no subjects yet: run 'workbench link' first")


def _lookup_missing(con: duckdb.DuckDBPyConnection) -> WorkbenchError | None:
    """Why :func:`find` cannot look subjects up, or None (asked only when it found nothing: opening
    the database and one query are all a look-up should cost)."""
    linked, indexed = con.execute("SELECT EXISTS (FROM subjects), EXISTS (FROM subject_lookup)").fetchone()
    if not linked:
        return WorkbenchError("no subjects yet: run 'workbench link' first")
    if not indexed:
        return WorkbenchError("the subjects were linked by an older version of the workbench: "
                              "run 'workbench link' again")
    return None


def imports_since_link(ws: Workspace) -> int:
    """How many imports came after the last :func:`link`: their parties are in no subject yet (or
    not as they are now), so a subject's package or look-up would miss them. 0 when up to date."""
    _require_subjects(ws)
    return int(ws.query("""SELECT count(*) AS n FROM imports WHERE imported_at >
                               coalesce((SELECT max(linked_at) FROM subjects), TIMESTAMP '0001-01-01')"""
                        )["n"].iloc[0])


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
    data), names fuzzily (Jaro-Winkler); the score is the mean over what was asked. It answers
    from the parties as the last :func:`link` saw them (``subject_lookup``)."""
    if not ws.exists:
        raise WorkbenchError("no subjects yet: run 'workbench link' first")
    asked = _query_keys(email, iban, phone, customer_id)
    columns = ["subject_id", "score", "evidence", "systems"]
    hits = [_IDENTIFIER_HIT + (_NUMBER_HIT if kind == "customer_number" else "") for kind, _ in asked]
    params = [p for kind, value in asked for p in
              [kind, kind, f"{kind}:{value}", *([f"party_key:{value}", value] if kind == "customer_number"
                                                else [])]]
    if name:
        hits.append(_NAME_HIT)
        params += [fold(name), min_name_score]
    with ws.connect(read_only=True) as con:
        found = con.execute(_find_sql(hits), params).df() if hits else None
        missing = _lookup_missing(con) if found is None or found.empty else None
        if missing:
            raise missing
    return pd.DataFrame(columns=columns) if found is None else found[columns]


def _find_sql(hits: list[str]) -> str:
    return f"""
        WITH hits AS ({" UNION ALL ".join(hits)}),
        per AS (SELECT subject_id, criterion, max(score) AS score, min(evidence) AS evidence
                FROM hits GROUP BY ALL),
        found AS (SELECT subject_id, sum(score) / {len(hits)} AS score,
                         string_agg(evidence, '; ' ORDER BY criterion) AS evidence
                  FROM per GROUP BY subject_id)
        SELECT found.*, systems FROM found JOIN (
            SELECT subject_id, string_agg(DISTINCT service, ', ' ORDER BY service) AS systems
            FROM subjects WHERE subject_id IN (SELECT subject_id FROM found) GROUP BY ALL
        ) USING (subject_id)
        ORDER BY score DESC, subject_id"""


# the subjects one asked identifier or the name finds: subject_id, criterion, score, evidence
_IDENTIFIER_HIT = """SELECT subject_id, ? AS criterion, 1.0 AS score,
                            ? || ' exact (' || service || '/' || export_kind || ')' AS evidence
                     FROM subject_lookup WHERE lookup_key = ?"""
_NUMBER_HIT = " OR (lookup_key = ? AND ? <> '')"  # a customer number is also a party's own key
_NAME_HIT = """SELECT subject_id, 'name' AS criterion, max(score) AS score,
                      'name ' || printf('%.2f', max(score)) AS evidence
               FROM subject_lookup JOIN (
                   SELECT lookup_key, jaro_winkler_similarity(substr(lookup_key, 6), ?) AS score
                   FROM (SELECT DISTINCT lookup_key FROM subject_lookup
                         WHERE lookup_key >= 'name:' AND lookup_key < 'name;')
               ) USING (lookup_key) WHERE score >= ? GROUP BY subject_id"""

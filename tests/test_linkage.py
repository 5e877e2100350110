"""Linking parties into subjects, measured against the demo generator's known truth.

The truth: MoneyBird, FactuurSturen and Exact key their parties by the firm's client number (or a
GUID made from it); Mollie's parties point at payments, and each payment knows its client. A
company's account is the organisation, its contact persons are persons; a consumer's records are
all the one person.
"""

from __future__ import annotations

import importlib
import importlib.resources
import json
import shutil
import time
from datetime import date, datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from conftest import payments_csv
from hypothesis import given as examples
from hypothesis import settings
from hypothesis import strategies as st

from workbench import demo
from workbench.configuration import ConfigError
from workbench.datamap import linkage
from workbench.datamap.linkage import fold
from workbench.demo import exact as demo_exact
from workbench.demo import mollie as demo_mollie
from workbench.errors import WorkbenchError
from workbench.reference import register as registry
from workbench.rights import package
from workbench.store.workspace import Workspace
from workbench.ui import cli

PARTY = ["service", "export_kind", "party_key"]


@pytest.fixture(scope="module")
def linked(tmp_path_factory, business):
    root = tmp_path_factory.mktemp("linkage")
    # the truth is known for the bookkeeping and payment services' parties
    files = [f for f in demo.write(root / "exports")
             if f.relative_to(root / "exports").parts[0] in demo.SERVICES]
    ws = Workspace(root / "ws")
    ws.import_files(files)
    started = time.perf_counter()
    report = linkage.link(ws)
    seconds = time.perf_counter() - started
    print(f"\nlink() on the demo: {seconds:.2f} s; {report.summary()}; {report.timings}")
    return ws, report, truth(business, ws), root


@pytest.fixture
def copy(linked, tmp_path) -> Workspace:
    """A copy of the linked demo workspace that a test may change."""
    shutil.copytree(linked[0].path, tmp_path / "ws")
    return Workspace(tmp_path / "ws")


# --------------------------------------------------------------------------------------------
# the known truth


def truth(business: demo.Business, ws: Workspace) -> dict[tuple, tuple]:
    """Party -> ("O", client) for an organisation, ("P", client, index) for a person (index 0
    is the main person), or a label of its own for a payer of several clients or a supplier."""
    clients = {c.number: c for c in business.clients}
    guids = {}
    for c in business.clients:
        guids[demo_exact._guid("account", c.number)] = ("account", c.number, 0)
        for i in range(1 + len(c.contacts)):
            guids[demo_exact._guid("contact", c.number, i)] = ("contact", c.number, i)

    def account(n: int) -> tuple:
        return ("P", n, 0) if clients[n].kind == "consumer" else ("O", n)

    def by_given_name(n: int, given: str) -> tuple | None:
        people = [clients[n].person, *clients[n].contacts]
        hits = [i for i, p in enumerate(people) if fold(p.given_name) == fold(given)]
        return ("P", n, hits[0]) if len(hits) == 1 else None

    labels: dict[tuple, tuple] = {}
    parties = ws.query("SELECT service, export_kind, party_key, organisation_key, given_name FROM parties "
                       "WHERE service <> 'mollie'")
    for service, kind, key, organisation, given in parties.itertuples(index=False):
        guid = guids.get(key.strip("{}"))
        if guid:
            label = account(guid[1]) if guid[0] == "account" else ("P", guid[1], guid[2])
        elif key.startswith("h:"):  # Exact's contact list: the account and the first name
            label = by_given_name(int(organisation), given)
        elif service == "moneybird" and len(key) > 10:  # a contact person: number, index, 7s
            label = ("P", int(key[:-14]), int(key[-14:-12]) + 1)
        else:
            label = account(int(key.strip()))
        if label:
            labels[(service, kind, key)] = label
    return labels | _mollie_truth(business, ws, clients)


def _mollie_truth(business: demo.Business, ws: Workspace, clients: dict) -> dict[tuple, tuple]:
    made = demo_mollie._Demo(business)
    client_of = {p.id: p.client_number for p in business.payments}
    client_of |= {r: client_of[t] for t, r in made.refunds.items()}
    client_of |= {c: client_of[t] for t, c in made.chargeback.items()}
    client_of |= {cst: n for n, cst in made.customer_ids.items()}
    paid: dict[tuple, set] = {}
    documents = ws.query("SELECT export_kind, party_key, doc_key, reference FROM documents "
                         "WHERE service = 'mollie'")
    for kind, key, doc, reference in documents.itertuples(index=False):
        if client_of.get(doc) or client_of.get(reference):
            paid.setdefault((kind, key), set()).add(client_of.get(doc) or client_of[reference])
    card_holders = [n for n, _ in sorted(made.cards.items())[:6]]
    labels = {}
    parties = ws.query("SELECT export_kind, party_key, name, customer_number FROM parties "
                       "WHERE service = 'mollie'")
    for kind, key, name, customer in parties.itertuples(index=False):
        numbers = paid.get((kind, key), set()) | ({client_of[customer]} if customer in client_of else set())
        if kind == "mandates_csv":
            numbers = {n for n in card_holders
                       if fold(business.as_typed(clients[n], "mollie").full_name) == fold(name)}
        party = ("mollie", kind, key)
        if len(numbers) == 1:
            n = numbers.pop()
            company = clients[n].kind == "company" and fold(name) == fold(clients[n].company)
            labels[party] = ("O", n) if company else ("P", n, 0)
        else:  # a payer of several clients (the same name, a card) is nobody's; a supplier is itself
            labels[party] = ("several", party) if numbers else ("supplier", fold(name))
    return labels


def subjects_with_truth(ws: Workspace, labels: dict) -> pd.DataFrame:
    subjects = ws.query("SELECT * FROM subjects")
    subjects["truth"] = [labels.get(p) for p in subjects[PARTY].itertuples(index=False, name=None)]
    return subjects


def pairwise(subjects: pd.DataFrame) -> tuple[float, float]:
    known = subjects[subjects["truth"].notna()].assign(truth=lambda f: f["truth"].map(repr))

    def pairs(sizes: pd.Series) -> int:
        return int((sizes * (sizes - 1) // 2).sum())

    right = pairs(known.groupby(["subject_id", "truth"]).size())
    return right / pairs(known.groupby("subject_id").size()), right / pairs(known.groupby("truth").size())


def subjects_of(subjects: pd.DataFrame, number: int) -> set[str]:
    is_client = subjects["truth"].map(lambda t: t is not None and t[0] in "OP" and t[1] == number)
    return set(subjects.loc[is_client, "subject_id"])


# --------------------------------------------------------------------------------------------
# quality


def test_precision_and_recall_of_pairwise_links(linked):
    ws, report, labels, _ = linked
    subjects = subjects_with_truth(ws, labels)
    assert subjects["truth"].notna().all(), "every demo party has a known truth"
    precision, recall = pairwise(subjects)
    print(f"\npairwise precision {precision:.4f}, recall {recall:.4f} over {len(subjects)} parties, "
          f"{report.subjects} subjects, {report.candidates} candidates")
    assert precision >= 0.99
    assert recall >= 0.90


def test_namesakes_never_merge(linked, business):
    ws, _, labels, _ = linked
    subjects = subjects_with_truth(ws, labels)
    first, second = [c.number for c in business.clients if "namesake" in c.flags]
    assert business.client(first).person.full_name == business.client(second).person.full_name
    assert subjects_of(subjects, first) and subjects_of(subjects, second)
    assert not subjects_of(subjects, first) & subjects_of(subjects, second)


def test_households_are_candidates_not_merged(linked, business):
    ws, _, labels, _ = linked
    subjects = subjects_with_truth(ws, labels)
    first, second = [c.number for c in business.clients if "household" in c.flags]
    ours, theirs = subjects_of(subjects, first), subjects_of(subjects, second)
    assert not ours & theirs
    candidates = ws.query("SELECT * FROM link_candidates")
    between = candidates[(candidates.subject_a.isin(ours) & candidates.subject_b.isin(theirs))
                         | (candidates.subject_a.isin(theirs) & candidates.subject_b.isin(ours))]
    assert "first names differ" in set(between["reason"])
    assert between["evidence"].str.contains("iban").any()


def test_organisations_and_their_contact_persons_stay_apart(linked, business):
    ws, _, labels, _ = linked
    subjects = subjects_with_truth(ws, labels)
    kinds = subjects.groupby("subject_id")["truth"].agg(lambda t: {x[0] for x in t})
    assert not any({"O", "P"} <= k for k in kinds)
    company = next(c for c in business.clients if c.kind == "company" and "exact" in c.services)
    org = subjects.loc[subjects["truth"].map(lambda t: t == ("O", company.number)), "subject_id"]
    person = subjects.loc[subjects["truth"].map(lambda t: t == ("P", company.number, 0)), "subject_id"]
    assert org.nunique() == 1 and not person.empty and org.iloc[0] not in set(person)


def test_every_link_carries_its_evidence_and_probability(linked):
    ws = linked[0]
    subjects = ws.query("SELECT * FROM subjects")
    made = subjects[subjects["how"].ne("single")]
    assert set(made["how"]) <= {"deterministic", "probabilistic", "analyst"}
    assert made["evidence"].str.len().gt(0).all() and made["probability"].between(0, 1).all()
    assert subjects.loc[subjects["how"].eq("single"), "probability"].isna().all()
    candidates = ws.query("SELECT * FROM link_candidates")
    assert not candidates.empty and candidates["reason"].ne("").all()
    below = candidates[candidates["reason"].eq("below the threshold")]
    assert below["probability"].lt(0.95).all()
    assert candidates["subject_a"].ne(candidates["subject_b"]).all()


def test_link_time_on_the_demo(linked):
    report = linked[1]
    assert report.parties > 3000 and report.seconds < 30
    assert set(report.timings) == {"prepare", "deterministic", "probabilistic", "cluster_and_store"}


# --------------------------------------------------------------------------------------------
# stable ids and the analyst's decisions


def test_subject_ids_stay_the_same_on_a_second_run(copy):
    before = copy.query("SELECT subject_id, service, export_kind, party_key FROM subjects")
    report = linkage.link(copy)
    after = copy.query("SELECT subject_id, service, export_kind, party_key FROM subjects")
    assert before.merge(after, on=PARTY).pipe(lambda f: (f.subject_id_x == f.subject_id_y).all())
    assert report.new_subjects == 0 and report.kept_subjects == report.subjects


def test_subject_ids_survive_a_newer_export(copy, linked):
    before = copy.query("SELECT subject_id, service, export_kind, party_key FROM subjects")
    exported = json.loads((linked[3] / "exports" / "factuursturen" / "api_clients.json").read_text())
    exported[0]["city"] = "Zwolle"  # the client moved town; everything else as it was
    exported[1]["phone"] = "+31 6 11122233"
    newer = copy.path.parent / "api_clients_later.json"
    newer.write_text(json.dumps(exported, indent=2))
    assert copy.import_files([newer])[0].import_id is not None
    linkage.link(copy)
    after = copy.query("SELECT subject_id, service, export_kind, party_key FROM subjects")
    joined = before.merge(after, on=PARTY)
    assert len(joined) == len(before) and (joined.subject_id_x == joined.subject_id_y).all()


def test_analyst_confirm_merge_and_split_persist(copy):
    household = copy.query("SELECT * FROM link_candidates WHERE reason = 'first names differ' "
                           "ORDER BY candidate_id LIMIT 1").iloc[0]
    linkage.decide(copy, "confirm", household.candidate_id, note="one client after all")
    party_a = tuple(household[["service_a", "export_kind_a", "party_key_a"]])
    party_b = tuple(household[["service_b", "export_kind_b", "party_key_b"]])
    assert subject_of(copy, party_a) == subject_of(copy, party_b)
    linkage.link(copy)
    merged = subject_of(copy, party_a)
    assert merged == subject_of(copy, party_b)
    assert merged in {household.subject_a, household.subject_b}  # the larger one keeps its id

    linkage.decide(copy, "split", merged, party_b)
    linkage.link(copy)
    assert subject_of(copy, party_a) == merged != subject_of(copy, party_b)

    other = subject_of(copy, party_b)
    linkage.decide(copy, "merge", merged, other)
    linkage.link(copy)
    assert subject_of(copy, party_a) == subject_of(copy, party_b)
    decisions = copy.query("SELECT DISTINCT decision_id, action FROM link_decisions ORDER BY 1")
    assert list(decisions["action"]) == ["confirm", "split", "merge"]


def subject_of(ws: Workspace, party: tuple) -> str:
    return ws.query("SELECT subject_id FROM subjects WHERE service = ? AND export_kind = ? "
                    "AND party_key = ?", list(party))["subject_id"].iloc[0]


def test_decide_refuses_what_it_cannot_do(copy):
    with pytest.raises(WorkbenchError, match="unknown decision"):
        linkage.decide(copy, "guess", "S-1")
    with pytest.raises(WorkbenchError, match="no candidate"):
        linkage.decide(copy, "confirm", "C-none")
    with pytest.raises(WorkbenchError, match="is not in subject"):
        subject = copy.query("SELECT subject_id FROM subjects LIMIT 1")["subject_id"].iloc[0]
        linkage.decide(copy, "split", subject, ("mollie", "api_json", "nobody"))


class _DeterministicOnly(linkage.DuckDBSplinkEngine):
    """Another engine behind the seam: exact pairs only."""

    def scored_pairs(self, records: pd.DataFrame, floor: float) -> pd.DataFrame:
        return pd.DataFrame(columns=["uid_l", "uid_r", "probability", "evidence", "other_evidence"])


def test_another_engine_fits_the_seam(copy, linked):
    report = linkage.link(copy, engine=_DeterministicOnly())
    assert report.timings["probabilistic"] < 0.5
    precision, _ = pairwise(subjects_with_truth(copy, linked[2]))
    assert precision >= 0.99 and report.candidates > 0


# --------------------------------------------------------------------------------------------
# finding a subject


def test_find_normalises_the_query_like_the_data(linked, business):
    ws, _, labels, _ = linked
    subjects = subjects_with_truth(ws, labels)
    client = next(c for c in business.clients if c.kind == "consumer" and "factuursturen" in c.services
                  and c.person.email)
    expected = subjects_of(subjects, client.number)
    by_email = linkage.find(ws, email="  " + client.person.email.upper())
    assert by_email.iloc[0]["subject_id"] in expected and by_email.iloc[0]["score"] == 1.0
    assert "email exact" in by_email.iloc[0]["evidence"]
    spaced = " ".join(client.person.iban[i:i + 4] for i in range(0, len(client.person.iban), 4))
    assert set(linkage.find(ws, iban=spaced.lower())["subject_id"]) & expected
    assert set(linkage.find(ws, customer_id=str(client.number))["subject_id"]) & expected
    both = linkage.find(ws, email=client.person.email, name=client.person.full_name)
    assert both.iloc[0]["subject_id"] in expected and both.iloc[0]["score"] > 0.95
    assert list(both.columns) == ["subject_id", "score", "evidence", "systems"]


def test_find_by_name_returns_both_namesakes(linked, business):
    ws, _, labels, _ = linked
    subjects = subjects_with_truth(ws, labels)
    first, second = [c for c in business.clients if "namesake" in c.flags]
    found = linkage.find(ws, name=first.person.full_name)
    hits = set(found.loc[found["score"].ge(0.99), "subject_id"])
    assert hits & subjects_of(subjects, first.number) and hits & subjects_of(subjects, second.number)
    assert linkage.find(ws, phone="+31 6 00000000").empty


def test_subject_parties_lists_the_parties_with_how_they_link(linked):
    ws = linked[0]
    biggest = ws.query("SELECT subject_id FROM subjects GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1")
    parties = linkage.subject_parties(ws, biggest["subject_id"].iloc[0])
    assert list(parties.columns) == [*PARTY, "how", "probability", "evidence"]
    assert len(parties) > 5 and parties["service"].nunique() >= 2
    assert linkage.subject_parties(ws, "S-unknown").empty


def test_find_reads_a_sorted_lookup_of_every_subject(linked):
    ws = linked[0]
    lookup = ws.query("SELECT * FROM subject_lookup")
    assert list(lookup["lookup_key"]) == sorted(lookup["lookup_key"])  # stored in key order
    subjects = ws.query("SELECT DISTINCT subject_id FROM subjects")
    assert set(lookup["subject_id"]) == set(subjects["subject_id"])
    kinds = set(lookup["lookup_key"].str.split(":").str[0])
    assert {"email", "iban", "phone", "customer_number", "party_key", "name"} <= kinds


def test_find_after_a_link_by_an_older_version_says_to_link_again(copy):
    with copy.connect() as con:  # an older version kept no look-up: migrated, its table is empty
        con.execute("DELETE FROM subject_lookup")
    with pytest.raises(WorkbenchError, match="link' again"):
        linkage.find(copy, email="nobody@example.com")
    linkage.link(copy)
    assert linkage.find(copy, email="nobody@example.com").empty


def test_groups_are_the_parties_sharing_identifiers_through_others():
    exact = pd.DataFrame({"uid_l": [0, 1, 4, 6], "uid_r": [1, 2, 5, 3], "kinds": ["email"] * 4})
    assert linkage.groups(7, exact).tolist() == [0, 0, 0, 3, 4, 4, 3]
    assert linkage.groups(3, exact.iloc[:0]).tolist() == [0, 1, 2]


def test_find_before_link_says_what_to_do(tmp_path):
    with pytest.raises(WorkbenchError, match="link"):
        linkage.find(Workspace(tmp_path / "none"), email="a@example.com")


# --------------------------------------------------------------------------------------------
# normalising


@pytest.mark.parametrize(("full", "given", "family"), [
    ("Jan de Vries", "jan", "de vries"), ("Vries, Jan de", "jan", "de vries"),
    ("Zoë van der Meer", "zoe", "van der meer"), ("J. Bakker", "j", "bakker"), ("Fokker", "", "fokker"),
])
def test_split_name(full, given, family):
    assert linkage.split_name(full) == (given, family)


def test_name_agreement_rules():
    assert linkage.family_core("van der dijk") == "dijk"
    assert linkage.surnames_agree("dijk", "djik") and not linkage.surnames_agree("dijk", "bakker")
    assert linkage.given_names_agree("j", "jan") and linkage.given_names_agree("maarten", "marten")
    assert not linkage.given_names_agree("anna", "noor")
    # a name that starts a longer one is a short form or someone else in the household
    assert not linkage.given_names_agree("jan", "janneke") and linkage.given_names_related("jan", "janneke")
    assert linkage.given_names_related("alex", "alexander") and not linkage.given_names_related("jan", "piet")
    assert linkage.org_name("Van der Steen B.V.") == "van der steen"
    assert linkage.typos("kitten", "sitting") == 3


def test_a_small_workspace_links_without_a_model(tmp_path):
    ws = Workspace(tmp_path / "ws")
    ws.import_files([payments_csv(tmp_path / "settlement.csv")])
    report = linkage.link(ws)
    subjects = ws.query("SELECT * FROM subjects")
    assert report.parties == len(subjects) == report.subjects == 2  # Jan Jansen and Eva Mulder
    assert set(subjects["how"]) == {"single"} and report.timings["probabilistic"] < 0.1
    assert linkage.find(ws, email="eva.mulder@example.com")["systems"].tolist() == ["mollie"]


def test_imports_after_the_last_link_are_counted_and_stop_a_package(tmp_path, capsys):
    ws = Workspace(tmp_path / "ws")
    ws.import_files([payments_csv(tmp_path / "settlement.csv")])
    linkage.link(ws)
    assert linkage.imports_since_link(ws) == 0
    later = payments_csv(tmp_path / "later.csv", [
        "2026-10-05 10:00:00,ideal,EUR,12.50,paidout,tr_ddd444,Order 1003,Piet de Vries,"
        "NL91ABNA0417164300,ABNANL2A,EUR,12.50,1182161.2610.02,"])
    ws.import_files([later])
    assert linkage.imports_since_link(ws) == 1
    subject = linkage.find(ws, email="eva.mulder@example.com")["subject_id"].tolist()
    with pytest.raises(WorkbenchError, match="1 import.*after the last link.*workbench link"):
        package.write_package(ws, registry.load(), subject_ids=subject, out=tmp_path / "pkg",
                              identities={"e-mail": "eva.mulder@example.com"}, pdf=False)
    assert not (tmp_path / "pkg").exists()
    assert cli.main(["--workspace", str(ws.path), "find", "--email", "eva.mulder@example.com"]) == 0
    assert "1 import(s) came after the last link" in capsys.readouterr().err
    linkage.link(ws)
    assert linkage.imports_since_link(ws) == 0
    result = package.write_package(ws, registry.load(), subject_ids=subject, out=tmp_path / "pkg",
                                   identities={"e-mail": "eva.mulder@example.com"}, pdf=False)
    assert (result.out / "manifest.json").is_file()


# --------------------------------------------------------------------------------------------
# people as they write their names, households, numberings: small businesses of our own


class _AsGiven(demo.Business):
    """A business whose people are typed into every system exactly as given here."""

    def as_typed(self, client: demo.Client, service: str, person: demo.Person | None = None) -> demo.Person:
        return person or client.person


_PARTY_EXPORTS = {"moneybird": "contacten.csv", "factuursturen": "klanten.csv", "exact": "CRMAccounts.csv",
                  "mollie": "mollie-settlements.csv"}


def person(given: str, family: str, prefix: str = "", *, street: str = "Dorpsstraat", number: str = "1",
           postcode: str = "1234 AB", city: str = "Utrecht", email: str = "", iban: str = "",
           phone: str = "", born: date = date(1980, 1, 1)) -> demo.Person:
    return demo.Person(given_name=given, name_prefix=prefix, family_name=family, gender="O", birth_date=born,
                       email=email, phone=phone, street=street, house_number=number, postcode=postcode,
                       city=city, iban=iban, bic="", bsn="")


def _fillers(n: int, first: int = 9000) -> list[demo.Client]:
    """Clients with nothing in common with anyone, so that there are enough parties to score."""
    given = ["Bram", "Daan", "Emma", "Fleur", "Gijs", "Hanna", "Isa", "Joris", "Koen", "Lotte", "Milan",
             "Nina", "Olaf", "Puck", "Ruben", "Sanne", "Thijs", "Vera", "Wout", "Yara"]
    family = ["Aalders", "Bosman", "Claassen", "Dekker", "Evers", "Franken", "Geurts", "Hermans", "Idema",
              "Jacobs", "Kuipers", "Lammers", "Maas", "Nijhuis", "Oosting", "Peeters", "Quist", "Roos",
              "Schouten", "Tromp"]
    return [demo.Client(number=first + i, kind="consumer", services=frozenset({"moneybird"}), person=person(
        given[i % 20], family[(i * 7) % 20], street=f"Laan {i}", number=str(i + 1),
        postcode=f"{2000 + i * 37} KL", city=["Delft", "Zwolle", "Breda"][i % 3]))
            for i in range(n)]


def _pay(number: int, iban: str, n: int) -> demo.Payment:
    return demo.Payment(id=f"tr_test{number}{n}", client_number=number, created=datetime(2026, 3, n + 1, 10),
                        amount=Decimal("25.00"), method="ideal" if iban else "creditcard", status="paidout",
                        description=f"Order {number}-{n}", settlement="1182161.2603.01")


def linked_business(tmp_path, clients: list[demo.Client], numberings: dict[str, str] | None = None,
                    fillers: int = 24) -> tuple[Workspace, linkage.LinkReport]:
    """The clients (and fillers) written by the demo's writers, one party export per system,
    imported and linked."""
    everyone = [*clients, *_fillers(fillers)]
    business = _AsGiven(seed=7, clients=everyone)
    business.payments = [_pay(c.number, c.person.iban, n)
                         for c in business.clients_of("mollie") for n in range(2)]
    files = []
    for service, name in _PARTY_EXPORTS.items():
        if business.clients_of(service):
            module = importlib.import_module(f"workbench.demo.{service}")
            files += [f for f in module.write(business, tmp_path / "exports" / service) if f.name == name]
    ws = Workspace(tmp_path / "ws")
    ws.import_files(files)
    return ws, linkage.link(ws, numberings=numberings)


def subjects_by_name(ws: Workspace) -> dict[str, set[str]]:
    """Lower-case full name (as each system has it) -> the subjects of the parties with it."""
    found = ws.query("""SELECT s.subject_id, lower(regexp_replace(coalesce(nullif(trim(concat_ws(' ',
                               p.given_name, p.name_prefix, p.family_name)), ''), p.name), '\\s+', ' ', 'g'))
                               AS name
                        FROM subjects s JOIN parties p USING (service, export_kind, party_key)""")
    return found.groupby("name")["subject_id"].agg(set).to_dict()


def test_a_joint_iban_couple_with_prefix_names_stays_two_subjects(tmp_path):
    jan = person("Jan", "Visser", email="jan.visser@example.nl", iban="NL91ABNA0417164300")
    janneke = person("Janneke", "Visser", email="janneke@example.nl", iban="NL91ABNA0417164300")
    ws, _ = linked_business(tmp_path, [
        demo.Client(number=1001, kind="consumer", person=jan, services=frozenset({"moneybird", "mollie"})),
        demo.Client(number=1002, kind="consumer", person=janneke,
                    services=frozenset({"moneybird", "mollie"}))])
    names = subjects_by_name(ws)
    assert len(names["jan visser"]) == 1 and len(names["janneke visser"]) == 1
    assert not names["jan visser"] & names["janneke visser"]
    jans = next(iter(names["jan visser"]))
    in_jans = linkage.subject_parties(ws, jans).merge(ws.query("SELECT * FROM parties"), on=PARTY)
    assert set(in_jans["service"]) == {"moneybird", "mollie"}  # his own payments are his
    assert not in_jans["name"].fillna("").str.contains("Janneke").any()  # hers never are
    candidates = ws.query("SELECT * FROM link_candidates")
    pair = {jans, next(iter(names["janneke visser"]))}
    between = candidates[[{a, b} == pair
                          for a, b in zip(candidates.subject_a, candidates.subject_b, strict=True)]]
    assert set(between["reason"]) == {"first names differ"}


def test_prefix_names_merge_when_their_own_email_agrees(tmp_path):
    ws, _ = linked_business(tmp_path, [
        demo.Client(number=1001, kind="consumer", services=frozenset({"moneybird"}),
                    person=person("Alex", "Bakker", email="a.bakker@example.nl")),
        demo.Client(number=2001, kind="consumer", services=frozenset({"factuursturen"}),
                    person=person("Alexander", "Bakker", email="a.bakker@example.nl"))],
        numberings={})
    names = subjects_by_name(ws)
    assert names["alex bakker"] == names["alexander bakker"] and len(names["alex bakker"]) == 1


def test_one_client_in_four_systems_under_four_numberings_is_one_subject(tmp_path):
    her = person("Sophie", "Jansen", "de", email="sophie@example.nl", iban="NL44RABO0123456789")
    clients = [demo.Client(number=number, kind="consumer", person=her, services=frozenset({service}))
               for number, service in [(1001, "moneybird"), (2002, "factuursturen"), (3003, "exact"),
                                       (4004, "mollie")]]
    # the register's numbering (MoneyBird, FactuurSturen and Exact share the firm's) and none shared
    for numberings in (None, {}):
        ws, _ = linked_business(tmp_path / str(numberings), clients, numberings)
        subject = subjects_by_name(ws)["sophie de jansen"]
        assert len(subject) == 1
        assert set(linkage.subject_parties(ws, next(iter(subject)))["service"]) == \
            {"moneybird", "factuursturen", "exact", "mollie"}


def test_a_shared_numbering_counts_against_a_merge_on_names_and_address_alone(tmp_path):
    him = person("Ruud", "Smit")  # no e-mail, no IBAN: names and address only
    clients = [demo.Client(number=1001, kind="consumer", person=him, services=frozenset({"moneybird"})),
               demo.Client(number=2002, kind="consumer", person=him, services=frozenset({"factuursturen"}))]
    ws, _ = linked_business(tmp_path / "shared", clients, {"moneybird": "firm", "factuursturen": "firm"})
    assert len(subjects_by_name(ws)["ruud smit"]) == 2
    assert "different customer numbers" in set(ws.query("SELECT reason FROM link_candidates")["reason"])
    ws, _ = linked_business(tmp_path / "own", clients, {})
    assert len(subjects_by_name(ws)["ruud smit"]) == 1


def test_namesakes_in_two_cities_stay_apart(tmp_path):
    amsterdam = person("Peter", "Bos", street="Kalverstraat", number="5", postcode="1012 NX",
                       city="Amsterdam", email="peter.bos@example.nl")
    groningen = person("Peter", "Bos", street="Vismarkt", number="20", postcode="9712 CB", city="Groningen",
                       email="pbos@example.com")
    both = frozenset({"moneybird", "factuursturen"})
    ws, _ = linked_business(tmp_path, [
        demo.Client(number=1001, kind="consumer", person=amsterdam, services=both),
        demo.Client(number=1002, kind="consumer", person=groningen, services=both)])
    assert len(subjects_by_name(ws)["peter bos"]) == 2
    for subject in subjects_by_name(ws)["peter bos"]:
        assert set(linkage.subject_parties(ws, subject)["service"]) == {"moneybird", "factuursturen"}


def test_a_couple_at_one_address_stays_apart(tmp_path):
    ws, _ = linked_business(tmp_path, [
        demo.Client(number=1001, kind="consumer", person=person("Anna", "Boer", "de"),
                    services=frozenset({"moneybird"})),
        demo.Client(number=2001, kind="consumer", person=person("Pieter", "Boer", "de"),
                    services=frozenset({"factuursturen"}))], numberings={})
    names = subjects_by_name(ws)
    assert not names["anna de boer"] & names["pieter de boer"]


@pytest.mark.parametrize(("there", "here"), [
    (("Maarten", "", "Dijkstra"), ("Marten", "", "Dijkstra")),  # a typo in the first name
    (("Maarten", "", "Dijkstra"), ("Maarten", "", "Dijkstar")),  # and in the family name
    (("Maarten", "", "Dijkstra"), ("Dijkstra", "", "Maarten")),  # given and family name swapped
    (("Maarten", "", "Dijkstra"), ("M.", "", "Dijkstra")),  # an initial
    (("Zoë", "van der", "Meer"), ("Zoe", "", "Meer")),  # diacritics and the tussenvoegsel
    (("Zoë", "van der", "Meer"), ("Zoë", "", "Van der Meer")),
    (("Eva", "de", "Vries-Bakker"), ("Eva", "", "Bakker")),  # one part of a double name
    (("Eva", "de", "Vries-Bakker"), ("Eva", "de", "Vries")),
])
def test_names_as_people_write_them_merge(tmp_path, there, here):
    address = {"street": "Keizersgracht", "number": "12", "postcode": "1015 CS", "city": "Amsterdam"}
    ws, _ = linked_business(tmp_path, [
        demo.Client(number=1001, kind="consumer", person=person(there[0], there[2], there[1], **address),
                    services=frozenset({"moneybird"})),
        demo.Client(number=2001, kind="consumer", person=person(here[0], here[2], here[1], **address),
                    services=frozenset({"factuursturen"}))], numberings={})
    subjects = ws.query("SELECT service, subject_id FROM subjects "
                        "WHERE party_key IN ('1001', '2001')")
    ours = subjects[subjects["service"].eq("factuursturen")]
    assert len(ours) == 1
    theirs = subjects.loc[subjects["service"].eq("moneybird"), "subject_id"]
    assert ours["subject_id"].iloc[0] == theirs.iloc[0]


def test_birth_dates_that_differ_keep_two_people_apart(tmp_path):
    records = pd.DataFrame({"given_name": ["ruud", "ruud"], "surname": ["smit", "smit"], "role": "person",
                            "street": "x1", "postcode": "1234AB", "email": ["r@x.nl", "r@x.nl"],
                            "phone": None, "birth_date": ["1980-01-01", "1990-05-05"], "bsn": None,
                            "iban": None})
    no_keys = pd.DataFrame(columns=["unique_id", "kind", "value"])
    clusters = linkage._Clusters(records, linkage._unique_numbers(no_keys, set()), set())
    assert clusters.conflict(0, 1) == "birth dates differ"


def test_an_empty_workspace_one_party_and_no_shared_identifiers_link_without_error(tmp_path):
    empty = Workspace(tmp_path / "empty")
    report = linkage.link(empty)
    assert (report.parties, report.subjects, report.candidates) == (0, 0, 0)
    ws, report = linked_business(tmp_path / "one", [], fillers=1)
    assert (report.parties, report.subjects) == (1, 1)
    ws, report = linked_business(tmp_path / "none", [], fillers=40)  # no e-mail, IBAN or phone at all
    assert report.parties == report.subjects == 40
    assert cli.main(["--workspace", str(ws.path), "link"]) == 0


def test_one_row_is_one_party_unless_every_personal_column_agrees():
    from workbench.ingest.sources._common import split

    canon = pd.DataFrame({"name": ["Jan de Vries", "Jan de Vries", "Jan de Vries"],
                          "postcode": ["1234 AB"] * 3,
                          "street": ["Dorpsstraat 1", "Kerkstraat 9", "Dorpsstraat 1"],
                          "iban": [""] * 3, "amount": ["10.00", "12.00", "14.00"]})
    parties, documents = split(canon)
    keys = parties["party_key"].tolist()
    assert keys[0] == keys[2] != keys[1]  # the same man paying twice; a namesake down the road
    assert documents["party_key"].tolist() == keys


def test_the_register_declares_which_systems_share_a_numbering(tmp_path):
    assert registry.load().numberings()["mollie"] == "mollie"
    assert registry.load().numberings()["moneybird"] == registry.load().numberings()["exact"]
    copy = tmp_path / "register"
    shutil.copytree(importlib.resources.files("workbench") / "config" / "register", copy)
    systems = copy / "systems.toml"
    systems.write_text(systems.read_text("utf-8").replace('numbering = "firm"', 'numbering = "The Firm"', 1),
                       "utf-8")
    with pytest.raises(ConfigError, match=r"systems.toml: moneybird.numbering"):
        registry.load(copy)


def test_names_split_at_another_place_or_mistyped_twice_in_a_long_name_agree():
    assert linkage.names_relate(("micha", "el george"), ("michael", "george")) == "same"
    assert linkage.names_relate(("har", "risn boulter"), ("harrison", "boulter")) == "same"
    assert linkage.given_names_agree("jessica", "jesdicai")  # two typos in a long name
    assert not linkage.given_names_agree("marieke", "mariska")  # two names of one household
    assert linkage.names_relate(("jan", "visser"), ("janneke", "visser")) == "related"
    assert linkage.names_relate(("anna", "boer"), ("pieter", "boer")) is None


def _records(rows: list[dict]) -> pd.DataFrame:
    """Prepared records as :func:`linkage.prepare` makes them, from a few fields per party."""
    columns = ["role", "given_name", "surname", "street", "postcode", "city", "sound", "email", "phone",
               "iban", "birth_date", "bsn"]
    frame = pd.DataFrame([{c: row.get(c) for c in columns} | {"role": row.get("role", "person")}
                          for row in rows])
    return frame.assign(unique_id=range(len(frame)))


def test_blocking_keys_let_swapped_names_and_a_mistyped_street_meet():
    records = _records([
        {"given_name": "maarten", "surname": "dijkstra", "street": "keizersgracht12", "city": "amsterdam"},
        {"given_name": "dijkstra", "surname": "maarten", "street": "keizersgrcht12", "city": "amsterdam"}])
    records["sound"] = records["surname"].map(linkage._sound)
    linkage._add_blocking_keys(records)
    assert records["name_sounds"].nunique() == 1 and records["name_sounds"].iloc[0]
    assert records["house_city"].tolist() == ["12:amsterdam", "12:amsterdam"]
    assert records["sound"].nunique() == 2 and records["street"].nunique() == 2  # the others differ


def test_a_payer_known_only_by_name_joins_the_one_subject_with_that_name():
    records = _records([
        {"given_name": "adam", "surname": "bock", "postcode": "1234AB", "email": "a@x.nl"},  # the client
        {"given_name": "adam", "surname": "bock"},  # a payer on a bank statement
        {"given_name": "peter", "surname": "bos", "postcode": "1012NX"},  # namesakes in two cities
        {"given_name": "peter", "surname": "bos", "postcode": "9712CB"},
        {"given_name": "peter", "surname": "bos"},  # whose payer is unknowable
        {"given_name": "a", "surname": "bock"}])  # an initial is no full name
    keys = linkage.sole_name_keys(records, np.arange(len(records)))
    assert sorted(keys["unique_id"]) == [0, 1] and set(keys["value"]) == {"adam bock"}


def test_a_component_holding_two_people_is_untangled_link_by_link():
    # Jan and Janneke share an IBAN, Janneke's e-mail is also on Jan's record in another system:
    # one component of exact links, which must still end as two subjects
    records = _records([
        {"given_name": "jan", "surname": "visser", "iban": "NL91ABNA0417164300", "email": "jan@x.nl"},
        {"given_name": "jan", "surname": "visser", "email": "jan@x.nl"},
        {"given_name": "janneke", "surname": "visser", "iban": "NL91ABNA0417164300"},
        {"given_name": "piet", "surname": "smit", "email": "piet@x.nl"},
        {"given_name": "piet", "surname": "smit", "email": "piet@x.nl"}])
    keys = pd.DataFrame({"unique_id": [0, 2, 0, 1, 3, 4], "kind": ["iban"] * 2 + ["email"] * 4,
                         "value": ["NL91", "NL91", "jan@x.nl", "jan@x.nl", "piet@x.nl", "piet@x.nl"]})
    exact = linkage.DuckDBSplinkEngine().exact_pairs(keys)
    edges = linkage._edges(exact, pd.DataFrame(columns=linkage.SCORED), {})
    numbers = linkage._unique_numbers(keys, set())
    assert linkage._tangled(records, numbers, linkage.groups(5, exact), set()) == {0}
    constraints, final, attached, offered = linkage._cluster(records, keys, edges, {}, 0.95, set())
    assert final[0] == final[1] != final[2] and final[3] == final[4]
    assert set(attached["party"]) == {0, 1, 3, 4} and set(attached["how"]) == {"deterministic"}
    assert offered["reason"].tolist() == ["first names differ"]


# names as they come: accents, ligatures, punctuation, other scripts, spacing of every kind
_NAME_CHARACTERS = st.characters(codec="utf-8", exclude_categories=("Cs",))


@settings(max_examples=400, deadline=None)
@examples(st.lists(st.one_of(st.none(), st.text(_NAME_CHARACTERS, max_size=30),
                          st.sampled_from(["Çelik-Özdemir", "ﬁnn", "Jan  de\tVries", "B.V.", "Ærø",
                                           "Straße 1", "İlkay", "Ŀukas", "N°12", "\u00a0Piet\u2003"])),
                max_size=40))
def test_a_column_folds_as_each_value_does(values: list[str | None]) -> None:
    assert linkage.fold_column(pd.Series(values, dtype=object)).tolist() == [fold(v) for v in values]


def test_the_demo_names_fold_as_each_value_does() -> None:
    business = demo.build()
    names = [text for client in business.clients for text in (
        client.company, client.person.full_name, client.person.given_name, client.person.family_name,
        client.person.street, client.person.city)]
    column = pd.Series(names, dtype=object)
    assert linkage.fold_column(column).tolist() == [fold(v) for v in names]

"""Linking parties into subjects, measured against the demo generator's known truth.

The truth: MoneyBird, FactuurSturen and Exact key their parties by the firm's client number (or a
GUID made from it); Mollie's parties point at payments, and each payment knows its client. A
company's account is the organisation, its contact persons are persons; a consumer's records are
all the one person.
"""

from __future__ import annotations

import json
import shutil
import time

import pandas as pd
import pytest
from conftest import payments_csv

from workbench import cli, demo, linkage, package
from workbench import register as registry
from workbench.demo import exact as demo_exact
from workbench.demo import mollie as demo_mollie
from workbench.errors import WorkbenchError
from workbench.linkage import fold
from workbench.workspace import Workspace

PARTY = ["service", "export_kind", "party_key"]


@pytest.fixture(scope="module")
def linked(tmp_path_factory, business):
    root = tmp_path_factory.mktemp("linkage")
    files = demo.write(root / "exports")
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
    with copy.connect() as con:
        con.execute("DROP TABLE subject_lookup")
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

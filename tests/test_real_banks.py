"""The real bank statements of the research corpus, and Mollie's real MT940 files: each imported
into a fresh workspace, its counterparties, IBANs, amounts and dates checked against values this
test reads from the file's own text (never from our output)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import shared_file
from workbench.store.workspace import Workspace


def imported(path: Path, tmp_path: Path, service: str,
             every_line: bool = False) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The documents (each with its party's name and IBAN), parties and identifiers of one file.
    ``every_line``: the documents as read, one per line, also where lines share a key."""
    workspace = Workspace(tmp_path / "ws")
    [result] = workspace.import_files([path])
    assert result.extract.kind.service == service
    parties = workspace.query("SELECT * FROM parties ORDER BY source_row")
    documents = (result.extract.documents.sort_values("source_row").reset_index(drop=True)
                 if every_line else workspace.query("SELECT * FROM documents ORDER BY source_row"))
    identifiers = workspace.query("SELECT * FROM identifiers")
    named = parties[["party_key", "name", "iban", "bic"]].rename(
        columns={"name": "party_name", "iban": "party_iban", "bic": "party_bic"})
    documents = documents.merge(named, on="party_key", how="left").fillna(
        {"party_name": "", "party_iban": "", "party_bic": ""})
    return documents, parties, identifiers


def bookings(path: Path) -> list[dict]:
    """Each :61: line of the file with its amount (signed), value date, the lines that follow it up
    to the next tag, and its :86: lines."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    lines = text.replace("\r", "").split("\n")
    found = []
    for number, line in enumerate(lines):
        match = re.match(r":61:(\d{2})(\d{2})(\d{2})(?:\d{4})?(R?[CD])[A-Z]?([\d,]+)", line)
        if not match:
            continue
        yy, mm, dd, mark, amount = match.groups()
        rest = []
        for follower in lines[number + 1:]:
            if re.match(r":(?!86:)\d{2}[A-Z]?:", follower) or follower.startswith(("-}", "}")):
                break
            rest.append(follower)
        split = next((i for i, x in enumerate(rest) if x.startswith(":86:")), len(rest))
        value = float(amount.replace(",", "."))
        found.append({
            "amount": -value if mark.endswith("D") else value,
            "date": pd.Timestamp(f"20{yy}-{mm}-{dd}"),
            "line61": rest[:split],
            "details": [rest[split][4:], *rest[split + 1:]] if split < len(rest) else [],
        })
    return found


def check_amounts_and_dates(documents: pd.DataFrame, expected: list[dict]) -> None:
    assert documents["amount"].tolist() == pytest.approx([b["amount"] for b in expected])
    assert documents["date"].tolist() == [b["date"] for b in expected]
    assert documents["doc_type"].eq("bank_line").all()
    assert documents["doc_key"].is_unique


def test_abn_amro_mt940(tmp_path):
    path = shared_file("fixtures/real/banks/mt940-abnamro.sta")
    documents, _, identifiers = imported(path, tmp_path, "bank")
    expected = bookings(path)
    check_amounts_and_dates(documents, expected)
    for booking, (_, doc) in zip(expected, documents.iterrows(), strict=True):
        first = booking["details"][0]
        giro = re.match(r"GIRO\s+(\d+)\s+(.+?)\s{2,}", first)
        card = re.match(r"BEA\s+NR:\S+\s+\S+\s+(.+?)\s*,PAS", first)
        if giro:
            assert (doc["party_name"], doc["party_iban"]) == (giro.group(2), giro.group(1))
        elif card:
            assert doc["party_name"] == card.group(1)
        assert first.split()[0] in doc["description"]  # the free text, which names people
    giro_number = re.search(r"GIRO\s+(\d+)", path.read_text()).group(1)
    assert giro_number in identifiers["raw_value"].tolist()  # kept, flagged: no IBAN before SEPA
    own = re.search(r"^:25:(.*)$", path.read_text(), re.M).group(1).strip()
    assert own not in identifiers["raw_value"].tolist()


def test_ing_old_style_mt940(tmp_path):
    path = shared_file("fixtures/real/banks/mt940-ing.sta")
    documents, _, _ = imported(path, tmp_path, "bank")
    expected = bookings(path)
    check_amounts_and_dates(documents, expected)
    costs = next(i for i, b in enumerate(expected) if "BETALINGSVERKEER" in b["details"][0])
    assert documents.loc[costs, "party_key"] == ""  # the bank's own costs
    for booking, (_, doc) in zip(expected, documents.iterrows(), strict=True):
        account = re.match(r"(\d{10}) (.+)$", booking["details"][0])
        if account:
            assert (doc["party_iban"], doc["party_name"]) == (account.group(1), account.group(2).strip())
    assert "Hr S Marechal" in documents["party_name"].tolist()


def test_rabobank_mt940(tmp_path):
    path = shared_file("fixtures/real/banks/mt940-rabobank-iban.sta")
    documents, parties, _ = imported(path, tmp_path, "bank")
    expected = bookings(path)
    check_amounts_and_dates(documents, expected)
    for booking, (_, doc) in zip(expected, documents.iterrows(), strict=True):
        details = "".join(booking["details"])  # Rabobank cuts :86: mid-word
        name = re.search(r"/NAME/(.*?)/REMI/", details).group(1)
        assert (doc["party_iban"], doc["party_name"]) == (booking["line61"][0].strip(), name)
    assert "CONTRA ACCOUNT HOLDER" in parties["name"].tolist()


def test_ing_swift_blocks_mt940(tmp_path):
    path = shared_file("fixtures/real/banks/mt940-ing-swift-blocks.940")
    documents, _, identifiers = imported(path, tmp_path, "bank")
    expected = bookings(path)
    check_amounts_and_dates(documents, expected)
    for booking, (_, doc) in zip(expected, documents.iterrows(), strict=True):
        details = "".join(x for x in booking["details"] if x.strip() != "")
        counterparty = re.search(r"/CNTP/([^/]*)/([^/]*)/([^/]*)/", details)
        if counterparty:
            assert (doc["party_iban"], doc["party_bic"], doc["party_name"]) == counterparty.groups()
        else:
            assert doc["party_key"] == ""
        reference = re.search(r"/EREF/(.*?)/?/", details)
        if reference:
            assert doc["reference"] == reference.group(1)
    assert "J.Janssen" in documents["party_name"].tolist()
    own = re.search(r"^:25:(NL\d{2}INGB\d{10})", path.read_text(), re.M).group(1)
    assert own not in identifiers["value"].tolist()


def test_camt053_abn_amro_style(tmp_path):
    path = shared_file("fixtures/real/banks/camt053-abnamro-style.xml")
    documents, parties, identifiers = imported(path, tmp_path, "bank")
    ns = {"c": ET.parse(path).getroot().tag[1:].split("}")[0]}
    root = ET.parse(path).getroot()
    expected = []
    for entry in root.iterfind(".//c:Ntry", ns):
        credit = entry.findtext("c:CdtDbtInd", namespaces=ns) == "CRDT"
        side = "Dbtr" if credit else "Cdtr"
        for tx in entry.iterfind(".//c:TxDtls", ns):
            amount = float(tx.findtext("c:AmtDtls/c:TxAmt/c:Amt", namespaces=ns))
            expected.append({
                "amount": amount if credit else -amount,
                "date": pd.Timestamp(entry.findtext("c:BookgDt/c:Dt", namespaces=ns)),
                "name": tx.findtext(f"c:RltdPties/c:{side}/c:Nm", namespaces=ns),
                "iban": tx.findtext(f"c:RltdPties/c:{side}Acct/c:Id/c:IBAN", namespaces=ns),
                "street": tx.findtext(f"c:RltdPties/c:{side}/c:PstlAdr/c:StrtNm", namespaces=ns),
                "remittance": tx.findtext("c:RmtInf/c:Ustrd", namespaces=ns)
                or tx.findtext("c:AddtlTxInf", namespaces=ns),
            })
    check_amounts_and_dates(documents, expected)
    assert documents["party_name"].tolist() == [e["name"] for e in expected]
    assert documents["party_iban"].tolist() == [e["iban"] for e in expected]
    assert documents["description"].tolist() == [e["remittance"] for e in expected]
    streets = {e["name"]: e["street"] for e in expected if e["street"]}
    by_name = parties.set_index("name")
    assert {n: by_name.loc[n, "street"] for n in streets} == streets
    own = root.findtext("c:BkToCstmrStmt/c:Stmt/c:Acct/c:Id/c:IBAN", namespaces=ns)
    assert own not in identifiers["value"].tolist()
    assert root.findtext(".//c:Acct/c:Nm", namespaces=ns) not in parties["name"].tolist()


def mollie_expected(path: Path) -> list[dict]:
    out = []
    for booking in bookings(path):
        details = "".join(booking["details"])  # Mollie cuts :86: mid-word
        fields = dict(re.findall(r"/(IBAN|BIC|NAME|REMI|EREF)/(.*?)(?=/(?:IBAN|BIC|NAME|REMI|EREF)/|$)",
                                 details))
        out.append({**booking, **fields})
    return out


def test_mollie_settlement_2015(tmp_path):
    path = shared_file("fixtures/real/mollie-settlement-2015-06-12.mt940")
    documents, _, _ = imported(path, tmp_path, "mollie")
    expected = mollie_expected(path)
    assert documents["amount"].tolist() == pytest.approx([b["amount"] for b in expected])
    assert documents["date"].tolist() == [b["date"] for b in expected]
    assert documents["party_name"].tolist() == [b["NAME"] for b in expected]
    assert documents["party_iban"].tolist() == [b["IBAN"] for b in expected]
    assert documents["reference"].tolist() == [b["EREF"] for b in expected]


def test_mollie_oca_example_payout_and_fee_are_no_clients(tmp_path):
    path = shared_file("fixtures/real/mollie/mollie-settlement-oca-example.mt940")
    # the anonymised file gives every payment the same id, which the documents view keeps once
    documents, parties, _ = imported(path, tmp_path, "mollie", every_line=True)
    expected = mollie_expected(path)
    assert documents["amount"].tolist() == pytest.approx([b["amount"] for b in expected])
    assert documents["date"].tolist() == [b["date"] for b in expected]
    payments = [i for i, b in enumerate(expected) if b["EREF"].startswith("tr_")]
    own = [i for i in range(len(expected)) if i not in payments]
    assert [expected[i]["REMI"] for i in own if "UITBETALING" in expected[i]["REMI"]]  # the payout
    assert [expected[i]["NAME"] for i in own if expected[i]["NAME"] == "Mollie B.V."]  # the fee
    for i in payments:
        assert (documents.loc[i, "party_name"], documents.loc[i, "party_iban"]) == (
            expected[i]["NAME"], expected[i]["IBAN"])
    assert documents.loc[own, "party_key"].eq("").all()
    assert "Mollie B.V." not in parties["name"].tolist()
    assert "NOTPROVIDED" not in documents["reference"].tolist()

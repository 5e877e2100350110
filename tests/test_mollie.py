"""Mollie: every export the module reads, from the demo writer and from small literal files,
the real MT940 file of the research notes, and the bad inputs each format has."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from conftest import shared_file

from workbench.demo import mollie as mollie_demo
from workbench.errors import InputError
from workbench.ingest.sources import _common, mollie
from workbench.store.workspace import Workspace


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def everything(extract) -> str:
    """All text an Extract holds, for checks that something appears nowhere in it."""
    frames = [extract.raw, extract.parties, extract.documents, extract.identifiers]
    parts = [frame.astype("str").to_csv() for frame in frames]
    parts.append((extract.keep_bytes or b"").decode("utf-8", "replace"))
    return "\n".join(parts)


@pytest.fixture(scope="module")
def demo_files(business, tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("mollie")
    return {p.name: p for p in mollie_demo.write(business, out)}


# --------------------------------------------------------------------------------------------
# the demo writer: every format, detected and read


@pytest.mark.parametrize(("name", "kind"), [
    ("mollie-settlements.csv", "payments_csv"),
    ("statement-business-account.csv", "bank_statement_csv"),
    ("statement-business-account.xml", "camt053"),
    ("settlements.mt940", "mt940"),
    ("credit-card-mandates.csv", "mandates_csv"),
    ("api-payments.json", "api_json"),
    ("api-customers.json", "api_json"),
])
def test_demo_file_is_detected_and_read(demo_files, name, kind):
    path = demo_files[name]
    assert mollie.detect(path).name == kind
    extract = mollie.read(path)
    assert extract.kind.name == kind
    assert len(extract.raw) > 0 and len(extract.parties) > 0
    assert set(extract.raw.columns) == set(extract.column_map)
    assert extract.identifiers["valid"].any()


def test_demo_is_deterministic_and_covers_every_kind(business, tmp_path):
    first = mollie_demo.write(business, tmp_path / "a")
    second = mollie_demo.write(business, tmp_path / "b")
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]
    assert {mollie.detect(p).name for p in first} == {k.name for k in mollie.KINDS}
    assert set(mollie.FORMATS) == {k.name for k in mollie.KINDS}


def test_demo_settlement_csv(business, demo_files):
    path = demo_files["mollie-settlements.csv"]
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    extract = mollie.read(path)
    payments = [p for p in business.payments if "mollie" in business.client(p.client_number).services]
    types = extract.documents["doc_type"].value_counts()
    assert types["payment"] == len(payments)
    assert types["refund"] == sum(p.status == "refunded" for p in payments)
    assert types["chargeback"] == 1 and types["fee"] > 0
    fees = extract.documents[extract.documents["doc_type"].eq("fee")]
    assert fees["party_key"].eq("").all() and (fees["amount"] < 0).all()
    big = max(payments, key=lambda p: p.amount)
    assert f'"{big.amount:,.2f}"' in path.read_text("utf-8-sig")  # written as "1,234.56"
    row = extract.documents.set_index("doc_key").loc[big.id]
    assert row["amount"] == pytest.approx(float(big.amount))
    paypal = extract.raw["Payment method"].eq("paypal") & extract.raw["Consumer bank account"].ne("")
    emails = extract.parties.loc[extract.parties.index.intersection(paypal[paypal].index), "email"]
    assert len(emails) > 0 and emails.str.fullmatch(r"[^@A-Z]+@[^@A-Z]+").all()
    assert extract.parties.loc[emails.index, "iban"].eq("").all()


def test_demo_json_links_payments_to_customers(demo_files):
    customers = mollie.read(demo_files["api-customers.json"])
    payments = mollie.read(demo_files["api-payments.json"])
    assert customers.parties["party_key"].str.startswith("cst_").all()
    assert payments.documents["doc_key"].str.startswith("tr_").all()
    linked = payments.parties["customer_number"].replace("", pd.NA).dropna()
    assert set(linked) <= set(customers.parties["party_key"])
    # metadata is merchant-defined: kept, and shown as unmapped for review
    assert "metadata.email" in payments.unmapped


# --------------------------------------------------------------------------------------------
# payments / settlement CSV


SETTLEMENT_EN = (
    "Date,Payment method,Currency,Amount,Status,ID,Description,Consumer name,"
    "Consumer bank account,Consumer BIC,Settlement currency,Settlement amount,"
    "Settlement reference,Amount refunded,Klantnummer webshop\n"
    "2026-10-01 10:12:00,ideal,EUR,\"€1,234.56\",paidout,tr_aaa111,Order 1001,Jan Jansen,"
    "NL91 ABNA 0417 1643 00,ABNANL2A,EUR,1234.56,1182161.2610.01,,K-77\n"
    "2026-10-02 11:00:00,paypal,EUR,50.00,paidout,tr_bbb222,Order 1002,Eva Mulder,"
    "Eva.Mulder@Example.com,,EUR,50.00,1182161.2610.01,,\n"
    "2026-10-03 09:00:00,refund,EUR,-20.00,refunded,re_ccc333,Refund Order 1001,Jan Jansen,"
    "NL91 ABNA 0417 1643 00,ABNANL2A,EUR,-20.00,1182161.2610.01,20.00,\n"
    "2026-10-03 12:00:00,creditcard,EUR,-50.00,charged_back,chb_ddd444,Order 1002,Piet Puk,"
    "NL00BANK0000000000,,EUR,-50.00,1182161.2610.01,,\n"
    "2026-10-04 00:00:00,,EUR,-2.88,paidout,,Withheld fees,,,,EUR,-2.88,1182161.2610.01,,\n"
)


def test_settlement_csv_english(tmp_path):
    path = write(tmp_path / "s.csv", SETTLEMENT_EN, "utf-8-sig")
    extract = mollie.read(path)
    docs = extract.documents
    assert docs["doc_type"].tolist() == ["payment", "payment", "refund", "chargeback", "fee"]
    assert docs["amount"].tolist() == [1234.56, 50.0, -20.0, -50.0, -2.88]
    assert docs["reference"].iloc[0] == "1182161.2610.01"
    parties = extract.parties.set_index("source_row")
    assert parties.loc[2, "iban"] == "NL91ABNA0417164300"  # normalised
    assert parties.loc[3, "email"] == "eva.mulder@example.com" and parties.loc[3, "iban"] == ""
    assert docs["party_key"].iloc[0] == docs["party_key"].iloc[2]  # same consumer, one party
    bad = extract.identifiers[extract.identifiers["raw_value"].eq("NL00BANK0000000000")]
    assert bad["valid"].tolist() == [False]  # kept and flagged, never repaired
    assert parties.loc[5, "iban"] == "NL00BANK0000000000"
    assert extract.unmapped == ["Klantnummer webshop"]
    assert extract.raw["Klantnummer webshop"].iloc[0] == "K-77"


def test_settlement_csv_dutch_headers_and_transaction_type(tmp_path):
    text = ("Datum;Betaalmethode;Valuta;Bedrag;Status;ID;Omschrijving;Naam consument;"
            "Rekeningnummer consument;BIC consument;Uitbetalingsreferentie;Transactietype\n"
            "01-10-2026 10:12;ideal;EUR;1.234,56;paidout;tr_aaa111;Order 1;Jan Jansen;"
            "NL91ABNA0417164300;ABNANL2A;1182161.2610.01;Payment\n"
            "04-10-2026 00:00;;EUR;-2,88;paidout;MOL-2026-0001;Factuur Mollie;;;;1182161.2610.01;FEE\n")
    path = write(tmp_path / "nl.csv", text, "cp1252")
    assert mollie.detect(path).name == "payments_csv"
    extract = mollie.read(path)
    assert extract.documents["doc_type"].tolist() == ["payment", "fee"]
    assert extract.documents["amount"].tolist() == [1234.56, -2.88]
    assert extract.documents["date"].iloc[0] == pd.Timestamp("2026-10-01 10:12")
    assert extract.parties["name"].tolist() == ["Jan Jansen"]
    assert extract.unmapped == []


def test_settlement_csv_without_required_column_names_it(tmp_path):
    path = write(tmp_path / "s.csv", "Date,Amount,Status,Consumer name\n2026-10-01,1.00,paid,Jan\n")
    assert mollie.detect(path) is None
    kind = next(k for k in mollie.KINDS if k.name == "payments_csv")
    with pytest.raises(InputError, match="no column for doc_key") as err:
        mollie.read(path, kind)
    assert "Jan" not in str(err.value)


# --------------------------------------------------------------------------------------------
# Business Account bank statement CSV


STATEMENT_HEADER = ("TRANSACTION_DATE,PAYMENT_TYPE,ENTRY_TYPE,COUNTERPARTY,COUNTERPARTY_IBAN,STATUS,"
                    "DESCRIPTION,REFERENCE,AMOUNT,CURRENCY,BEFORE_BALANCE,AFTER_BALANCE")


def test_bank_statement_csv(tmp_path):
    text = (STATEMENT_HEADER + "\n"
            '31-01-2026,Transfer,DEBIT,Jan Jansen,nl91 abna 0417 1643 00,PROCESSED,Huur,R1,10.00,EUR,'
            '"2,067.08","2,057.08"\n'
            '01-02-2026,Transfer,CREDIT,Bakkerij Smit,NL12XXXX,PROCESSED,Factuur 12,R2,"1,250.00",EUR,'
            '"2,057.08","3,307.08"\n'
            '02-02-2026,Transfer,DEBIT,Jan Jansen,nl91 abna 0417 1643 00,PROCESSED,,,-5.00,EUR,'
            '"3,307.08","3,302.08"\n\n')
    path = write(tmp_path / "statement.csv", text)
    assert mollie.detect(path).name == "bank_statement_csv"
    extract = mollie.read(path)
    docs = extract.documents
    assert docs["doc_type"].eq("bank_line").all()
    assert docs["amount"].tolist() == [-10.0, 1250.0, -5.0]  # DEBIT is money out
    assert docs["date"].tolist() == [pd.Timestamp(d) for d in ("2026-01-31", "2026-02-01", "2026-02-02")]
    assert docs["party_key"].iloc[0] == docs["party_key"].iloc[2]
    assert extract.parties["iban"].tolist() == ["NL91ABNA0417164300", "NL12XXXX"]
    assert extract.identifiers.set_index("raw_value").loc["NL12XXXX", "valid"] == False  # noqa: E712
    assert extract.column_map["AFTER_BALANCE"] == "other"


def test_bank_statement_dutch_headers_with_explicit_kind(tmp_path):
    text = ("Transactiedatum,Boekingstype,Tegenpartij,IBAN tegenpartij,Bedrag,Valuta\n"
            "31-01-2026,DEBIT,Jan Jansen,NL91ABNA0417164300,10.00,EUR\n")
    path = write(tmp_path / "nl.csv", text)
    assert mollie.detect(path) is None  # Mollie writes English headers only
    kind = next(k for k in mollie.KINDS if k.name == "bank_statement_csv")
    extract = mollie.read(path, kind)
    assert extract.documents["amount"].tolist() == [-10.0]
    assert extract.parties["name"].tolist() == ["Jan Jansen"]


# --------------------------------------------------------------------------------------------
# credit-card mandates: the full card number is never kept


def test_mandates_mask_every_card_number(demo_files, tmp_path):
    path = demo_files["credit-card-mandates.csv"]
    pans = re.findall(r",(\d{16}),", path.read_text())
    assert len(pans) >= 3 and all(p.startswith("424242424242") for p in pans)
    assert all(mollie_demo.luhn_digit(p[:-1]) == p[-1] for p in pans)
    extract = mollie.read(path)
    text = everything(extract)
    assert not [p for p in pans if p in text or p[-12:] in text]
    assert extract.raw["card_number"].tolist() == [f"**** {p[-4:]}" for p in pans]
    assert extract.parties["card_number"].tolist() == [f"**** {p[-4:]}" for p in pans]
    assert extract.parties["party_key"].str.startswith("mdt_").all()
    assert extract.documents.empty
    kept = extract.keep_bytes.decode()
    assert kept.splitlines()[0] == path.read_text().splitlines()[0]
    assert kept.count("**** ") == len(pans)
    # and the workspace's copy of the file holds no full card number either
    workspace = Workspace(tmp_path / "ws")
    workspace.import_files([path], source="mollie/mandates_csv")
    stored = b"".join(p.read_bytes() for p in (tmp_path / "ws").rglob("*") if p.is_file())
    assert not [p for p in pans if p.encode() in stored]


def test_mandates_spaced_and_short_card_numbers(tmp_path):
    text = ("old_customer_id,card_number,card_exp_month,card_exp_year,transaction_id,name\r\n"
            'mdt_1,4242 4242 4242 4242,12,2023,987654321234567,"John Doe"\r\n'
            'mdt_2,12,1,2027,987654321234568,"Jane Roe"\r\n')
    path = write(tmp_path / "mandates.csv", text, "utf-16")
    extract = mollie.read(path)
    assert "4242 4242 4242 4242" not in everything(extract)
    kept = extract.keep_bytes.decode("utf-16").splitlines()
    assert kept[1:] == ['mdt_1,**** 4242,12,2023,987654321234567,"John Doe"',
                        'mdt_2,12,1,2027,987654321234568,"Jane Roe"']  # nothing else touched
    ids = extract.identifiers.set_index("party_key")
    assert ids.loc["mdt_1", "raw_value"] == "**** 4242" and ids.loc["mdt_1", "valid"]
    assert not ids.loc["mdt_2", "valid"]  # too short to be a card: flagged


# --------------------------------------------------------------------------------------------
# MT940


def test_real_mollie_mt940():
    path = shared_file("fixtures/real/mollie-settlement-2015-06-12.mt940")
    assert b"\r\n" in path.read_bytes()
    assert mollie.detect(path).name == "mt940"
    extract = mollie.read(path)
    assert len(extract.raw) == 1
    raw = extract.raw.iloc[0]
    assert raw["/NAME/"] == "ABCDEFGHI JKLM" and raw["/EREF/"] == "tr_J47Hfq28MY"
    assert raw["/REMI/"] == "Beschrijving abcdefghijklmnopqurstu"
    assert raw["/TRTP/"] == "SEPA OVERBOEKING" and raw[":25:"] == "NL30ABNA0524590957"
    party = extract.parties.iloc[0]
    assert (party["name"], party["iban"], party["bic"]) == ("ABCDEFGHI JKLM", "NL24RABO0123456789",
                                                            "RABONL2U")
    doc = extract.documents.iloc[0]
    assert doc["amount"] == 10.30 and doc["currency"] == "EUR"
    assert doc["doc_key"] == doc["reference"] == "tr_J47Hfq28MY"
    assert doc["description"] == "Beschrijving abcdefghijklmnopqurstu"
    assert doc["date"] == pd.Timestamp("2015-06-11") and doc["party_key"] == party["party_key"]
    assert doc["source_row"] == 5  # the :61: line


MT940_TWO_STATEMENTS = "\r\n".join([
    ":20:940A260102", ":25:NL30ABNA0524590957", ":28C:1/1", ":60F:C260102EUR0,00",
    ":61:2601010102C1234,56NMSC",
    ":86:/TRTP/SEPA OVERBOEKING/IBAN/NL91ABNA0417164300/BIC/ABNANL2A/NAME/Jan ",
    "Jansen/REMI/Factuur 2026/001 /EREF/tr_abc",
    "DEF12",
    ":61:2601010102D20,00NMSC",
    ":86:/TRTP/SEPA OVERBOEKING/IBAN/NL91ABNA0417164300/NAME/Jan Jansen/REMI/Refu",
    "nd/EREF/re_xyz",
    ":62F:C260102EUR1214,56",
    ":20:940A260103", ":25:NL30ABNA0524590957", ":28C:2/1", ":60F:C260103EUR0,00",
    ":61:2601020103D2,88NMSC",
    ":86:/REMI/Mollie fees",
    ":62F:D260103EUR2,88", "",
])


def test_mt940_joins_wrapped_lines_without_space_and_keeps_trailing_space(tmp_path):
    path = write(tmp_path / "x.940", MT940_TWO_STATEMENTS)
    extract = mollie.read(path)
    raw = extract.raw
    assert raw["/NAME/"].tolist() == ["Jan Jansen", "Jan Jansen", ""]  # "Jan " + "Jansen"
    assert raw["/EREF/"].tolist() == ["tr_abcDEF12", "re_xyz", ""]
    assert raw["/REMI/"].tolist() == ["Factuur 2026/001", "Refund", "Mollie fees"]  # "/" in text
    assert raw[":28C:"].tolist() == ["1/1", "1/1", "2/1"]  # each line keeps its statement
    docs = extract.documents
    assert docs["amount"].tolist() == [1234.56, -20.0, -2.88]
    assert docs["doc_type"].tolist() == ["payment", "refund", "bank_line"]
    assert docs["party_key"].iloc[0] == docs["party_key"].iloc[1] != ""
    assert docs["party_key"].iloc[2] == ""  # a fee line has no counterparty
    assert docs["source_row"].tolist() == [5, 9, 17]
    assert len(extract.parties) == 1 and extract.parties["iban"].iloc[0] == "NL91ABNA0417164300"


def test_mt940_of_another_bank_is_not_taken_for_mollie(tmp_path):
    text = MT940_TWO_STATEMENTS.replace("ABNA052459095", "RABO012345678").replace("tr_", "x").replace(
        "re_", "y")
    path = write(tmp_path / "bank.940", text)
    assert mollie.detect(path) is None
    assert len(mollie.read(path, mollie.MT940).raw) == 3  # readable when named explicitly


def test_mt940_broken_line_names_no_person(tmp_path):
    text = MT940_TWO_STATEMENTS.replace(":61:2601010102C1234,56NMSC", ":61:26XX01C1234,56NMSC")
    path = write(tmp_path / "broken.940", text)
    with pytest.raises(InputError, match="MT940") as err:
        mollie.read(path, mollie.MT940)
    assert "Jansen" not in str(err.value) and "NL91" not in str(err.value)


# --------------------------------------------------------------------------------------------
# CAMT.053


CAMT = """<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">
 <BkToCstmrStmt>
  <GrpHdr><MsgId>M1</MsgId><CreDtTm>2026-02-01T06:00:00</CreDtTm></GrpHdr>
  <Stmt>
   <Id>S1</Id>
   <Acct><Id><IBAN>NL02ABNA0123456789</IBAN></Id><Ownr><Nm>Demo ICT B.V.</Nm></Ownr></Acct>
   <Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">100.00</Amt></Bal>
   <Ntry>
    <Amt Ccy="EUR">1250.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>
    <BookgDt><Dt>2026-01-31</Dt></BookgDt><AcctSvcrRef>A1</AcctSvcrRef>
    <NtryDtls><TxDtls>
     <Refs><EndToEndId>tr_J47Hfq28MY</EndToEndId></Refs>
     <RltdPties>
      <Dbtr><Pty><Nm>Jan Jansen</Nm><PstlAdr><StrtNm>Dorpsstraat 1</StrtNm><PstCd>1234 AB</PstCd>
       <TwnNm>Utrecht</TwnNm><Ctry>NL</Ctry></PstlAdr></Pty></Dbtr>
      <DbtrAcct><Id><IBAN>NL91ABNA0417164300</IBAN></Id></DbtrAcct>
      <Cdtr><Pty><Nm>Demo ICT B.V.</Nm></Pty></Cdtr>
      <CdtrAcct><Id><IBAN>NL02ABNA0123456789</IBAN></Id></CdtrAcct>
     </RltdPties>
     <RltdAgts><DbtrAgt><FinInstnId><BICFI>ABNANL2A</BICFI></FinInstnId></DbtrAgt></RltdAgts>
     <RmtInf><Ustrd>Factuur 2026-001</Ustrd><Ustrd>klant 77</Ustrd></RmtInf>
     <Tax><Mthd>X</Mthd></Tax>
    </TxDtls></NtryDtls>
   </Ntry>
   <Ntry>
    <Amt Ccy="EUR">49.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>
    <BookgDt><Dt>2026-02-01</Dt></BookgDt><AcctSvcrRef>A2</AcctSvcrRef>
    <NtryDtls><TxDtls>
     <Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs>
     <RltdPties>
      <Dbtr><Pty><Nm>Demo ICT B.V.</Nm></Pty></Dbtr>
      <DbtrAcct><Id><IBAN>NL02ABNA0123456789</IBAN></Id></DbtrAcct>
      <Cdtr><Pty><Nm>Hetzner Online GmbH</Nm></Pty></Cdtr>
      <CdtrAcct><Id><IBAN>DE89370400440532013000</IBAN></Id></CdtrAcct>
     </RltdPties>
     <RmtInf><Ustrd>Server</Ustrd></RmtInf>
    </TxDtls></NtryDtls>
   </Ntry>
   <Ntry>
    <Amt Ccy="EUR">2.88</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>
    <BookgDt><Dt>2026-02-01</Dt></BookgDt><AddtlNtryInf>Mollie fees</AddtlNtryInf>
   </Ntry>
  </Stmt>
 </BkToCstmrStmt>
</Document>
"""


def test_camt053_counterparty_per_direction(tmp_path):
    path = write(tmp_path / "statement.xml", CAMT)
    assert mollie.detect(path) == mollie.CAMT053
    extract = mollie.read(path)
    raw = extract.raw
    assert len(raw) == 3
    assert raw.loc[1, "TxDtls/RltdPties/Dbtr/Pty/Nm"] == "Jan Jansen"
    assert raw.loc[1, "TxDtls/RmtInf/Ustrd[2]"] == "klant 77"
    assert raw.loc[1, "Ntry/Amt@Ccy"] == "EUR" and raw.loc[1, "Stmt/Acct/Id/IBAN"] == "NL02ABNA0123456789"
    assert raw.loc[2, "TxDtls/RltdPties/Dbtr/Pty/Nm"] == "Demo ICT B.V."  # raw keeps every field
    docs = extract.documents.set_index("source_row")
    assert docs["amount"].tolist() == [1250.0, -49.0, -2.88]
    assert docs.loc[1, "description"] == "Factuur 2026-001 klant 77"
    assert docs.loc[1, "doc_key"] == docs.loc[1, "reference"] == "tr_J47Hfq28MY"
    assert docs.loc[1, "doc_type"] == "payment" and docs.loc[3, "doc_type"] == "bank_line"
    assert docs.loc[2, "doc_key"] == "A2" and docs.loc[2, "reference"] == ""  # NOTPROVIDED
    assert docs.loc[3, "description"] == "Mollie fees" and docs.loc[3, "party_key"] == ""
    assert docs.loc[1, "date"] == pd.Timestamp("2026-01-31")
    parties = extract.parties.set_index("source_row")
    assert parties["name"].tolist() == ["Jan Jansen", "Hetzner Online GmbH"]
    assert parties.loc[1, ["iban", "bic", "street", "postcode", "city"]].tolist() == [
        "NL91ABNA0417164300", "ABNANL2A", "Dorpsstraat 1", "1234 AB", "Utrecht"]
    assert parties.loc[2, "iban"] == "DE89370400440532013000"
    assert "NL02ABNA0123456789" not in extract.identifiers["raw_value"].tolist()  # own account
    assert extract.unmapped == ["TxDtls/Tax/Mthd"]


def test_camt053_wrong_root_truncated_and_entity_bomb(tmp_path):
    wrong = write(tmp_path / "camt054.xml", CAMT.replace("camt.053.001.08", "camt.054.001.08"))
    assert mollie.detect(wrong) is None
    with pytest.raises(InputError, match="root element"):
        mollie.read(wrong, mollie.CAMT053)
    truncated = write(tmp_path / "cut.xml", CAMT[: len(CAMT) // 2])
    assert mollie.detect(truncated) == mollie.CAMT053
    with pytest.raises(InputError, match="not well-formed") as err:
        mollie.read(truncated)
    assert "Jan" not in str(err.value)
    bomb = ('<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;">]>'
            '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">&b;</Document>')
    with pytest.raises(InputError, match="refused"):
        mollie.read(write(tmp_path / "bomb.xml", bomb), mollie.CAMT053)


# --------------------------------------------------------------------------------------------
# API JSON dumps


PAYMENT = {
    "resource": "payment", "id": "tr_WDqYK6vllg", "mode": "live",
    "createdAt": "2026-01-31T09:13:37+00:00", "amount": {"value": "1210.50", "currency": "EUR"},
    "description": "Order #12345", "method": "ideal", "status": "paid",
    "metadata": {"order_id": "12345"}, "customerId": "cst_8wmqcHMN4U", "settlementId": "stl_jDk30akdN",
    "details": {"consumerName": "T. TEST", "consumerAccount": "NL91 ABNA 0417 1643 00",
                "consumerBic": "ABNANL2A"},
    "_links": {"self": {"href": "https://api.mollie.com/v2/payments/tr_WDqYK6vllg"}},
    "_embedded": {"refunds": [{"resource": "refund", "id": "re_4qqhO89gsT"}]},
}
PAYPAL = {
    "resource": "payment", "id": "tr_paypal1", "createdAt": "2026-02-01T10:00:00+00:00",
    "amount": {"value": "25.00", "currency": "EUR"}, "description": "Order 2", "method": "paypal",
    "status": "paid", "details": {"consumerName": "Eva Mulder", "consumerAccount": "Eva@Example.COM",
                                  "paypalPayerId": "X1", "shippingAddress": {
                                      "streetAndNumber": "Kerkstraat 1", "postalCode": "1234ab",
                                      "city": "Utrecht", "country": "NL"}},
}
OPEN = {"resource": "payment", "id": "tr_open1", "createdAt": "2026-02-02T10:00:00+00:00",
        "amount": {"value": "5.00", "currency": "EUR"}, "description": "Order 3",
        "method": None, "status": "open", "customerId": "cst_8wmqcHMN4U"}
CUSTOMER = {"resource": "customer", "id": "cst_8wmqcHMN4U", "mode": "live", "name": "Tom Test",
            "email": "Tom@Example.org", "locale": "nl_NL", "metadata": {"note": "VIP"},
            "createdAt": "2025-04-06T13:10:19+00:00"}


def test_json_single_payment_object(tmp_path):
    path = write(tmp_path / "one.json", json.dumps(PAYMENT))
    assert mollie.detect(path) == mollie.API_JSON
    extract = mollie.read(path)
    doc = extract.documents.iloc[0]
    assert (doc["doc_key"], doc["amount"], doc["doc_type"]) == ("tr_WDqYK6vllg", 1210.5, "payment")
    assert doc["date"] == pd.Timestamp("2026-01-31 10:13:37")  # UTC shown on the Dutch clock
    assert doc["reference"] == "stl_jDk30akdN"
    party = extract.parties.iloc[0]
    assert (party["name"], party["iban"], party["customer_number"]) == (
        "T. TEST", "NL91ABNA0417164300", "cst_8wmqcHMN4U")
    assert "details.consumerName" in extract.raw.columns
    # the embedded refund is a record of its own, a document of the payment's party
    assert extract.raw.loc[2, ["resource", "id", "embedded in"]].tolist() == [
        "refund", "re_4qqhO89gsT", "payment tr_WDqYK6vllg"]
    refund = extract.documents.set_index("doc_key").loc["re_4qqhO89gsT"]
    assert (refund["doc_type"], refund["party_key"]) == ("refund", party["party_key"])
    assert extract.unmapped == ["metadata.order_id"]


def test_json_hal_page_and_plain_list_of_mixed_records(tmp_path):
    plain = {k: v for k, v in PAYMENT.items() if k != "_embedded"}
    page = {"count": 3, "_embedded": {"payments": [plain, PAYPAL, OPEN]}, "_links": {}}
    hal = mollie.read(write(tmp_path / "page.json", json.dumps(page)))
    assert hal.documents["doc_key"].tolist() == ["tr_WDqYK6vllg", "tr_paypal1", "tr_open1"]
    mixed = mollie.read(write(tmp_path / "mixed.json", json.dumps([plain, PAYPAL, OPEN, CUSTOMER])))
    assert mixed.raw["resource"].tolist() == ["payment", "payment", "payment", "customer"]
    assert mixed.raw.index.tolist() == [1, 2, 3, 4]
    parties = mixed.parties.set_index("source_row")
    assert parties.loc[4, ["party_key", "name", "email"]].tolist() == [
        "cst_8wmqcHMN4U", "Tom Test", "tom@example.org"]
    assert parties.loc[2, ["email", "iban", "street", "postcode"]].tolist() == [
        "eva@example.com", "", "Kerkstraat 1", "1234 AB"]
    assert parties.loc[1, "customer_number"] == "cst_8wmqcHMN4U"  # the consumer, linked
    docs = mixed.documents.set_index("doc_key")
    assert docs.loc["tr_open1", "party_key"] == "cst_8wmqcHMN4U"  # no consumer: the customer
    assert 3 not in parties.index and docs["source_row"].tolist() == [1, 2, 3]
    assert mixed.column_map["id"] == "customer_number" and mixed.column_map["name"] == "name"
    ids = mixed.identifiers
    assert set(ids.loc[ids["kind"].eq("customer_number"), "party_key"]) == {
        "cst_8wmqcHMN4U", parties.loc[1, "party_key"]}
    assert ids.set_index("column").loc["details.consumerAccount"].set_index("kind").index.tolist() == [
        "iban", "email"]


@pytest.mark.parametrize("content", [
    '{"count": 0, "_embedded": {"invoices": [{"id": "x"}]}}',
    '[{"id": "tr_1", "amount": {"value": "1.00"}}]',
    '{"contacts": []}',
    "[1, 2, 3]",
])
def test_json_of_another_shape_is_refused(tmp_path, content):
    path = write(tmp_path / "other.json", content)
    assert mollie.detect(path) is None
    with pytest.raises(InputError, match="not a dump of Mollie API objects"):
        mollie.read(path, mollie.API_JSON)


def test_json_foreign_object_and_broken_json(tmp_path):
    method = {"resource": "method", "id": "ideal", "description": "Jan Jansen"}
    path = write(tmp_path / "mixed.json", json.dumps([PAYMENT, method]))
    assert mollie.detect(path) == mollie.API_JSON  # Mollie's by content, but not a resource read
    with pytest.raises(InputError, match="holds Mollie 'method' objects") as err:
        mollie.read(path, mollie.API_JSON)
    assert err.value.row == 3 and "Jansen" not in str(err.value)  # row 2 is the embedded refund
    broken = write(tmp_path / "broken.json", json.dumps([PAYMENT])[:-20])
    with pytest.raises(InputError, match="not valid JSON"):
        mollie.detect(broken)


# --------------------------------------------------------------------------------------------
# choosing the wrong export


def test_wrong_container_for_kind_and_unknown_file(tmp_path):
    path = write(tmp_path / "s.csv", SETTLEMENT_EN)
    with pytest.raises(InputError, match="is a csv file"):
        mollie.read(path, mollie.MT940)
    other = write(tmp_path / "other.csv", "Naam,Adres\nJan,Dorpsstraat 1\n")
    assert mollie.detect(other) is None
    with pytest.raises(InputError, match="not recognised as a Mollie export"):
        mollie.read(other)


def test_consumer_key_ignores_case_and_spacing_and_stays_the_same():
    frame = pd.DataFrame({"name": ["Jan Jansen", "jan  jansen", "", "Eva"],
                          "iban": ["NL91 ABNA 0417 1643 00", "nl91abna0417164300", "", ""]},
                         index=[2, 3, 4, 5])
    keys = _common.content_key(frame, _common.PARTY_KEY_CONTENT)
    squeezed = pd.DataFrame({"name": ["janjansen"], "iban": ["nl91abna0417164300"]})
    expected = f"h:{pd.util.hash_pandas_object(squeezed, index=False).iloc[0]:016x}"
    assert keys.tolist()[:3] == [expected, expected, ""] and keys.iloc[3] not in (expected, "")


# --------------------------------------------------------------------------------------------
# API JSON: every resource, any wrapper, embedded objects, numbers as written


ORDER = {
    "resource": "order", "id": "ord_1", "createdAt": "2026-03-01T10:00:00+00:00",
    "amount": {"value": "60.50", "currency": "EUR"}, "status": "paid", "method": "ideal",
    "orderNumber": "1337", "locale": "nl_NL", "consumerDateOfBirth": "1980-05-17",
    "billingAddress": {"givenName": "Anna", "familyName": "de Wit", "email": "Anna@Example.NL",
                       "streetAndNumber": "Kerkstraat 1", "postalCode": "1234ab",
                       "city": "Utrecht", "country": "NL"},
    "shippingAddress": {"givenName": "Bram", "familyName": "Kok", "streetAndNumber": "Laan 2",
                        "postalCode": "4321 BA", "city": "Gouda", "country": "NL"},
    "lines": [{"resource": "orderline", "id": "odl_1", "name": "Fiets", "quantity": 1,
               "totalAmount": {"value": "60.50", "currency": "EUR"},
               "createdAt": "2026-03-01T10:00:00+00:00"}],
    "_embedded": {
        "payments": [{"resource": "payment", "id": "tr_o1", "createdAt": "2026-03-01T10:01:00+00:00",
                      "amount": {"value": "60.50", "currency": "EUR"}, "status": "paid",
                      "orderId": "ord_1", "description": "Order 1337"}],
        "refunds": [{"resource": "refund", "id": "re_o1", "createdAt": "2026-03-02T10:00:00+00:00",
                     "amount": {"value": "10.00", "currency": "EUR"}, "status": "pending",
                     "orderId": "ord_1", "description": "Te laat"}],
    },
    "_links": {"self": {"href": "https://api.mollie.com/v2/orders/ord_1"}},
}


@pytest.mark.parametrize("wrap", [
    lambda o: o, lambda o: [o],
    lambda o: {"count": 1, "_embedded": {"orders": [o]}, "_links": {"next": None}},
], ids=["single", "list", "hal"])
def test_json_order_in_any_wrapper_with_its_embedded_objects(tmp_path, wrap):
    path = write(tmp_path / "order.json", json.dumps(wrap(ORDER)))
    assert mollie.detect(path) == mollie.API_JSON
    extract = mollie.read(path)
    assert extract.raw["resource"].tolist() == ["order", "orderline", "payment", "refund"]
    assert extract.raw["embedded in"].tolist() == ["", "order ord_1", "order ord_1", "order ord_1"]
    docs = extract.documents.set_index("doc_key")
    assert docs["doc_type"].to_dict() == {"ord_1": "order", "odl_1": "order_line",
                                          "tr_o1": "payment", "re_o1": "refund"}
    assert docs.loc["re_o1", "amount"] == -10.0  # money going back to the payer
    [party] = extract.parties.to_dict("records")  # the billed person; the rest inherit
    assert set(docs["party_key"]) == {party["party_key"]}
    assert (party["given_name"], party["email"], party["postcode"]) == (
        "Anna", "anna@example.nl", "1234 AB")
    assert party["birth_date"] == pd.Timestamp("1980-05-17")
    # the shipping recipient is another person named on the order, not the party
    assert extract.column_map["shippingAddress.givenName"] == "other_name"
    assert extract.column_map["shippingAddress.streetAndNumber"] == "other_address"
    assert "Bram" not in extract.parties.to_csv()
    assert extract.kind.title == "Mollie API dump (JSON) of payments, orders, order lines, refunds"


def test_json_keeps_every_digit_of_numbers(tmp_path):
    # an integer column with a gap goes through float in pandas' json_normalize
    text = ('[{"resource": "payment", "id": "tr_1", "createdAt": "2026-01-01T00:00:00+00:00",'
            ' "amount": {"value": "1.00", "currency": "EUR"}, "status": "paid",'
            ' "metadata": {"order_id": 246813579012345678, "ts": 1532426400, "rate": 0.10}},'
            ' {"resource": "payment", "id": "tr_2", "createdAt": "2026-01-02T00:00:00+00:00",'
            ' "amount": {"value": "2.00", "currency": "EUR"}, "status": "paid",'
            ' "metadata": {"nested": [246813579012345678, 1.50]}}]')
    extract = mollie.read(write(tmp_path / "digits.json", text))
    raw = extract.raw
    assert raw["metadata.order_id"].tolist() == ["246813579012345678", ""]
    assert raw["metadata.ts"].tolist() == ["1532426400", ""]
    assert raw["metadata.rate"].tolist() == ["0.10", ""]
    assert raw["metadata.nested"].tolist() == ["", "[246813579012345678, 1.50]"]


def test_json_resources_without_a_fixture(tmp_path):
    """Balance transactions, subscriptions and payment links, with the paths of
    mollie-api-python's responses (see config/headers/mollie_api.toml)."""
    objects = [
        {"resource": "balance_transaction", "id": "baltr_1", "type": "refund",
         "resultAmount": {"value": "-10.25", "currency": "EUR"},
         "initialAmount": {"value": "-10.00", "currency": "EUR"},
         "deductions": {"value": "-0.25", "currency": "EUR"}, "createdAt": "2021-01-10T12:06:28+00:00",
         "context": {"paymentId": "tr_1", "refundId": "re_1"}},
        {"resource": "subscription", "id": "sub_1", "mode": "live",
         "createdAt": "2018-06-01T12:23:34+00:00", "status": "active",
         "amount": {"value": "35.00", "currency": "EUR"}, "times": 4, "interval": "3 months",
         "description": "Kwartaal", "method": "ideal", "customerId": "cst_1"},
        {"resource": "payment-link", "id": "pl_1", "mode": "test", "createdAt": "2021-03-20T09:13:37+00:00",
         "amount": {"value": "24.95", "currency": "EUR"}, "description": "Bicycle tires"},
    ]
    extract = mollie.read(write(tmp_path / "mixed.json", json.dumps(objects)))
    docs = extract.documents.set_index("doc_key")
    assert docs["doc_type"].to_dict() == {"baltr_1": "balance_transaction",
                                          "sub_1": "subscription", "pl_1": "payment_link"}
    assert docs["amount"].to_dict() == {"baltr_1": -10.25, "sub_1": 35.0, "pl_1": 24.95}
    assert docs.loc["sub_1", "party_key"] == "cst_1"  # the subscriber is the Mollie customer
    assert extract.unmapped == []


def test_json_without_personal_data_says_so(tmp_path):
    settlement = {"resource": "settlement", "id": "stl_1", "reference": "1234567.2601.01",
                  "createdAt": "2026-01-05T06:00:01.0Z", "settledAt": "2026-01-05T09:41:44.0Z",
                  "amount": {"currency": "EUR", "value": "39.75"}}
    extract = mollie.read(write(tmp_path / "settlement.json", json.dumps(settlement)))
    assert extract.kind.title == "Mollie API dump (JSON) of settlements; it holds no personal data"
    assert extract.kind.key == "mollie/api_json" and extract.parties.empty
    assert extract.documents[["doc_key", "reference", "amount"]].values.tolist() == [
        ["stl_1", "1234567.2601.01", 39.75]]


def test_json_card_mandate(tmp_path):
    mandate = {"resource": "mandate", "id": "mdt_1", "status": "valid", "method": "creditcard",
               "details": {"cardHolder": "J. Jansen", "cardNumber": "6787",
                           "cardLabel": "Mastercard", "cardExpiryDate": "2030-12-31"},
               "createdAt": "2026-01-01T10:00:00+00:00"}
    extract = mollie.read(write(tmp_path / "mandate.json", json.dumps({"_embedded": {
        "mandates": [mandate]}, "count": 1})))
    party = extract.parties.iloc[0]
    assert (party["name"], party["card_number"]) == ("J. Jansen", "**** 6787")
    assert extract.documents.iloc[0]["party_key"] == party["party_key"]


@pytest.mark.parametrize("number,problem", [
    ("9" * 4300, "a number of 4300 characters"), ("NaN", "NaN"), ("-Infinity", "-Infinity"),
])
def test_json_numbers_that_are_no_values_are_refused(tmp_path, number, problem):
    text = '[{"resource": "payment",\n "id": "tr_1", "amount": {"value": ' + number + "}}]"
    path = write(tmp_path / "bad.json", text)
    with pytest.raises(InputError, match=re.escape(problem)) as err:
        mollie.detect(path)
    assert err.value.row == 2 and "9999" not in str(err.value)


def test_json_nested_too_deep_is_refused(tmp_path):
    path = write(tmp_path / "deep.json", '[{"resource": "payment", "id": "tr_1", "metadata": '
                 + '{"a": ' * 5000 + "1" + "}" * 5000 + "}]")
    with pytest.raises(InputError, match="nesting depth"):
        mollie.read(path, mollie.API_JSON)


def test_json_refund_takes_the_payer_of_its_embedded_payment(tmp_path):
    refund = {"resource": "refund", "id": "re_9", "createdAt": "2026-02-01T10:00:00+00:00",
              "amount": {"value": "5.00", "currency": "EUR"}, "status": "refunded",
              "paymentId": "tr_9", "_embedded": {"payment": {
                  "resource": "payment", "id": "tr_9", "createdAt": "2026-01-30T10:00:00+00:00",
                  "amount": {"value": "25.00", "currency": "EUR"}, "status": "paid",
                  "details": {"consumerName": "Eva Mulder", "consumerAccount": "NL91ABNA0417164300"}}}}
    extract = mollie.read(write(tmp_path / "refund.json", json.dumps(refund)))
    assert extract.raw["embedded in"].tolist() == ["", "refund re_9"]
    [party] = extract.parties.to_dict("records")
    assert (party["name"], party["iban"]) == ("Eva Mulder", "NL91ABNA0417164300")
    docs = extract.documents.set_index("doc_key")
    assert docs["party_key"].to_dict() == {"re_9": party["party_key"], "tr_9": party["party_key"]}
    assert docs.loc["re_9", "amount"] == -5.0
